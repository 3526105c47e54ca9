//! Models for the llama tests, made at test time with `tinyllama-gen` (never
//! committed) under `iso/llama-models/`, and the host's greedy tokens for them
//! (the `tinyllama` crate, `PlainOps`, one thread): what the kernel must
//! reproduce.

use crate::paths;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tinyllama::{FileSource, Model, PlainOps, Sampler, Session, Tokenizer, generate_from_tokens};

/// The generated files of one shape.
#[derive(Debug, Clone)]
pub struct Generated {
    /// `model-q8_0.gguf`, if asked for.
    pub q8_gguf: PathBuf,
    /// `model-v0.bin`, if asked for.
    pub v0: PathBuf,
    /// `tokenizer.bin`.
    pub tokenizer: PathBuf,
}

/// Runs `tinyllama-gen` (release build) for `shape` and `formats` into
/// `iso/llama-models/<shape>/`, unless its files are already there.
pub fn generate(shape: &str, formats: &str) -> Result<Generated, String> {
    let dir = paths::iso_dir().join("llama-models").join(shape);
    let files = Generated {
        q8_gguf: dir.join("model-q8_0.gguf"),
        v0: dir.join("model-v0.bin"),
        tokenizer: dir.join("tokenizer.bin"),
    };
    let wanted: Vec<&Path> = formats
        .split(',')
        .filter_map(|f| match f {
            "q8_0" => Some(files.q8_gguf.as_path()),
            "v0" => Some(files.v0.as_path()),
            _ => None,
        })
        .chain([files.tokenizer.as_path()])
        .collect();
    let done = dir.join(format!("done-{}", formats.replace(',', "-")));
    if done.is_file() && wanted.iter().all(|p| p.is_file()) {
        return Ok(files);
    }
    eprintln!("xtask: generating a {shape}-shaped model ({formats}) with tinyllama-gen");
    let status = paths::cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "tinyllama",
            "--bin",
            "tinyllama-gen",
            "--",
            "--shape",
            shape,
            "--formats",
            formats,
            "--out",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("tinyllama-gen failed ({status})"));
    }
    std::fs::write(&done, b"").map_err(|e| format!("{}: {e}", done.display()))?;
    Ok(files)
}

/// The stories15M-shaped Q8_0 GGUF, llama2.c v0 checkpoint and tokenizer
/// (made once per run).
pub fn stories15m() -> Result<&'static Generated, String> {
    static MODELS: OnceLock<Result<Generated, String>> = OnceLock::new();
    MODELS
        .get_or_init(|| generate("stories15m", "q8_0,v0"))
        .as_ref()
        .map_err(Clone::clone)
}

/// The host's greedy decoding of `prompt` for `steps` tokens (BOS first, stops at
/// EOS like the kernel): the ids of the generated tokens.
pub fn host_tokens(
    model: &Path,
    tokenizer: Option<&Path>,
    prompt: &str,
    steps: usize,
    ctx: usize,
) -> Result<Vec<u32>, String> {
    let open = |p: &Path| FileSource::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut m = Model::load_from(&mut open(model)?).map_err(|e| e.to_string())?;
    let tok = match tokenizer {
        Some(p) => Tokenizer::load_llama2c(&mut open(p)?).map_err(|e| e.to_string())?,
        None => m.tokenizer.take().ok_or("the model carries no tokenizer")?,
    };
    let mut session =
        Session::new(m.config, &m.weights, PlainOps, ctx).map_err(|e| e.to_string())?;
    let prompt = tok.encode(prompt, true, false).map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    generate_from_tokens(
        &mut session,
        &tok,
        &mut Sampler::greedy(),
        &prompt,
        steps,
        |ev| {
            if !ev.from_prompt {
                ids.push(ev.token);
            }
            true
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(ids)
}

/// File length, for `bareflow.*_bytes=`.
pub fn file_len(p: &Path) -> Result<u64, String> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", p.display()))
}
