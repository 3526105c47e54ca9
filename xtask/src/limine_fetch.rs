//! `cargo xtask limine-fetch`: downloads a pinned Limine binary release for
//! users with internet access (never used by tests or CI).
//!
//! The tarball's SHA-256 must match before anything is unpacked. The
//! digest is not bundled (it could not be recorded where this tool was
//! written, which has no route to the release host): pass the one
//! published for the pinned release with `--sha256` or `LIMINE_SHA256`.
//! Without it the command downloads, prints the digest it computed, and
//! stops without unpacking.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned release (binary branch tag).
pub const LIMINE_VERSION: &str = "9.3.0";

fn url() -> String {
    format!(
        "https://github.com/limine-bootloader/limine/archive/refs/tags/v{LIMINE_VERSION}-binary.tar.gz"
    )
}

fn sha256_of(path: &Path) -> Result<String, String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sha256sum failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| "sha256sum printed nothing".into())
}

/// Checks a user-supplied digest's shape.
pub fn parse_digest(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(format!("'{s}' is not a SHA-256 digest (64 hex digits)"))
    }
}

/// Downloads, verifies and unpacks into `dest` (default `iso/limine`).
pub fn fetch(dest: Option<PathBuf>, digest: Option<String>) -> Result<PathBuf, String> {
    let digest = match digest.or_else(|| std::env::var("LIMINE_SHA256").ok()) {
        Some(d) => Some(parse_digest(&d)?),
        None => None,
    };
    let dest = dest.unwrap_or_else(|| crate::paths::iso_dir().join("limine"));
    let dl_dir = crate::paths::iso_dir();
    std::fs::create_dir_all(&dl_dir).map_err(|e| e.to_string())?;
    let tarball = dl_dir.join(format!("limine-{LIMINE_VERSION}-binary.tar.gz"));
    let status = Command::new("curl")
        .args([
            "--fail",
            "--location",
            "--silent",
            "--show-error",
            "--output",
        ])
        .arg(&tarball)
        .arg(url())
        .status()
        .map_err(|e| format!("curl: {e} (install curl)"))?;
    if !status.success() {
        return Err(format!("downloading {} failed ({status})", url()));
    }
    let got = sha256_of(&tarball)?;
    match digest {
        None => {
            return Err(format!(
                "downloaded {} with SHA-256 {got}. Compare it with the digest published for Limine \
                 {LIMINE_VERSION}, then rerun with --sha256 {got} to unpack",
                tarball.display()
            ));
        }
        Some(want) if want != got => {
            let _ = std::fs::remove_file(&tarball);
            return Err(format!(
                "checksum mismatch for {}: got {got}, want {want}; file removed",
                url()
            ));
        }
        Some(_) => {}
    }
    std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("--strip-components=1")
        .arg("-C")
        .arg(&dest)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("unpacking {} failed ({status})", tarball.display()));
    }
    crate::iso::check_limine_dir(&dest)?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_shape_is_checked() {
        assert!(parse_digest(&"a".repeat(64)).is_ok());
        assert!(parse_digest("abc").unwrap_err().contains("64 hex"));
        assert!(parse_digest(&"g".repeat(64)).is_err());
    }
}
