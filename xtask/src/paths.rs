//! Where things live.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (xtask's parent directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

/// A command running the cargo that runs xtask (`$CARGO`, else `cargo` from `PATH`) at
/// the repository root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Cargo target directory for the kernel build: `BAREFLOW_KERNEL_TARGET_DIR`
/// or `target/kernel` (kept apart from the host build so the two never
/// wait on each other's lock).
pub fn kernel_target_dir() -> PathBuf {
    match std::env::var_os("BAREFLOW_KERNEL_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root().join("target").join("kernel"),
    }
}

/// The kernel ELF after `build`.
pub fn kernel_elf() -> PathBuf {
    kernel_target_dir()
        .join("x86_64-bareflow")
        .join("release")
        .join("bareflow")
}

/// ISO staging and output directory.
pub fn iso_dir() -> PathBuf {
    root().join("iso")
}

/// The custom target JSON.
pub fn target_json() -> PathBuf {
    root().join("kernel").join("x86_64-bareflow.json")
}
