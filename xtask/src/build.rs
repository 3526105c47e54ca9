//! `cargo xtask build`: the kernel ELF.

use crate::paths;
use std::process::Command;

/// A `cargo SUBCOMMAND` (`build`, `clippy`) of the kernel crate and its platform crate
/// for the kernel's custom target, in release mode, with `core` and `alloc` built
/// from source; arguments after it go to cargo (a `--` then the tool's own).
pub fn kernel_cargo(subcommand: &str) -> Command {
    let mut cmd = paths::cargo();
    cmd.env("CARGO_TARGET_DIR", paths::kernel_target_dir())
        .args([subcommand, "-p", "bareflow-kernel", "--release", "--target"])
        .arg(paths::target_json())
        .args([
            "-Zbuild-std=core,alloc",
            "-Zbuild-std-features=compiler-builtins-mem",
            "-Zjson-target-spec",
        ]);
    cmd
}

/// Builds the kernel (release) for the custom target.
pub fn build_kernel() -> Result<std::path::PathBuf, String> {
    let status = kernel_cargo("build")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("kernel build failed ({status})"));
    }
    let elf = paths::kernel_elf();
    if !elf.is_file() {
        return Err(format!(
            "kernel build succeeded but {} is missing",
            elf.display()
        ));
    }
    Ok(elf)
}
