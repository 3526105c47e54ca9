//! `cargo xtask coverage`: line coverage of the host crates' tests, measured with
//! `cargo llvm-cov` (installed with `cargo install --locked` when missing; it needs the
//! `llvm-tools` component that `rust-toolchain.toml` pins). Not part of `test`: the
//! instrumented build and run take several times as long as `cargo test`.
//!
//! The figure is the share of the crates' own source lines (`src/`, unit tests
//! included) that the tests executed; the integration tests, examples and benches
//! themselves are left out of it.

use crate::cli::CoverageArgs;
use crate::paths;
use serde_json::Value;
use std::process::Command;

/// The measured crates: package name, and the folder its files live in.
pub const CRATES: [(&str, &str); 5] = [
    ("jit", "jit/"),
    ("bareflow-modules", "ir-modules/"),
    ("tinyllama", "tinyllama/"),
    ("bareflow-boot-model", "kernel/boot-model/"),
    ("xtask", "xtask/"),
];

/// Files llvm-cov leaves out of the figure: test, example and bench targets.
const IGNORED_FILES: &str = r"(^|/)(tests|examples|benches)/";

/// Covered and total lines of one crate (or of all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    /// Lines with code that the tests executed at least once.
    pub covered: u64,
    /// Lines with code.
    pub total: u64,
}

impl Lines {
    /// Covered lines in percent, with one decimal (`-` without code lines).
    pub fn percent(&self) -> String {
        if self.total == 0 {
            "-".into()
        } else {
            format!("{:.1}%", self.covered as f64 * 100.0 / self.total as f64)
        }
    }
}

/// Installs `cargo-llvm-cov` from crates.io unless `cargo llvm-cov` already runs.
fn ensure_llvm_cov() -> Result<(), String> {
    let present = paths::cargo()
        .args(["llvm-cov", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-llvm-cov (cargo install --locked cargo-llvm-cov)");
    let status = paths::cargo()
        .args(["install", "--locked", "cargo-llvm-cov"])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo install --locked cargo-llvm-cov failed ({status})"
        ));
    }
    Ok(())
}

/// Sums the per-file line figures of an `llvm-cov export` summary (the JSON that
/// `cargo llvm-cov --json --summary-only` prints) per crate of [`CRATES`], by path
/// under `root`. Files of no listed crate are not counted.
pub fn per_crate(export: &Value, root: &str) -> Result<Vec<(&'static str, Lines)>, String> {
    let files = export["data"][0]["files"]
        .as_array()
        .ok_or("llvm-cov export: no data[0].files array")?;
    let root = format!("{}/", root.trim_end_matches('/'));
    let mut out: Vec<(&str, Lines)> = CRATES.iter().map(|(n, _)| (*n, Lines::default())).collect();
    for file in files {
        let name = file["filename"]
            .as_str()
            .ok_or("llvm-cov export: a file without filename")?;
        let lines = &file["summary"]["lines"];
        let (Some(count), Some(covered)) = (lines["count"].as_u64(), lines["covered"].as_u64())
        else {
            return Err(format!("llvm-cov export: {name} has no line counts"));
        };
        let relative = name.strip_prefix(&root).unwrap_or(name);
        // The longest folder wins (`kernel/boot-model/` over a shorter match).
        let owner = CRATES
            .iter()
            .enumerate()
            .filter(|(_, (_, dir))| relative.starts_with(dir))
            .max_by_key(|(_, (_, dir))| dir.len());
        if let Some((i, _)) = owner {
            out[i].1.covered += covered;
            out[i].1.total += count;
        }
    }
    Ok(out)
}

/// The table `coverage` prints: one row per crate, then the total.
pub fn table(rows: &[(&str, Lines)]) -> String {
    let mut out =
        String::from("| crate | lines | covered | line coverage |\n|---|---:|---:|---:|\n");
    let mut all = Lines::default();
    for (name, l) in rows {
        out.push_str(&format!(
            "| `{name}` | {} | {} | {} |\n",
            l.total,
            l.covered,
            l.percent()
        ));
        all.total += l.total;
        all.covered += l.covered;
    }
    out.push_str(&format!(
        "| total | {} | {} | {} |\n",
        all.total,
        all.covered,
        all.percent()
    ));
    out
}

/// Runs the command: installs the tool if needed, runs the host crates' tests
/// instrumented, prints the table. `Ok(false)` when the tests failed.
pub fn run(args: &CoverageArgs) -> Result<bool, String> {
    ensure_llvm_cov()?;
    let mut cmd = llvm_cov(&["--json", "--summary-only"]);
    eprintln!("xtask: {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo llvm-cov: {e}"))?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return Ok(false);
    }
    let export: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo llvm-cov printed no JSON summary: {e}"))?;
    let root = paths::root();
    let rows = per_crate(&export, &root.to_string_lossy())?;
    print!("{}", table(&rows));
    if args.html {
        // The same profile data again, as pages that show every uncovered line.
        let mut cmd = llvm_cov(&["report", "--html"]);
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run cargo llvm-cov report: {e}"))?;
        if !status.success() {
            return Err(format!("cargo llvm-cov report --html failed ({status})"));
        }
        println!("HTML report: target/llvm-cov/html/index.html");
    }
    Ok(true)
}

/// `cargo llvm-cov ARGS` on the measured crates, without the files the figure leaves out.
fn llvm_cov(args: &[&str]) -> Command {
    let mut cmd = paths::cargo();
    cmd.arg("llvm-cov")
        .args(args)
        .args(["--ignore-filename-regex", IGNORED_FILES]);
    for (name, _) in CRATES {
        cmd.args(["-p", name]);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, count: u64, covered: u64) -> Value {
        serde_json::json!({
            "filename": name,
            "summary": { "lines": { "count": count, "covered": covered, "percent": 0.0 } }
        })
    }

    #[test]
    fn lines_are_summed_per_crate_by_folder() {
        let export = serde_json::json!({ "data": [{ "files": [
            file("/r/jit/src/lib.rs", 10, 9),
            file("/r/jit/src/t0/interp.rs", 30, 21),
            file("/r/kernel/boot-model/src/cmdline.rs", 40, 38),
            file("/r/tinyllama/src/gguf.rs", 5, 0),
            file("/r/somewhere/else.rs", 100, 0),
        ]}]});
        let rows = per_crate(&export, "/r").unwrap();
        let get = |n: &str| rows.iter().find(|(c, _)| *c == n).unwrap().1;
        assert_eq!(
            get("jit"),
            Lines {
                covered: 30,
                total: 40
            }
        );
        assert_eq!(
            get("bareflow-boot-model"),
            Lines {
                covered: 38,
                total: 40
            }
        );
        assert_eq!(
            get("tinyllama"),
            Lines {
                covered: 0,
                total: 5
            }
        );
        assert_eq!(get("xtask"), Lines::default());
        let t = table(&rows);
        assert!(t.contains("| `jit` | 40 | 30 | 75.0% |"), "{t}");
        assert!(t.contains("| `xtask` | 0 | 0 | - |"), "{t}");
        // The file of no listed crate counts nowhere.
        assert!(t.contains("| total | 85 | 68 | 80.0% |"), "{t}");
    }

    #[test]
    fn a_malformed_export_is_an_error_not_a_panic() {
        assert!(per_crate(&serde_json::json!({}), "/r").is_err());
        let no_counts =
            serde_json::json!({ "data": [{ "files": [{ "filename": "/r/jit/a.rs" }] }] });
        let e = per_crate(&no_counts, "/r").unwrap_err();
        assert!(e.contains("/r/jit/a.rs"), "{e}");
    }
}
