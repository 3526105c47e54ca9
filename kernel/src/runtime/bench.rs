//! `bareflow.mode=bench`: every catalog kernel at each forced tier and as AOT Rust.
//!
//! Per kernel, on a fresh engine (inline compilation, quiet sink) and one workload at
//! the catalog's `bench_size` (the moderate size `cargo bench` uses; DESIGN.md's report
//! sizes take minutes at T0 under emulation):
//! - T0, T1, T2: `call_at` at that tier; T1/T2 compile cycles are measured around
//!   `Engine::compile`.
//! - T3: reached through the slot with thresholds 1/2/8, so the stable scalar arguments
//!   are specialized (the kernel's real T3, guard included); compile cycles and code
//!   bytes come from its `tier_up` event.
//! - aot: the catalog's Rust baseline, compiled into this kernel for baseline x86-64.
//!
//! Each cell: median TSC cycles per call over `reps` calls (odd, at least 5, as many
//! as fit in about 0.2 s, at most 301); in-place kernels get their inputs restored
//! before every call, outside the timed region. Every cell's result is checked against
//! T0 (`ok`). Emitted as `bench` events.

use super::ladder::agrees;
use super::pool::KernelPool;
use super::sink::SerialSink;
use crate::{trace, tsc};
use ::modules::{Kernel, Outputs, Tolerance, Workload};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use jit::{Engine, FuncId, Tier, Value};

/// Median cycles and repetitions of `call` (which returns its own timed cycles).
fn measure(mut call: impl FnMut() -> Option<u64>) -> Option<(u64, u64, u64)> {
    let first = call()?;
    let budget = tsc::hz().max(1_000_000) / 5;
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
    let t0 = tsc::rdtsc();
    let v = run(w)?;
    let t1 = tsc::rdtsc();
    Some((t1.saturating_sub(t0), v))
}

struct Cell {
    tier: &'static str,
    median: u64,
    min: u64,
    reps: u64,
    compile_cycles: Option<u64>,
    code_bytes: Option<u64>,
    ok: bool,
}

fn emit(k: &Kernel, size: usize, c: &Cell) {
    trace::emit("bench", |e| {
        e.str("kernel", k.name)
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

fn bench_kernel(k: &'static Kernel, source: &str) -> Result<usize, String> {
    let sink = Arc::new(SerialSink::new(false));
    let engine: Engine = super::new_engine([1, 2, 8], None, sink.clone(), KernelPool::new());
    let module = jit::parse_module(k.file, source).map_err(|d| alloc::format!("{d}"))?;
    let id = engine.load(module).map_err(|e| alloc::format!("{e}"))?;
    let f: FuncId = engine.func(id, k.entry).ok_or("entry not found")?;
    let size = k.bench_size;
    let mut w = Workload::new(k, size, 1);
    let call_at = |e: &Engine, t: Tier, w: &mut Workload| {
        let mut a = w.args();
        super::guard::guarded(|| e.call_at(f, t, &mut a)).ok()?.ok()
    };
    w.reset();
    let r0 = call_at(&engine, Tier::T0, &mut w).ok_or("T0 call failed")?;
    let reference = w.outputs(r0);
    let tol = k.tolerance;
    let mut cells = Vec::new();
    if let Some(c) = cell("T0", &mut w, &reference, Tolerance::Exact, |w| {
        call_at(&engine, Tier::T0, w)
    }) {
        cells.push(c);
    }
    for (tier, name) in [(Tier::T1, "T1"), (Tier::T2, "T2")] {
        let c0 = tsc::rdtsc();
        let stats = engine
            .compile(f, tier)
            .map_err(|e| alloc::format!("{tier}: {e}"))?;
        let cc = tsc::rdtsc() - c0;
        if let Some(mut c) = cell(name, &mut w, &reference, tol, |w| call_at(&engine, tier, w)) {
            c.compile_cycles = Some(cc);
            c.code_bytes = Some(stats.code_bytes as u64);
            cells.push(c);
        }
    }
    // T3 through the slot: 8 counted calls climb T1, T2, T3 with a stable profile.
    for _ in 0..8 {
        w.reset();
        let mut a = w.args();
        let _ = super::guard::guarded(|| engine.call(f, &mut a));
    }
    if engine.current_tier(f) == Tier::T3 {
        let t3 = sink.tier_ups().into_iter().rev().find(|u| u.to == Tier::T3);
        let counted = |w: &mut Workload| {
            let mut a = w.args();
            super::guard::guarded(|| engine.call(f, &mut a)).ok()?.ok()
        };
        if let Some(mut c) = cell("T3", &mut w, &reference, tol, counted) {
            c.compile_cycles = t3.as_ref().map(|u| u.compile_cycles);
            c.code_bytes = t3.as_ref().map(|u| u.code_bytes as u64);
            cells.push(c);
        }
        let misses = engine.deopt_count(f);
        if misses > 0 {
            trace::warn(
                "bench",
                format_args!("{}: {misses} specialization guard misses at T3", k.name),
            );
        }
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
    if let Some(c) = cell("aot", &mut w, &reference, Tolerance::Exact, |w| {
        w.call_aot().ok()
    }) {
        cells.push(c);
    }
    for c in &cells {
        emit(k, size, c);
    }
    Ok(cells.len())
}

/// Benchmarks every catalog kernel; returns how many kernels failed.
pub fn run(rt: &super::Runtime) -> usize {
    let f = super::jit_features();
    trace::emit("bench_start", |e| {
        e.u64("kernels", ::modules::CATALOG.len() as u64)
            .str_list("jit_features", f.names())
            .u64("tsc_hz", tsc::hz())
            .str("aot_target", "x86-64 baseline (SSE2), this kernel image")
            .str("sizes", "catalog bench_size per kernel");
    });
    let start = tsc::now_us();
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
    trace::emit("bench_done", |e| {
        e.u64("kernels", ::modules::CATALOG.len() as u64)
            .u64("failed", failed as u64)
            .u64("elapsed_us", tsc::now_us() - start);
    });
    failed
}
