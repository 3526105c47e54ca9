//! A team of CPUs running one borrowed task at a time: the parallel loop
//! under the application's worker pools (the language model splits matvec
//! rows and attention heads over it).
//!
//! [`Team::run`] calls `task(i)` exactly once for every `i` in
//! `0..count()` and returns when every call has returned. The indices are
//! claimed from one shared counter by whoever is free: the calling CPU
//! itself, the *members* (application processors that [`Team::recruit`]
//! sent into a claiming loop) and *helpers* (CPUs with another duty, such as
//! the JIT's compiler CPU, that call [`TeamHelper::help`] whenever that duty
//! leaves them idle). So a busy helper, or a member that has not started
//! yet, delays nobody: its share is claimed by the others. A member spins
//! between jobs (a job starts within microseconds); [`Team::dismiss`] sends
//! the members back to their parked state (e.g. while waiting for input)
//! and `recruit` brings them back.
//!
//! The task is borrowed, not `'static`: its address is published for the
//! duration of one `run` only, and `run` does not return before every call
//! of it has returned (see the SAFETY notes).

use crate::cpu::{self, MAX_CPUS};
use crate::smp::{self, Job, SmpError};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use spin::Mutex;

/// Bits of [`Shared::claim`] holding the next index; the generation of the
/// current job is above them.
const INDEX_BITS: u32 = 32;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// The task of the current job, with its lifetime erased.
#[derive(Clone, Copy)]
struct TaskRef(*const (dyn Fn(usize) + Sync));

// SAFETY: the pointee is `Sync` (shared calls from several CPUs are what it
// allows), and the pointer is only dereferenced while the job that published
// it is running (see `Shared::work`).
unsafe impl Send for TaskRef {}

struct Shared {
    /// Task indices per job.
    count: usize,
    /// `generation << 32 | next unclaimed index` of the current job. A claim
    /// is a compare-and-swap that also checks the generation, so a CPU that
    /// looks late never runs an old task.
    claim: AtomicU64,
    /// The current job's task (`None` between jobs).
    task: Mutex<Option<TaskRef>>,
    /// Calls of the current job that have returned.
    done: AtomicUsize,
    /// Members leave their loop.
    stop: AtomicBool,
    /// Calls run, by CPU index.
    calls_by_cpu: [AtomicU64; MAX_CPUS],
}

impl Shared {
    fn generation(&self) -> u64 {
        self.claim.load(Ordering::Acquire) >> INDEX_BITS
    }

    /// Claims and runs indices of job `generation` until none are left or
    /// `limit` ran; returns how many it ran.
    fn work(&self, generation: u64, task: TaskRef, limit: usize) -> usize {
        let mut ran = 0;
        while ran < limit {
            let v = self.claim.load(Ordering::Acquire);
            let index = (v & INDEX_MASK) as usize;
            if v >> INDEX_BITS != generation || index >= self.count {
                return ran;
            }
            if self
                .claim
                .compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            // SAFETY: the claim succeeded with `generation` and an index below
            // `count`, so job `generation` is current and not finished: its
            // `run` is still waiting for this call (it returns only when
            // `done == count`, counted after the call below), so the borrow
            // behind `task` (published for exactly that job) is alive.
            let f = unsafe { &*task.0 };
            f(index);
            ran += 1;
            if let Some(c) = self.calls_by_cpu.get(cpu::current_index() as usize) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::AcqRel);
        }
        ran
    }

    /// Runs one unclaimed call of the current job, if there is one.
    fn help(&self) -> bool {
        let generation = self.generation();
        let v = self.claim.load(Ordering::Acquire);
        if v >> INDEX_BITS != generation || (v & INDEX_MASK) as usize >= self.count {
            return false;
        }
        let task = *self.task.lock();
        match task {
            Some(t) => self.work(generation, t, 1) > 0,
            None => false,
        }
    }
}

/// CPUs that run one borrowed task at a time (see the module docs).
pub struct Team {
    shared: Arc<Shared>,
    members: Mutex<Vec<Job<()>>>,
    /// One job at a time, whoever calls `run`.
    running: Mutex<()>,
}

/// A handle for a CPU that joins a team's jobs between its own work.
#[derive(Clone)]
pub struct TeamHelper {
    shared: Arc<Shared>,
}

impl TeamHelper {
    /// Runs one unclaimed call of the team's current job, if there is one;
    /// true when it ran one. Returns at once when there is no job, so the
    /// helper's own work (a compile request) waits at most one call.
    pub fn help(&self) -> bool {
        self.shared.help()
    }
}

impl Team {
    /// A team whose jobs have `count` calls (at least 1), run by the caller of
    /// [`Team::run`], by the members it recruits and by whoever holds a
    /// [`TeamHelper`]. It has no members yet.
    pub fn new(count: usize) -> Team {
        Team {
            shared: Arc::new(Shared {
                count: count.max(1),
                claim: AtomicU64::new(0),
                task: Mutex::new(None),
                done: AtomicUsize::new(0),
                stop: AtomicBool::new(false),
                calls_by_cpu: [const { AtomicU64::new(0) }; MAX_CPUS],
            }),
            members: Mutex::new(Vec::new()),
            running: Mutex::new(()),
        }
    }

    /// Sends parked application processors `cpus` into the claiming loop.
    /// On an error the CPUs already sent stay members.
    pub fn recruit(&self, cpus: &[usize]) -> Result<(), SmpError> {
        let mut members = self.members.lock();
        for &cpu in cpus {
            let shared = self.shared.clone();
            members.push(smp::run_on(cpu, move || member(&shared))?);
        }
        Ok(())
    }

    /// Sends every member back to its parked state (after the job it may be
    /// running) and waits until they are there.
    pub fn dismiss(&self) {
        let mut members = self.members.lock();
        self.shared.stop.store(true, Ordering::Release);
        for job in members.drain(..) {
            job.join();
        }
        self.shared.stop.store(false, Ordering::Release);
    }

    /// Members now in the claiming loop.
    pub fn members(&self) -> usize {
        self.members.lock().len()
    }

    /// Calls run so far by each CPU (index = CPU index), up to the highest
    /// CPU that ran one: who did the work.
    pub fn calls_by_cpu(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .shared
            .calls_by_cpu
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        while v.last() == Some(&0) {
            v.pop();
        }
        v
    }

    /// A handle for a CPU that helps between its own work.
    pub fn helper(&self) -> TeamHelper {
        TeamHelper {
            shared: self.shared.clone(),
        }
    }

    /// Calls per job.
    pub fn count(&self) -> usize {
        self.shared.count
    }

    /// Calls `task(i)` for every `i` in `0..count()`, on whichever CPUs are
    /// free (this one included), and returns when all calls have returned.
    pub fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        let _one_job = self.running.lock();
        let shared = &*self.shared;
        // Lifetime erased: the borrow outlives every call made through it,
        // because this function waits for all of them (see `Shared::work`).
        let erased: *const (dyn Fn(usize) + Sync + '_) = task;
        // SAFETY: only the lifetime bound of the trait object changes; the
        // pointer is dereferenced only while this call waits below.
        let task = TaskRef(unsafe {
            core::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(erased)
        });
        *shared.task.lock() = Some(task);
        shared.done.store(0, Ordering::Release);
        let generation = (shared.generation() + 1) & (u64::MAX >> INDEX_BITS);
        shared
            .claim
            .store(generation << INDEX_BITS, Ordering::Release);
        shared.work(generation, task, usize::MAX);
        while shared.done.load(Ordering::Acquire) < shared.count {
            core::hint::spin_loop();
        }
        *shared.task.lock() = None;
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.dismiss();
    }
}

/// A member's loop: wait for a new job (spinning), claim its calls, repeat.
fn member(shared: &Shared) {
    let mut seen = shared.generation();
    loop {
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            if shared.generation() != seen {
                break;
            }
            core::hint::spin_loop();
        }
        seen = shared.generation();
        // Possibly a newer job's task: `work` then claims nothing.
        let task = *shared.task.lock();
        if let Some(task) = task {
            shared.work(seen, task, usize::MAX);
        }
    }
}
