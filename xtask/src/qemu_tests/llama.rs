//! QEMU tests of the llama mode (GRUB ISO, models generated at test time by
//! `tinyllama-gen`, see `crate::llama_models`).
//!
//! - `llama-q8-smp1`, `llama-q8-smp2`: a stories15M-shaped Q8_0 GGUF on a
//!   read-only drive, `bareflow.prompt=` and 64 greedy steps on one and two
//!   CPUs: `model_loaded` describes the model, and the generated token ids
//!   equal the host `tinyllama`'s for the same file and prompt; the ops run as
//!   JIT kernels, and every kernel the model uses climbs to T3 while it
//!   generates (`bareflow.tiers=10,30,100`; `tier_up` events between the
//!   tokens, `llama_done`'s `op_tiers`).
//! - `llama-v0-smp1`, `llama-v0-smp2`: the same for a llama2.c v0 (F32)
//!   checkpoint, with its `tokenizer.bin` on a second drive and both exact
//!   lengths on the command line.
//! - `llama-v0-boot-modules`: the same checkpoint and tokenizer as GRUB boot
//!   modules instead of drives (no lengths needed: a module's length is exact).
//! - `llama-interactive`: prompts typed on COM1 in answer to `prompt_request`:
//!   one with a backspace, one longer than the context (a `warn`, and the
//!   session goes on), one ending in CR, then Ctrl-D (end of input): two
//!   answers (the first equal to the host's tokens), `llama_end`, success.
//! - `llama-corrupt-tensor-type`, `llama-truncated`, `llama-no-drive`: a GGUF
//!   whose first tensor has an unknown type, a GGUF cut in half, and no drive
//!   at all each give one `model_error` with the reason and the failure exit.
//! - slow (`./x test --slow`), `llama-tinyllama-1.1b`: a generated
//!   TinyLlama-1.1B-shaped Q8_0 GGUF (about 1.2 GB) loads from its drive and
//!   generates tokens; the summary line has the figures (emulated under TCG).

use super::{Attach, Case, Modules, Trace, ensure};
use crate::iso::{self, Boot};
use crate::llama_models::{self, Generated};
use crate::qemu::{Drive, QemuOutcome, SerialInput};
use crate::trace::{self, Event};
use bareflow_boot_model::exit::ExitCode;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The prompt of the one-shot cases (`bareflow.prompt=` form-encodes spaces).
const PROMPT: &str = "Once upon a time";
/// Greedy steps of the one-shot cases.
const STEPS: usize = 64;
/// Context the one-shot cases run with (the stories15M shape's own).
const CTX: usize = 256;
/// The interactive case's steps and context.
const CHAT_STEPS: usize = 16;
const CHAT_CTX: usize = 64;
/// The interactive case's prompts (as the kernel should read them).
const CHAT_FIRST: &str = "Once upon a time";
const CHAT_THIRD: &str = "The little dog";

fn n(e: &Event, k: &str) -> Option<u64> {
    e.get(k).and_then(Value::as_u64)
}

fn models() -> Result<&'static Generated, String> {
    llama_models::stories15m()
}

fn attach_q8() -> Result<Attach, String> {
    Ok(Attach {
        drives: vec![Drive::read_only(&models()?.q8_gguf, "model")],
        cmdline: String::new(),
    })
}

fn attach_v0() -> Result<Attach, String> {
    let m = models()?;
    Ok(Attach {
        drives: vec![
            Drive::read_only(&m.v0, "model"),
            Drive::read_only(&m.tokenizer, "tokenizer"),
        ],
        cmdline: format!(
            "bareflow.model_bytes={} bareflow.tokenizer_bytes={}",
            llama_models::file_len(&m.v0)?,
            llama_models::file_len(&m.tokenizer)?
        ),
    })
}

/// Where a broken copy of the Q8 model goes.
fn broken_path(name: &str) -> Result<PathBuf, String> {
    Ok(models()?.q8_gguf.with_file_name(name))
}

/// The Q8 GGUF with the type of its first tensor (`token_embd.weight`) set to
/// 99, which no GGML type has.
fn attach_corrupt() -> Result<Attach, String> {
    let mut bytes = std::fs::read(&models()?.q8_gguf).map_err(|e| e.to_string())?;
    let name = b"token_embd.weight";
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(name);
    let at = bytes
        .windows(key.len())
        .position(|w| w == key.as_slice())
        .ok_or("no token_embd.weight tensor info in the generated GGUF")?;
    // name, n_dims (u32), n_dims dims (u64), then the type (u32).
    let dims_at = at + key.len();
    let n_dims = u32::from_le_bytes(bytes[dims_at..dims_at + 4].try_into().unwrap()) as usize;
    let type_at = dims_at + 4 + 8 * n_dims;
    bytes[type_at..type_at + 4].copy_from_slice(&99u32.to_le_bytes());
    let path = broken_path("corrupt-tensor-type.gguf")?;
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Attach {
        drives: vec![Drive::read_only(path, "model")],
        cmdline: String::new(),
    })
}

/// The first half of the Q8 GGUF.
fn attach_truncated() -> Result<Attach, String> {
    let bytes = std::fs::read(&models()?.q8_gguf).map_err(|e| e.to_string())?;
    let path = broken_path("truncated.gguf")?;
    std::fs::write(&path, &bytes[..bytes.len() / 2])
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Attach {
        drives: vec![Drive::read_only(path, "model")],
        cmdline: String::new(),
    })
}

/// Host tokens, computed once per (model, tokenizer, prompt, steps, ctx).
fn host_tokens(
    model: &Path,
    tokenizer: Option<&Path>,
    prompt: &str,
    steps: usize,
    ctx: usize,
) -> Result<Vec<u32>, String> {
    type Key = (PathBuf, Option<PathBuf>, String, usize, usize);
    static CACHE: Mutex<Option<HashMap<Key, Vec<u32>>>> = Mutex::new(None);
    let key: Key = (
        model.to_path_buf(),
        tokenizer.map(Path::to_path_buf),
        prompt.to_string(),
        steps,
        ctx,
    );
    if let Some(t) = CACHE.lock().unwrap().get_or_insert_default().get(&key) {
        return Ok(t.clone());
    }
    let t = llama_models::host_tokens(model, tokenizer, prompt, steps, ctx)?;
    CACHE
        .lock()
        .unwrap()
        .get_or_insert_default()
        .insert(key, t.clone());
    Ok(t)
}

/// Generated token ids of answer `index`.
fn kernel_tokens(t: &Trace, index: u64) -> Vec<u64> {
    t.all("token")
        .into_iter()
        .filter(|e| n(e, "index") == Some(index))
        .filter_map(|e| n(e, "id"))
        .collect()
}

fn check_success(t: &Trace, o: &QemuOutcome) -> Result<(), String> {
    let exit = t.one("exit")?;
    ensure(
        n(exit, "code") == Some(ExitCode::Success.value() as u64),
        || format!("exit {exit:?}"),
    )?;
    ensure(o.exit_code() == Some(ExitCode::Success), || {
        format!("QEMU status {:?}", o.status)
    })
}

/// `model_loaded` describes the stories15M shape in `format`/`quant`.
fn check_loaded(t: &Trace, format: &str, quant: &str, cpus: u64) -> Result<(), String> {
    let m = t.one("model_loaded")?;
    let want: [(&str, u64); 7] = [
        ("dim", 288),
        ("layers", 6),
        ("heads", 6),
        ("kv_heads", 6),
        ("vocab", 32000),
        ("ctx", CTX as u64),
        ("cpus", cpus),
    ];
    for (k, v) in want {
        ensure(n(m, k) == Some(v), || {
            format!("model_loaded {k} {:?}, want {v}", m[k])
        })?;
    }
    ensure(m["format"] == format && m["quant"] == quant, || {
        format!("model_loaded format {} quant {}", m["format"], m["quant"])
    })?;
    ensure(n(m, "bytes").is_some_and(|b| b > 0), || {
        format!("model_loaded bytes {}", m["bytes"])
    })
}

fn check_loaded_source(t: &Trace, source: &str) -> Result<(), String> {
    let m = t.one("model_loaded")?;
    ensure(m["source"] == source, || {
        format!("model_loaded source {}, want {source}", m["source"])
    })
}

/// The JIT kernels the forward pass of a model whose matrices are `quant` calls.
fn used_kernels(quant: &str) -> Vec<&'static str> {
    let mut k = vec![
        "rmsnorm",
        "softmax",
        "rope",
        "swiglu",
        "attention_scores",
        "attention_values",
    ];
    match quant {
        "F32" => k.push("matvec"),
        "Q8_0" => k.push("matvec_q8"),
        _ => {}
    }
    k
}

/// Every kernel the model uses climbed to T3 during the answer (`tier_up` events,
/// at least one of them after the first token) and `llama_done` reports it at T3 with
/// the compile time spent.
fn check_tiers(t: &Trace, quant: &str) -> Result<String, String> {
    let done = t.one("llama_done")?;
    let tiers = &done["op_tiers"];
    let kernels = used_kernels(quant);
    for k in &kernels {
        ensure(tiers[*k] == "T3", || {
            format!("llama_done op_tiers {tiers}: {k} is not at T3")
        })?;
        let reached = t
            .all("tier_up")
            .iter()
            .any(|e| e["kernel"] == *k && e["to"] == "T3");
        ensure(reached, || format!("no tier_up of {k} to T3"))?;
    }
    let compile_ms = done["compile_ms"].as_f64().unwrap_or(0.0);
    ensure(compile_ms > 0.0, || {
        format!("llama_done compile_ms {compile_ms}")
    })?;
    let first_token = t.events.iter().position(|e| e["ev"] == "token");
    let last_tier_up = t.events.iter().rposition(|e| e["ev"] == "tier_up");
    ensure(
        matches!((first_token, last_tier_up), (Some(f), Some(l)) if l > f),
        || "no tier_up between the tokens".into(),
    )?;
    Ok(format!(
        "{} kernels reached T3 while generating, compile {compile_ms} ms",
        kernels.len()
    ))
}

/// The one-shot answer's tokens equal the host's.
fn check_answer(t: &Trace, model: &Path, tokenizer: Option<&Path>) -> Result<String, String> {
    let want: Vec<u64> = host_tokens(model, tokenizer, PROMPT, STEPS, CTX)?
        .into_iter()
        .map(u64::from)
        .collect();
    let got = kernel_tokens(t, 1);
    ensure(got == want, || {
        format!("kernel tokens {got:?}\n  host tokens {want:?}")
    })?;
    let done = t.one("llama_done")?;
    ensure(n(done, "generated") == Some(want.len() as u64), || {
        format!("llama_done {done:?}")
    })?;
    ensure(want.len() == STEPS || done["hit_eos"] == true, || {
        format!("{} tokens without EOS", want.len())
    })?;
    // Every CPU ran split-op tasks (with one CPU, nothing is split).
    let tasks: Vec<u64> = done["cpu_tasks"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let cpus = n(t.one("model_loaded")?, "cpus").unwrap_or(0);
    ensure(
        tasks.len() as u64 == cpus && (cpus == 1 || tasks.iter().all(|&c| c > 0)),
        || format!("cpu_tasks {tasks:?} on {cpus} CPUs"),
    )?;
    Ok(format!(
        "{} tokens equal the host's; {} tok/s, first token after {} ms (emulated); \
         split-op tasks per CPU {tasks:?}",
        got.len(),
        done["tok_per_s"],
        done["ms_first_token"]
    ))
}

fn q8(t: &Trace, o: &QemuOutcome, cpus: u64) -> Result<String, String> {
    check_loaded(t, "GGUF v3", "Q8_0", cpus)?;
    check_loaded_source(t, "drive")?;
    let summary = check_answer(t, &models()?.q8_gguf, None)?;
    let tiers = check_tiers(t, "Q8_0")?;
    check_success(t, o)?;
    Ok(format!("{summary}; {tiers}"))
}

fn v0(t: &Trace, o: &QemuOutcome, cpus: u64) -> Result<String, String> {
    check_loaded(t, "llama2.c v0 (fp32)", "F32", cpus)?;
    let m = models()?;
    ensure(
        n(t.one("model_loaded")?, "bytes") == Some(llama_models::file_len(&m.v0)?),
        || "model_loaded bytes is not the exact file length".into(),
    )?;
    let summary = check_answer(t, &m.v0, Some(&m.tokenizer))?;
    let tiers = check_tiers(t, "F32")?;
    check_success(t, o)?;
    Ok(format!("{summary}; {tiers}"))
}

/// The default IR modules plus the v0 checkpoint and its tokenizer.
fn v0_modules() -> Result<Vec<PathBuf>, String> {
    let m = models()?;
    let mut mods = iso::default_modules();
    mods.push(m.v0.clone());
    mods.push(m.tokenizer.clone());
    Ok(mods)
}

fn v0_modules_check(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_loaded_source(t, "boot_module")?;
    let loaded = t.one("model_loaded")?;
    ensure(loaded["tokenizer"] == "boot module tokenizer.bin", || {
        format!("tokenizer from {}", loaded["tokenizer"])
    })?;
    v0(t, o, 1)
}

fn q8_smp1(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    q8(t, o, 1)
}

fn q8_smp2(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    q8(t, o, 2)
}

fn v0_smp1(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_loaded_source(t, "drive")?;
    v0(t, o, 1)
}

fn v0_smp2(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_loaded_source(t, "drive")?;
    v0(t, o, 2)
}

/// A prompt far longer than [`CHAT_CTX`] tokens.
fn long_prompt() -> String {
    "and then the dog ran ".repeat(40)
}

/// Types the interactive case's prompts, each after its `prompt_request`.
fn chat_input(line: &str, input: &mut SerialInput) {
    let Some(Ok(ev)) = trace::parse(line) else {
        return;
    };
    if ev["ev"] != "prompt_request" {
        return;
    }
    match n(&ev, "index") {
        Some(1) => input.send(b"Once upoX\x7fn a time\n"),
        Some(2) => input.send(format!("{}\n", long_prompt()).as_bytes()),
        Some(3) => input.send(format!("{CHAT_THIRD}\r").as_bytes()),
        _ => input.send(&[0x04]),
    }
}

fn interactive(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    let requests = t.all("prompt_request");
    ensure(requests.len() == 4, || {
        format!("{} prompt_request events, want 4", requests.len())
    })?;
    let prompts = t.all("prompt");
    let texts: Vec<(u64, &str)> = prompts
        .iter()
        .map(|p| (n(p, "index").unwrap_or(0), p["text"].as_str().unwrap_or("")))
        .collect();
    ensure(texts == [(1, CHAT_FIRST), (3, CHAT_THIRD)], || {
        format!("prompts read {texts:?}")
    })?;
    let warned = t.all("warn").into_iter().any(|w| {
        w["what"] == "llama"
            && w["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("prompt 2:") && d.contains("context"))
    });
    ensure(warned, || {
        "no warn for the prompt longer than the context".into()
    })?;
    let done: Vec<u64> = t
        .all("llama_done")
        .iter()
        .filter_map(|d| n(d, "index"))
        .collect();
    ensure(done == [1, 3], || {
        format!("llama_done for answers {done:?}")
    })?;
    let want: Vec<u64> = host_tokens(&models()?.q8_gguf, None, CHAT_FIRST, CHAT_STEPS, CHAT_CTX)?
        .into_iter()
        .map(u64::from)
        .collect();
    let got = kernel_tokens(t, 1);
    ensure(got == want, || {
        format!("answer 1: kernel tokens {got:?}, host {want:?}")
    })?;
    let end = t.one("llama_end")?;
    ensure(
        end["reason"] == "end of input" && n(end, "answers") == Some(3),
        || format!("llama_end {end:?}"),
    )?;
    check_success(t, o)?;
    Ok(format!(
        "prompts 1 and 3 answered (1 equal to the host), 2 refused, Ctrl-D ended it; \
         QEMU start to the first prompt_request {:.1} s (emulated)",
        arrival(o, "prompt_request").unwrap_or(f64::NAN)
    ))
}

/// One `model_error` whose reason contains `want`, then the failure exit.
fn model_error(t: &Trace, o: &QemuOutcome, want: &str) -> Result<String, String> {
    let e = t.one("model_error")?;
    let reason = e["reason"].as_str().unwrap_or("");
    ensure(reason.contains(want), || {
        format!("model_error reason {reason:?} lacks {want:?}")
    })?;
    ensure(
        t.all("token").is_empty() && t.all("panic").is_empty(),
        || "tokens or a panic after a model error".into(),
    )?;
    ensure(o.exit_code() == Some(ExitCode::Failure), || {
        format!("QEMU status {:?}, want failure", o.status)
    })?;
    Ok(reason.chars().take(100).collect())
}

fn corrupt(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    model_error(t, o, "99")
}

fn truncated(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    model_error(t, o, "truncated")
}

fn no_drive(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    model_error(t, o, "no model")
}

/// Seconds from QEMU's start to the arrival of the first `ev` event.
fn arrival(o: &QemuOutcome, ev: &str) -> Option<f64> {
    let start = format!("{{\"ev\":\"{ev}\"");
    o.lines
        .iter()
        .zip(&o.arrivals)
        .find(|(l, _)| l.contains(&start))
        .map(|(_, at)| at.as_secs_f64())
}

/// The slow case's model.
fn attach_tinyllama() -> Result<Attach, String> {
    let m = llama_models::generate("tinyllama-1.1b", "q8_0")?;
    Ok(Attach {
        drives: vec![Drive::read_only(&m.q8_gguf, "model")],
        cmdline: String::new(),
    })
}

fn tinyllama_1b(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    let m = t.one("model_loaded")?;
    for (k, v) in [
        ("dim", 2048),
        ("layers", 22),
        ("heads", 32),
        ("kv_heads", 4),
    ] {
        ensure(n(m, k) == Some(v), || {
            format!("model_loaded {k} {:?}, want {v}", m[k])
        })?;
    }
    ensure(m["quant"] == "Q8_0", || format!("quant {}", m["quant"]))?;
    let done = t.one("llama_done")?;
    ensure(n(done, "generated").is_some_and(|g| g > 0), || {
        format!("llama_done {done:?}")
    })?;
    check_success(t, o)?;
    let prompt_at = arrival(o, "prompt");
    Ok(format!(
        "emulated: QEMU start to prompt {:.1} s, load {} ms, {} bytes resident, first token \
         after {} ms, {} tok/s, {} tokens, compile {} ms",
        prompt_at.unwrap_or(f64::NAN),
        m["load_ms"],
        m["resident_bytes"],
        done["ms_first_token"],
        done["tok_per_s"],
        done["generated"],
        done["compile_ms"]
    ))
}

const fn case(
    name: &'static str,
    cmdline: &'static str,
    smp: u32,
    check: fn(&Trace, &QemuOutcome) -> Result<String, String>,
    attach: Option<fn() -> Result<Attach, String>>,
) -> Case {
    Case {
        boot: Boot::Grub,
        name,
        cmdline,
        smp,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check,
        attach,
        console: None,
    }
}

/// One prompt, 64 greedy steps, tier thresholds low enough for every kernel to reach T3
/// during the answer (swiglu, the least called, runs 6 times a token).
const ONE_SHOT: &str = "bareflow.mode=llama bareflow.prompt=Once+upon+a+time bareflow.steps=64 bareflow.tiers=10,30,100";

/// The llama tests of `./x test`.
pub const CASES: &[Case] = &[
    case("llama-q8-smp1", ONE_SHOT, 1, q8_smp1, Some(attach_q8)),
    case("llama-q8-smp2", ONE_SHOT, 2, q8_smp2, Some(attach_q8)),
    case("llama-v0-smp1", ONE_SHOT, 1, v0_smp1, Some(attach_v0)),
    case("llama-v0-smp2", ONE_SHOT, 2, v0_smp2, Some(attach_v0)),
    Case {
        modules: Modules::Custom(v0_modules),
        ..case("llama-v0-boot-modules", ONE_SHOT, 1, v0_modules_check, None)
    },
    Case {
        console: Some(chat_input),
        ..case(
            "llama-interactive",
            "bareflow.mode=llama bareflow.steps=16 bareflow.ctx=64 bareflow.tiers=10,30,100",
            2,
            interactive,
            Some(attach_q8),
        )
    },
    case(
        "llama-corrupt-tensor-type",
        ONE_SHOT,
        1,
        corrupt,
        Some(attach_corrupt),
    ),
    case(
        "llama-truncated",
        ONE_SHOT,
        1,
        truncated,
        Some(attach_truncated),
    ),
    case("llama-no-drive", ONE_SHOT, 1, no_drive, None),
];

/// The slow llama test (`./x test --slow`).
pub const SLOW_CASES: &[Case] = &[Case {
    mem_mib: 2048,
    ..case(
        "llama-tinyllama-1.1b",
        "bareflow.mode=llama bareflow.prompt=Hello bareflow.steps=4 bareflow.tiers=10,30,100",
        2,
        tinyllama_1b,
        Some(attach_tinyllama),
    )
}];
