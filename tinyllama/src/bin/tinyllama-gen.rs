//! Checkpoint generator: deterministic random weights of a named shape,
//! written in every supported format, plus a matching `tokenizer.bin`.
//!
//! ```text
//! cargo run -p tinyllama --release --bin tinyllama-gen -- --shape stories15m --out DIR
//!     [--seed S] [--unshared] [--formats v0,v1,v2,f32,f16,q8_0]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use tinyllama::synth::{
    GROUP, GgufType, Shape, synth_tokenizer, synth_weights, write_gguf, write_llama2c,
    write_tokenizer_bin,
};

const USAGE: &str = "\
usage: tinyllama-gen --shape NAME --out DIR [--seed S] [--unshared] [--formats LIST]

  --shape NAME     tiny | gqa | stories15m | stories110m | tinyllama-1.1b
  --out DIR        output directory (created if missing)
  --seed S         weight seed (default 1)
  --unshared       write a separate classifier instead of tying it to the embedding
  --formats LIST   comma-separated subset of v0,v1,v2,f32,f16,q8_0 (default: all)

Writes model-v0.bin, model-v1.bin, model-v2.bin (llama2.c), model-f32.gguf,
model-f16.gguf, model-q8_0.gguf and tokenizer.bin into DIR.";

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut shape = None;
    let mut out = None;
    let mut seed = 1u64;
    let mut shared = true;
    let mut formats = String::from("v0,v1,v2,f32,f16,q8_0");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--shape" => {
                let n = args.next().ok_or("--shape needs a name")?;
                shape = Some(Shape::from_name(&n).map_err(|e| e.to_string())?);
            }
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a directory")?)),
            "--seed" => {
                let v = args.next().ok_or("--seed needs a value")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed: {v:?} is not a number"))?;
            }
            "--unshared" => shared = false,
            "--formats" => formats = args.next().ok_or("--formats needs a list")?,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    let shape = shape.ok_or_else(|| format!("--shape is required\n\n{USAGE}"))?;
    let dir = out.ok_or_else(|| format!("--out is required\n\n{USAGE}"))?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let config = shape.config();
    let weights = synth_weights(&config, seed, shared);
    let tok = synth_tokenizer(config.vocab_size).map_err(|e| e.to_string())?;
    let write = |name: &str, bytes: Vec<u8>| -> Result<(), String> {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).map_err(|e| format!("cannot write {path:?}: {e}"))?;
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
        Ok(())
    };
    write("tokenizer.bin", write_tokenizer_bin(&tok))?;
    for f in formats.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match f {
            "v0" => write("model-v0.bin", write_llama2c(&config, &weights, 0, GROUP))?,
            "v1" => write("model-v1.bin", write_llama2c(&config, &weights, 1, GROUP))?,
            "v2" => write("model-v2.bin", write_llama2c(&config, &weights, 2, GROUP))?,
            "f32" => write(
                "model-f32.gguf",
                write_gguf(&config, &weights, &tok, GgufType::F32),
            )?,
            "f16" => write(
                "model-f16.gguf",
                write_gguf(&config, &weights, &tok, GgufType::F16),
            )?,
            "q8_0" => write(
                "model-q8_0.gguf",
                write_gguf(&config, &weights, &tok, GgufType::Q8_0),
            )?,
            other => return Err(format!("unknown format {other:?} (v0,v1,v2,f32,f16,q8_0)")),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
