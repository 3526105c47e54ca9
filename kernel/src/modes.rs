//! What the kernel does once the machine is up (`bareflow.mode=`).

use crate::arch::trap;
use crate::{exit, percpu, runtime, selftest, smp, trace, tsc};
use alloc::vec::Vec;
use bareflow_boot_model::cmdline::{BootParams, Mode};
use bareflow_boot_model::exit::ExitCode;

/// Runs the mode and leaves the kernel.
pub fn run(params: &BootParams) -> ! {
    match params.mode {
        Mode::Selftest => {
            let machine = selftest::run_all();
            let ok = runtime::selftest::run_all() && machine;
            exit::exit(if ok {
                ExitCode::Success
            } else {
                ExitCode::Failure
            })
        }
        Mode::TestException => {
            if !selftest::run_all() {
                exit::exit(ExitCode::Failure);
            }
            trace::emit("test_exception", |e| {
                e.str("trigger", "ud2").str(
                    "detail",
                    "deliberate invalid opcode; expect an exception event",
                );
            });
            trap::expect_exception();
            // SAFETY: `ud2` raises #UD on purpose; the handler reports it and
            // exits, so execution never continues past it.
            unsafe { core::arch::asm!("ud2", options(nomem, nostack, noreturn)) }
        }
        Mode::TestPanic => {
            let requested = params.tiers.0[0];
            trace::emit("test_panic", |e| {
                e.str("detail", "deliberate panic; expect a panic event");
            });
            panic!("deliberate test panic (tiers start at {requested})")
        }
        Mode::Demo => {
            let machine = selftest::run_all();
            demo();
            let ok = runtime::demo::run() && machine;
            exit::exit(if ok {
                ExitCode::Success
            } else {
                ExitCode::Failure
            })
        }
        Mode::Bench => {
            bench();
            let rt = runtime::Runtime::new(runtime::thresholds(), None, true);
            let failed = runtime::bench::run(&rt);
            exit::exit(if failed == 0 {
                ExitCode::Success
            } else {
                ExitCode::Failure
            })
        }
    }
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
fn demo() {
    let jobs: Vec<_> = smp::online()
        .filter(|&c| c != 0)
        .filter_map(|c| {
            let limit = 1_000_000 * c as u64;
            smp::run_on(c, move || {
                let t0 = tsc::now_us();
                let n = count_primes(limit);
                (limit, n, tsc::now_us() - t0)
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

/// Measures the work hand-off: cycles from `run_on` to the result on the BSP.
fn bench() {
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
            let t0 = tsc::rdtsc();
            let job = smp::run_on(target, percpu::current_index);
            match job {
                Ok(j) => {
                    j.join();
                    tsc::rdtsc() - t0
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
