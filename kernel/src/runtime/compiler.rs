//! The compiler CPU: an application processor that serves an engine's tier-up queue.
//!
//! Callers queue a request when a call count crosses a threshold and keep running the
//! current tier; this CPU compiles, and the engine publishes the new entry with an
//! atomic store (see `pool` for the publication rule). With one CPU the engine compiles
//! inline instead and no compiler CPU exists.
//!
//! Between compiles the CPU can help a CPU team (`platform::team`): started with a
//! `TeamHelper`, its loop alternates between the compile queue and the team's current
//! job, one claimed call at a time, so a tier-up request waits at most one call (the
//! llama mode's forward pass splits its ops over every CPU this way).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use jit::Engine;
use platform::smp::{self, Job};
use platform::team::TeamHelper;

/// A CPU busy serving one engine's compile queue until [`CompilerCpu::stop`].
pub struct CompilerCpu {
    stop: Arc<AtomicBool>,
    job: Job<u64>,
}

impl CompilerCpu {
    /// Sends `cpu` into the service loop. `None` when the CPU cannot take work.
    pub fn start(engine: Arc<Engine>, cpu: usize) -> Option<CompilerCpu> {
        CompilerCpu::start_helping(engine, cpu, None)
    }

    /// Like [`CompilerCpu::start`]; with `team`, the CPU runs the team's work
    /// whenever the compile queue is empty.
    pub fn start_helping(
        engine: Arc<Engine>,
        cpu: usize,
        team: Option<TeamHelper>,
    ) -> Option<CompilerCpu> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let job = smp::run_on(cpu, move || {
            let mut compiled = 0u64;
            loop {
                // Read the flag first so a request queued before `stop` is still served.
                let stopping = flag.load(Ordering::Acquire);
                let n = engine.service_compile_queue();
                compiled += n as u64;
                if stopping && n == 0 {
                    break;
                }
                if n == 0 && !team.as_ref().is_some_and(TeamHelper::help) {
                    core::hint::spin_loop();
                }
            }
            compiled
        })
        .ok()?;
        Some(CompilerCpu { stop, job })
    }

    /// Ends the loop (after the queue is empty); returns how many tier-ups it compiled.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.job.join()
    }
}
