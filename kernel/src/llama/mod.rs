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
//! 4. **JIT.** The ops are the JIT kernels of `ir-modules/llama.bfir` (`jit_kernels`),
//!    called through their slots: they climb the tiers while the model talks
//!    (`bareflow.tiers=` sets the call counts), compiled by the compiler CPU,
//!    which also takes split-op tasks between compiles.
//!
//! Files: `load` (1), `answer` (one answer and its figures), `console` (COM1),
//! `source` (drives and boot modules), `workers` (CPUs), `jit_kernels` (the ops); this
//! file runs the session.

mod answer;
mod console;
mod jit_kernels;
mod load;
mod source;
mod workers;

use crate::runtime::{self, Runtime, compiler::CompilerCpu};
use alloc::format;
use alloc::string::String;
use answer::{AnswerError, OpReport, answer};
use bareflow_boot_model::cmdline::BootParams;
use console::Console;
use jit_kernels::KernelJit;
use load::{Loaded, emit_loaded, load, quant_name};
use platform::exit::{self, ExitCode};
use platform::trace;
use tinyllama::{JitOps, Ops, Session};
use workers::CpuWorkers;

/// Context positions when neither the model nor `bareflow.ctx=` says less.
const DEFAULT_MAX_CTX: usize = 4096;
/// Tokens generated per answer unless `bareflow.steps=` says otherwise.
const DEFAULT_STEPS: usize = 256;

/// Ends the session with a `model_error` and the failure exit code.
fn fail(console: &Console, reason: &str) -> ! {
    trace::emit("model_error", |e| {
        e.str("reason", reason);
    });
    console.say(&format!("error: {reason}\n"));
    exit::exit(ExitCode::Failure)
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
    let runtime = Runtime::new(runtime::thresholds(), runtime::compiler_cpu(), true);
    let compiler_cpu = runtime.compiler_cpu;
    let engine = runtime.engine.clone();
    let kernels = match KernelJit::new(runtime) {
        Ok(k) => k,
        Err(reason) => fail(&console, &reason),
    };
    let workers = CpuWorkers::new(compiler_cpu);
    // The compiler CPU serves the tier-up requests and, between compiles, takes
    // split-op tasks like a worker. It runs until the session exits.
    if let Some(cpu) = compiler_cpu
        && CompilerCpu::start_helping(engine, cpu, Some(workers.helper())).is_none()
    {
        trace::warn(
            "llama",
            format_args!("the compiler CPU {cpu} did not start; tier-ups wait"),
        );
    }
    serve(
        params,
        &mut console,
        &loaded,
        JitOps::new(kernels),
        &workers,
    )
}
