//! `bareflow.mode=llama`: a language model inside the kernel.
//!
//! 1. **Load.** The model and its tokenizer come from a virtio drive or a
//!    boot module (`source`), read through `tinyllama::ModelSource` straight
//!    into the heap (which takes most of RAM in this mode). GGUF (F32, F16,
//!    Q8_0, tokenizer from its metadata) or a llama2.c checkpoint (v0, v1,
//!    v2) with a `tokenizer.bin`. `model_loaded` says what was loaded; any
//!    problem is one `model_error` with the reason, and the kernel exits with
//!    the failure code.
//! 2. **Answer.** With `bareflow.prompt=` the kernel answers that prompt
//!    (greedy, at most `bareflow.steps=` tokens) and exits. Otherwise it asks
//!    for prompts over COM1 (`console`) until an empty line or the end of
//!    input (Ctrl-D), then exits with success. Every answer streams `token`
//!    events (and text on the text console) and ends with `llama_done` and
//!    its figures. A prompt that does not fit the context, or an answer that
//!    fails, is a `warn`; the session goes on with the next prompt.
//! 3. **CPUs.** The forward pass splits matvec rows and attention heads over
//!    every online CPU (`workers`; `bareflow.cpus=` limits them).

mod console;
mod source;
mod workers;

use crate::drives;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bareflow_boot_model::cmdline::BootParams;
use bareflow_boot_model::utf8_stream::Utf8Stream;
use console::Console;
use platform::exit::{self, ExitCode};
use platform::{mem, time, trace};
use source::{Origin, Role};
use tinyllama::{
    Config, Model, ModelSource, Ops, PlainOps, Sampler, Session, Tensor, Tokenizer,
    generate_from_tokens,
};
use workers::CpuWorkers;

/// Context positions when neither the model nor `bareflow.ctx=` says less.
const DEFAULT_MAX_CTX: usize = 4096;
/// Tokens generated per answer unless `bareflow.steps=` says otherwise.
const DEFAULT_STEPS: usize = 256;
/// Heap left free beyond the model file's size for everything else
/// (activations, KV cache of a small model, the trace's strings).
const HEAP_MARGIN: u64 = 16 << 20;

/// The ops of the forward pass, by the names `llama_done` reports.
pub const OP_NAMES: [&str; 8] = [
    "matvec",
    "matvec_f16",
    "matvec_q8",
    "rmsnorm",
    "softmax",
    "rope",
    "swiglu",
    "attention",
];

/// What `llama_done` says about the ops of an implementation.
pub trait OpReport {
    /// The tier each op runs at (`"aot"` for compiled Rust).
    fn op_tiers(&self) -> Vec<(&'static str, String)>;
    /// Compile time spent so far, in microseconds.
    fn compile_us(&self) -> u64;
}

impl OpReport for PlainOps {
    fn op_tiers(&self) -> Vec<(&'static str, String)> {
        OP_NAMES.iter().map(|&n| (n, String::from("aot"))).collect()
    }

    fn compile_us(&self) -> u64 {
        0
    }
}

/// A model and tokenizer ready to run.
struct Loaded {
    model: Model,
    tokenizer: Tokenizer,
    origin: Origin,
    tokenizer_origin: Option<Origin>,
    file_bytes: u64,
    load_us: u64,
}

/// Ends the session with a `model_error` and the failure exit code.
fn fail(console: &Console, reason: &str) -> ! {
    trace::emit("model_error", |e| {
        e.str("reason", reason);
    });
    console.say(&format!("error: {reason}\n"));
    exit::exit(ExitCode::Failure)
}

fn with_hint(reason: String, hint: Option<String>) -> String {
    match hint {
        Some(h) => format!("{reason} ({h})"),
        None => reason,
    }
}

/// The storage of the model's matrices, by the name GGUF gives it.
fn quant_name(model: &Model) -> String {
    let t = model
        .weights
        .layers
        .first()
        .map_or(&model.weights.token_embedding, |l| &l.wq);
    match t {
        Tensor::F32(_) => String::from("F32"),
        Tensor::F16(_) => String::from("F16"),
        Tensor::Q8 { group: 32, .. } => String::from("Q8_0"),
        Tensor::Q8 { group, .. } => format!("Q8 (group {group})"),
    }
}

fn load(params: &BootParams) -> Result<Loaded, String> {
    let drives = drives::all();
    let mut found = match source::find(drives, Role::Model, params.model_bytes) {
        Some(f) => f?,
        None => {
            return Err(String::from(
                "no model: attach it as a virtio drive (QEMU: -drive file=MODEL,format=raw,\
                 if=none,id=model,readonly=on -device virtio-blk-pci,drive=model,serial=model) \
                 or pass it as a boot module",
            ));
        }
    };
    if let Some(w) = found.warning.take() {
        trace::warn("llama", format_args!("{w}"));
    }
    let file_bytes = found.source.len();
    let free = mem::heap_size().saturating_sub(mem::heap_used());
    if file_bytes.saturating_add(HEAP_MARGIN) > free {
        return Err(format!(
            "the model ({file_bytes} bytes, from {}) is larger than the memory left for it \
             ({free} bytes of heap free, {HEAP_MARGIN} of them kept for the rest): give the \
             machine more RAM",
            found.origin.describe()
        ));
    }
    let start = time::now_us();
    let mut model = Model::load_from(&mut found.source).map_err(|e| {
        with_hint(
            format!("model from {}: {e}", found.origin.describe()),
            source::length_hint(
                &found,
                Role::Model,
                params.model_bytes,
                matches!(&e, tinyllama::Error::Invalid { what, .. } if what == "file length"),
            ),
        )
    })?;
    let (tokenizer, tokenizer_origin) =
        match source::find(drives, Role::Tokenizer, params.tokenizer_bytes) {
            Some(t) => {
                let mut t = t?;
                if let Some(w) = t.warning.take() {
                    trace::warn("llama", format_args!("{w}"));
                }
                let tok = Tokenizer::load_llama2c(&mut t.source).map_err(|e| {
                    with_hint(
                        format!("tokenizer from {}: {e}", t.origin.describe()),
                        source::length_hint(&t, Role::Tokenizer, params.tokenizer_bytes, true),
                    )
                })?;
                (tok, Some(t.origin))
            }
            None => match model.tokenizer.take() {
                Some(t) => (t, None),
                None => {
                    return Err(format!(
                        "the model ({}) carries no tokenizer: attach tokenizer.bin as a second \
                         drive (serial=tokenizer) or a boot module named tokenizer.bin",
                        model.format
                    ));
                }
            },
        };
    if tokenizer.vocab_size() != model.config.vocab_size {
        return Err(format!(
            "the tokenizer has {} tokens but the model's vocabulary is {}",
            tokenizer.vocab_size(),
            model.config.vocab_size
        ));
    }
    Ok(Loaded {
        model,
        tokenizer,
        origin: found.origin,
        tokenizer_origin,
        file_bytes,
        load_us: time::now_us() - start,
    })
}

fn emit_loaded(l: &Loaded, ctx: usize, cpus: usize) {
    let c: &Config = &l.model.config;
    trace::emit("model_loaded", |e| {
        e.display("format", l.model.format)
            .str("quant", &quant_name(&l.model))
            .u64("dim", c.dim as u64)
            .u64("hidden_dim", c.hidden_dim as u64)
            .u64("layers", c.n_layers as u64)
            .u64("heads", c.n_heads as u64)
            .u64("kv_heads", c.n_kv_heads as u64)
            .u64("vocab", c.vocab_size as u64)
            .u64("ctx", ctx as u64)
            .u64("model_ctx", c.seq_len as u64)
            .u64("bytes", l.file_bytes)
            .u64("resident_bytes", l.model.weights.resident_bytes() as u64)
            .str("source", l.origin.kind())
            .str("source_detail", &l.origin.describe())
            .str(
                "tokenizer",
                &l.tokenizer_origin
                    .as_ref()
                    .map_or(String::from("model file"), Origin::describe),
            )
            .u64("load_ms", l.load_us / 1000)
            .u64("cpus", cpus as u64)
            .u64("heap_bytes", mem::heap_size())
            .u64("heap_used", mem::heap_used());
    });
}

/// Why an answer did not complete.
enum AnswerError {
    /// The prompt cannot be answered (e.g. longer than the context).
    Prompt(String),
    /// The forward pass failed.
    Generation(String),
}

/// Answers prompt number `index`: `prompt_request` came before; emits
/// `prompt`, one `token` per generated token and `llama_done`.
#[allow(clippy::too_many_arguments)]
fn answer<O: Ops + OpReport>(
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

/// Asks for prompts (or takes `bareflow.prompt=`) and answers them.
fn serve<O: Ops + OpReport>(
    params: &BootParams,
    console: &mut Console,
    loaded: &Loaded,
    ops: O,
    workers: &CpuWorkers,
) -> ! {
    let ctx = match params.ctx {
        0 => DEFAULT_MAX_CTX,
        n => n as usize,
    };
    let mut session = match Session::with_workers(
        loaded.model.config,
        &loaded.model.weights,
        ops,
        ctx,
        workers,
    ) {
        Ok(s) => s,
        Err(e) => fail(console, &format!("cannot set up inference: {e}")),
    };
    emit_loaded(loaded, session.context_len(), workers.cpus());
    console.say(&format!(
        "BareFlow llama: {} {} model, {} layers, dim {}, context {}, on {} CPUs.\n\
         Type a prompt and Enter; an empty line or Ctrl-D ends the session.\n",
        loaded.model.format,
        quant_name(&loaded.model),
        loaded.model.config.n_layers,
        loaded.model.config.dim,
        session.context_len(),
        workers.cpus()
    ));
    let steps = match params.steps {
        0 => DEFAULT_STEPS,
        n => n as usize,
    };
    let one_shot = params.prompt.as_ref().map(|p| String::from(p.as_str()));
    let mut answers = 0u64;
    let reason = loop {
        let index = answers + 1;
        let prompt = match &one_shot {
            Some(p) if answers == 0 => p.clone(),
            Some(_) => break "one prompt answered",
            None => match console.read_line(index) {
                None => break "end of input",
                Some(line) if line.is_empty() => break "empty line",
                Some(line) => line,
            },
        };
        if let Err(e) = workers.recruit() {
            trace::warn(
                "llama",
                format_args!("a worker CPU did not start ({e:?}); the others do its share"),
            );
        }
        let result = answer(
            &mut session,
            &loaded.tokenizer,
            workers,
            console,
            &prompt,
            index,
            steps,
        );
        workers.dismiss();
        answers += 1;
        match result {
            Ok(()) => {}
            Err(AnswerError::Prompt(why)) | Err(AnswerError::Generation(why)) => {
                trace::warn("llama", format_args!("prompt {index}: {why}"));
                console.say(&format!("\n[prompt {index}: {why}]\n"));
                if one_shot.is_some() {
                    exit::exit(ExitCode::Failure);
                }
            }
        }
    };
    trace::emit("llama_end", |e| {
        e.u64("answers", answers).str("reason", reason);
    });
    console.say(&format!("[{reason}; bye]\n"));
    exit::exit(ExitCode::Success)
}

/// The mode's entry.
pub fn run(params: &'static BootParams) -> ! {
    let mut console = Console::new(params.console);
    let loaded = match load(params) {
        Ok(l) => l,
        Err(reason) => fail(&console, &reason),
    };
    let workers = CpuWorkers::new(None);
    serve(params, &mut console, &loaded, PlainOps, &workers)
}
