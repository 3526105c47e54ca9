//! QEMU tests of the machine: boot through GRUB (BIOS and UEFI) and, with
//! `LIMINE_DIR` set (a Limine binary release), through Limine; CPUs, memory,
//! self-tests, the exception and panic paths, and a malformed command line.

use super::{Case, Modules, Trace, ensure};
use crate::iso::{self, Boot};
use crate::qemu::QemuOutcome;
use crate::trace::Event;
use bareflow_boot_model::exit::ExitCode;
use serde_json::Value;
use std::collections::BTreeSet;

fn str_of<'a>(e: &'a Event, k: &str) -> Result<&'a str, String> {
    e.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{}` event lacks string field `{k}`", e["ev"]))
}

fn u64_of(e: &Event, k: &str) -> Result<u64, String> {
    e.get(k)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{}` event lacks integer field `{k}`", e["ev"]))
}

/// Every event has `ev`, `t_us`, `cpu`; time never runs backwards on a CPU.
fn check_contract(t: &Trace) -> Result<(), String> {
    ensure(!t.events.is_empty(), || "no trace events at all".into())?;
    let mut last = std::collections::HashMap::new();
    for e in &t.events {
        let name = str_of(e, "ev")?;
        let us = u64_of(e, "t_us")?;
        let cpu = u64_of(e, "cpu")?;
        let prev = last.insert(cpu, us).unwrap_or(0);
        ensure(us >= prev, || {
            format!("t_us went backwards on cpu{cpu} at `{name}` ({prev} -> {us})")
        })?;
    }
    Ok(())
}

fn check_boot(t: &Trace, mode: &str) -> Result<(), String> {
    check_boot_with(t, mode, "multiboot2")
}

fn check_boot_with(t: &Trace, mode: &str, loader: &str) -> Result<(), String> {
    let boot = t.one("boot")?;
    ensure(str_of(boot, "loader")? == loader, || {
        format!("loader is {:?}, want {loader:?}", boot["loader"])
    })?;
    ensure(!str_of(boot, "loader_name")?.is_empty(), || {
        "empty loader_name".into()
    })?;
    ensure(!str_of(boot, "version")?.is_empty(), || {
        "empty version".into()
    })?;
    let cmdline = str_of(boot, "cmdline")?;
    ensure(cmdline.contains(&format!("bareflow.mode={mode}")), || {
        format!("cmdline {cmdline:?}")
    })?;
    let f = t.one("cpu_features")?;
    ensure(!str_of(f, "vendor")?.is_empty(), || "empty vendor".into())?;
    str_of(f, "model")?;
    let feats: Vec<&str> = f["features"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    ensure(feats.contains(&"sse2") && feats.contains(&"nx"), || {
        format!("features {feats:?} lack sse2/nx")
    })?;
    ensure(u64_of(f, "tsc_hz")? > 0, || "tsc_hz is 0".into())?;
    let m = t.one("mem")?;
    let usable = u64_of(m, "usable_bytes")?;
    let heap = u64_of(m, "heap_bytes")?;
    let pool = u64_of(m, "pool_bytes")?;
    ensure(heap >= 64 << 20, || format!("heap {heap} bytes < 64 MiB"))?;
    ensure(pool >= 16 << 20, || format!("pool {pool} bytes < 16 MiB"))?;
    ensure(usable > heap + pool, || {
        format!("usable {usable} <= heap {heap} + pool {pool}")
    })?;
    Ok(())
}

/// The base revision the kernel reports must fit the Limine version that booted it:
/// revision 3 from 9.x on, "0-2" (tag left untouched) from 8.x and older.
fn check_limine_revision(t: &Trace) -> Result<(), String> {
    let boot = t.one("boot")?;
    let name = str_of(boot, "loader_name")?;
    let revision = str_of(boot, "limine_base_revision")?;
    let major: u32 = name
        .strip_prefix("Limine ")
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("loader_name {name:?} is not \"Limine MAJOR.MINOR...\""))?;
    let want = if major >= 9 { "3" } else { "0-2" };
    ensure(revision == want, || {
        format!("{name} booted with limine_base_revision {revision:?}, want {want:?}")
    })
}

/// Every IR module on the ISO came through the loader and was loaded from it.
fn check_boot_modules(t: &Trace) -> Result<(), String> {
    let want: BTreeSet<String> = iso::default_modules()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    let passed: BTreeSet<String> = t
        .all("boot_module")
        .iter()
        .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    ensure(passed == want, || {
        format!("boot_module events for {passed:?}, want {want:?}")
    })?;
    let from_boot: BTreeSet<String> = t
        .all("module_loaded")
        .iter()
        .filter(|e| e["source"] == "boot")
        .filter_map(|e| e.get("file").and_then(Value::as_str).map(str::to_owned))
        .collect();
    ensure(from_boot == want, || {
        format!("modules loaded from boot modules: {from_boot:?}, want {want:?}")
    })
}

fn check_cpus(t: &Trace, cpus: usize) -> Result<(), String> {
    let online = t.all("cpu_online");
    let ids: BTreeSet<u64> = online
        .iter()
        .filter_map(|e| e.get("apic_id").and_then(Value::as_u64))
        .collect();
    ensure(online.len() == cpus && ids.len() == cpus, || {
        format!(
            "{} cpu_online events with APIC ids {ids:?}, expected {cpus} distinct",
            online.len()
        )
    })?;
    ensure(
        online.iter().filter(|e| e["bsp"] == true).count() == 1,
        || "not exactly one BSP online".into(),
    )
}

fn check_selftests(t: &Trace) -> Result<(), String> {
    let tests = t.all("selftest");
    ensure(tests.len() >= 7, || {
        format!("only {} selftest events", tests.len())
    })?;
    for e in &tests {
        ensure(e["ok"] == true, || {
            format!("selftest {} failed: {}", e["name"], e["detail"])
        })?;
    }
    let pool = tests
        .iter()
        .find(|e| e["name"] == "exec_pool")
        .ok_or("no exec_pool selftest")?;
    let detail = str_of(pool, "detail")?;
    ensure(
        detail.contains("returned 42") && detail.contains("faulted (cr2"),
        || format!("exec_pool detail: {detail}"),
    )
}

fn check_exit(t: &Trace, out: &QemuOutcome, want: ExitCode) -> Result<(), String> {
    let exit = t.one("exit")?;
    ensure(u64_of(exit, "code")? == want.value() as u64, || {
        format!("exit event {:?}, want {}", exit["code"], want.value())
    })?;
    ensure(out.exit_code() == Some(want), || {
        format!(
            "QEMU exit status {:?}, want {} ({})",
            out.status,
            want.qemu_status(),
            want.name()
        )
    })
}

/// Without any drive the `block` self-test passes and says so (a missing drive
/// is reported, not a crash), and no `block_device` event appears.
fn check_no_drive(t: &Trace) -> Result<(), String> {
    let block = t
        .all("selftest")
        .into_iter()
        .find(|e| e["name"] == "block")
        .ok_or("no `block` selftest")?;
    let detail = str_of(block, "detail")?;
    ensure(detail.contains("no virtio block device"), || {
        format!("block selftest detail {detail:?}")
    })?;
    ensure(t.all("block_device").is_empty(), || {
        "block_device events without a drive".into()
    })
}

fn selftest_smp2(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    check_boot(t, "selftest")?;
    check_cpus(t, 2)?;
    check_selftests(t)?;
    check_no_drive(t)?;
    check_exit(t, o, ExitCode::Success)?;
    Ok(String::new())
}

fn selftest_smp1(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    check_boot(t, "selftest")?;
    check_cpus(t, 1)?;
    check_selftests(t)?;
    check_exit(t, o, ExitCode::Success)?;
    Ok(String::new())
}

fn limine_selftest_smp2(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    check_boot_with(t, "selftest", "limine")?;
    check_limine_revision(t)?;
    check_boot_modules(t)?;
    check_cpus(t, 2)?;
    check_selftests(t)?;
    check_exit(t, o, ExitCode::Success)?;
    Ok(String::new())
}

fn exception(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    check_boot(t, "test-exception")?;
    check_cpus(t, 2)?;
    let e = t.one("exception")?;
    ensure(u64_of(e, "vector")? == 6, || {
        format!("vector {:?}, want 6 (#UD)", e["vector"])
    })?;
    ensure(e["name"] == "invalid_opcode", || {
        format!("name {:?}", e["name"])
    })?;
    let rip = str_of(e, "rip")?;
    ensure(rip.starts_with("0xffffffff8"), || {
        format!("rip {rip} not in the kernel image")
    })?;
    ensure(e["expected"] == true, || {
        "exception not marked expected".into()
    })?;
    ensure(e["stack"].as_array().is_some_and(|s| !s.is_empty()), || {
        "empty stack walk".into()
    })?;
    check_exit(t, o, ExitCode::ExpectedException)?;
    Ok(String::new())
}

fn panic_path(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    check_boot(t, "test-panic")?;
    let p = t.one("panic")?;
    let msg = str_of(p, "message")?;
    ensure(msg.starts_with("deliberate test panic"), || {
        format!("panic message {msg:?}")
    })?;
    let loc = str_of(p, "location")?;
    ensure(loc.contains("src/modes/mod.rs:"), || {
        format!("panic location {loc:?}")
    })?;
    ensure(str_of(p, "rip")?.starts_with("0xffffffff8"), || {
        format!("panic rip {:?}", p["rip"])
    })?;
    check_exit(t, o, ExitCode::Panic)?;
    Ok(String::new())
}

fn malformed_cmdline(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    check_contract(t)?;
    let warned: BTreeSet<&str> = t
        .all("warn")
        .into_iter()
        .filter(|e| e["what"] == "cmdline")
        .filter_map(|e| e.get("token").and_then(Value::as_str))
        .collect();
    let want: BTreeSet<&str> = [
        "bareflow.tiers=100,abc",
        "bareflow.mode=warp",
        "bareflow.bogus=1",
    ]
    .into();
    ensure(warned == want, || {
        format!("cmdline warnings for {warned:?}, want {want:?}")
    })?;
    let p = t.one("params")?;
    ensure(
        p["mode"] == "demo" && p["tiers"] == "100,1000,10000",
        || format!("params {p:?} are not the defaults"),
    )?;
    check_cpus(t, 2)?;
    check_selftests(t)?;
    let jobs = t.all("demo_job");
    ensure(
        jobs.iter()
            .any(|j| j["on_cpu"] == 1 && j["primes"].as_u64().is_some_and(|n| n > 0)),
        || "no demo_job result from cpu 1".into(),
    )?;
    check_exit(t, o, ExitCode::Success)?;
    Ok(String::new())
}

/// The machine tests.
pub const CASES: &[Case] = &[
    Case {
        boot: Boot::Grub,
        name: "bios-selftest-smp2",
        cmdline: "bareflow.mode=selftest",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: selftest_smp2,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "bios-selftest-smp1",
        cmdline: "bareflow.mode=selftest",
        smp: 1,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: selftest_smp1,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "bios-test-exception",
        cmdline: "bareflow.mode=test-exception",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: exception,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "bios-test-panic",
        cmdline: "bareflow.mode=test-panic",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: panic_path,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "bios-malformed-cmdline",
        cmdline: "bareflow.tiers=100,abc bareflow.mode=warp bareflow.bogus=1",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: malformed_cmdline,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "uefi-selftest-smp2",
        cmdline: "bareflow.mode=selftest",
        smp: 2,
        mem_mib: 512,
        uefi: true,
        modules: Modules::Default,
        check: selftest_smp2,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Limine,
        name: "limine-bios-selftest-smp2",
        cmdline: "bareflow.mode=selftest",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Default,
        check: limine_selftest_smp2,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Limine,
        name: "limine-uefi-selftest-smp2",
        cmdline: "bareflow.mode=selftest",
        smp: 2,
        mem_mib: 512,
        uefi: true,
        modules: Modules::Default,
        check: limine_selftest_smp2,
        attach: None,
        console: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn contract_checks_catch_problems() {
        let t = Trace::from_lines(&lines(&[
            "BdsDxe: noise",
            r#"{"ev":"a","t_us":5,"cpu":0}"#,
            r#"{"ev":"b","t_us":3,"cpu":0}"#,
        ]))
        .unwrap();
        assert!(check_contract(&t).unwrap_err().contains("backwards"));
        assert!(Trace::from_lines(&lines(&[r#"{"ev":"a","t_us":"#])).is_err());
        let t = Trace::from_lines(&lines(&[r#"{"ev":"a","cpu":0}"#])).unwrap();
        assert!(check_contract(&t).unwrap_err().contains("t_us"));
    }

    #[test]
    fn limine_revision_must_fit_the_version() {
        let boot = |name: &str, rev: &str| {
            Trace::from_lines(&[format!(
                r#"{{"ev":"boot","t_us":1,"cpu":0,"loader":"limine","loader_name":"{name}","limine_base_revision":"{rev}"}}"#
            )])
            .unwrap()
        };
        assert!(check_limine_revision(&boot("Limine 8.2.0", "0-2")).is_ok());
        assert!(check_limine_revision(&boot("Limine 9.3.0", "3")).is_ok());
        assert!(check_limine_revision(&boot("Limine 10.1.1", "3")).is_ok());
        assert!(check_limine_revision(&boot("Limine 8.2.0", "3")).is_err());
        assert!(check_limine_revision(&boot("Limine 9.3.0", "0-2")).is_err());
        assert!(check_limine_revision(&boot("GRUB 2.12", "3")).is_err());
    }

    #[test]
    fn limine_cases_are_selected_by_the_limine_filter() {
        let names: Vec<&str> = CASES
            .iter()
            .filter(|c| c.name.contains("limine"))
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            ["limine-bios-selftest-smp2", "limine-uefi-selftest-smp2"]
        );
        assert!(
            CASES
                .iter()
                .all(|c| c.name.contains("limine") == (c.boot == Boot::Limine))
        );
    }

    #[test]
    fn cpu_check_needs_distinct_apic_ids() {
        let t = Trace::from_lines(&lines(&[
            r#"{"ev":"cpu_online","t_us":1,"cpu":0,"apic_id":0,"bsp":true}"#,
            r#"{"ev":"cpu_online","t_us":2,"cpu":1,"apic_id":0,"bsp":false}"#,
        ]))
        .unwrap();
        assert!(check_cpus(&t, 2).is_err());
    }
}
