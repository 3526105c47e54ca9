//! The `team` self-test: `platform::team` runs every call of a job exactly
//! once, whoever runs it: members recruited on the other CPUs, a helper CPU
//! that joins between its own work (as the JIT's compiler CPU does in llama
//! mode), or the calling CPU alone.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use platform::team::Team;
use platform::{smp, time};

/// Jobs per phase.
const JOBS: u64 = 2000;
/// Slow jobs (each call takes [`SLOW_CALL_US`]) at most, until `cpu` has run
/// a call: a CPU that joins late leaves its share to the others, so quick
/// jobs may all be done by the caller when the emulator runs the other CPU
/// late; slow ones show that it takes part.
const SLOW_JOBS: u64 = 200;
const SLOW_CALL_US: u64 = 500;

/// Runs `jobs` jobs on `team`, each call adding 1 to its index's counter;
/// `Err` unless every counter ends at `jobs`.
fn run_jobs(team: &Team, jobs: u64) -> Result<(), String> {
    let counts: Vec<AtomicU64> = (0..team.count()).map(|_| AtomicU64::new(0)).collect();
    for _ in 0..jobs {
        team.run(&|i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        });
    }
    let got: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    if got.iter().all(|&c| c == jobs) {
        Ok(())
    } else {
        Err(alloc::format!("calls per index {got:?}, want {jobs} each"))
    }
}

fn delta(after: &[u64], before: &[u64], cpu: usize) -> u64 {
    after.get(cpu).unwrap_or(&0) - before.get(cpu).unwrap_or(&0)
}

/// Runs slow jobs until `cpu` ran a call (`Err` if it never did).
fn until_it_takes_part(team: &Team, cpu: usize) -> Result<u64, String> {
    let before = team.calls_by_cpu();
    for jobs in 1..=SLOW_JOBS {
        team.run(&|_| time::delay_us(SLOW_CALL_US));
        if delta(&team.calls_by_cpu(), &before, cpu) > 0 {
            return Ok(jobs);
        }
    }
    Err(alloc::format!(
        "CPU {cpu} ran no call of {SLOW_JOBS} jobs of {} calls of {SLOW_CALL_US} us",
        team.count()
    ))
}

/// `Ok(detail)` or `Err(detail)`.
pub fn run() -> Result<String, String> {
    let cpus: Vec<usize> = smp::online().collect();
    let team = Team::new(cpus.len() + 2);
    let others: Vec<usize> = cpus.iter().copied().filter(|&c| c != 0).collect();

    // Members on every other CPU.
    team.recruit(&others)
        .map_err(|e| alloc::format!("recruit: {e:?}"))?;
    let before = team.calls_by_cpu();
    run_jobs(&team, JOBS)?;
    let member_jobs = match others.first() {
        Some(&c) => until_it_takes_part(&team, c)?,
        None => 0,
    };
    team.dismiss();
    let after = team.calls_by_cpu();
    let by_members: u64 = others.iter().map(|&c| delta(&after, &before, c)).sum();

    // No members: the calling CPU does everything.
    let before = team.calls_by_cpu();
    run_jobs(&team, 100)?;
    let after = team.calls_by_cpu();
    let alone = delta(&after, &before, 0);
    if alone != 100 * team.count() as u64 {
        return Err(alloc::format!("alone, CPU 0 ran {alone} calls"));
    }

    // A helper CPU joining between other work.
    let (mut helped, mut helper_jobs) = (0, 0);
    if let Some(&cpu) = others.first() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let helper = team.helper();
        let job = smp::run_on(cpu, move || {
            let mut busy = 0u64;
            while !flag.load(Ordering::Acquire) {
                if !helper.help() {
                    // Its own work, between jobs.
                    busy = busy.wrapping_add(1);
                    core::hint::spin_loop();
                }
            }
            busy
        })
        .map_err(|e| alloc::format!("helper: {e:?}"))?;
        let before = team.calls_by_cpu();
        let result = run_jobs(&team, JOBS).and_then(|_| until_it_takes_part(&team, cpu));
        stop.store(true, Ordering::Release);
        job.join();
        helper_jobs = result?;
        helped = delta(&team.calls_by_cpu(), &before, cpu);
    }
    Ok(alloc::format!(
        "{} calls per job on {} CPUs, every call exactly once: {JOBS} jobs with members \
         ({by_members} calls by them; a member ran a call by slow job {member_jobs}), 100 \
         alone, {JOBS} with a helper ({helped} calls by it; by slow job {helper_jobs})",
        team.count(),
        cpus.len()
    ))
}
