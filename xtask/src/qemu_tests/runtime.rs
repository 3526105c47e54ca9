//! QEMU integration tests of the in-kernel JIT runtime (GRUB ISO, each boot with the
//! hard timeout of the other QEMU tests).
//!
//! - `runtime-selftest-smp2`: selftest mode on two CPUs with an extra boot module that
//!   is deliberately malformed and a replacement `fibonacci.bfir`: the bad module is
//!   reported (file, line, col, reason) and skipped, the replacement is loaded, every
//!   kernel climbs T0→T1→T2→T3 with tier-ups at exactly the configured call counts on
//!   the compiler CPU (CPU 1), results agree with T0, a kernel trap and a real CPU
//!   exception in JIT code are reported and the workload continues, W^X holds, the full
//!   pool is reported, and the two-CPU soak makes a million calls without a wrong result.
//!   Two more boot modules: the README's `saxpy` (its workload checked at T1–T3 against
//!   T0, and it climbs the ladder to T3) and `trapping.bfir` (a workload that traps:
//!   the trap compared at every tier, one `warn`; a function without a workload: one
//!   `warn` saying it is not exercised).
//! - `runtime-selftest-smp1`: the same on one CPU, compiling inline on CPU 0.
//! - `runtime-bench`: bench mode, with the README's `saxpy` as a boot module; every
//!   catalog kernel has T0..T3 and AOT cells, saxpy T0..T3 (its workload), results equal
//!   to T0, compile cost for the compiled tiers.
//! - `runtime-demo`: demo mode, with the README's `saxpy` as a boot module; every kernel
//!   (saxpy included) reaches T3 with results equal to T0, `stats` lines, exit success,
//!   and every `tier_up`'s `code_hash` equals the host's for the same catalog, CPU features,
//!   thresholds and workloads (`code_hash`).

use super::{Case, Modules, Trace, ensure};
use crate::iso::{self, Boot};
use crate::paths;
use crate::qemu::QemuOutcome;
use crate::trace::Event;
use bareflow_boot_model::exit::ExitCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The deliberately malformed boot module and where its error is.
const BROKEN_NAME: &str = "broken.bfir";
const BROKEN_SRC: &str = "//! Deliberately malformed (runtime QEMU test).\nfn broken(x: i32) -> i32 {\n    return x + ;\n}\n";
const BROKEN_LINE: u64 = 3;
/// The function the replacement `fibonacci.bfir` adds to the built-in one.
const MARKER_FN: &str = "boot_module_marker";
/// Thresholds the selftest boots configure on the command line.
const TIERS: [u64; 3] = [100, 1000, 10000];
/// Selftests the runtime must report.
const RUNTIME_TESTS: &[&str] = &[
    "jit_modules",
    "jit_tier_ladder",
    "jit_trap",
    "jit_exception",
    "jit_wx",
    "jit_pool_full",
    "jit_native_stack",
    "jit_narrow_types",
    "jit_soak",
    "jit_module_workloads",
];
/// The README's example kernel, booted as a boot module by the selftest, demo and bench
/// cases: it must join each of them through its `#[workload(...)]`.
const SAXPY: &str = "saxpy";
/// A boot module of the selftest whose workload traps (`n` past the end of `x`), and a
/// function without a workload.
const TRAPPING_NAME: &str = "trapping.bfir";
const TRAPPING_SRC: &str = "//! Traps on its own workload (runtime QEMU test).\n\
#[workload(x = [iota; 16], n = 17)]\nfn overrun(x: &[i32], n: i32) -> i32 {\n    let s = 0;\n    for i in 0..n {\n        s += x[i];\n    }\n    return s;\n}\n\
/// No workload: not exercised.\nfn first(x: &[i32]) -> i32 {\n    return x[0];\n}\n";

fn all<'a>(evs: &'a [Event], name: &str) -> Vec<&'a Event> {
    evs.iter().filter(|e| e["ev"] == name).collect()
}

fn s<'a>(e: &'a Event, k: &str) -> &'a str {
    e.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(e: &Event, k: &str) -> Option<u64> {
    e.get(k).and_then(Value::as_u64)
}

/// The modules of the selftest ISO: the defaults, `fibonacci.bfir` replaced by a copy
/// with one more function, and the malformed module.
fn test_modules() -> Result<Vec<PathBuf>, String> {
    let dir = paths::iso_dir().join("runtime-test-modules");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let fib_src = paths::root().join("ir-modules").join("fibonacci.bfir");
    let original =
        std::fs::read_to_string(&fib_src).map_err(|e| format!("{}: {e}", fib_src.display()))?;
    let replacement = format!(
        "{original}\n/// Present only in the boot-module copy (proves the replacement).\nfn {MARKER_FN}() -> i32 {{\n    return 7;\n}}\n"
    );
    let fib = dir.join("fibonacci.bfir");
    std::fs::write(&fib, replacement).map_err(|e| format!("{}: {e}", fib.display()))?;
    let broken = dir.join(BROKEN_NAME);
    std::fs::write(&broken, BROKEN_SRC).map_err(|e| format!("{}: {e}", broken.display()))?;
    let mut mods: Vec<PathBuf> = iso::default_modules()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|f| f != "fibonacci.bfir"))
        .collect();
    mods.push(fib);
    mods.push(broken);
    let trapping = dir.join(TRAPPING_NAME);
    std::fs::write(&trapping, TRAPPING_SRC).map_err(|e| format!("{}: {e}", trapping.display()))?;
    mods.push(trapping);
    mods.push(saxpy_path());
    Ok(mods)
}

/// `ir-modules/examples/saxpy.bfir`, the README's example.
fn saxpy_path() -> PathBuf {
    paths::root().join("ir-modules/examples/saxpy.bfir")
}

/// The default modules and the README's saxpy.
fn with_saxpy() -> Result<Vec<PathBuf>, String> {
    let mut mods = iso::default_modules();
    mods.push(saxpy_path());
    Ok(mods)
}

/// saxpy climbed T0→T1→T2→T3 (a `tier_up` to T3 naming it).
fn saxpy_reached_t3(evs: &[Event]) -> Result<(), String> {
    ensure(
        all(evs, "tier_up")
            .iter()
            .any(|e| s(e, "kernel") == SAXPY && s(e, "to") == "T3"),
        || "the boot module's saxpy never reached T3".into(),
    )
}

/// The boot modules' workloads in the selftest: saxpy checked at T1-T3 against T0,
/// the trapping workload's trap compared at every tier and reported once, the function
/// without a workload reported as not exercised.
fn check_module_workloads(evs: &[Event]) -> Result<(), String> {
    let t = all(evs, "selftest")
        .into_iter()
        .find(|e| e["name"] == "jit_module_workloads")
        .ok_or("no jit_module_workloads selftest")?;
    let detail = s(t, "detail");
    ensure(
        detail.contains("saxpy (T0 returns Unit): T1 ok T2 ok T3 ok")
            && detail.contains("overrun (T0 traps OutOfBounds): T1 ok T2 ok T3 ok"),
        || format!("jit_module_workloads: {detail}"),
    )?;
    let warns: Vec<&str> = all(evs, "warn")
        .iter()
        .filter(|w| s(w, "what") == "workload")
        .map(|w| s(w, "detail"))
        .collect();
    ensure(
        warns.iter().filter(|d| d.contains("overrun")).count() == 1
            && warns
                .iter()
                .any(|d| d.contains("first") && d.contains("not exercised")),
        || format!("workload warnings: {warns:?}"),
    )?;
    saxpy_reached_t3(evs)
}

fn check_exit(evs: &[Event], out: &QemuOutcome) -> Result<(), String> {
    let exit = all(evs, "exit");
    ensure(
        exit.len() == 1 && n(exit[0], "code") == Some(ExitCode::Success.value() as u64),
        || format!("exit events {exit:?}"),
    )?;
    ensure(out.exit_code() == Some(ExitCode::Success), || {
        format!("QEMU status {:?}, want success", out.status)
    })
}

fn check_selftests(evs: &[Event]) -> Result<(), String> {
    let tests = all(evs, "selftest");
    for name in RUNTIME_TESTS {
        let t = tests
            .iter()
            .find(|e| e["name"] == *name)
            .ok_or_else(|| format!("no `{name}` selftest event"))?;
        ensure(t["ok"] == true, || {
            format!("selftest {name} failed: {}", t["detail"])
        })?;
    }
    for t in &tests {
        ensure(t["ok"] == true, || {
            format!("selftest {} failed: {}", t["name"], t["detail"])
        })?;
    }
    Ok(())
}

/// Tier-ups of the main engine: per kernel exactly T0→T1, T1→T2, T2→T3 at the
/// thresholds, each emitted by and attributed to `compiler_cpu`.
fn check_tier_ups(evs: &[Event], compiler_cpu: u64) -> Result<usize, String> {
    let mut by_kernel: BTreeMap<&str, Vec<(&str, &str, u64)>> = BTreeMap::new();
    for e in all(evs, "tier_up") {
        ensure(
            n(e, "cpu") == Some(compiler_cpu) && n(e, "compiler_cpu") == Some(compiler_cpu),
            || format!("tier_up not on the compiler cpu {compiler_cpu}: {e:?}"),
        )?;
        for f in ["compile_us", "compile_cycles", "code_bytes"] {
            ensure(n(e, f).is_some(), || format!("tier_up without {f}: {e:?}"))?;
        }
        let hash = s(e, "code_hash");
        ensure(
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            || format!("tier_up without a 16-digit code_hash: {e:?}"),
        )?;
        by_kernel.entry(s(e, "kernel")).or_default().push((
            s(e, "from"),
            s(e, "to"),
            n(e, "calls").unwrap_or(0),
        ));
    }
    let want = vec![
        ("T0", "T1", TIERS[0]),
        ("T1", "T2", TIERS[1]),
        ("T2", "T3", TIERS[2]),
    ];
    ensure(by_kernel.len() >= 16, || {
        format!(
            "tier-ups for only {} kernels: {:?}",
            by_kernel.len(),
            by_kernel.keys()
        )
    })?;
    for (k, ups) in &by_kernel {
        ensure(*ups == want, || {
            format!("{k}: tier-ups {ups:?}, want {want:?}")
        })?;
    }
    Ok(by_kernel.len())
}

fn selftest_smp2(t: &Trace, out: &QemuOutcome) -> Result<String, String> {
    let evs = &t.events[..];
    check_selftests(evs)?;
    // the malformed boot module: reported with position and reason, and skipped
    let errs = all(evs, "module_error");
    ensure(errs.len() == 1, || format!("module_error events: {errs:?}"))?;
    let e = errs[0];
    ensure(
        s(e, "file") == BROKEN_NAME
            && n(e, "line") == Some(BROKEN_LINE)
            && n(e, "col").is_some_and(|c| c > 0)
            && !s(e, "reason").is_empty(),
        || format!("module_error {e:?}"),
    )?;
    let loaded = all(evs, "module_loaded");
    ensure(!loaded.iter().any(|m| s(m, "file") == BROKEN_NAME), || {
        "the malformed module was loaded".into()
    })?;
    let fib = loaded
        .iter()
        .find(|m| s(m, "file") == "fibonacci.bfir")
        .ok_or("fibonacci.bfir not loaded")?;
    let fns: Vec<&str> = fib["functions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    ensure(
        s(fib, "source") == "boot" && fib["replaces_builtin"] == true && fns.contains(&MARKER_FN),
        || format!("fibonacci.bfir was not replaced by the boot module: {fib:?}"),
    )?;
    let kernels = check_tier_ups(evs, 1)?;
    check_module_workloads(evs)?;
    // a kernel trap: an event naming kernel, tier and kind
    let traps = all(evs, "trap");
    ensure(
        traps.iter().any(|t| {
            !s(t, "kernel").is_empty() && s(t, "tier").starts_with('T') && !s(t, "kind").is_empty()
        }),
        || format!("trap events {traps:?}"),
    )?;
    // a CPU exception in JIT code: attributed, recovered, kernel demoted
    let exc = all(evs, "exception");
    ensure(exc.len() == 1, || format!("exception events {exc:?}"))?;
    let x = exc[0];
    let victim = s(x, "kernel");
    ensure(
        x["recovered"] == true
            && s(x, "tier") == "T3"
            && n(x, "vector") == Some(14)
            && !victim.is_empty(),
        || format!("exception {x:?}"),
    )?;
    ensure(
        all(evs, "deopt")
            .iter()
            .any(|d| s(d, "kernel") == victim && s(d, "reason").contains("CPU exception")),
        || format!("no deopt of {victim} after the exception"),
    )?;
    ensure(!all(evs, "pool").is_empty(), || "no pool events".into())?;
    ensure(!all(evs, "pool_exhausted").is_empty(), || {
        "no pool_exhausted event".into()
    })?;
    ensure(!all(evs, "stats").is_empty(), || "no stats event".into())?;
    let soak = all(evs, "soak");
    ensure(
        soak.len() == 1
            && n(soak[0], "calls").is_some_and(|c| c >= 1_000_000)
            && n(soak[0], "wrong") == Some(0),
        || format!("soak {soak:?}"),
    )?;
    check_exit(evs, out)?;
    Ok(format!(
        "{kernels} kernels to T3 on cpu1, soak {} calls",
        n(soak[0], "calls").unwrap_or(0)
    ))
}

fn selftest_smp1(t: &Trace, out: &QemuOutcome) -> Result<String, String> {
    let evs = &t.events[..];
    check_selftests(evs)?;
    let kernels = check_tier_ups(evs, 0)?;
    check_exit(evs, out)?;
    Ok(format!("{kernels} kernels to T3, compiled inline on cpu0"))
}

fn demo(t: &Trace, out: &QemuOutcome) -> Result<String, String> {
    let evs = &t.events[..];
    let done = all(evs, "demo_done");
    ensure(done.len() == 1, || format!("demo_done events {done:?}"))?;
    let d = done[0];
    ensure(
        n(d, "at_t3") == n(d, "kernels") && n(d, "wrong") == Some(0) && d["timed_out"] == false,
        || format!("demo_done {d:?}"),
    )?;
    let climbed: BTreeSet<&str> = all(evs, "tier_up")
        .into_iter()
        .filter(|e| e["to"] == "T3")
        .map(|e| s(e, "kernel"))
        .collect();
    ensure(climbed.len() as u64 == n(d, "kernels").unwrap_or(0), || {
        format!("T3 tier-ups for {climbed:?}")
    })?;
    ensure(all(evs, "stats").len() >= 2, || {
        "fewer than two stats lines".into()
    })?;
    saxpy_reached_t3(evs)?;
    check_exit(evs, out)?;
    let hashes = super::code_hash::check(t)?;
    Ok(format!(
        "{} kernels at T3 (saxpy among them), {} calls, {hashes} code hashes equal to the host's",
        climbed.len(),
        n(d, "calls").unwrap_or(0)
    ))
}

fn bench(t: &Trace, out: &QemuOutcome) -> Result<String, String> {
    let evs = &t.events[..];
    let cells = all(evs, "bench");
    let mut tiers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in &cells {
        ensure(c.get("ok") != Some(&Value::Bool(false)), || {
            format!("bench result differs from T0: {c:?}")
        })?;
        ensure(
            n(c, "median_cycles").is_some_and(|m| m > 0) && n(c, "reps").is_some_and(|r| r >= 5),
            || format!("bench cell {c:?}"),
        )?;
        if s(c, "tier") != "aot" {
            let compiled = s(c, "tier") != "T0";
            ensure(
                !compiled || (n(c, "compile_cycles").is_some() && n(c, "code_bytes").is_some()),
                || format!("compiled cell without compile cost: {c:?}"),
            )?;
        }
        tiers
            .entry(s(c, "kernel"))
            .or_default()
            .insert(s(c, "tier"));
    }
    let full: BTreeSet<&str> = ["T0", "T1", "T2", "T3", "aot"].into();
    let complete = tiers.values().filter(|t| **t == full).count();
    ensure(complete >= 17, || {
        format!("only {complete} kernels with all five cells: {tiers:?}")
    })?;
    let jit_only: BTreeSet<&str> = ["T0", "T1", "T2", "T3"].into();
    ensure(tiers.get(SAXPY) == Some(&jit_only), || {
        format!(
            "the boot module's saxpy: cells {:?}, want T0..T3",
            tiers.get(SAXPY)
        )
    })?;
    check_exit(evs, out)?;
    Ok(format!(
        "{complete} kernels x 5 cells and saxpy x 4, all equal to T0"
    ))
}

/// The JIT runtime tests.
pub const CASES: &[Case] = &[
    Case {
        boot: Boot::Grub,
        name: "runtime-selftest-smp2",
        cmdline: "bareflow.mode=selftest bareflow.tiers=100,1000,10000",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Custom(test_modules),
        check: selftest_smp2,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "runtime-selftest-smp1",
        cmdline: "bareflow.mode=selftest bareflow.tiers=100,1000,10000",
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
        name: "runtime-bench",
        cmdline: "bareflow.mode=bench",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Custom(with_saxpy),
        check: bench,
        attach: None,
        console: None,
    },
    Case {
        boot: Boot::Grub,
        name: "runtime-demo",
        cmdline: "bareflow.mode=demo",
        smp: 2,
        mem_mib: 512,
        uefi: false,
        modules: Modules::Custom(with_saxpy),
        check: demo,
        attach: None,
        console: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Event {
        crate::trace::parse(s).unwrap().unwrap()
    }

    #[test]
    fn tier_up_check_wants_the_exact_ladder_on_the_compiler_cpu() {
        let mut evs = Vec::new();
        for k in 0..16 {
            for (from, to, calls) in [("T0", "T1", 100), ("T1", "T2", 1000), ("T2", "T3", 10000)] {
                evs.push(ev(&format!(
                    r#"{{"ev":"tier_up","t_us":1,"cpu":1,"kernel":"k{k}","from":"{from}","to":"{to}","calls":{calls},"compile_us":1,"compile_cycles":2,"code_bytes":3,"code_hash":"00000000000000ff","compiler_cpu":1}}"#
                )));
            }
        }
        assert_eq!(check_tier_ups(&evs, 1).unwrap(), 16);
        assert!(check_tier_ups(&evs, 0).is_err());
        let mut late = evs.clone();
        late[1].insert("calls".into(), Value::from(1001));
        assert!(check_tier_ups(&late, 1).unwrap_err().contains("k0"));
    }

    #[test]
    fn broken_module_error_is_on_its_line() {
        assert_eq!(
            BROKEN_SRC.lines().nth(BROKEN_LINE as usize - 1),
            Some("    return x + ;")
        );
    }
}
