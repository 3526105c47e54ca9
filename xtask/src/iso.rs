//! `cargo xtask iso`: bootable ISO images.
//!
//! * GRUB: `grub-mkrescue` (BIOS + UEFI hybrid when both GRUB platforms are
//!   installed) with a `multiboot2` menu entry.
//! * Limine: a hybrid BIOS/UEFI ISO made with `xorriso` and
//!   `limine bios-install`, from a Limine binary release directory.

use crate::cli::IsoArgs;
use crate::paths;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which loader the ISO boots through (`--boot grub|limine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Boot {
    /// GRUB 2, multiboot2 protocol (BIOS + UEFI).
    Grub,
    /// Limine protocol (BIOS + UEFI), from a Limine binary release directory.
    Limine,
}

impl Boot {
    /// The default ISO file name for this loader.
    pub fn iso_name(self) -> &'static str {
        match self {
            Boot::Grub => "bareflow-grub.iso",
            Boot::Limine => "bareflow-limine.iso",
        }
    }
}

/// What goes into an ISO.
#[derive(Debug, Clone)]
pub struct IsoSpec {
    /// Loader.
    pub boot: Boot,
    /// Limine binary release directory (Limine only).
    pub limine_dir: Option<PathBuf>,
    /// Kernel command line.
    pub cmdline: String,
    /// Boot modules (files loaded next to the kernel).
    pub modules: Vec<PathBuf>,
    /// Output file.
    pub out: PathBuf,
}

/// Files a Limine binary release directory must provide.
pub const LIMINE_FILES: &[&str] = &[
    "limine-bios.sys",
    "limine-bios-cd.bin",
    "limine-uefi-cd.bin",
    "BOOTX64.EFI",
];

/// Error when `--boot limine` comes without a release directory.
pub const LIMINE_DIR_MISSING: &str = "--boot limine needs --limine-dir DIR (or LIMINE_DIR) naming a Limine \
     binary release directory; Limine binaries are not bundled (see `cargo xtask limine-fetch`)";

impl IsoSpec {
    /// The ISO that `iso` and `run` make from their command line. The modules and the
    /// Limine directory are checked here, before the (slow) kernel build.
    pub fn from_args(args: &IsoArgs) -> Result<IsoSpec, String> {
        let limine_dir = args.limine_dir.clone().or_else(|| {
            std::env::var_os("LIMINE_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let mut modules = args.modules.clone();
        if !args.no_default_modules {
            modules.extend(default_modules());
        }
        check_modules(&modules)?;
        if args.boot == Boot::Limine {
            match &limine_dir {
                Some(dir) => {
                    check_limine_dir(dir)?;
                }
                None => return Err(LIMINE_DIR_MISSING.into()),
            }
        }
        Ok(IsoSpec {
            boot: args.boot,
            limine_dir,
            cmdline: args.cmdline.clone(),
            modules,
            out: args
                .out
                .clone()
                .unwrap_or_else(|| paths::iso_dir().join(args.boot.iso_name())),
        })
    }
}

/// The IR modules shipped by default (`ir-modules/*.bfir`).
pub fn default_modules() -> Vec<PathBuf> {
    let dir = paths::root().join("ir-modules");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "bfir"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Checks the module list: every file must exist and have a usable name.
pub fn check_modules(modules: &[PathBuf]) -> Result<(), String> {
    for m in modules {
        if !m.is_file() {
            return Err(format!(
                "boot module not found: {} (no such file)",
                m.display()
            ));
        }
        let name = module_name(m)?;
        if name.contains(char::is_whitespace) {
            return Err(format!(
                "boot module name must not contain spaces: {}",
                m.display()
            ));
        }
    }
    Ok(())
}

fn module_name(m: &Path) -> Result<String, String> {
    m.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("boot module has no usable file name: {}", m.display()))
}

/// Checks a Limine release directory; returns the `limine` host tool.
pub fn check_limine_dir(dir: &Path) -> Result<PathBuf, String> {
    if !dir.is_dir() {
        return Err(format!(
            "--limine-dir {}: not a directory. Pass a Limine binary release directory \
             (e.g. from `cargo xtask limine-fetch`), which holds {}",
            dir.display(),
            LIMINE_FILES.join(", ")
        ));
    }
    let missing: Vec<&str> = LIMINE_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "--limine-dir {} is not a Limine binary release: missing {}",
            dir.display(),
            missing.join(", ")
        ));
    }
    let tool = dir.join("limine");
    if tool.is_file() {
        return Ok(tool);
    }
    if dir.join("limine.c").is_file() {
        let status = Command::new("make")
            .arg("-C")
            .arg(dir)
            .status()
            .map_err(|e| {
                format!(
                    "building the limine tool in {} needs `make` and a C compiler: {e}",
                    dir.display()
                )
            })?;
        if status.success() && tool.is_file() {
            return Ok(tool);
        }
        return Err(format!(
            "building the limine tool in {} failed ({status})",
            dir.display()
        ));
    }
    Err(format!(
        "--limine-dir {} has neither the `limine` tool nor limine.c to build it",
        dir.display()
    ))
}

fn tool_exists(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// GRUB menu for the kernel.
pub fn grub_cfg(cmdline: &str, modules: &[String]) -> String {
    let mut s = String::from(
        "# Generated by `cargo xtask iso --boot grub`.\n\
         set timeout=0\n\
         set default=0\n\
         menuentry \"BareFlow\" {\n",
    );
    s.push_str(&format!("    multiboot2 /boot/bareflow {cmdline}\n"));
    for m in modules {
        s.push_str(&format!("    module2 /boot/modules/{m} {m}\n"));
    }
    s.push_str("    boot\n}\n");
    s
}

/// `limine.conf` from the repository's `limine.cfg` template: the kernel
/// command line replaced, one `module_path` per module added.
pub fn limine_conf(template: &str, cmdline: &str, modules: &[String]) -> Result<String, String> {
    let mut out = String::new();
    let mut saw_cmdline = false;
    for line in template.lines() {
        if line.trim_start().starts_with("cmdline:") {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}cmdline: {cmdline}\n"));
            saw_cmdline = true;
            for m in modules {
                out.push_str(&format!("{indent}module_path: boot():/boot/modules/{m}\n"));
                out.push_str(&format!("{indent}module_cmdline: {m}\n"));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !saw_cmdline {
        return Err("limine.cfg has no `cmdline:` line to fill in".into());
    }
    Ok(out)
}

/// Builds the ISO described by `spec` around the kernel `elf`.
pub fn make_iso(spec: &IsoSpec, elf: &Path) -> Result<PathBuf, String> {
    check_modules(&spec.modules)?;
    let limine_tool = match spec.boot {
        Boot::Limine => {
            let dir = spec.limine_dir.as_deref().ok_or(LIMINE_DIR_MISSING)?;
            Some(check_limine_dir(dir)?)
        }
        Boot::Grub => None,
    };
    let stem = spec
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("bareflow")
        .to_owned();
    let stage = paths::iso_dir().join("stage").join(&stem);
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(|e| format!("cannot clear {}: {e}", stage.display()))?;
    }
    let boot = stage.join("boot");
    fs::create_dir_all(boot.join("modules"))
        .map_err(|e| format!("cannot create {}: {e}", boot.display()))?;
    fs::copy(elf, boot.join("bareflow"))
        .map_err(|e| format!("cannot copy kernel {}: {e}", elf.display()))?;
    let mut names = Vec::new();
    for m in &spec.modules {
        let name = module_name(m)?;
        fs::copy(m, boot.join("modules").join(&name))
            .map_err(|e| format!("cannot copy module {}: {e}", m.display()))?;
        names.push(name);
    }
    if let Some(parent) = spec.out.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    match spec.boot {
        Boot::Grub => {
            if !tool_exists("grub-mkrescue") {
                return Err("grub-mkrescue not found: install grub-common, grub-pc-bin, grub-efi-amd64-bin, xorriso and mtools (./x does this)".into());
            }
            fs::create_dir_all(boot.join("grub")).map_err(|e| e.to_string())?;
            fs::write(
                boot.join("grub").join("grub.cfg"),
                grub_cfg(&spec.cmdline, &names),
            )
            .map_err(|e| e.to_string())?;
            run(
                Command::new("grub-mkrescue")
                    .arg("-o")
                    .arg(&spec.out)
                    .arg(&stage),
                "grub-mkrescue",
            )?;
        }
        Boot::Limine => {
            let dir = spec.limine_dir.as_deref().expect("checked above");
            let tool = limine_tool.expect("checked above");
            let template_path = paths::root().join("limine.cfg");
            let template = fs::read_to_string(&template_path)
                .map_err(|e| format!("cannot read {}: {e}", template_path.display()))?;
            let ldir = boot.join("limine");
            fs::create_dir_all(&ldir).map_err(|e| e.to_string())?;
            fs::write(
                ldir.join("limine.conf"),
                limine_conf(&template, &spec.cmdline, &names)?,
            )
            .map_err(|e| e.to_string())?;
            for f in [
                "limine-bios.sys",
                "limine-bios-cd.bin",
                "limine-uefi-cd.bin",
            ] {
                fs::copy(dir.join(f), ldir.join(f)).map_err(|e| format!("cannot copy {f}: {e}"))?;
            }
            let efi = stage.join("EFI").join("BOOT");
            fs::create_dir_all(&efi).map_err(|e| e.to_string())?;
            fs::copy(dir.join("BOOTX64.EFI"), efi.join("BOOTX64.EFI"))
                .map_err(|e| e.to_string())?;
            if !tool_exists("xorriso") {
                return Err("xorriso not found: install it (./x does this)".into());
            }
            run(
                Command::new("xorriso")
                    .args(["-as", "mkisofs", "-R", "-r", "-J"])
                    .args([
                        "-b",
                        "boot/limine/limine-bios-cd.bin",
                        "-no-emul-boot",
                        "-boot-load-size",
                        "4",
                    ])
                    .args(["-boot-info-table", "-hfsplus", "-apm-block-size", "2048"])
                    .args([
                        "--efi-boot",
                        "boot/limine/limine-uefi-cd.bin",
                        "-efi-boot-part",
                        "--efi-boot-image",
                    ])
                    .arg("--protective-msdos-label")
                    .arg(&stage)
                    .arg("-o")
                    .arg(&spec.out),
                "xorriso",
            )?;
            run(
                Command::new(&tool).arg("bios-install").arg(&spec.out),
                "limine bios-install",
            )?;
        }
    }
    Ok(spec.out.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_module_is_a_clear_error() {
        let err = check_modules(&[PathBuf::from("/nonexistent/dir/missing.bfir")]).unwrap_err();
        assert!(err.contains("boot module not found"), "{err}");
        assert!(err.contains("missing.bfir"), "{err}");
    }

    #[test]
    fn bogus_limine_dir_is_a_clear_error() {
        let err = check_limine_dir(Path::new("/nonexistent/limine")).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
        let empty =
            std::env::temp_dir().join(format!("bareflow-empty-limine-{}", std::process::id()));
        fs::create_dir_all(&empty).unwrap();
        let err = check_limine_dir(&empty).unwrap_err();
        assert!(err.contains("missing limine-bios.sys"), "{err}");
        fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn limine_iso_without_dir_is_a_clear_error() {
        let spec = IsoSpec {
            boot: Boot::Limine,
            limine_dir: None,
            cmdline: String::new(),
            modules: vec![],
            out: std::env::temp_dir().join("never.iso"),
        };
        let err = make_iso(&spec, Path::new("/nonexistent/kernel")).unwrap_err();
        assert!(err.contains("--limine-dir"), "{err}");
    }

    #[test]
    fn grub_cfg_passes_cmdline_and_modules() {
        let cfg = grub_cfg("bareflow.mode=selftest", &["fft.bfir".into()]);
        assert!(cfg.contains("multiboot2 /boot/bareflow bareflow.mode=selftest\n"));
        assert!(cfg.contains("module2 /boot/modules/fft.bfir fft.bfir\n"));
        assert!(cfg.contains("set timeout=0"));
    }

    #[test]
    fn limine_conf_from_repo_template() {
        let template = fs::read_to_string(paths::root().join("limine.cfg")).unwrap();
        let conf = limine_conf(&template, "bareflow.mode=bench", &["a.bfir".into()]).unwrap();
        assert!(conf.contains("protocol: limine"));
        assert!(conf.contains("cmdline: bareflow.mode=bench\n"));
        assert!(conf.contains("module_path: boot():/boot/modules/a.bfir\n"));
        assert!(limine_conf("timeout: 0\n", "x", &[]).is_err());
    }

    #[test]
    fn boot_names() {
        use clap::ValueEnum;
        assert_eq!(Boot::from_str("grub", false), Ok(Boot::Grub));
        assert_eq!(Boot::from_str("limine", false), Ok(Boot::Limine));
        assert!(Boot::from_str("syslinux", false).is_err());
        assert_eq!(Boot::Limine.iso_name(), "bareflow-limine.iso");
    }
}
