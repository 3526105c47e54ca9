//! The kernel tests of `cargo xtask test`: a static check of the kernel image
//! (`image`), then one QEMU boot per [`Case`], each checked on its serial trace.
//!
//! - `boot`: the machine (loaders, CPUs, memory, self-tests, exceptions, panics,
//!   command line);
//! - `runtime`: the JIT runtime (modules, tier ladder, traps, soak, bench, demo).
//!
//! Adding a test: write a check `fn(&Trace, &QemuOutcome) -> Result<String, String>`
//! and add a [`Case`] naming it to the `CASES` of its module; a new module adds its
//! `CASES` to [`registry`].

mod block;
mod boot;
mod code_hash;
mod image;
mod llama;
mod runtime;

use crate::iso::{self, Boot, IsoSpec};
use crate::paths;
use crate::qemu::{self, Accel, Drive, QemuConfig, QemuOutcome, SerialInput};
use crate::trace::{self, Event};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The parsed trace of one boot.
pub struct Trace {
    /// Every event, in serial order.
    pub events: Vec<Event>,
}

impl Trace {
    /// Parses every event line; a malformed one is an error.
    pub fn from_lines(lines: &[String]) -> Result<Trace, String> {
        let mut events = Vec::new();
        for line in lines {
            match trace::parse(line) {
                Some(Ok(ev)) => events.push(ev),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Ok(Trace { events })
    }

    /// Every event named `name`.
    pub fn all(&self, name: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e["ev"] == name).collect()
    }

    /// The one event named `name`; none or several is an error.
    pub fn one(&self, name: &str) -> Result<&Event, String> {
        match self.all(name).as_slice() {
            [e] => Ok(e),
            [] => Err(format!("no `{name}` event")),
            many => Err(format!("{} `{name}` events, expected one", many.len())),
        }
    }
}

/// `Err(msg())` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

/// Which boot modules a case's ISO carries.
pub enum Modules {
    /// `ir-modules/*.bfir`.
    Default,
    /// A list made for the test (files it writes under `iso/`).
    Custom(fn() -> Result<Vec<PathBuf>, String>),
}

/// One QEMU boot and what its trace must show.
pub struct Case {
    /// The ISO's loader; Limine cases run only with `LIMINE_DIR` set.
    pub boot: Boot,
    /// Test name (`--filter` matches a part of it).
    pub name: &'static str,
    /// Kernel command line.
    pub cmdline: &'static str,
    /// CPUs.
    pub smp: u32,
    /// RAM in MiB.
    pub mem_mib: u32,
    /// Boot through OVMF instead of SeaBIOS.
    pub uefi: bool,
    /// Boot modules.
    pub modules: Modules,
    /// The check: `Ok` with a short summary (may be empty), or what is wrong.
    pub check: fn(&Trace, &QemuOutcome) -> Result<String, String>,
    /// Drives (and command-line tokens that go with them) made for the test.
    pub attach: Option<fn() -> Result<Attach, String>>,
    /// Answers serial lines with input for the kernel (a console session).
    pub console: Option<fn(&str, &mut SerialInput)>,
}

/// What a case attaches to its boot.
#[derive(Debug, Default)]
pub struct Attach {
    /// Virtio drives, in PCI order.
    pub drives: Vec<Drive>,
    /// Tokens appended to the case's command line (e.g. file lengths).
    pub cmdline: String,
}

/// Every QEMU case of `./x test`, in the order they run.
pub fn registry() -> Vec<&'static Case> {
    boot::CASES
        .iter()
        .chain(runtime::CASES)
        .chain(block::CASES)
        .chain(llama::CASES)
        .collect()
}

/// The slow cases (`./x test --slow`): not in CI.
pub fn slow_registry() -> Vec<&'static Case> {
    llama::SLOW_CASES.iter().collect()
}

/// The hard limit of one QEMU boot (`BAREFLOW_QEMU_TIMEOUT` seconds, default 300;
/// 3600 for the slow cases).
pub fn timeout(slow: bool) -> Duration {
    let secs = std::env::var("BAREFLOW_QEMU_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if slow { 3600 } else { 300 });
    Duration::from_secs(secs)
}

/// The Limine release directory for the Limine cases (`LIMINE_DIR`), if set.
fn limine_dir() -> Option<PathBuf> {
    std::env::var_os("LIMINE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// ISOs already made in this run, by loader, command line and modules.
#[derive(Default)]
struct IsoCache {
    made: Vec<(Boot, String, Vec<PathBuf>, PathBuf)>,
}

impl IsoCache {
    fn get(&mut self, elf: &Path, case: &Case, cmdline: &str) -> Result<PathBuf, String> {
        let modules = match case.modules {
            Modules::Default => iso::default_modules(),
            Modules::Custom(make) => make()?,
        };
        if let Some((_, _, _, p)) = self
            .made
            .iter()
            .find(|(b, c, m, _)| *b == case.boot && c == cmdline && *m == modules)
        {
            return Ok(p.clone());
        }
        let spec = IsoSpec {
            boot: case.boot,
            limine_dir: if case.boot == Boot::Limine {
                limine_dir()
            } else {
                None
            },
            cmdline: cmdline.to_string(),
            modules: modules.clone(),
            out: paths::iso_dir().join(format!("test-{}.iso", self.made.len())),
        };
        let p = iso::make_iso(&spec, elf)?;
        self.made
            .push((case.boot, cmdline.to_string(), modules, p.clone()));
        Ok(p)
    }
}

/// Boots one case and checks it; `Ok` carries the line printed after `ok`.
fn run_case(
    case: &Case,
    elf: &Path,
    accel: Accel,
    isos: &mut IsoCache,
    slow: bool,
) -> Result<String, String> {
    let attach = match case.attach {
        Some(make) => make()?,
        None => Attach::default(),
    };
    let cmdline = if attach.cmdline.is_empty() {
        case.cmdline.to_string()
    } else {
        format!("{} {}", case.cmdline, attach.cmdline)
    };
    let cfg = QemuConfig {
        iso: isos.get(elf, case, &cmdline)?,
        smp: case.smp,
        mem_mib: case.mem_mib,
        uefi: case.uefi,
        accel,
        timeout: timeout(slow),
        drives: attach.drives,
    };
    let out = match case.console {
        Some(answer) => qemu::run_with_input(&cfg, answer)?,
        None => qemu::run(&cfg, |_| {})?,
    };
    let took = format!(
        "{:.1} s, first event after {}",
        out.elapsed.as_secs_f64(),
        out.first_event
            .map_or("never".into(), |d| format!("{} ms", d.as_millis()))
    );
    if out.timed_out {
        return Err(format!(
            "QEMU killed after the {} s timeout ({took}); serial tail:\n{}",
            cfg.timeout.as_secs(),
            out.tail(25)
        ));
    }
    let t = Trace::from_lines(&out.lines)
        .map_err(|e| format!("{e}\nserial tail:\n{}", out.tail(25)))?;
    let summary = (case.check)(&t, &out)
        .map_err(|e| format!("{e} ({took}); serial tail:\n{}", out.tail(25)))?;
    Ok(if summary.is_empty() {
        took
    } else {
        format!("{took}, {summary}")
    })
}

fn report(passed: &mut usize, failed: &mut usize, result: Result<String, String>) {
    match result {
        Ok(summary) => {
            *passed += 1;
            println!("ok ({summary})");
        }
        Err(e) => {
            *failed += 1;
            println!("FAILED\n{e}");
        }
    }
}

/// Runs the image check and every case whose name contains `filter` (the slow
/// cases instead with `slow`); returns (passed, failed).
pub fn run_all(elf: &Path, accel: Accel, filter: Option<&str>, slow: bool) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    let selected = |name: &str| filter.is_none_or(|f| name.contains(f));
    if !slow && selected("kernel-image") {
        print!("image test kernel-image ... ");
        let result = std::fs::read(elf)
            .map_err(|e| format!("cannot read {}: {e}", elf.display()))
            .and_then(|b| image::check(&b));
        report(&mut passed, &mut failed, result);
    }
    let mut isos = IsoCache::default();
    let cases = if slow { slow_registry() } else { registry() };
    for case in cases.into_iter().filter(|c| selected(c.name)) {
        if case.boot == Boot::Limine && limine_dir().is_none() {
            println!(
                "qemu test {} skipped (LIMINE_DIR not set: it names a Limine binary release, \
                 see `cargo xtask limine-fetch`)",
                case.name
            );
            continue;
        }
        print!("qemu test {} ({}) ... ", case.name, accel.name());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let result = run_case(case, elf, accel, &mut isos, slow);
        report(&mut passed, &mut failed, result);
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique_and_filterable() {
        let names: Vec<&str> = registry()
            .iter()
            .chain(slow_registry().iter())
            .map(|c| c.name)
            .collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(!unique.contains("kernel-image"));
        for name in ["bios-selftest-smp2", "uefi-selftest-smp2", "runtime-demo"] {
            assert!(unique.contains(name), "{name} missing from {names:?}");
        }
        assert!(names.iter().all(|n| !n.is_empty() && !n.contains(' ')));
    }
}
