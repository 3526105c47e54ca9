//! `cargo xtask limine-fetch`: downloads the pinned Limine binary release for
//! users with internet access (never used by tests or CI).
//!
//! Pinned: Limine 8.2.0, the tag `v8.2.0-binary` of Limine's binary branch
//! `v8.x-binary` (commit 1dbdf77f82211c42969c7c5114377436fabc9187). The
//! tarball comes from GitHub's archive endpoint, whose bytes are not
//! guaranteed stable, so what is checked is the content: after unpacking into
//! a staging directory, the SHA-256 of every file the ISO and the `limine`
//! tool are made from must equal [`PINNED_FILES`] (recorded from that commit);
//! only then is the directory moved to its destination. `--sha256 HEX` (or
//! `LIMINE_SHA256`) additionally checks the tarball itself before unpacking.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned release.
pub const LIMINE_VERSION: &str = "8.2.0";

/// SHA-256 of the files used from the pinned release: the three boot images
/// and the UEFI loader go on the ISO, `limine.c` is built into the `limine`
/// tool that installs the BIOS boot code.
pub const PINNED_FILES: &[(&str, &str)] = &[
    (
        "BOOTX64.EFI",
        "7bf99f9ffdbce1443bd7f148f01bee47d4a587f58fb170e42dab29790e6d831a",
    ),
    (
        "limine-bios.sys",
        "8382e36ff9d51e52e9160842f834a346028edf9e0319b1c728d290e3044a44a7",
    ),
    (
        "limine-bios-cd.bin",
        "3b889bf946b1f248c93efa90fd1718aad79f867e8184f9167a0b9875a0c41191",
    ),
    (
        "limine-uefi-cd.bin",
        "1801a9034420fb1b17bdcdedee11f29c946169abac103b161e7bfd01d98caf29",
    ),
    (
        "limine.c",
        "201ac3e7f47b34305f2208066ebb204118a7debf90d6fd7d28f4799905ca7f70",
    ),
];

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

/// Checks every file of [`PINNED_FILES`] in `dir` against its digest.
pub fn check_pinned_files(dir: &Path) -> Result<(), String> {
    for (name, want) in PINNED_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(format!(
                "{} is missing from the Limine {LIMINE_VERSION} release",
                path.display()
            ));
        }
        let got = sha256_of(&path)?;
        if got != *want {
            return Err(format!(
                "{name} of the downloaded Limine {LIMINE_VERSION} has SHA-256 {got}, \
                 the pinned release has {want}"
            ));
        }
    }
    Ok(())
}

/// Downloads, verifies and unpacks into `dest` (default `iso/limine`).
pub fn fetch(dest: Option<PathBuf>, digest: Option<String>) -> Result<PathBuf, String> {
    let digest = match digest.or_else(|| std::env::var("LIMINE_SHA256").ok()) {
        Some(d) => Some(parse_digest(&d)?),
        None => None,
    };
    let dest = dest.unwrap_or_else(|| crate::paths::iso_dir().join("limine"));
    if dest.exists() {
        return Err(format!(
            "{} already exists; remove it or pass another --dest",
            dest.display()
        ));
    }
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
    if let Some(want) = digest {
        let got = sha256_of(&tarball)?;
        if want != got {
            let _ = std::fs::remove_file(&tarball);
            return Err(format!(
                "checksum mismatch for {}: got {got}, want {want}; file removed",
                url()
            ));
        }
    }
    let staging = dl_dir.join(format!("limine-{LIMINE_VERSION}-staging"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("--strip-components=1")
        .arg("-C")
        .arg(&staging)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!("unpacking {} failed ({status})", tarball.display()));
    }
    if let Err(e) = check_pinned_files(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!("{e}; nothing unpacked"));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&staging, &dest)
        .map_err(|e| format!("moving {} to {}: {e}", staging.display(), dest.display()))?;
    crate::iso::check_limine_dir(&dest)?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("bareflow-limine-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = check_pinned_files(&dir).unwrap_err();
        assert!(
            err.contains("BOOTX64.EFI") && err.contains("missing"),
            "{err}"
        );
        for (name, _) in PINNED_FILES {
            std::fs::write(dir.join(name), b"not the release").unwrap();
        }
        let err = check_pinned_files(&dir).unwrap_err();
        assert!(
            err.contains("BOOTX64.EFI of the downloaded") && err.contains("has SHA-256"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        for (_, digest) in PINNED_FILES {
            assert_eq!(parse_digest(digest).as_deref(), Ok(*digest));
        }
    }

    /// With a local copy of the pinned release (`LIMINE_DIR`), its files match.
    #[test]
    fn pinned_digests_match_a_local_release() {
        let Some(dir) = std::env::var_os("LIMINE_DIR").filter(|d| !d.is_empty()) else {
            return;
        };
        let dir = PathBuf::from(dir);
        if std::fs::read_to_string(dir.join("limine.h"))
            .is_ok_and(|h| h.contains("LIMINE_EXECUTABLE_CMDLINE_REQUEST"))
        {
            return; // a release newer than the pinned 8.2.0
        }
        check_pinned_files(&dir).unwrap();
    }

    #[test]
    fn digest_shape_is_checked() {
        assert!(parse_digest(&"a".repeat(64)).is_ok());
        assert!(parse_digest("abc").unwrap_err().contains("64 hex"));
        assert!(parse_digest(&"g".repeat(64)).is_err());
    }
}
