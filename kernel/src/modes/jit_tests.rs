//! The runtime's self-tests (`bareflow.mode=selftest`), each one `selftest` event.
//!
//! - `jit_modules`: every catalog kernel is loaded (boot modules replace built-ins).
//! - `jit_tier_ladder`: every kernel climbs T0→T1→T2→T3 with tier-ups requested at
//!   exactly the configured call counts, compiled on the compiler CPU while the caller
//!   keeps calling; every result equals T0's (within the reassociation tolerance).
//!   Functions of boot modules with a workload climb with them.
//! - `jit_module_workloads`: every function of a boot module that has a workload, at
//!   T1, T2 and T3 against T0 on the inputs it generates: the same value or the same
//!   trap, the same `&mut` buffers.
//! - `jit_trap`: a kernel trap at a compiled tier is an event and an error value; the
//!   next call is right.
//! - `jit_exception`: a real CPU exception in JIT code (its executable pages made
//!   non-executable for the test) is attributed to kernel and tier, the kernel goes back
//!   to T0 for good, and the workload continues with right results.
//! - `jit_wx`: a write through the executable view of JIT code faults; through the
//!   writable view it does not.
//! - `jit_pool_full`: with a full pool the kernel stays at its tier, says so, and runs.
//! - `jit_native_stack`: a recursion that keeps 200 values in each frame, 511 calls deep
//!   (within the IR call-depth limit), runs at T0 and traps `CallDepth` at T1–T3 when the
//!   CPU's 256 KiB stack runs out, without a CPU exception; a plain recursion 512 deep
//!   runs at every tier.
//! - `jit_narrow_types`: `i8` and `f16` buffers passed by the kernel at every tier: an
//!   i8 dot (vectorized at T3), i8 stores that wrap, every f16 bit pattern widened and
//!   4096 f32 values narrowed, each equal to the host-tested reference (`jit::half`).
//! - `jit_soak`: two CPUs call the same kernels concurrently (one million calls in all,
//!   across every tier-up; the second CPU also serves the compile queue), no wrong result.

use crate::runtime::compiler::CompilerCpu;
use crate::runtime::ladder::{self, Lane};
use crate::runtime::sink::SerialSink;
use crate::runtime::{self, CallError, Runtime};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use jit::{Arg, Tier, Value};
use platform::fault::{self, exception_name};
use platform::jit_memory::{self as pool, KernelPool};
use platform::mem::exec_pool;
use platform::{smp, time, trace};

struct Outcome {
    ok: bool,
    detail: String,
}

macro_rules! s {
    ($($t:tt)*) => {{
        let mut x = String::new();
        let _ = write!(x, $($t)*);
        x
    }};
}

fn report(name: &str, o: &Outcome) {
    trace::emit("selftest", |e| {
        e.str("name", name)
            .bool("ok", o.ok)
            .str("detail", &o.detail);
    });
}

/// Calls the soak makes in all (both CPUs).
pub const SOAK_CALLS: u64 = 1_000_000;
/// Kernels the soak calls (cheap at their small sizes).
const SOAK_KERNELS: &[&str] = &[
    "fibonacci",
    "silu",
    "sha256",
    "matvec",
    "primes",
    "strops",
    "quicksort",
    "fft",
];
/// The ladder gives up after this long (TCG is slow; KVM needs a few seconds).
const LADDER_DEADLINE_US: u64 = 600_000_000;

fn modules_test(rt: &Runtime) -> Outcome {
    let missing: Vec<&str> = ::modules::CATALOG
        .iter()
        .filter(|k| rt.func(k).is_none())
        .map(|k| k.name)
        .collect();
    let from_boot = rt.modules.iter().filter(|m| m.from_boot).count();
    let detail = s!(
        "{} modules loaded ({} from boot modules), {} catalog kernels, missing: {:?}",
        rt.modules.len(),
        from_boot,
        ::modules::CATALOG.len(),
        missing
    );
    Outcome {
        ok: missing.is_empty(),
        detail,
    }
}

/// T1, T2 and T3 against T0 on every boot-module function's workload, traps included
/// (on a quiet runtime of its own, so the forced compiles leave the ladder's alone).
fn module_workloads_test(rt: &Runtime) -> Outcome {
    let mut detail = String::new();
    let mut ok = true;
    let mut checked = 0;
    for m in rt.modules.iter().filter(|m| m.from_boot) {
        for (name, w) in &m.workloads {
            let (Ok(w), Some(f)) = (w, rt.engine.func(m.id, name)) else {
                continue;
            };
            checked += 1;
            let mut inputs = jit::workload::Inputs::generate(w, ladder::SEED);
            let call = |inputs: &mut jit::workload::Inputs, tier: Tier| {
                inputs.reset();
                let mut args = inputs.args();
                match rt.call_at(f, tier, &mut args) {
                    Ok(v) => Ok(Ok(v)),
                    Err(CallError::Trap(t)) => Ok(Err(t.kind)),
                    Err(e) => Err(ladder::describe(&e)),
                }
            };
            let reference = match call(&mut inputs, Tier::T0) {
                Ok(r) => jit::workload::Outputs::capture(&inputs, r),
                Err(e) => {
                    ok = false;
                    let _ = write!(detail, " {name}: T0 {e};");
                    continue;
                }
            };
            let _ = write!(
                detail,
                " {name} (T0 {}):",
                match &reference.result {
                    Ok(v) => s!("returns {v:?}"),
                    Err(k) => s!("traps {k:?}"),
                }
            );
            for tier in [Tier::T1, Tier::T2, Tier::T3] {
                let verdict = match call(&mut inputs, tier) {
                    Ok(r) => reference
                        .check(&inputs, &r, w.reassoc)
                        .map_err(|m| s!("{m}")),
                    Err(e) => Err(e),
                };
                match verdict {
                    Ok(()) => {
                        let _ = write!(detail, " {tier} ok");
                    }
                    Err(e) => {
                        ok = false;
                        let _ = write!(detail, " {tier} DIFFERS ({e})");
                    }
                }
            }
            detail.push(';');
        }
    }
    if checked == 0 {
        detail = s!("no boot module function has a workload");
    } else {
        detail = s!("{checked} functions:{detail}");
    }
    Outcome { ok, detail }
}

fn ladder_test(rt: &Runtime, lanes: &mut [Lane], t: [u64; 3]) -> Outcome {
    let out = ladder::climb(rt, lanes, t, 50, LADDER_DEADLINE_US, 1_000_000);
    let ups = rt.sink.tier_ups();
    let mut problems = String::new();
    let mut wrong = 0;
    let mut while_compiling = 0;
    for l in lanes.iter() {
        let name = rt.engine.func_name(l.func);
        wrong += l.wrong;
        while_compiling += l.calls_while_compiling;
        if let Some(w) = &l.first_wrong {
            let _ = write!(problems, " {}: {w};", l.name);
        }
        let tier = rt.engine.current_tier(l.func);
        if tier != Tier::T3 {
            let _ = write!(problems, " {} stuck at {tier};", l.name);
        }
        let mine: Vec<_> = ups.iter().filter(|u| u.kernel == name).collect();
        let want = [
            (Tier::T0, Tier::T1, t[0]),
            (Tier::T1, Tier::T2, t[1]),
            (Tier::T2, Tier::T3, t[2]),
        ];
        let got: Vec<(Tier, Tier, u64)> = mine.iter().map(|u| (u.from, u.to, u.calls)).collect();
        if got[..] != want[..] {
            let _ = write!(problems, " {} tier-ups {:?};", l.name, got);
        }
        let want_cpu = rt.compiler_cpu.unwrap_or(0) as u32;
        if mine.iter().any(|u| u.cpu != want_cpu) {
            let _ = write!(problems, " {} compiled off the compiler cpu;", l.name);
        }
    }
    let calls: u64 = lanes.iter().map(|l| l.calls).sum();
    let background = rt.compiler_cpu.is_some();
    if background && while_compiling == 0 {
        let _ = write!(
            problems,
            " the caller never ran while a compile was in flight;"
        );
    }
    if out.timed_out {
        let _ = write!(problems, " gave up after {} s;", out.elapsed_us / 1_000_000);
    }
    let detail = s!(
        "{} kernels, tiers {}/{}/{}, {} calls in {} ms ({} rounds, {} idle), {} calls ran while their tier-up compiled on cpu{}, {} wrong results;{}",
        lanes.len(),
        t[0],
        t[1],
        t[2],
        calls,
        out.elapsed_us / 1000,
        out.rounds,
        out.idle_rounds,
        while_compiling,
        rt.compiler_cpu.unwrap_or(0),
        wrong,
        if problems.is_empty() {
            " all reached T3 at exactly the thresholds"
        } else {
            &problems
        }
    );
    Outcome {
        ok: problems.is_empty() && wrong == 0,
        detail,
    }
}

fn trap_test(rt: &Runtime, lanes: &mut [Lane]) -> Outcome {
    for lane in lanes.iter_mut() {
        let Some(k) = lane.kernel() else {
            continue;
        };
        let Some(case) = k.trap_cases(1).into_iter().next() else {
            continue;
        };
        let tier = rt.engine.current_tier(lane.func);
        let before = rt.sink.traps();
        let mut w = case.workload;
        w.reset();
        let r = {
            let mut args = w.args();
            rt.call(lane.func, &mut args)
        };
        let after = rt.sink.traps();
        let next = ladder::step(rt, lane);
        let detail = s!(
            "{} at {tier} on '{}': {:?} (want {:?}), trap events {} -> {}, next call {}",
            k.name,
            case.what,
            r,
            case.expected,
            before,
            after,
            if next.is_ok() && lane.wrong == 0 {
                "right"
            } else {
                "WRONG"
            }
        );
        let ok = matches!(&r, Err(CallError::Trap(t)) if t.kind == case.expected && t.tier != Tier::T0)
            && after == before + 1
            && next.is_ok()
            && lane.wrong == 0;
        return Outcome { ok, detail };
    }
    Outcome {
        ok: false,
        detail: s!("no catalog kernel has a trap case"),
    }
}

fn exception_test(rt: &Runtime, lanes: &mut [Lane], t: [u64; 3]) -> Outcome {
    let Some(lane) = lanes
        .iter_mut()
        .find(|l| rt.engine.current_tier(l.func) == Tier::T3 && l.wrong == 0)
    else {
        return Outcome {
            ok: false,
            detail: s!("no kernel at T3 to fault in"),
        };
    };
    let name = rt.engine.func_name(lane.func);
    let blocks: Vec<(u64, u64)> = pool::blocks()
        .into_iter()
        .filter(|(a, _)| rt.engine.code_owner(*a as usize) == Some((name.clone(), Tier::T3)))
        .collect();
    if blocks.is_empty() {
        return Outcome {
            ok: false,
            detail: s!("no T3 code block of {name} in the pool"),
        };
    }
    let Some(pool) = exec_pool::get() else {
        return Outcome {
            ok: false,
            detail: s!("no pool"),
        };
    };
    let set = |executable: bool| {
        blocks
            .iter()
            .all(|(a, l)| pool.set_executable_local(*a, *l, executable).is_ok())
    };
    // Revoke execute permission of the T3 code: the next call faults on its first
    // instruction fetch (#PF with the instruction-fetch bit), inside JIT code.
    let revoked = set(false);
    let r = ladder::step(rt, lane);
    let restored = set(true);
    let demoted = rt.engine.current_tier(lane.func);
    // The fault counted as a wrong call in the lane; the calls after it must be right.
    lane.wrong = 0;
    lane.first_wrong = None;
    lane.exceptions = 0;
    let more = t[0] + 10;
    let mut later_ok = true;
    for _ in 0..more {
        later_ok &= ladder::step(rt, lane).is_ok();
    }
    let tier_after = rt.engine.current_tier(lane.func);
    let (fault_ok, what) = match &r {
        Err(CallError::Exception {
            kernel,
            tier,
            fault,
        }) => (
            *kernel == name
                && *tier == Tier::T3
                && fault.vector == 14
                && fault.error_code & 0x10 != 0,
            s!(
                "{} (vector {}, error {:#x}) at {:#x} attributed to {kernel} {tier}",
                exception_name(fault.vector),
                fault.vector,
                fault.error_code,
                fault.rip
            ),
        ),
        other => (false, s!("no exception caught: {other:?}")),
    };
    let detail = s!(
        "{what}; pages revoked {revoked}, restored {restored}; tier after the fault {demoted}; {more} more calls {} and the kernel stays at {tier_after}",
        if later_ok && lane.wrong == 0 {
            "right"
        } else {
            "WRONG"
        }
    );
    Outcome {
        ok: fault_ok
            && revoked
            && restored
            && demoted == Tier::T0
            && later_ok
            && lane.wrong == 0
            && tier_after == Tier::T0,
        detail,
    }
}

fn wx_test(rt: &Runtime) -> Outcome {
    let Some(p) = exec_pool::get() else {
        return Outcome {
            ok: false,
            detail: s!("no pool"),
        };
    };
    let Some((addr, _)) = pool::blocks()
        .into_iter()
        .find(|(a, _)| rt.engine.code_owner(*a as usize).is_some())
    else {
        return Outcome {
            ok: false,
            detail: s!("no JIT code in the pool"),
        };
    };
    let owner = rt.engine.code_owner(addr as usize);
    let probe = match p.probe_wx(addr) {
        Ok(probe) => probe,
        Err(e) => {
            return Outcome {
                ok: false,
                detail: s!("JIT code of {owner:?} at {addr:#x} could not be probed: {e:?}"),
            };
        }
    };
    let (rx, rw, waddr) = (probe.exec_view, probe.write_view, probe.write_addr);
    let fault_ok = matches!(rx, Err(f) if f.error_code & 0b11 == 0b11 && f.cr2 == addr);
    let detail = s!(
        "JIT code of {:?} at {addr:#x}: write via executable view {}, via writable view {:#x} {}",
        owner,
        match rx {
            Err(f) => s!("faulted (error {:#x})", f.error_code),
            Ok(()) => s!("did NOT fault"),
        },
        waddr,
        if rw.is_ok() { "ok" } else { "faulted" }
    );
    Outcome {
        ok: fault_ok && rw.is_ok(),
        detail,
    }
}

fn pool_full_test() -> Outcome {
    let sink = Arc::new(SerialSink::new(true));
    let engine = runtime::new_engine([2, 4, 8], None, sink.clone(), KernelPool::with_budget(64));
    let Some(src) = ::modules::sources::source("fibonacci.bfir") else {
        return Outcome {
            ok: false,
            detail: s!("no fibonacci.bfir"),
        };
    };
    let f = match jit::parse_module("fibonacci.bfir", src).map(|m| engine.load(m)) {
        Ok(Ok(id)) => engine.func(id, "fib"),
        _ => None,
    };
    let Some(f) = f else {
        return Outcome {
            ok: false,
            detail: s!("fib did not load"),
        };
    };
    let mut right = 0;
    for _ in 0..20 {
        let r = fault::guarded(|| engine.call(f, &mut [Arg::I32(15)]));
        if matches!(r, Ok(Ok(Value::I32(610)))) {
            right += 1;
        }
    }
    let tier = engine.current_tier(f);
    let detail = s!(
        "64-byte pool budget: {} pool_exhausted events, kernel stays at {tier}, {right}/20 calls right",
        sink.pool_exhausted()
    );
    Outcome {
        ok: sink.pool_exhausted() == 1 && tier == Tier::T0 && right == 20,
        detail,
    }
}

/// Values each frame of the native-stack test keeps across its recursive call.
const LIVE_VALUES: usize = 200;

fn native_stack_test() -> Outcome {
    let engine = runtime::new_engine(
        runtime::thresholds(),
        None,
        Arc::new(SerialSink::new(true)),
        KernelPool::new(),
    );
    let mut src = String::from(
        "fn sum(n: i32) -> i64 { if n == 0 { return 0; } return sum(n - 1) + n as i64; }\n\
         fn r(a: &[f64], n: i32) -> f64 {\n  if n <= 1 { return a[0]; }\n",
    );
    for i in 0..LIVE_VALUES {
        let _ = writeln!(src, "  let v{i} = a[{i}];");
    }
    src.push_str("  let s = r(a, n - 1);\n");
    for i in 0..LIVE_VALUES {
        let _ = writeln!(src, "  s += v{i};");
    }
    src.push_str("  return s;\n}\n");
    let id = match jit::parse_module("native_stack.bfir", &src).map(|m| engine.load(m)) {
        Ok(Ok(id)) => id,
        other => {
            return Outcome {
                ok: false,
                detail: s!("the test module did not load: {:?}", other.err()),
            };
        }
    };
    let (Some(r), Some(sum)) = (engine.func(id, "r"), engine.func(id, "sum")) else {
        return Outcome {
            ok: false,
            detail: s!("functions missing"),
        };
    };
    let a: Vec<f64> = (0..LIVE_VALUES).map(|i| 1.0 + i as f64 / 64.0).collect();
    let mut ok = true;
    let mut detail = s!("{LIVE_VALUES} live f64 at depth 511:");
    for t in Tier::ALL {
        let deep = fault::guarded(|| engine.call_at(r, t, &mut [Arg::F64s(&a), Arg::I32(511)]));
        let plain = fault::guarded(|| engine.call_at(sum, t, &mut [Arg::I32(511)]));
        let deep_ok = match &deep {
            Ok(Ok(Value::F64(_))) => t == Tier::T0,
            Ok(Err(trap)) => trap.kind == jit::TrapKind::CallDepth && trap.tier == t,
            _ => false,
        };
        let plain_ok = matches!(plain, Ok(Ok(Value::I64(130816))));
        ok &= deep_ok && plain_ok;
        let what = match &deep {
            Ok(Ok(_)) => "a value",
            Ok(Err(trap)) => trap.kind.name(),
            Err(_) => "CPU EXCEPTION",
        };
        let _ = write!(
            detail,
            " {t} {what}{};",
            if plain_ok {
                ""
            } else {
                " (plain recursion WRONG)"
            }
        );
    }
    Outcome { ok, detail }
}

const NARROW_SRC: &str = "\
fn q8dot(w: &[i8], x: &[i8], n: i32) -> i32 {
    let acc = 0;
    for i in 0..n { acc += w[i] * x[i]; }
    return acc;
}
fn wrap(src: &[i32], dst: &mut [i8], n: i32) {
    for i in 0..n { dst[i] = src[i]; }
}
fn widen(h: &[f16], out: &mut [f32], n: i32) {
    for i in 0..n { out[i] = h[i]; }
}
fn narrow(x: &[f32], h: &mut [f16], n: i32) {
    for i in 0..n { h[i] = x[i]; }
}
";

/// One tier's run of the narrow-type kernels: which of them gave a wrong answer, or a
/// trap or CPU exception.
fn narrow_types_at(engine: &jit::Engine, id: jit::ModuleId, t: Tier) -> Result<(), String> {
    let func = |name: &str| engine.func(id, name).ok_or_else(|| s!("{name} missing"));
    let (q8dot, wrap, widen, narrow) = (
        func("q8dot")?,
        func("wrap")?,
        func("widen")?,
        func("narrow")?,
    );
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let w: Vec<i8> = (0..1001)
        .map(|i| if i % 9 == 0 { -128 } else { next() as i8 })
        .collect();
    let x: Vec<i8> = (0..1001)
        .map(|i| if i % 11 == 0 { 127 } else { next() as i8 })
        .collect();
    let want = w
        .iter()
        .zip(&x)
        .fold(0i32, |s, (&a, &b)| s.wrapping_add(a as i32 * b as i32));
    let n = w.len() as i32;
    match fault::guarded(|| {
        engine.call_at(q8dot, t, &mut [Arg::I8s(&w), Arg::I8s(&x), Arg::I32(n)])
    }) {
        Ok(Ok(Value::I32(v))) if v == want => {}
        other => return Err(s!("q8dot {other:?}, want {want}")),
    }
    let src: Vec<i32> = (0..257).map(|_| next() as i32 >> (next() % 32)).collect();
    let mut dst = vec![0i8; src.len()];
    let n = src.len() as i32;
    let r = fault::guarded(|| {
        engine.call_at(
            wrap,
            t,
            &mut [Arg::I32s(&src), Arg::I8sMut(&mut dst), Arg::I32(n)],
        )
    });
    if !matches!(r, Ok(Ok(_))) || src.iter().zip(&dst).any(|(&s, &d)| s as i8 != d) {
        return Err(s!("wrap {r:?}"));
    }
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let mut out = vec![0f32; all.len()];
    let n = all.len() as i32;
    let r = fault::guarded(|| {
        engine.call_at(
            widen,
            t,
            &mut [Arg::F16s(&all), Arg::F32sMut(&mut out), Arg::I32(n)],
        )
    });
    let bad = all
        .iter()
        .zip(&out)
        .find(|(h, v)| jit::half::f16_to_f32(**h).to_bits() != v.to_bits());
    if !matches!(r, Ok(Ok(_))) || bad.is_some() {
        return Err(s!("widen {r:?}, first wrong {bad:?}"));
    }
    let mut xs: Vec<f32> = (0..4096)
        .map(|_| f32::from_bits(next() as u32 >> (next() % 4)))
        .collect();
    xs.extend([
        65519.996,
        65520.0,
        2.9802322e-8,
        5.9604645e-8,
        f32::NAN,
        -0.0,
        f32::INFINITY,
    ]);
    let mut hs = vec![0u16; xs.len()];
    let n = xs.len() as i32;
    let r = fault::guarded(|| {
        engine.call_at(
            narrow,
            t,
            &mut [Arg::F32s(&xs), Arg::F16sMut(&mut hs), Arg::I32(n)],
        )
    });
    let bad = xs
        .iter()
        .zip(&hs)
        .find(|(x, h)| jit::half::f32_to_f16(**x) != **h);
    if !matches!(r, Ok(Ok(_))) || bad.is_some() {
        return Err(s!("narrow {r:?}, first wrong {bad:?}"));
    }
    Ok(())
}

fn narrow_types_test() -> Outcome {
    let engine = runtime::new_engine(
        runtime::thresholds(),
        None,
        Arc::new(SerialSink::new(true)),
        KernelPool::new(),
    );
    let id = match jit::parse_module("narrow_types.bfir", NARROW_SRC).map(|m| engine.load(m)) {
        Ok(Ok(id)) => id,
        other => {
            return Outcome {
                ok: false,
                detail: s!("the test module did not load: {:?}", other.err()),
            };
        }
    };
    let mut ok = true;
    let mut detail = s!("i8 dot/wrap, f16 widen (65536)/narrow (4103):");
    for t in Tier::ALL {
        match narrow_types_at(&engine, id, t) {
            Ok(()) => {
                let _ = write!(detail, " {t} right;");
            }
            Err(e) => {
                ok = false;
                let _ = write!(detail, " {t} WRONG: {e};");
            }
        }
    }
    Outcome { ok, detail }
}

fn soak_lanes(rt: &Runtime) -> Result<Vec<Lane>, String> {
    let mut lanes = ladder::lanes(rt, ladder::small_size)?;
    lanes.retain(|l| SOAK_KERNELS.contains(&l.name.as_str()));
    Ok(lanes)
}

/// Calls the lanes round-robin until `target` calls; returns (calls, wrong, first wrong).
fn soak_loop(
    rt: &Runtime,
    lanes: &mut [Lane],
    target: u64,
    serve: bool,
) -> (u64, u64, Option<String>) {
    let mut calls = 0;
    while calls < target {
        if serve {
            rt.engine.service_compile_queue();
        }
        for l in lanes.iter_mut() {
            let _ = ladder::step(rt, l);
            calls += 1;
        }
    }
    let wrong = lanes.iter().map(|l| l.wrong).sum();
    let first = lanes
        .iter()
        .find_map(|l| l.first_wrong.clone().map(|w| s!("{}: {w}", l.name)));
    (calls, wrong, first)
}

fn soak_test(t: [u64; 3]) -> Outcome {
    let Some(ap) = runtime::compiler_cpu() else {
        return Outcome {
            ok: true,
            detail: s!("one CPU online: the two-CPU soak does not apply"),
        };
    };
    let rt = Arc::new(Runtime::new(t, Some(ap), false));
    let (mut mine, theirs) = match (soak_lanes(&rt), soak_lanes(&rt)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Outcome {
                ok: false,
                detail: e,
            };
        }
    };
    let start = time::now_us();
    let done = Arc::new(AtomicBool::new(false));
    let (rt2, done2) = (rt.clone(), done.clone());
    let per_cpu = SOAK_CALLS / 2;
    let job = smp::run_on(ap, move || {
        let mut lanes = theirs;
        let r = soak_loop(&rt2, &mut lanes, per_cpu, true);
        // Keep serving the queue until the other CPU is done too.
        while !done2.load(Ordering::Acquire) {
            if rt2.engine.service_compile_queue() == 0 {
                core::hint::spin_loop();
            }
        }
        rt2.engine.service_compile_queue();
        r
    });
    let Ok(job) = job else {
        return Outcome {
            ok: false,
            detail: s!("cpu{ap} refused the soak job"),
        };
    };
    let (c0, w0, f0) = soak_loop(&rt, &mut mine, per_cpu, false);
    done.store(true, Ordering::Release);
    let (c1, w1, f1) = job.join();
    let us = time::now_us() - start;
    let at_t3 = mine
        .iter()
        .filter(|l| rt.engine.current_tier(l.func) == Tier::T3)
        .count();
    let ups = rt.sink.tier_ups();
    let off_cpu = ups.iter().filter(|u| u.cpu != ap as u32).count();
    let detail = s!(
        "{} calls ({} on cpu0, {} on cpu{ap}) over {} kernels in {} ms, {} tier-ups ({} not on cpu{ap}), {}/{} kernels at T3, {} wrong{}",
        c0 + c1,
        c0,
        c1,
        mine.len(),
        us / 1000,
        ups.len(),
        off_cpu,
        at_t3,
        mine.len(),
        w0 + w1,
        f0.or(f1).map(|w| s!(" (first: {w})")).unwrap_or_default()
    );
    trace::emit("soak", |e| {
        e.u64("calls", c0 + c1)
            .u64("cpus", 2)
            .u64("kernels", mine.len() as u64)
            .u64("tier_ups", ups.len() as u64)
            .u64("wrong", w0 + w1)
            .u64("elapsed_us", us);
    });
    Outcome {
        ok: w0 + w1 == 0
            && c0 + c1 >= SOAK_CALLS
            && at_t3 == mine.len()
            && ups.len() == 3 * mine.len()
            && off_cpu == 0,
        detail,
    }
}

fn record(results: &mut Vec<(&'static str, bool)>, name: &'static str, o: Outcome) {
    report(name, &o);
    results.push((name, o.ok));
}

/// Runs every runtime self-test; true when all pass.
pub fn run_all() -> bool {
    let t = runtime::thresholds();
    let mut results: Vec<(&'static str, bool)> = Vec::new();
    let rt = Runtime::new(t, runtime::compiler_cpu(), true);
    record(&mut results, "jit_modules", modules_test(&rt));
    record(
        &mut results,
        "jit_module_workloads",
        module_workloads_test(&Runtime::new(t, None, false)),
    );
    match ladder::lanes(&rt, ladder::small_size) {
        Ok(mut lanes) => {
            lanes.extend(ladder::module_lanes(&rt));
            let compiler = rt
                .compiler_cpu
                .and_then(|c| CompilerCpu::start(rt.engine.clone(), c));
            if rt.compiler_cpu.is_some() && compiler.is_none() {
                let o = Outcome {
                    ok: false,
                    detail: s!("the compiler CPU refused work"),
                };
                record(&mut results, "jit_compiler_cpu", o);
            }
            let o = ladder_test(&rt, &mut lanes, t);
            record(&mut results, "jit_tier_ladder", o);
            let o = trap_test(&rt, &mut lanes);
            record(&mut results, "jit_trap", o);
            let o = exception_test(&rt, &mut lanes, t);
            record(&mut results, "jit_exception", o);
            ladder::emit_stats(&rt, &lanes, "selftest");
            if let Some(c) = compiler {
                c.stop();
            }
        }
        Err(e) => record(
            &mut results,
            "jit_tier_ladder",
            Outcome {
                ok: false,
                detail: e,
            },
        ),
    }
    record(&mut results, "jit_wx", wx_test(&rt));
    record(&mut results, "jit_pool_full", pool_full_test());
    record(&mut results, "jit_native_stack", native_stack_test());
    record(&mut results, "jit_narrow_types", narrow_types_test());
    record(&mut results, "jit_soak", soak_test(t));
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    trace::emit("runtime_selftest_summary", |e| {
        e.u64("passed", (results.len() - failed) as u64)
            .u64("failed", failed as u64);
    });
    failed == 0
}
