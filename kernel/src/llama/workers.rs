//! `tinyllama::Workers` over the kernel's CPUs: one platform `Team` whose
//! jobs have one call per online CPU. The bootstrap CPU (which runs the
//! forward pass) claims calls itself; every other CPU is a member of the
//! team while an answer is generated, except the JIT's compiler CPU, which
//! helps between compiles (`TeamHelper`); a call it does not claim is taken
//! by the others. Results do not depend on who ran what (tinyllama's
//! contract: each output element is computed by exactly one call, the same
//! way).

use alloc::vec::Vec;
use platform::smp::{self, SmpError};
use platform::team::{Team, TeamHelper};

/// The CPUs as tinyllama's workers.
pub struct CpuWorkers {
    team: Team,
    /// CPUs recruited while an answer runs.
    members: Vec<usize>,
}

impl CpuWorkers {
    /// Workers over every online CPU; `compiler_cpu` (if any) only helps.
    pub fn new(compiler_cpu: Option<usize>) -> CpuWorkers {
        let online: Vec<usize> = smp::online().collect();
        let members = online
            .iter()
            .copied()
            .filter(|&c| c != 0 && Some(c) != compiler_cpu)
            .collect();
        CpuWorkers {
            team: Team::new(online.len()),
            members,
        }
    }

    /// CPUs the work is split over.
    pub fn cpus(&self) -> usize {
        self.team.count()
    }

    /// Split-op tasks each CPU has run so far (index = CPU index).
    pub fn tasks_by_cpu(&self) -> Vec<u64> {
        self.team.calls_by_cpu()
    }

    /// A handle for the compiler CPU to join the work between compiles.
    pub fn helper(&self) -> TeamHelper {
        self.team.helper()
    }

    /// Sends the member CPUs into the team's loop (before an answer).
    pub fn recruit(&self) -> Result<(), SmpError> {
        self.team.recruit(&self.members)
    }

    /// Parks the member CPUs again (after an answer, while waiting for input).
    pub fn dismiss(&self) {
        self.team.dismiss();
    }
}

impl tinyllama::Workers for CpuWorkers {
    fn count(&self) -> usize {
        self.team.count()
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        self.team.run(task);
    }
}
