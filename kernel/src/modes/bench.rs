//! `bareflow.mode=bench`: the work hand-off between CPUs ([`handoff_round_trip`]),
//! then every catalog kernel at each forced tier and as AOT Rust ([`run`]).
//!
//! Per kernel, on a fresh engine (inline compilation, quiet sink) and one workload at
//! the catalog's `bench_size` (the moderate size `cargo bench` uses; the report sizes of
//! ARCHITECTURE.md, "The benchmark catalog", take minutes at T0 under emulation):
//! - T0, T1, T2: `call_at` at that tier; T1/T2 compile cycles are measured around
//!   `Engine::compile`.
//! - T3: reached through the slot with thresholds 1/2/8, so the stable scalar arguments
//!   are specialized (the kernel's real T3, guard included); compile cycles and code
//!   bytes come from its `tier_up` event.
//! - aot: the catalog's Rust baseline, compiled into this kernel for baseline x86-64.
//!
//! Each cell: median TSC cycles per call over `reps` calls (odd, at least 5, at most
//! 301, as many as fit in about 0.2 s for T0 and 0.4 s for the others). T1, T2, T3 and
//! AOT run interleaved (one call of each per round) so that host noise (emulation, a
//! shared machine) hits them alike. In-place kernels get their inputs restored before
//! every call, outside the timed region. Every result is checked against T0 (`ok`).
//! Emitted as `bench` events. Then the functions of boot modules that have a workload,
//! at T0..T3 (`super::bench_modules`).

use crate::runtime::ladder::agrees;
use crate::runtime::sink::SerialSink;
use crate::runtime::{self, Runtime};
use ::modules::{Kernel, Outputs, Tolerance, Workload};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use jit::{Engine, FuncId, Tier, Value};
use platform::fault::guarded;
use platform::jit_memory::KernelPool;
use platform::{cpu, smp, time, trace};

/// Median cycles and repetitions of `call` (which returns its own timed cycles).
pub(super) fn measure(mut call: impl FnMut() -> Option<u64>) -> Option<(u64, u64, u64)> {
    let first = call()?;
    let budget = time::hz().max(1_000_000) / 5;
    let mut reps = (budget / first.max(1)).clamp(5, 301);
    reps |= 1;
    let mut v: Vec<u64> = Vec::with_capacity(reps as usize);
    for _ in 0..reps {
        v.push(call()?);
    }
    v.sort_unstable();
    Some((v[v.len() / 2], v[0], reps))
}

fn timed(
    w: &mut Workload,
    run: &mut dyn FnMut(&mut Workload) -> Option<Value>,
) -> Option<(u64, Value)> {
    w.reset();
    let t0 = time::cycles();
    let v = run(w)?;
    let t1 = time::cycles();
    Some((t1.saturating_sub(t0), v))
}

pub(super) struct Cell {
    pub tier: &'static str,
    pub median: u64,
    pub min: u64,
    pub reps: u64,
    pub compile_cycles: Option<u64>,
    pub code_bytes: Option<u64>,
    pub ok: bool,
}

/// One `bench` event.
pub(super) fn emit_cell(kernel: &str, size: usize, c: &Cell) {
    trace::emit("bench", |e| {
        e.str("kernel", kernel)
            .str("tier", c.tier)
            .u64("size", size as u64)
            .u64("median_cycles", c.median)
            .u64("min_cycles", c.min)
            .u64("reps", c.reps);
        if let Some(cc) = c.compile_cycles {
            e.u64("compile_cycles", cc);
        }
        if let Some(b) = c.code_bytes {
            e.u64("code_bytes", b);
        }
        e.bool("ok", c.ok);
    });
}

fn cell(
    tier: &'static str,
    w: &mut Workload,
    reference: &Outputs,
    tol: Tolerance,
    mut run: impl FnMut(&mut Workload) -> Option<Value>,
) -> Option<Cell> {
    let mut ok = true;
    let (median, min, reps) = measure(|| {
        let (cycles, v) = timed(w, &mut run)?;
        ok &= agrees(reference, w, &v, tol);
        Some(cycles)
    })?;
    Some(Cell {
        tier,
        median,
        min,
        reps,
        compile_cycles: None,
        code_bytes: None,
        ok,
    })
}

/// How a cell runs its kernel.
#[derive(Clone, Copy)]
enum Runner {
    /// `call_at` a forced tier.
    At(Tier),
    /// Through the slot (counted; the published, specialized T3).
    Slot,
    /// The AOT Rust baseline.
    Aot,
}

fn run_once(engine: &Engine, f: FuncId, r: Runner, w: &mut Workload) -> Option<Value> {
    match r {
        Runner::At(t) => {
            let mut a = w.args();
            guarded(|| engine.call_at(f, t, &mut a)).ok()?.ok()
        }
        Runner::Slot => {
            let mut a = w.args();
            guarded(|| engine.call(f, &mut a)).ok()?.ok()
        }
        Runner::Aot => w.call_aot().ok(),
    }
}

fn bench_kernel(k: &'static Kernel, source: &str) -> Result<usize, String> {
    let sink = Arc::new(SerialSink::new(false));
    let engine: Engine = runtime::new_engine([1, 2, 8], None, sink.clone(), KernelPool::new());
    let module = jit::parse_module(k.file, source).map_err(|d| alloc::format!("{d}"))?;
    let id = engine.load(module).map_err(|e| alloc::format!("{e}"))?;
    let f: FuncId = engine.func(id, k.entry).ok_or("entry not found")?;
    let size = k.bench_size;
    let mut w = Workload::new(k, size, 1);
    w.reset();
    let r0 = run_once(&engine, f, Runner::At(Tier::T0), &mut w).ok_or("T0 call failed")?;
    let reference = w.outputs(r0);
    let mut cells = Vec::new();
    if let Some(c) = cell("T0", &mut w, &reference, Tolerance::Exact, |w| {
        run_once(&engine, f, Runner::At(Tier::T0), w)
    }) {
        cells.push(c);
    }
    // Compile everything first: T1 and T2 directly, T3 through the slot (8 counted
    // calls climb T1, T2, T3 with a stable profile, so T3 is specialized).
    let mut compiled: Vec<(&'static str, Runner, Option<u64>, Option<u64>)> = Vec::new();
    for (tier, name) in [(Tier::T1, "T1"), (Tier::T2, "T2")] {
        let c0 = time::cycles();
        let stats = engine
            .compile(f, tier)
            .map_err(|e| alloc::format!("{tier}: {e}"))?;
        let cc = time::cycles() - c0;
        compiled.push((
            name,
            Runner::At(tier),
            Some(cc),
            Some(stats.code_bytes as u64),
        ));
    }
    for _ in 0..8 {
        w.reset();
        let _ = run_once(&engine, f, Runner::Slot, &mut w);
    }
    if engine.current_tier(f) == Tier::T3 {
        let t3 = sink.tier_ups().into_iter().rev().find(|u| u.to == Tier::T3);
        compiled.push((
            "T3",
            Runner::Slot,
            t3.as_ref().map(|u| u.compile_cycles),
            t3.as_ref().map(|u| u.code_bytes as u64),
        ));
    } else {
        trace::warn(
            "bench",
            format_args!(
                "{}: did not reach T3 (at {})",
                k.name,
                engine.current_tier(f)
            ),
        );
    }
    compiled.push(("aot", Runner::Aot, None, None));
    // The compiled tiers and AOT run interleaved, one call of each per round, so that
    // a disturbance of the host hits them alike; T0 (far slower) ran on its own.
    let tol = k.tolerance;
    let mut ok = alloc::vec![true; compiled.len()];
    let mut est = 0u64;
    for (i, (_, r, _, _)) in compiled.iter().enumerate() {
        let (c, v) = timed(&mut w, &mut |w| run_once(&engine, f, *r, w)).ok_or("a call failed")?;
        let t = if matches!(r, Runner::Aot) {
            Tolerance::Exact
        } else {
            tol
        };
        ok[i] &= agrees(&reference, &w, &v, t);
        est += c;
    }
    let budget = time::hz().max(1_000_000) * 2 / 5;
    let reps = ((budget / est.max(1)).clamp(5, 301)) | 1;
    let mut samples: Vec<Vec<u64>> = compiled
        .iter()
        .map(|_| Vec::with_capacity(reps as usize))
        .collect();
    for _ in 0..reps {
        for (i, (_, r, _, _)) in compiled.iter().enumerate() {
            let (c, v) =
                timed(&mut w, &mut |w| run_once(&engine, f, *r, w)).ok_or("a call failed")?;
            let t = if matches!(r, Runner::Aot) {
                Tolerance::Exact
            } else {
                tol
            };
            ok[i] &= agrees(&reference, &w, &v, t);
            samples[i].push(c);
        }
    }
    for (i, (name, _, cc, bytes)) in compiled.iter().enumerate() {
        let v = &mut samples[i];
        v.sort_unstable();
        cells.push(Cell {
            tier: name,
            median: v[v.len() / 2],
            min: v[0],
            reps,
            compile_cycles: *cc,
            code_bytes: *bytes,
            ok: ok[i],
        });
    }
    let misses = engine.deopt_count(f);
    if misses > 0 {
        trace::warn(
            "bench",
            format_args!("{}: {misses} specialization guard misses at T3", k.name),
        );
    }
    for c in &cells {
        emit_cell(k.name, size, c);
    }
    Ok(cells.len())
}

/// Benchmarks every catalog kernel; returns how many kernels failed.
pub fn run(rt: &Runtime) -> usize {
    let f = runtime::jit_features();
    let user = super::bench_modules::functions(&rt.modules);
    let kernels = ::modules::CATALOG.len() + user.len();
    trace::emit("bench_start", |e| {
        e.u64("kernels", kernels as u64)
            .str_list("jit_features", f.names())
            .u64("tsc_hz", time::hz())
            .str("aot_target", "x86-64 baseline (SSE2), this kernel image")
            .str("sizes", "catalog bench_size per kernel");
    });
    let start = time::now_us();
    let mut failed = 0;
    for k in ::modules::CATALOG {
        let Some(m) = rt.modules.iter().find(|m| m.file == k.file) else {
            failed += 1;
            continue;
        };
        if let Err(e) = bench_kernel(k, &m.source) {
            failed += 1;
            trace::warn("bench", format_args!("{}: {e}", k.name));
        }
    }
    for (m, name, w) in user {
        if let Err(e) = super::bench_modules::bench_function(m, name, w) {
            failed += 1;
            trace::warn("bench", format_args!("{}: {name}: {e}", m.file));
        }
    }
    trace::emit("bench_done", |e| {
        e.u64("kernels", kernels as u64)
            .u64("failed", failed as u64)
            .u64("elapsed_us", time::now_us() - start);
    });
    failed
}

/// Measures the work hand-off: cycles from `run_on` to the result on the BSP.
pub fn handoff_round_trip() {
    let Some(target) = smp::online().find(|&c| c != 0) else {
        trace::warn(
            "bench",
            format_args!("only one CPU online: no hand-off to measure"),
        );
        return;
    };
    let reps = 200;
    let mut samples: Vec<u64> = (0..reps)
        .map(|_| {
            let t0 = time::cycles();
            let job = smp::run_on(target, cpu::current_index);
            match job {
                Ok(j) => {
                    j.join();
                    time::cycles() - t0
                }
                Err(_) => u64::MAX,
            }
        })
        .collect();
    samples.sort_unstable();
    trace::emit("bench", |e| {
        e.str("kernel", "smp_handoff_roundtrip")
            .str("tier", "aot")
            .u64("size", 1)
            .u64("median_cycles", samples[samples.len() / 2])
            .u64("reps", reps as u64)
            .u64("target_cpu", target as u64);
    });
}
