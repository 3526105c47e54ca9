//! `bareflow.mode=demo`: first a prime sieve on every other CPU ([`hand_out_sieves`]),
//! then a workload mixing every catalog kernel and every boot-module function with a
//! workload (`#[workload(...)]`), round-robin through their slots, so
//! each climbs T0→T1→T2→T3 (compiled on the compiler CPU) while the trace scrolls; a
//! `stats` line every second; then a few more seconds at T3 with `stats`, and the
//! kernel exits. Bounded: it stops after at most `DEADLINE_US`.

use crate::runtime::compiler::CompilerCpu;
use crate::runtime::{self, Runtime, ladder};
use alloc::vec::Vec;
use platform::{smp, time, trace};

/// Longest the climb may take before the demo stops anyway.
const DEADLINE_US: u64 = 300_000_000;
/// How long the demo keeps running at the top tier.
const TAIL_US: u64 = 3_000_000;

/// Runs the demo; true when every kernel reached T3 with right results.
pub fn run() -> bool {
    let t = runtime::thresholds();
    let rt = Runtime::new(t, runtime::compiler_cpu(), true);
    let mut lanes = match ladder::lanes(&rt, ladder::small_size) {
        Ok(mut l) => {
            l.extend(ladder::module_lanes(&rt));
            l
        }
        Err(e) => {
            trace::warn("demo", format_args!("{e}"));
            return false;
        }
    };
    let compiler = rt
        .compiler_cpu
        .and_then(|c| CompilerCpu::start(rt.engine.clone(), c));
    let start = time::now_us();
    let climb = ladder::climb(&rt, &mut lanes, t, 0, DEADLINE_US, 1_000_000);
    ladder::emit_stats(&rt, &lanes, "all_at_top");
    let tail_end = time::now_us() + TAIL_US;
    let mut next = time::now_us() + 1_000_000;
    while time::now_us() < tail_end {
        for l in lanes.iter_mut() {
            let _ = ladder::step(&rt, l);
        }
        if time::now_us() >= next {
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
            .u64("elapsed_ms", (time::now_us() - start) / 1000)
            .bool("timed_out", climb.timed_out);
    });
    wrong == 0 && at_t3 == lanes.len()
}

fn count_primes(limit: u64) -> u64 {
    let mut sieve = alloc::vec![true; limit as usize + 1];
    let mut count = 0;
    for i in 2..=limit as usize {
        if sieve[i] {
            count += 1;
            let mut j = i * i;
            while j <= limit as usize {
                sieve[j] = false;
                j += i;
            }
        }
    }
    count
}

/// Hands a sieve to every application processor and reports each result.
pub fn hand_out_sieves() {
    let jobs: Vec<_> = smp::online()
        .filter(|&c| c != 0)
        .filter_map(|c| {
            let limit = 1_000_000 * c as u64;
            smp::run_on(c, move || {
                let t0 = time::now_us();
                let n = count_primes(limit);
                (limit, n, time::now_us() - t0)
            })
            .ok()
        })
        .collect();
    for job in jobs {
        let cpu = job.cpu();
        let (limit, primes, us) = job.join();
        trace::emit("demo_job", |e| {
            e.u64("on_cpu", cpu as u64)
                .str("work", "prime sieve")
                .u64("limit", limit)
                .u64("primes", primes)
                .u64("run_us", us);
        });
    }
}
