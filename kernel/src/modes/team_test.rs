//! The `team` self-test: `platform::team` runs every call of a job exactly
//! once, whoever runs it: members recruited on the other CPUs, a helper CPU
//! that joins between its own work (as the JIT's compiler CPU does in llama
//! mode), or the calling CPU alone.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use platform::smp;
use platform::team::Team;

/// Jobs per phase.
const JOBS: u64 = 2000;

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
    team.dismiss();
    let after = team.calls_by_cpu();
    let by_members: u64 = others.iter().map(|&c| delta(&after, &before, c)).sum();
    if !others.is_empty() && by_members == 0 {
        return Err(alloc::format!("members ran no call ({after:?})"));
    }

    // No members: the calling CPU does everything.
    let before = team.calls_by_cpu();
    run_jobs(&team, 100)?;
    let after = team.calls_by_cpu();
    let alone = delta(&after, &before, 0);
    if alone != 100 * team.count() as u64 {
        return Err(alloc::format!("alone, CPU 0 ran {alone} calls"));
    }

    // A helper CPU joining between other work.
    let mut helped = 0;
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
        let result = run_jobs(&team, JOBS);
        stop.store(true, Ordering::Release);
        job.join();
        result?;
        helped = delta(&team.calls_by_cpu(), &before, cpu);
    }
    Ok(alloc::format!(
        "{} calls per job on {} CPUs: {JOBS} jobs with members ({by_members} calls by them), \
         100 alone, {JOBS} with a helper ({helped} calls by it); every call exactly once",
        team.count(),
        cpus.len()
    ))
}
