//! `cargo xtask test`: the host unit tests (`cargo test`), then the kernel tests
//! (`qemu_tests`).

use crate::cli::TestArgs;
use crate::{build, paths, qemu, qemu_tests};
use std::process::Command;

/// Runs the command; `Ok(true)` when everything selected passed.
pub fn run(args: &TestArgs) -> Result<bool, String> {
    let accel = qemu::select_accel(args.accel.as_deref())?;
    if !args.qemu_only {
        eprintln!(
            "== host tests: cargo test --workspace --exclude bareflow-kernel --exclude bareflow-platform"
        );
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(&cargo)
            .current_dir(paths::root())
            .args([
                "test",
                "--workspace",
                "--exclude",
                "bareflow-kernel",
                "--exclude",
                "bareflow-platform",
            ])
            .status()
            .map_err(|e| format!("cannot run {cargo}: {e}"))?;
        if !status.success() {
            return Err(format!("host tests failed ({status})"));
        }
    }
    if args.host_only {
        return Ok(true);
    }
    eprintln!("== kernel build");
    let elf = build::build_kernel()?;
    eprintln!(
        "== QEMU integration tests (accelerator {}, set BAREFLOW_ACCEL=kvm|tcg to choose)",
        accel.name()
    );
    let (passed, failed) = qemu_tests::run_all(&elf, accel, args.filter.as_deref());
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0 && passed > 0)
}
