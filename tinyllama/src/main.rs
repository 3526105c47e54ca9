//! Host command: load a model and a tokenizer, stream generated text, and
//! report tokens per second.
//!
//! ```text
//! cargo run -p tinyllama --release -- --model M [--tokenizer T] --prompt "..."
//!     [--steps N] [--temperature T] [--top-p P] [--seed S] [--ctx N]
//!     [--threads N] [--ops plain|jit] [--tiers N1,N2,N3] [--special] [--bench]
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use jit::{CpuFeatures, Engine, EngineConfig};
use tinyllama::{
    EngineCaller, FileSource, JitOps, LlamaKernel, Model, Ops, PlainOps, Sampler, Session,
    ThreadPool, Tokenizer, generate_from_tokens,
};

const USAGE: &str = "\
usage: tinyllama --model FILE [--tokenizer FILE] [--prompt TEXT] [--steps N]
                 [--temperature T] [--top-p P] [--seed S] [--ctx N] [--threads N]
                 [--ops plain|jit] [--special] [--bench]

  --model FILE       llama2.c checkpoint (v0, v1, v2) or GGUF file
  --tokenizer FILE   llama2.c tokenizer.bin (default: the GGUF's own tokenizer)
  --prompt TEXT      prompt (default: empty)
  --steps N          tokens to generate after the prompt (default 256)
  --temperature T    0 = greedy (default 0.8)
  --top-p P          nucleus sampling threshold, 1 = off (default 0.9)
  --seed S           sampling seed (default: from the clock)
  --ctx N            context positions to allocate (default: the model's, at most 4096)
  --threads N        worker threads for the matvec rows and attention heads
                     (default 1; results are bit-identical for every N)
  --ops plain|jit    plain: the ops as compiled Rust (default, the fastest);
                     jit: the ops as BareFlow JIT kernels (ir-modules/llama.bfir)
                     that tier up T0 -> T3 while generating; same tokens, same bits
  --tiers N1,N2,N3   with --ops jit: calls of a kernel after which it moves to T1,
                     T2, T3 (increasing, default 100,1000,10000)
  --special          turn control pieces written in the prompt (</s>, <s>) into their tokens
  --bench            time prompt + N greedy steps, ignoring EOS; print only the timing";

/// Most worker threads `--threads` accepts.
const MAX_THREADS: usize = 256;

/// Default cap on the KV cache positions, so that a header announcing a huge
/// context does not allocate a huge cache unless asked to with `--ctx`.
const DEFAULT_MAX_CTX: usize = 4096;

/// Which implementation of the ops runs the forward pass (`--ops`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OpsChoice {
    Plain,
    Jit,
}

struct Args {
    model: PathBuf,
    tokenizer: Option<PathBuf>,
    prompt: String,
    steps: usize,
    temperature: f32,
    top_p: f32,
    seed: Option<u64>,
    ctx: Option<usize>,
    threads: usize,
    ops: OpsChoice,
    tiers: [u64; 3],
    special: bool,
    bench: bool,
}

/// The value after `flag` as text; non-UTF-8 is an error naming the flag.
fn text(flag: &str, v: Option<OsString>) -> Result<String, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.into_string()
        .map_err(|v| format!("{flag}: {v:?} is not valid UTF-8"))
}

fn num<T: std::str::FromStr>(flag: &str, v: Option<OsString>) -> Result<T, String> {
    let v = text(flag, v)?;
    v.parse()
        .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
}

/// `N1,N2,N3`: strictly increasing call counts, the first at least 1.
fn tiers(v: &str) -> Result<[u64; 3], String> {
    let bad = || format!("--tiers {v:?}: give three increasing call counts, e.g. 100,1000,10000");
    let n: Vec<u64> = v
        .split(',')
        .map(|p| p.trim().parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match n[..] {
        [a, b, c] if a >= 1 && a < b && b < c => Ok([a, b, c]),
        _ => Err(bad()),
    }
}

fn parse_args() -> Result<Args, String> {
    // `args_os`: `args` panics on an argument that is not UTF-8. File names
    // are kept as paths; every other value must be text.
    let mut it = std::env::args_os().skip(1);
    let mut a = Args {
        model: PathBuf::new(),
        tokenizer: None,
        prompt: String::new(),
        steps: 256,
        temperature: 0.8,
        top_p: 0.9,
        seed: None,
        ctx: None,
        threads: 1,
        ops: OpsChoice::Plain,
        tiers: EngineConfig::default().thresholds,
        special: false,
        bench: false,
    };
    while let Some(flag) = it.next() {
        let flag = flag
            .into_string()
            .map_err(|f| format!("argument {f:?} is not valid UTF-8"))?;
        match flag.as_str() {
            "--model" | "-m" => a.model = it.next().ok_or("--model needs a file")?.into(),
            "--tokenizer" | "-z" => {
                a.tokenizer = Some(it.next().ok_or("--tokenizer needs a file")?.into())
            }
            "--prompt" | "-i" => a.prompt = text(&flag, it.next())?,
            "--steps" | "-n" => a.steps = num(&flag, it.next())?,
            "--temperature" | "-t" => a.temperature = num(&flag, it.next())?,
            "--top-p" | "-p" => a.top_p = num(&flag, it.next())?,
            "--seed" | "-s" => a.seed = Some(num(&flag, it.next())?),
            "--ctx" => a.ctx = Some(num(&flag, it.next())?),
            "--threads" => a.threads = num(&flag, it.next())?,
            "--ops" => {
                a.ops = match text(&flag, it.next())?.as_str() {
                    "plain" => OpsChoice::Plain,
                    "jit" => OpsChoice::Jit,
                    other => return Err(format!("--ops {other:?}: give plain or jit")),
                }
            }
            "--tiers" => a.tiers = tiers(&text(&flag, it.next())?)?,
            "--bench" => a.bench = true,
            "--special" => a.special = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.model.as_os_str().is_empty() {
        return Err(String::from("--model is required"));
    }
    if !(a.temperature >= 0.0 && a.temperature.is_finite()) {
        return Err(format!("--temperature {} must be >= 0", a.temperature));
    }
    if a.ctx == Some(0) {
        return Err(String::from(
            "--ctx 0: the context must hold at least 1 position",
        ));
    }
    if !(1..=MAX_THREADS).contains(&a.threads) {
        return Err(format!(
            "--threads {}: give 1 to {MAX_THREADS} threads",
            a.threads
        ));
    }
    Ok(a)
}

fn open(path: &Path, what: &str) -> Result<FileSource, String> {
    FileSource::open(path).map_err(|e| format!("cannot read {what} file {path:?}: {e}"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn run(a: Args) -> Result<(), String> {
    let mut file = open(&a.model, "model")?;
    let t0 = Instant::now();
    let mut model = Model::load_from(&mut file)
        .map_err(|e| format!("model file {:?} is not usable: {e}", a.model))?;
    let file_bytes = tinyllama::ModelSource::len(&file);
    drop(file);
    let tokenizer = match &a.tokenizer {
        Some(path) => Tokenizer::load_llama2c(&mut open(path, "tokenizer")?)
            .map_err(|e| format!("tokenizer file {path:?} is not usable: {e}"))?,
        None => model.tokenizer.take().ok_or_else(|| {
            format!(
                "model file {:?} carries no tokenizer; pass --tokenizer tokenizer.bin",
                a.model
            )
        })?,
    };
    if tokenizer.vocab_size() != model.config.vocab_size {
        return Err(format!(
            "the tokenizer has {} tokens but the model's vocabulary is {}",
            tokenizer.vocab_size(),
            model.config.vocab_size
        ));
    }
    let c = &model.config;
    eprintln!(
        "loaded {} in {:.2}s, weights {:.1} MiB from a {:.1} MiB file: dim {}, {} layers, {} heads ({} KV), hidden {}, vocab {}, context {}",
        model.format,
        t0.elapsed().as_secs_f64(),
        mib(model.weights.resident_bytes() as u64),
        mib(file_bytes),
        c.dim,
        c.n_layers,
        c.n_heads,
        c.n_kv_heads,
        c.hidden_dim,
        c.vocab_size,
        c.seq_len
    );
    let workers = ThreadPool::new(a.threads)
        .map_err(|e| format!("cannot start {} worker threads: {e}", a.threads))?;
    match a.ops {
        OpsChoice::Plain => generate_with(&model, &tokenizer, &workers, PlainOps, &a),
        OpsChoice::Jit => {
            let engine = Arc::new(Engine::host(EngineConfig {
                features: CpuFeatures::detect_host(),
                thresholds: a.tiers,
                ..EngineConfig::default()
            }));
            let caller = EngineCaller::new(engine).map_err(|e| e.to_string())?;
            let result = generate_with(&model, &tokenizer, &workers, JitOps::new(&caller), &a);
            let tiers: Vec<String> = LlamaKernel::ALL
                .iter()
                .map(|&k| format!("{} {}", k.name(), caller.tier(k)))
                .collect();
            eprintln!("JIT kernel tiers: {}", tiers.join(", "));
            result
        }
    }
}

/// Generates (or benchmarks) with `ops`.
fn generate_with<O: Ops>(
    model: &Model,
    tokenizer: &Tokenizer,
    workers: &ThreadPool,
    ops: O,
    a: &Args,
) -> Result<(), String> {
    let mut session = Session::with_workers(
        model.config,
        &model.weights,
        ops,
        a.ctx.unwrap_or(DEFAULT_MAX_CTX),
        workers,
    )
    .map_err(|e| format!("cannot set up inference: {e}"))?;
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    if a.bench {
        return bench(&mut session, tokenizer, a);
    }
    let mut sampler = Sampler::new(a.temperature, a.top_p, seed);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut forwards = 0usize;
    let start = Instant::now();
    let prompt = encode_prompt(tokenizer, a)?;
    let result = generate_from_tokens(
        &mut session,
        tokenizer,
        &mut sampler,
        &prompt,
        a.steps,
        |ev| {
            forwards += 1;
            let _ = out.write_all(ev.text);
            let _ = out.flush();
            true
        },
    )
    .map_err(|e| format!("generation failed: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let _ = writeln!(out);
    eprintln!(
        "{} prompt + {} generated tokens, {} forward passes in {:.3}s: {:.2} tok/s{}",
        result.prompt_tokens,
        result.generated_tokens,
        forwards,
        secs,
        forwards as f64 / secs,
        if result.hit_eos {
            " (stopped at EOS)"
        } else {
            ""
        }
    );
    Ok(())
}

fn encode_prompt(tokenizer: &Tokenizer, a: &Args) -> Result<Vec<u32>, String> {
    let r = if a.special {
        tokenizer.encode_special(&a.prompt, true, false)
    } else {
        tokenizer.encode(&a.prompt, true, false)
    };
    r.map_err(|e| format!("cannot encode the prompt: {e}"))
}

/// Benchmark: the prompt, then greedy decoding for `--steps` tokens without
/// stopping at EOS (capped by the context), timing every forward pass.
fn bench<O: Ops>(
    session: &mut Session<'_, O>,
    tokenizer: &Tokenizer,
    a: &Args,
) -> Result<(), String> {
    let prompt = encode_prompt(tokenizer, a)?;
    let total = (prompt.len() + a.steps).min(session.context_len());
    let mut token = prompt[0];
    let start = Instant::now();
    for pos in 0..total {
        let logits = session
            .forward(token, pos)
            .map_err(|e| format!("forward pass failed: {e}"))?;
        let next = tinyllama::sampler::argmax(logits);
        token = prompt.get(pos + 1).copied().unwrap_or(next);
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "bench: {total} forward passes ({} prompt) in {secs:.3}s: {:.2} tok/s ({} thread{})",
        prompt.len(),
        total as f64 / secs,
        session.workers(),
        if session.workers() == 1 { "" } else { "s" }
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
