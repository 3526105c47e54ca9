//! `cargo xtask test`: the code checks (`code_checks`: fmt and clippy), the host unit
//! tests (`cargo test`), the browser test of the HTML timeline (`browser_tests`), then
//! the kernel tests (`qemu_tests`); with `--slow`, only the slow kernel tests.

use crate::cli::TestArgs;
use crate::{browser_tests, build, code_checks, paths, qemu, qemu_tests};

/// Runs the command; `Ok(true)` when everything selected passed.
pub fn run(args: &TestArgs) -> Result<bool, String> {
    let accel = qemu::select_accel(args.accel.as_deref())?;
    let filter = args.filter.as_deref();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    if !args.qemu_only && !args.slow {
        eprintln!("== code checks (cargo fmt --check, cargo clippy -D warnings)");
        (passed, failed) = code_checks::run_all(filter);
        eprintln!(
            "== host tests: cargo test --workspace --exclude bareflow-kernel --exclude bareflow-platform"
        );
        let status = paths::cargo()
            .args([
                "test",
                "--workspace",
                "--exclude",
                "bareflow-kernel",
                "--exclude",
                "bareflow-platform",
            ])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("host tests failed ({status})"));
        }
        eprintln!("== browser tests (headless chromium)");
        let (p, f, s) = browser_tests::run_all(filter);
        passed += p;
        failed += f;
        skipped = s;
    }
    if !args.host_only {
        eprintln!("== kernel build");
        let elf = build::build_kernel()?;
        eprintln!(
            "== QEMU integration tests (accelerator {}, set BAREFLOW_ACCEL=kvm|tcg to choose)",
            accel.name()
        );
        let (p, f) = qemu_tests::run_all(&elf, accel, filter, args.slow);
        passed += p;
        failed += f;
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(failed == 0 && (passed > 0 || args.host_only))
}
