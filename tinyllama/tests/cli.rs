//! The host commands: generation streams text, bad files give clear messages.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tinyllama");
const GEN: &str = env!("CARGO_BIN_EXE_tinyllama-gen");

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tinyllama-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn generator_then_inference_in_every_format() {
    let d = dir("all");
    let out = Command::new(GEN)
        .args(["--shape", "tiny", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut texts = Vec::new();
    for m in [
        "model-v0.bin",
        "model-v1.bin",
        "model-f32.gguf",
        "model-f16.gguf",
    ] {
        let mut cmd = Command::new(BIN);
        cmd.arg("--model").arg(d.join(m));
        if m.ends_with(".bin") {
            cmd.arg("--tokenizer").arg(d.join("tokenizer.bin"));
        }
        let out = cmd
            .args([
                "--prompt",
                "Once upon a time",
                "--steps",
                "8",
                "--temperature",
                "0",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{m}: {err}");
        assert!(err.contains("tok/s"), "{m}: {err}");
        assert!(out.stdout.starts_with(b"Once upon a time"), "{m}");
        texts.push(out.stdout);
    }
    // fp32 and f16 files of one model produce the same greedy text.
    assert!(texts.windows(2).all(|w| w[0] == w[1]));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn missing_and_broken_files_give_clear_errors() {
    let d = dir("bad");
    let out = Command::new(BIN)
        .args(["--model", "/nonexistent/model.bin", "--prompt", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read model file") && err.contains("/nonexistent/model.bin"),
        "{err}"
    );

    let broken = d.join("broken.gguf");
    std::fs::write(&broken, b"GGUF\x03\0\0\0\x01").unwrap();
    let out = Command::new(BIN)
        .arg("--model")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not usable") && err.contains("tensor_count"),
        "{err}"
    );

    let out = Command::new(BIN).args(["--steps", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));

    // A llama2.c checkpoint without --tokenizer.
    let g = Command::new(GEN)
        .args(["--shape", "tiny", "--formats", "v1", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(g.status.success());
    let out = Command::new(BIN)
        .arg("--model")
        .arg(d.join("model-v1.bin"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tokenizer"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Issue 11 §3: a non-UTF-8 argument used to panic inside `std::env::args`.
#[cfg(unix)]
#[test]
fn non_utf8_arguments_are_reported_not_panicked() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(BIN)
        .args(["--model", "model.bin", "--prompt"])
        .arg(OsStr::from_bytes(b"caf\xe9"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--prompt") && err.contains("not valid UTF-8") && !err.contains("panicked"),
        "{err}"
    );
    // A file name need not be UTF-8: it is passed on as a path.
    let out = Command::new(BIN)
        .arg("--model")
        .arg(OsStr::from_bytes(b"/nonexistent/caf\xe9.bin"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot read model file") && !err.contains("panicked"),
        "{err}"
    );
}

/// Issue 11 §3: `--ctx 0` used to run with one position and exit 0.
#[test]
fn a_context_of_zero_is_rejected() {
    let d = dir("ctx0");
    let g = Command::new(GEN)
        .args(["--shape", "tiny", "--formats", "f32", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(g.status.success());
    let out = Command::new(BIN)
        .arg("--model")
        .arg(d.join("model-f32.gguf"))
        .args(["--prompt", "Once", "--ctx", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--ctx") && err.contains("at least 1"), "{err}");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn threads_give_the_same_text_in_every_format() {
    let d = dir("threads");
    let g = Command::new(GEN)
        .args(["--shape", "gqa", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(g.status.success());
    for m in [
        "model-v0.bin",
        "model-v1.bin",
        "model-v2.bin",
        "model-f32.gguf",
        "model-f16.gguf",
        "model-q8_0.gguf",
    ] {
        let mut texts = Vec::new();
        for threads in ["1", "2", "3"] {
            let out = Command::new(BIN)
                .arg("--model")
                .arg(d.join(m))
                .arg("--tokenizer")
                .arg(d.join("tokenizer.bin"))
                .args(["--prompt", "Once upon a time", "--steps", "24"])
                .args(["--temperature", "0.9", "--seed", "5", "--threads", threads])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{m} --threads {threads}: {err}");
            texts.push(out.stdout);
        }
        assert!(texts.windows(2).all(|w| w[0] == w[1]), "{m}: texts differ");
    }
    for bad in ["0", "257", "x"] {
        let out = Command::new(BIN)
            .args(["--model", "m.gguf", "--threads", bad])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--threads {bad}: {err}");
        assert!(err.contains("--threads"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
