//! `bareflow.mode=bench`, second part: every function of a boot module whose workload
//! (`#[workload(...)]`) says how to call it, at T0, T1, T2 and T3 (no AOT column: there
//! is no Rust version of a user's kernel), measured like the catalog kernels
//! (`super::bench`): a fresh engine, T1/T2 compiled directly, T3 reached through the
//! slot (specialized), T1–T3 interleaved, every result checked against T0's.

use super::bench::{Cell, emit_cell, measure};
use crate::runtime;
use crate::runtime::ladder::SEED;
use crate::runtime::loader::LoadedModule;
use crate::runtime::sink::SerialSink;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use jit::workload::{Input, Inputs, Outputs, Workload};
use jit::{Engine, FuncId, Tier, TrapKind, Value};
use platform::fault::guarded;
use platform::jit_memory::KernelPool;
use platform::{time, trace};

/// The functions the bench runs: (module, function, workload).
pub fn functions(modules: &[LoadedModule]) -> Vec<(&LoadedModule, &str, &Workload)> {
    let mut out = Vec::new();
    for m in modules.iter().filter(|m| m.from_boot) {
        for (name, w) in &m.workloads {
            if let Ok(w) = w {
                out.push((m, name.as_str(), w));
            }
        }
    }
    out
}

/// The size a report row shows: the longest buffer (1 without buffers).
fn size(inputs: &Inputs) -> usize {
    inputs
        .params
        .iter()
        .filter_map(|p| match p {
            Input::Buffer { data, .. } => Some(data.len()),
            Input::Scalar(_) => None,
        })
        .max()
        .unwrap_or(1)
}

#[derive(Clone, Copy)]
enum Runner {
    At(Tier),
    Slot,
}

/// One call on reset inputs: its TSC cycles and result (`None`: a CPU exception).
fn timed(
    engine: &Engine,
    f: FuncId,
    r: Runner,
    inputs: &mut Inputs,
) -> Option<(u64, Result<Value, TrapKind>)> {
    inputs.reset();
    let mut args = inputs.args();
    let t0 = time::cycles();
    let v = match r {
        Runner::At(t) => guarded(|| engine.call_at(f, t, &mut args)),
        Runner::Slot => guarded(|| engine.call(f, &mut args)),
    }
    .ok()?;
    let t1 = time::cycles();
    drop(args);
    Some((t1.saturating_sub(t0), v.map_err(|t| t.kind)))
}

/// Benchmarks one function; the number of cells emitted, or why it could not run.
pub fn bench_function(m: &LoadedModule, name: &str, w: &Workload) -> Result<usize, String> {
    let sink = Arc::new(SerialSink::new(false));
    let engine: Engine = runtime::new_engine([1, 2, 8], None, sink.clone(), KernelPool::new());
    let module = jit::parse_module(&m.file, &m.source).map_err(|d| alloc::format!("{d}"))?;
    let id = engine.load(module).map_err(|e| alloc::format!("{e}"))?;
    let f = engine.func(id, name).ok_or("function not found")?;
    let mut inputs = Inputs::generate(w, SEED);
    let (_, r0) = timed(&engine, f, Runner::At(Tier::T0), &mut inputs).ok_or("T0 call faulted")?;
    if let Err(kind) = r0 {
        return Err(alloc::format!(
            "traps {kind:?} at T0 on its own workload: not benchmarked"
        ));
    }
    let reference = Outputs::capture(&inputs, r0);
    let reassoc = w.reassoc;
    let mut cells = Vec::new();
    let mut ok0 = true;
    if let Some((median, min, reps)) = measure(|| {
        let (c, r) = timed(&engine, f, Runner::At(Tier::T0), &mut inputs)?;
        ok0 &= reference.check(&inputs, &r, reassoc).is_ok();
        Some(c)
    }) {
        cells.push(Cell {
            tier: "T0",
            median,
            min,
            reps,
            compile_cycles: None,
            code_bytes: None,
            ok: ok0,
        });
    }
    let mut compiled: Vec<(&'static str, Runner, Option<u64>, Option<u64>)> = Vec::new();
    for (tier, tname) in [(Tier::T1, "T1"), (Tier::T2, "T2")] {
        let c0 = time::cycles();
        let stats = engine
            .compile(f, tier)
            .map_err(|e| alloc::format!("{tier}: {e}"))?;
        compiled.push((
            tname,
            Runner::At(tier),
            Some(time::cycles() - c0),
            Some(stats.code_bytes as u64),
        ));
    }
    for _ in 0..8 {
        let _ = timed(&engine, f, Runner::Slot, &mut inputs);
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
            format_args!("{name}: did not reach T3 (at {})", engine.current_tier(f)),
        );
    }
    let mut ok = alloc::vec![true; compiled.len()];
    let mut est = 0u64;
    for (i, (_, r, _, _)) in compiled.iter().enumerate() {
        let (c, v) = timed(&engine, f, *r, &mut inputs).ok_or("a call faulted")?;
        ok[i] &= reference.check(&inputs, &v, reassoc).is_ok();
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
            let (c, v) = timed(&engine, f, *r, &mut inputs).ok_or("a call faulted")?;
            ok[i] &= reference.check(&inputs, &v, reassoc).is_ok();
            samples[i].push(c);
        }
    }
    for (i, (tname, _, cc, bytes)) in compiled.iter().enumerate() {
        let v = &mut samples[i];
        v.sort_unstable();
        cells.push(Cell {
            tier: tname,
            median: v[v.len() / 2],
            min: v[0],
            reps,
            compile_cycles: *cc,
            code_bytes: *bytes,
            ok: ok[i],
        });
    }
    let size = size(&inputs);
    for c in &cells {
        emit_cell(name, size, c);
    }
    Ok(cells.len())
}
