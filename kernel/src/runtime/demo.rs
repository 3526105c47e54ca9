//! `bareflow.mode=demo`: a workload mixing every catalog kernel, round-robin through
//! their slots, so each climbs T0→T1→T2→T3 (compiled on the compiler CPU) while the
//! trace scrolls; a `stats` line every second; then a few more seconds at T3 with
//! `stats`, and the kernel exits. Bounded: it stops after at most `DEADLINE_US`.

use super::compiler::CompilerCpu;
use super::{Runtime, ladder};
use crate::{trace, tsc};

/// Longest the climb may take before the demo stops anyway.
const DEADLINE_US: u64 = 300_000_000;
/// How long the demo keeps running at the top tier.
const TAIL_US: u64 = 3_000_000;

/// Runs the demo; true when every kernel reached T3 with right results.
pub fn run() -> bool {
    let t = super::thresholds();
    let rt = Runtime::new(t, super::compiler_cpu(), true);
    let mut lanes = match ladder::lanes(&rt, ladder::small_size) {
        Ok(l) => l,
        Err(e) => {
            trace::warn("demo", format_args!("{e}"));
            return false;
        }
    };
    let compiler = rt
        .compiler_cpu
        .and_then(|c| CompilerCpu::start(rt.engine.clone(), c));
    let start = tsc::now_us();
    let climb = ladder::climb(&rt, &mut lanes, t, 0, DEADLINE_US, 1_000_000);
    ladder::emit_stats(&rt, &lanes, "all_at_top");
    let tail_end = tsc::now_us() + TAIL_US;
    let mut next = tsc::now_us() + 1_000_000;
    while tsc::now_us() < tail_end {
        for l in lanes.iter_mut() {
            let _ = ladder::step(&rt, l);
        }
        if tsc::now_us() >= next {
            ladder::emit_stats(&rt, &lanes, "running");
            next += 1_000_000;
        }
    }
    let compiled = compiler.map(CompilerCpu::stop).unwrap_or(0);
    let wrong: u64 = lanes.iter().map(|l| l.wrong).sum();
    let at_t3 = lanes
        .iter()
        .filter(|l| rt.engine.current_tier(l.func) == jit::Tier::T3)
        .count();
    trace::emit("demo_done", |e| {
        e.u64("kernels", lanes.len() as u64)
            .u64("at_t3", at_t3 as u64)
            .u64("calls", lanes.iter().map(|l| l.calls).sum())
            .u64("wrong", wrong)
            .u64("background_compiles", compiled)
            .u64("climb_ms", climb.elapsed_us / 1000)
            .u64("elapsed_ms", (tsc::now_us() - start) / 1000)
            .bool("timed_out", climb.timed_out);
    });
    wrong == 0 && at_t3 == lanes.len()
}
