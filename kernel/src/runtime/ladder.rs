//! The tier ladder: every catalog kernel, and every function of a boot module whose
//! workload (`#[workload(...)]`) says how to call it, called round-robin through its
//! slot until it runs at T3, every result checked against T0.
//!
//! With a compiler CPU, the caller never waits for a compile: while a kernel's
//! tier-up is in flight the caller keeps calling it at its current tier, up to the call
//! *before* the next threshold; a kernel whose next call would cross the next threshold
//! before its pending tier-up landed is skipped for that round (the caller runs the
//! other kernels meanwhile). So every tier-up is requested at exactly its configured
//! call count, and the calls made meanwhile are counted (`calls_while_compiling`).

use super::{CallError, Runtime};
use ::modules::{Data, Kernel, Outputs, Param, Tolerance, Workload};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use jit::workload::Inputs;
use jit::{FuncId, Tier, Value};
use platform::{time, trace};

/// The seed of the inputs every lane runs on (the host's `cargo xtask try` too).
pub const SEED: u64 = 1;

/// What a lane calls its kernel with, and what T0 made of it.
pub enum LaneWork {
    /// A catalog kernel: the catalog's inputs.
    Catalog {
        kernel: &'static Kernel,
        work: Workload,
        reference: Outputs,
    },
    /// A boot module's function: the inputs its workload generates.
    Module {
        inputs: Inputs,
        reference: jit::workload::Outputs,
        reassoc: bool,
    },
}

/// One kernel on the ladder.
pub struct Lane {
    /// The catalog name, or the function's name.
    pub name: String,
    pub func: FuncId,
    pub work: LaneWork,
    pub calls: u64,
    pub wrong: u64,
    pub first_wrong: Option<String>,
    pub calls_while_compiling: u64,
    pub exceptions: u64,
}

impl Lane {
    fn new(name: String, func: FuncId, work: LaneWork) -> Lane {
        Lane {
            name,
            func,
            work,
            calls: 0,
            wrong: 0,
            first_wrong: None,
            calls_while_compiling: 0,
            exceptions: 0,
        }
    }

    /// The catalog kernel of the lane, if it is one.
    pub fn kernel(&self) -> Option<&'static Kernel> {
        match &self.work {
            LaneWork::Catalog { kernel, .. } => Some(*kernel),
            LaneWork::Module { .. } => None,
        }
    }

    /// One counted call through the slot on freshly reset inputs; `Ok(true)` when the
    /// result agrees with T0's.
    fn call(&mut self, rt: &Runtime) -> Result<bool, CallError> {
        match &mut self.work {
            LaneWork::Catalog {
                kernel,
                work,
                reference,
            } => {
                work.reset();
                let v = {
                    let mut args = work.args();
                    rt.call(self.func, &mut args)
                }?;
                Ok(agrees(reference, work, &v, kernel.tolerance))
            }
            LaneWork::Module {
                inputs,
                reference,
                reassoc,
            } => {
                inputs.reset();
                let v = {
                    let mut args = inputs.args();
                    rt.call(self.func, &mut args)
                }?;
                Ok(reference.check(inputs, &Ok(v), *reassoc).is_ok())
            }
        }
    }
}

/// A small size from the kernel's test sizes (cheap enough for thousands of T0 calls):
/// [`Kernel::ladder_size`], which the host's code-hash check uses too.
pub fn small_size(k: &Kernel) -> usize {
    k.ladder_size()
}

/// Lanes for every catalog kernel with a distinct entry function; the reference
/// outputs come from T0 (`call_at`, not counted).
pub fn lanes(rt: &Runtime, size: fn(&Kernel) -> usize) -> Result<Vec<Lane>, String> {
    let mut lanes: Vec<Lane> = Vec::new();
    for k in ::modules::CATALOG {
        let func = rt
            .func(k)
            .ok_or_else(|| alloc::format!("kernel {} not loaded", k.name))?;
        if lanes.iter().any(|l| l.func == func) {
            continue;
        }
        let mut work = Workload::new(k, size(k), Kernel::LADDER_SEED);
        work.reset();
        let ret = {
            let mut args = work.args();
            rt.call_at(func, Tier::T0, &mut args)
        }
        .map_err(|e| alloc::format!("{}: T0 reference call failed: {e:?}", k.name))?;
        let reference = work.outputs(ret);
        let work = LaneWork::Catalog {
            kernel: k,
            work,
            reference,
        };
        lanes.push(Lane::new(k.name.to_string(), func, work));
    }
    Ok(lanes)
}

/// Lanes for the functions of boot modules that have a workload (catalog entries
/// excluded: their catalog lane runs them). T0's outputs on the workload are the
/// reference; a function that traps on its own workload at T0 is reported once (a
/// `warn`), stays at T0 and gets no lane.
pub fn module_lanes(rt: &Runtime) -> Vec<Lane> {
    let mut lanes = Vec::new();
    for m in rt.modules.iter().filter(|m| m.from_boot) {
        for (name, workload) in &m.workloads {
            let Ok(w) = workload else { continue };
            let Some(func) = rt.engine.func(m.id, name) else {
                continue;
            };
            let mut inputs = Inputs::generate(w, SEED);
            let r = {
                let mut args = inputs.args();
                rt.call_at(func, Tier::T0, &mut args)
            };
            match r {
                Ok(v) => {
                    let reference = jit::workload::Outputs::capture(&inputs, Ok(v));
                    let work = LaneWork::Module {
                        inputs,
                        reference,
                        reassoc: w.reassoc,
                    };
                    lanes.push(Lane::new(name.clone(), func, work));
                }
                Err(e) => trace::warn(
                    "workload",
                    format_args!(
                        "{}: {name} fails on its own workload at T0 ({}); it stays at T0 and is not called again",
                        m.file,
                        describe(&e)
                    ),
                ),
            }
        }
    }
    lanes
}

/// A failed call in words.
pub fn describe(e: &CallError) -> String {
    match e {
        CallError::Trap(t) => alloc::format!("trap {:?} at {}", t.kind, t.tier),
        CallError::Exception { kernel, tier, .. } => {
            alloc::format!("CPU exception in {kernel}'s {tier} code")
        }
    }
}

fn float_ok(e: f64, a: f64, bound: Option<f64>) -> bool {
    match bound {
        None => e.to_bits() == a.to_bits() || (e.is_nan() && a.is_nan()),
        Some(b) => {
            if e.is_nan() || a.is_nan() {
                e.is_nan() && a.is_nan()
            } else if e.is_infinite() || a.is_infinite() {
                e == a
            } else {
                (e - a).abs() <= b
            }
        }
    }
}

fn data_ok(e: &Data, a: &Data, tol: Tolerance) -> bool {
    let scale = |v: &mut dyn Iterator<Item = f64>| {
        v.filter(|x| x.is_finite())
            .map(f64::abs)
            .fold(1.0f64, f64::max)
    };
    match (e, a) {
        (Data::U8(x), Data::U8(y)) => x == y,
        (Data::I32(x), Data::I32(y)) => x == y,
        (Data::I64(x), Data::I64(y)) => x == y,
        (Data::F32(x), Data::F32(y)) => {
            let bound = match tol {
                Tolerance::Exact => None,
                Tolerance::Relative(r) => Some(r as f64 * scale(&mut x.iter().map(|v| *v as f64))),
            };
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match bound {
                    None => p.to_bits() == q.to_bits(),
                    b => float_ok(*p as f64, *q as f64, b),
                })
        }
        (Data::F64(x), Data::F64(y)) => {
            let bound = match tol {
                Tolerance::Exact => None,
                Tolerance::Relative(r) => Some(r as f64 * scale(&mut x.iter().copied())),
            };
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| float_ok(*p, *q, bound))
        }
        _ => false,
    }
}

/// Whether the workload's current outputs and `ret` agree with `reference` within
/// `tol` (no allocation: the soak calls this a million times).
pub fn agrees(reference: &Outputs, w: &Workload, ret: &Value, tol: Tolerance) -> bool {
    if !ret.bits_eq(&reference.ret) {
        return false;
    }
    let mut outs = w.params.iter().enumerate().filter_map(|(i, p)| match p {
        Param::Out(d) => Some((i, d)),
        _ => None,
    });
    for (pi, d) in &reference.buffers {
        match outs.next() {
            Some((i, a)) if i == *pi && data_ok(d, a, tol) => {}
            _ => return false,
        }
    }
    outs.next().is_none()
}

/// One call of a lane through the runtime, checked.
pub fn step(rt: &Runtime, lane: &mut Lane) -> Result<(), CallError> {
    let r = lane.call(rt);
    lane.calls += 1;
    match r {
        Ok(true) => Ok(()),
        Ok(false) => {
            lane.wrong += 1;
            if lane.first_wrong.is_none() {
                lane.first_wrong = Some(alloc::format!(
                    "call {} at {}: result differs from T0",
                    lane.calls,
                    rt.engine.current_tier(lane.func)
                ));
            }
            Ok(())
        }
        Err(e) => {
            if matches!(e, CallError::Exception { .. }) {
                lane.exceptions += 1;
            }
            lane.wrong += 1;
            if lane.first_wrong.is_none() {
                lane.first_wrong = Some(alloc::format!("call {}: {e:?}", lane.calls));
            }
            Err(e)
        }
    }
}

/// Outcome of a ladder run.
pub struct Outcome {
    pub rounds: u64,
    pub idle_rounds: u64,
    pub timed_out: bool,
    pub elapsed_us: u64,
}

/// Emits a `stats` line for the runtime.
pub fn emit_stats(rt: &Runtime, lanes: &[Lane], phase: &str) {
    let mut per_tier = [0u64; 4];
    let mut calls = 0;
    for l in lanes {
        per_tier[rt.engine.current_tier(l.func).index()] += 1;
        calls += rt.engine.call_count(l.func);
    }
    let pool = rt.engine.pool_stats();
    trace::emit("stats", |e| {
        e.str("phase", phase)
            .u64("kernels", lanes.len() as u64)
            .u64("at_t0", per_tier[0])
            .u64("at_t1", per_tier[1])
            .u64("at_t2", per_tier[2])
            .u64("at_t3", per_tier[3])
            .u64("calls", calls)
            .u64("tier_ups", rt.sink.tier_ups().len() as u64)
            .u64("pool_used", pool.used as u64)
            .u64("pool_capacity", pool.capacity as u64)
            .u64("code_blocks", pool.blocks as u64)
            .u64("serializations", platform::jit_memory::serializations());
    });
}

/// Climbs every lane to T3 and then `extra` more calls each. Gives up after
/// `deadline_us`. Emits `stats` every `stats_us` (0: never).
pub fn climb(
    rt: &Runtime,
    lanes: &mut [Lane],
    thresholds: [u64; 3],
    extra: u64,
    deadline_us: u64,
    stats_us: u64,
) -> Outcome {
    let background = rt.compiler_cpu.is_some();
    // the adaptive policy tiers up when it pays off, not at call counts: a lane is done
    // once at T3 (plus `extra` calls), no call waits for a compile, and which calls ran
    // while one was pending is not known here (not counted)
    let adaptive = rt.engine.config().policy == jit::TierPolicy::Adaptive;
    let thresholds = if adaptive { [0; 3] } else { thresholds };
    let start = time::now_us();
    let mut next_stats = start + stats_us;
    let mut out = Outcome {
        rounds: 0,
        idle_rounds: 0,
        timed_out: false,
        elapsed_us: 0,
    };
    loop {
        let now = time::now_us();
        if now - start > deadline_us {
            out.timed_out = true;
            break;
        }
        if stats_us > 0 && now >= next_stats {
            emit_stats(rt, lanes, "climbing");
            next_stats = now + stats_us;
        }
        let mut active = 0;
        let mut called = 0;
        for lane in lanes.iter_mut() {
            let tier = rt.engine.current_tier(lane.func);
            if lane.exceptions > 0 || (tier == Tier::T3 && lane.calls >= thresholds[2] + extra) {
                continue;
            }
            active += 1;
            let n = lane.calls + 1;
            let blocked = background && (1..3).any(|j| n == thresholds[j] && tier.index() < j);
            if blocked {
                continue;
            }
            let pending = !adaptive
                && background
                && (0..3).any(|j| lane.calls >= thresholds[j] && tier.index() <= j);
            if pending {
                lane.calls_while_compiling += 1;
            }
            let _ = step(rt, lane);
            called += 1;
        }
        out.rounds += 1;
        if active == 0 {
            break;
        }
        if called == 0 {
            out.idle_rounds += 1;
            core::hint::spin_loop();
        }
    }
    out.elapsed_us = time::now_us() - start;
    out
}
