//! The tiered JIT inside the running kernel.
//!
//! A [`Runtime`] owns one `jit::Engine` fed by the kernel's services: the executable
//! pool (`platform::jit_memory::KernelPool`, W^X through two views), the TSC clock and the serial
//! trace ([`sink`]), the cross-modifying-code hook (`platform::jit_memory::KernelCodeSync`) and, with
//! more than one CPU, a dedicated compiler CPU ([`compiler`]) that serves the engine's
//! tier-up queue while callers keep running the current tier. Calls go through
//! [`Runtime::call`], which runs them under the platform's fault-recovery service
//! (`platform::fault::guarded`, with the pool's executable view registered as
//! recoverable code) so a CPU exception inside JIT code is attributed to its kernel and
//! tier, reported, and the kernel sent back to T0 for good.
//!
//! The boot modes built on it are in `crate::modes`.

pub mod compiler;
pub mod ladder;
pub mod loader;
pub mod sink;

use ::modules::Kernel;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use jit::{Arg, CpuFeatures, Engine, EngineConfig, FuncId, Tier, TierPolicy, Trap, Value};
use loader::LoadedModule;
use platform::fault::{self, FaultInfo, exception_name, guarded};
use platform::mem::exec_pool;
use platform::{boot, cpu, jit_memory, smp, trace};
use sink::SerialSink;

/// The CPU features Cranelift may use: the kernel's CPUID set (AVX-family only when
/// the entry code enabled their state in XCR0, which `cpu::features()` already checks).
pub fn jit_features() -> CpuFeatures {
    let f = cpu::features();
    CpuFeatures {
        sse3: f.has("sse3"),
        ssse3: f.has("ssse3"),
        sse41: f.has("sse4.1"),
        sse42: f.has("sse4.2"),
        popcnt: f.has("popcnt"),
        lzcnt: f.has("lzcnt"),
        bmi1: f.has("bmi1"),
        bmi2: f.has("bmi2"),
        avx: f.has("avx"),
        avx2: f.has("avx2"),
        fma: f.has("fma"),
    }
}

/// The tier policy of the command line: `bareflow.tiers=adaptive` or the thresholds.
pub fn tier_policy() -> TierPolicy {
    if boot::params().adaptive_tiers {
        TierPolicy::Adaptive
    } else {
        TierPolicy::Thresholds
    }
}

/// Tier thresholds from the command line (`bareflow.tiers=`).
pub fn thresholds() -> [u64; 3] {
    let t = boot::params().tiers.0;
    [t[0] as u64, t[1] as u64, t[2] as u64]
}

/// The CPU that compiles in the background: the first application processor online.
pub fn compiler_cpu() -> Option<usize> {
    smp::online().find(|&c| c != 0)
}

/// Why a runtime call did not return a value.
#[derive(Clone, Debug)]
pub enum CallError {
    /// The kernel trapped (an error value of the IR, at any tier).
    Trap(Trap),
    /// A CPU exception hit JIT code; the kernel was demoted to T0.
    Exception {
        kernel: String,
        tier: Tier,
        fault: FaultInfo,
    },
}

/// A JIT engine wired to the kernel.
pub struct Runtime {
    pub engine: Arc<Engine>,
    pub sink: Arc<SerialSink>,
    pub modules: Vec<LoadedModule>,
    /// The CPU serving the compile queue, when compiling in the background.
    pub compiler_cpu: Option<usize>,
}

/// Builds an engine on the kernel's pool, clock and trace. CPU exceptions in the
/// pool's code become recoverable for calls made under `fault::guarded`.
pub fn new_engine(
    thresholds: [u64; 3],
    compiler_cpu: Option<usize>,
    sink: Arc<SerialSink>,
    pool: jit_memory::KernelPool,
) -> Engine {
    if let Some(p) = exec_pool::get()
        && let Err(e) = fault::register_recoverable(p.exec_range())
    {
        trace::warn(
            "fault",
            format_args!(
                "JIT code not recoverable ({e:?}): a CPU exception in it stops the kernel"
            ),
        );
    }
    let config = EngineConfig {
        thresholds,
        policy: tier_policy(),
        features: jit_features(),
        background_compile: compiler_cpu.is_some(),
        compiler_cpu: compiler_cpu.unwrap_or(cpu::current_index() as usize) as u32,
        ..EngineConfig::default()
    };
    Engine::new(
        config,
        alloc::boxed::Box::new(pool),
        Arc::new(sink::TscClock),
        sink,
    )
    .with_code_sync(Arc::new(jit_memory::KernelCodeSync))
    .with_stack_limit(Arc::new(CpuStackLimit))
}

/// Stack kept free below what compiled JIT code may use: exceptions switch to IST stacks,
/// but the wake-up IPI and spurious interrupts enter on the current stack.
const JIT_STACK_HEADROOM: u64 = 16 * 1024;

/// Where compiled JIT code must stop recursing on the calling CPU: the bottom of its
/// kernel stack (`cpu::stack_bounds`) plus [`JIT_STACK_HEADROOM`]. The code traps
/// `CallDepth` instead of running past it.
struct CpuStackLimit;

impl jit::StackLimit for CpuStackLimit {
    fn stack_limit(&self) -> usize {
        match cpu::stack_bounds().0 {
            0 => 0,
            lo => (lo + JIT_STACK_HEADROOM) as usize,
        }
    }
}

impl Runtime {
    /// An engine with the given thresholds and compiler CPU, with every IR module
    /// loaded (built-in ones, replaced by boot modules of the same name). `emit`: write
    /// engine and module events to the trace.
    pub fn new(thresholds: [u64; 3], compiler_cpu: Option<usize>, emit: bool) -> Runtime {
        Runtime::with_pool(
            thresholds,
            compiler_cpu,
            emit,
            jit_memory::KernelPool::new(),
        )
    }

    /// Like [`Runtime::new`] with a given pool view (e.g. with a byte budget).
    pub fn with_pool(
        thresholds: [u64; 3],
        compiler_cpu: Option<usize>,
        emit: bool,
        pool: jit_memory::KernelPool,
    ) -> Runtime {
        let sink = Arc::new(SerialSink::new(emit));
        let engine = Arc::new(new_engine(thresholds, compiler_cpu, sink.clone(), pool));
        let modules = loader::load_all(&engine, emit);
        Runtime {
            engine,
            sink,
            modules,
            compiler_cpu,
        }
    }

    /// The function a catalog kernel calls.
    pub fn func(&self, k: &Kernel) -> Option<FuncId> {
        let m = self.modules.iter().find(|m| m.file == k.file)?;
        self.engine.func(m.id, k.entry)
    }

    /// One counted call through the kernel's slot, with the exception recovery armed.
    pub fn call(&self, f: FuncId, args: &mut [Arg]) -> Result<Value, CallError> {
        match guarded(|| self.engine.call(f, args)) {
            Ok(r) => r.map_err(CallError::Trap),
            Err(fault) => Err(self.exception(f, fault)),
        }
    }

    /// One call at a forced tier, with the exception recovery armed.
    pub fn call_at(&self, f: FuncId, tier: Tier, args: &mut [Arg]) -> Result<Value, CallError> {
        match guarded(|| self.engine.call_at(f, tier, args)) {
            Ok(r) => r.map_err(CallError::Trap),
            Err(fault) => Err(self.exception(f, fault)),
        }
    }

    /// Attributes a fault to its code region, demotes that kernel to T0 for good and
    /// reports it.
    fn exception(&self, called: FuncId, fault: FaultInfo) -> CallError {
        let (kernel, tier) = self
            .engine
            .code_owner(fault.rip as usize)
            .unwrap_or_else(|| {
                (
                    self.engine.func_name(called),
                    self.engine.current_tier(called),
                )
            });
        let owner = self.owner_func(called, &kernel);
        let name = exception_name(fault.vector);
        trace::emit("exception", |e| {
            e.u64("vector", fault.vector)
                .str("name", name)
                .hex("error_code", fault.error_code)
                .hex("rip", fault.rip)
                .hex("cr2", fault.cr2)
                .str("kernel", &kernel)
                .str("tier", tier.name())
                .bool("recovered", true)
                .display(
                    "detail",
                    format_args!("{name} in {kernel}'s {tier} code; kernel demoted to T0 for good"),
                );
        });
        self.engine.demote_to_t0(
            owner,
            &alloc::format!("CPU exception {name} at {:#x} in {tier} code", fault.rip),
        );
        CallError::Exception {
            kernel,
            tier,
            fault,
        }
    }

    /// The slot owning code of function `name`: the called function when the names
    /// match, else the function of that name in the called function's module.
    fn owner_func(&self, called: FuncId, name: &str) -> FuncId {
        if self.engine.func_name(called) == name {
            return called;
        }
        self.modules
            .iter()
            .find_map(|m| self.engine.func(m.id, name))
            .unwrap_or(called)
    }
}
