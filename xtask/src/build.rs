//! `cargo xtask build`: the kernel ELF.

use crate::paths;
use std::process::Command;

/// Builds the kernel (release) for the custom target.
pub fn build_kernel() -> Result<std::path::PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = paths::target_json();
    let status = Command::new(&cargo)
        .current_dir(paths::root())
        .env("CARGO_TARGET_DIR", paths::kernel_target_dir())
        .args(["build", "-p", "bareflow-kernel", "--release", "--target"])
        .arg(&target)
        .args([
            "-Zbuild-std=core,alloc",
            "-Zbuild-std-features=compiler-builtins-mem",
            "-Zjson-target-spec",
        ])
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
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
