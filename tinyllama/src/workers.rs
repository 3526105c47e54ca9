//! Running one task on several workers: the [`Workers`] contract, a serial
//! implementation and, with `std`, a pool of persistent threads.
//!
//! The forward pass ([`crate::Session`]) cuts the rows of every matvec and
//! the heads of every attention into contiguous chunks (about four per
//! worker), and runs one task per worker; each task claims chunks from a
//! shared counter until none are left. Each output element is computed by
//! exactly one task, the same way whatever the chunk, so results are
//! bit-identical for every worker count, and a worker that starts late
//! (a descheduled thread, a CPU that is still compiling) leaves its share to
//! the others. The splitting lives in the forward pass, so every
//! [`crate::Ops`] implementation gets it; the kernel implements [`Workers`]
//! with its CPUs.
//!
//! # Contract for implementations
//!
//! - [`Workers::count`] is at least 1 and constant for the implementation's
//!   life (a session sizes its per-worker scratch from it once).
//! - [`Workers::run`] calls `task(i)` exactly once for every `i` in
//!   `0..count()`, possibly at the same time on different CPUs (the caller's
//!   CPU may run some of them itself), and returns only after every call has
//!   returned. It is called for every split op: hundreds of times per token,
//!   so starting a task must cost microseconds (persistent workers that
//!   spin briefly, then sleep; never a thread spawn per call).
//! - A task never waits for another task, so a worker may start late or
//!   not at all without a deadlock. Tasks report op failures through the
//!   forward pass's own per-worker slots, not through `run`; a task does
//!   not panic unless an [`crate::Ops`] implementation does, and `run`
//!   should pass such a panic on to its caller (as `ThreadPool` does).
//! - If an implementation breaks the contract, the forward pass stays
//!   correct: a repeated index finds its lane taken and does nothing,
//!   missing indices leave their chunks to the tasks that do run, and if no
//!   task completes the work the step fails with [`crate::Error::Workers`]
//!   instead of computing with a half-written output.

/// Workers that run one task on every worker index (see the module docs).
pub trait Workers: Sync {
    /// Number of workers (at least 1).
    fn count(&self) -> usize;

    /// Runs `task(i)` for every `i` in `0..count()` and returns when all are done.
    fn run(&self, task: &(dyn Fn(usize) + Sync));
}

/// One worker: the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct SerialWorkers;

impl Workers for SerialWorkers {
    fn count(&self) -> usize {
        1
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        task(0);
    }
}

#[cfg(feature = "std")]
pub use pool::ThreadPool;

#[cfg(feature = "std")]
mod pool {
    use std::any::Any;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
    use std::thread::{self, JoinHandle, Thread};
    use std::time::{Duration, Instant};

    use super::Workers;

    /// How long an idle thread spins before it sleeps: long enough to cover
    /// the serial ops between two split ops of a forward pass.
    const SPIN: Duration = Duration::from_micros(100);

    type Task = &'static (dyn Fn(usize) + Sync);
    type Panic = Box<dyn Any + Send>;

    /// Index bits of [`Shared::claim`]; the generation is above them.
    const INDEX_BITS: u32 = 32;
    const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

    struct Shared {
        /// Number of task indices per job (the pool's worker count).
        count: usize,
        /// `generation << 32 | next unclaimed index` of the current job.
        /// Any thread of the pool, the caller of `run` included, claims the
        /// next index with a compare-and-swap that also checks the
        /// generation, so a thread that wakes late neither runs an old task
        /// nor waits for a sleeping one: whoever is awake does the work.
        claim: AtomicU64,
        /// The current job's task (`None` between jobs).
        task: Mutex<Option<Task>>,
        /// Tasks of the current job that have returned.
        done: AtomicUsize,
        /// The thread inside `run`, woken when `done` reaches `count`.
        waiter: Mutex<Option<Thread>>,
        /// The first panic of the current job, re-raised by `run`.
        panic: Mutex<Option<Panic>>,
        shutdown: AtomicBool,
    }

    /// Locks a mutex; poisoning is harmless here (the data are plain slots).
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spins for up to [`SPIN`], then parks, until `ready()` holds.
    fn wait_until(ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                // Wakers unpark after changing the state `ready` reads; a
                // wake-up before the park makes it return at once.
                thread::park();
            }
        }
    }

    impl Shared {
        /// Claims and runs indices of job `generation` until none are left.
        fn work(&self, generation: u64, task: Task) {
            loop {
                let v = self.claim.load(Ordering::Acquire);
                let index = (v & INDEX_MASK) as usize;
                if v >> INDEX_BITS != generation || index >= self.count {
                    return;
                }
                if self
                    .claim
                    .compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    continue;
                }
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| task(index))) {
                    lock(&self.panic).get_or_insert(p);
                }
                if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.count
                    && let Some(t) = lock(&self.waiter).as_ref()
                {
                    t.unpark();
                }
            }
        }
    }

    /// A pool of `count - 1` persistent threads plus the thread calling
    /// [`Workers::run`]: every one of them claims task indices until all
    /// are taken, so a descheduled thread delays nobody.
    pub struct ThreadPool {
        shared: Arc<Shared>,
        threads: Vec<JoinHandle<()>>,
        /// One job at a time, whoever calls `run`.
        running: Mutex<()>,
    }

    impl ThreadPool {
        /// A pool of `count` workers (`count - 1` new threads; 0 counts as 1).
        pub fn new(count: usize) -> std::io::Result<ThreadPool> {
            let count = count.max(1);
            let shared = Arc::new(Shared {
                count,
                claim: AtomicU64::new(0),
                task: Mutex::new(None),
                done: AtomicUsize::new(0),
                waiter: Mutex::new(None),
                panic: Mutex::new(None),
                shutdown: AtomicBool::new(false),
            });
            let mut pool = ThreadPool {
                shared,
                threads: Vec::new(),
                running: Mutex::new(()),
            };
            for index in 1..count {
                let shared = Arc::clone(&pool.shared);
                let handle = thread::Builder::new()
                    .name(format!("tinyllama-worker-{index}"))
                    .spawn(move || worker(&shared))?;
                pool.threads.push(handle);
            }
            Ok(pool)
        }
    }

    fn worker(shared: &Shared) {
        let mut seen = 0u64;
        loop {
            wait_until(|| {
                shared.shutdown.load(Ordering::Acquire)
                    || shared.claim.load(Ordering::Acquire) >> INDEX_BITS != seen
            });
            if shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            seen = shared.claim.load(Ordering::Acquire) >> INDEX_BITS;
            // Possibly a newer job's task: `work` then claims nothing.
            let task = *lock(&shared.task);
            if let Some(task) = task {
                shared.work(seen, task);
            }
        }
    }

    impl Workers for ThreadPool {
        fn count(&self) -> usize {
            self.shared.count
        }

        fn run(&self, task: &(dyn Fn(usize) + Sync)) {
            if self.threads.is_empty() {
                task(0);
                return;
            }
            let _one_job = lock(&self.running);
            let shared = &*self.shared;
            // SAFETY: `task` is only called after a claim tagged with this
            // job's generation (see `Shared::work`); the claims stop at
            // `count`, every claimed call is counted in `done` after it
            // returns, and this function neither returns nor unwinds (panics
            // are caught) before `done == count`. The slot is cleared before
            // returning. So no call of `task` outlives this borrow.
            let task: Task = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Task>(task) };
            *lock(&shared.waiter) = Some(thread::current());
            *lock(&shared.task) = Some(task);
            shared.done.store(0, Ordering::Release);
            let generation = ((shared.claim.load(Ordering::Acquire) >> INDEX_BITS) + 1)
                & (u64::MAX >> INDEX_BITS);
            shared
                .claim
                .store(generation << INDEX_BITS, Ordering::Release);
            for t in &self.threads {
                t.thread().unpark();
            }
            shared.work(generation, task);
            wait_until(|| shared.done.load(Ordering::Acquire) == shared.count);
            *lock(&shared.task) = None;
            if let Some(p) = lock(&shared.panic).take() {
                resume_unwind(p);
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            self.shared.shutdown.store(true, Ordering::Release);
            for t in &self.threads {
                t.thread().unpark();
            }
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }

    impl core::fmt::Debug for ThreadPool {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("ThreadPool")
                .field("count", &self.count())
                .finish()
        }
    }
}
