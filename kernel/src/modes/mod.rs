//! What the kernel does once the machine is up (`bareflow.mode=`).
//!
//! - `selftest`: the machine self-tests ([`machine_tests`]), then the JIT
//!   runtime's ([`jit_tests`]); exit success when all pass.
//! - `demo`: the machine self-tests, a prime sieve on every other CPU, then
//!   every catalog kernel and every boot-module function with a workload climbing
//!   the tiers ([`demo`]).
//! - `bench`: the work hand-off round trip, then every kernel at every tier
//!   and as AOT Rust ([`bench`]), and boot-module functions with a workload at every
//!   tier ([`bench_modules`]).
//! - `test-exception` / `test-panic`: a deliberate CPU exception / Rust panic,
//!   to check how the kernel reports them.

mod bench;
mod bench_modules;
mod block_test;
mod demo;
mod jit_tests;
mod machine_tests;
mod team_test;

use crate::runtime;
use bareflow_boot_model::cmdline::{BootParams, Mode};
use platform::exit::{self, ExitCode};
use platform::{fault, trace};

fn exit_with(ok: bool) -> ! {
    exit::exit(if ok {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

/// Runs the mode and leaves the kernel.
pub fn run(params: &'static BootParams) -> ! {
    match params.mode {
        Mode::Selftest => {
            let machine = machine_tests::run_all();
            let ok = jit_tests::run_all() && machine;
            exit_with(ok)
        }
        Mode::TestException => {
            if !machine_tests::run_all() {
                exit::exit(ExitCode::Failure);
            }
            trace::emit("test_exception", |e| {
                e.str("trigger", "ud2").str(
                    "detail",
                    "deliberate invalid opcode; expect an exception event",
                );
            });
            fault::deliberate_invalid_opcode()
        }
        Mode::TestPanic => {
            let requested = params.tiers.0[0];
            trace::emit("test_panic", |e| {
                e.str("detail", "deliberate panic; expect a panic event");
            });
            panic!("deliberate test panic (tiers start at {requested})")
        }
        Mode::Demo => {
            let machine = machine_tests::run_all();
            demo::hand_out_sieves();
            let ok = demo::run() && machine;
            exit_with(ok)
        }
        Mode::Llama => crate::llama::run(params),
        Mode::Bench => {
            bench::handoff_round_trip();
            let rt = runtime::Runtime::new(runtime::thresholds(), None, true);
            let failed = bench::run(&rt);
            exit_with(failed == 0)
        }
    }
}
