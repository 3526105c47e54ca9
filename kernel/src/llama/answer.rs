//! One answer: encode the prompt, run it, stream the generated tokens
//! (`token` events and console text), then the figures (`llama_done`).

use super::console::Console;
use super::workers::CpuWorkers;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bareflow_boot_model::utf8_stream::Utf8Stream;
use platform::{time, trace};
use tinyllama::{Ops, Sampler, Session, Tokenizer, generate_from_tokens};

/// What `llama_done` says about the ops of an implementation.
pub trait OpReport {
    /// The tier each JIT kernel runs at now, by kernel name.
    fn op_tiers(&self) -> Vec<(&'static str, String)>;
    /// Compile time spent so far, in microseconds.
    fn compile_us(&self) -> u64;
}

/// Why an answer did not complete.
pub enum AnswerError {
    /// The prompt cannot be answered (e.g. longer than the context).
    Prompt(String),
    /// The forward pass failed.
    Generation(String),
}

/// Answers prompt number `index`: `prompt_request` came before; emits
/// `prompt`, one `token` per generated token and `llama_done`.
#[allow(clippy::too_many_arguments)]
pub fn answer<O: Ops + OpReport>(
    session: &mut Session<'_, O>,
    tokenizer: &Tokenizer,
    workers: &CpuWorkers,
    console: &Console,
    prompt: &str,
    index: u64,
    steps: usize,
) -> Result<(), AnswerError> {
    let submitted = time::now_us();
    let tasks_before = workers.tasks_by_cpu();
    let compile_before = session.ops().compile_us();
    let tokens = tokenizer
        .encode(prompt, true, false)
        .map_err(|e| AnswerError::Prompt(format!("cannot encode the prompt: {e}")))?;
    let ctx = session.context_len();
    if tokens.len() >= ctx {
        return Err(AnswerError::Prompt(format!(
            "the prompt is {} tokens long and the context holds {ctx} positions, \
             leaving no room for an answer",
            tokens.len()
        )));
    }
    trace::emit("prompt", |e| {
        e.u64("index", index)
            .str("text", prompt)
            .u64("tokens", tokens.len() as u64)
            .u64_list("ids", tokens.iter().map(|&t| t as u64));
    });
    let mut text = Utf8Stream::new();
    let mut first: Option<u64> = None;
    let mut last = submitted;
    let result = generate_from_tokens(
        session,
        tokenizer,
        &mut Sampler::greedy(),
        &tokens,
        steps,
        |ev| {
            if ev.from_prompt {
                return true;
            }
            let now = time::now_us();
            first.get_or_insert(now);
            last = now;
            let piece = text.push(ev.text);
            trace::emit("token", |e| {
                e.u64("pos", ev.pos as u64)
                    .u64("id", ev.token as u64)
                    .str("text", &piece)
                    .u64("index", index);
            });
            console.say(&piece);
            true
        },
    );
    let tail = text.finish();
    console.say(&tail);
    let generation = result.map_err(|e| AnswerError::Generation(e.to_string()))?;
    let end = time::now_us();
    let first = first.unwrap_or(end);
    let generated = generation.generated_tokens as u64;
    // Decode speed: the tokens after the first, over the time after the first.
    let tok_per_s = if generated >= 2 && last > first {
        (generated - 1) as f64 * 1e6 / (last - first) as f64
    } else if end > submitted {
        generated as f64 * 1e6 / (end - submitted) as f64
    } else {
        0.0
    };
    let compile_us = session.ops().compile_us() - compile_before;
    let tiers = session.ops().op_tiers();
    let tasks = workers.tasks_by_cpu();
    let cpu_tasks =
        (0..workers.cpus()).map(|c| tasks.get(c).unwrap_or(&0) - tasks_before.get(c).unwrap_or(&0));
    trace::emit("llama_done", |e| {
        e.u64("index", index)
            .u64("prompt_tokens", generation.prompt_tokens as u64)
            .u64("generated", generated)
            .f64("ms_first_token", (first - submitted) as f64 / 1000.0, 1)
            .f64("tok_per_s", tok_per_s, 2)
            .str_map("op_tiers", tiers.iter().map(|(n, t)| (*n, t.as_str())))
            .f64("compile_ms", compile_us as f64 / 1000.0, 1)
            .u64("elapsed_ms", (end - submitted) / 1000)
            .bool("hit_eos", generation.hit_eos)
            .u64_list("cpu_tasks", cpu_tasks);
    });
    let tier_list: Vec<String> = tiers.iter().map(|(n, t)| format!("{n} {t}")).collect();
    console.say(&format!(
        "\n[{} prompt + {generated} generated tokens; first token after {:.0} ms; {tok_per_s:.2} \
         tok/s; compile {:.1} ms; {}]\n",
        generation.prompt_tokens,
        (first - submitted) as f64 / 1000.0,
        compile_us as f64 / 1000.0,
        tier_list.join(", ")
    ));
    Ok(())
}
