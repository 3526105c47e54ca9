//! The code checks of `cargo xtask test`: formatting (`cargo fmt --check`) and the
//! lints (`cargo clippy -D warnings`, which turns the workspace lints of the root
//! `Cargo.toml` into errors) for the host crates and, on the kernel's own target, for
//! the kernel and its platform crate. Each is one pass/fail line of the suite.

use crate::{build, paths};
use std::process::Command;

/// Most lines of a failing check's output printed under its FAILED line.
const MAX_REPORTED_LINES: usize = 150;

/// One check: a name for `--filter` and the report, and the command it runs.
struct Check {
    name: &'static str,
    command: fn() -> Command,
}

/// `cargo fmt --all --check`: every crate of the workspace, the kernel's included.
fn fmt() -> Command {
    let mut cmd = paths::cargo();
    cmd.args(["fmt", "--all", "--check"]);
    cmd
}

/// Clippy on the host crates (the workspace's default members) and their tests,
/// examples and benches.
fn clippy_host() -> Command {
    let mut cmd = paths::cargo();
    cmd.args(["clippy", "--all-targets", "--", "-D", "warnings"]);
    cmd
}

/// Clippy on the kernel and the platform crate, built for the kernel's target as
/// `cargo xtask build` builds them.
fn clippy_kernel() -> Command {
    let mut cmd = build::kernel_cargo("clippy");
    cmd.args(["-p", "bareflow-platform", "--", "-D", "warnings"]);
    cmd
}

const CHECKS: [Check; 3] = [
    Check {
        name: "fmt",
        command: fmt,
    },
    Check {
        name: "clippy-host",
        command: clippy_host,
    },
    Check {
        name: "clippy-kernel",
        command: clippy_kernel,
    },
];

/// The last `max` lines of `text`, with a line saying how many were left out.
fn tail(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(max);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("... ({skip} earlier lines left out)\n"));
    }
    out.push_str(&lines[skip..].join("\n"));
    out
}

/// Runs `cmd`, capturing its output: `Ok` when it exits with success, else the
/// command, its status and the end of its output (compiler progress lines dropped).
fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let progress = [
            "Compiling ",
            "Checking ",
            "Downloaded ",
            "Downloading ",
            "Blocking ",
        ]
        .iter()
        .any(|p| line.trim_start().starts_with(p));
        if !progress {
            text.push_str(line);
            text.push('\n');
        }
    }
    Err(format!(
        "{shown} failed ({}):\n{}",
        out.status,
        tail(&text, MAX_REPORTED_LINES)
    ))
}

/// Runs every check whose name contains `filter`, one line each; returns (passed, failed).
pub fn run_all(filter: Option<&str>) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for check in CHECKS
        .iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
    {
        print!("check {} ... ", check.name);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let started = std::time::Instant::now();
        match run((check.command)()) {
            Ok(()) => {
                passed += 1;
                println!("ok ({:.1} s)", started.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAILED\n{e}");
            }
        }
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines_and_says_how_many_it_dropped() {
        assert_eq!(tail("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(
            tail("a\nb\nc\nd", 2),
            "... (2 earlier lines left out)\nc\nd"
        );
    }

    #[test]
    fn the_kernel_check_lints_both_kernel_crates_for_the_kernel_target() {
        let cmd = clippy_kernel();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "clippy");
        for wanted in [
            "bareflow-kernel",
            "bareflow-platform",
            "-Zbuild-std=core,alloc",
        ] {
            assert!(
                args.iter().any(|a| a == wanted),
                "{wanted} missing: {args:?}"
            );
        }
        let dashes = args.iter().position(|a| a == "--").expect("--");
        assert_eq!(&args[dashes + 1..], ["-D", "warnings"]);
    }
}
