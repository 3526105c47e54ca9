//! The engine: loaded modules, one slot per function, calls, tier-up and publication.
//!
//! A slot holds the function's current entry (see [`super::slot`]); [`super::policy`]
//! decides when a function moves up and what T3 specializes on; the code generator builds
//! a unit and [`super::code::place`] puts it in executable memory before the slot's
//! Release store publishes it.

use super::code::{BuildError, place};
use super::events::{Clock, Event, TraceSink};
use super::exec_memory::{CodeSync, ExecMemError, ExecMemory, PoolStats};
use super::policy::{
    ADAPTIVE_LEARN_CALLS, ADAPTIVE_MIN_CALLS, AdaptiveStats, TierPolicy, adaptive_pays_off,
    records_profile, target_tier,
};
use super::slot::{Code, Loaded, Slot};
use super::stack_limit::StackLimit;
use super::values::{Arg, Trap, Value, marshal};
use crate::codegen::{CodeGen, CompileError, CpuFeatures, GUARD_MISS};
use crate::ir::{Module, ParamTy, Tier, TrapKind, Ty};
use crate::sync::SpinLock;
use crate::t0::Program;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Engine configuration.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Calls to reach T1, T2, T3 (under [`TierPolicy::Thresholds`]).
    pub thresholds: [u64; 3],
    /// When functions tier up: at the thresholds (default) or when it pays off
    /// ([`TierPolicy::Adaptive`]).
    pub policy: TierPolicy,
    /// The highest tier a kernel may climb to (`T0` turns the compilers off).
    pub max_tier: Tier,
    /// ISA flags for Cranelift.
    pub features: CpuFeatures,
    /// Maximum nesting of IR calls (the outermost call counts as 1).
    pub call_depth_limit: u32,
    /// false: compile inline in the calling thread; true: queue requests for
    /// `service_compile_queue`.
    pub background_compile: bool,
    /// Reported in TierUp events.
    pub compiler_cpu: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            thresholds: [100, 1000, 10000],
            policy: TierPolicy::Thresholds,
            max_tier: Tier::T3,
            features: CpuFeatures::baseline(),
            call_depth_limit: 512,
            background_compile: false,
            compiler_cpu: 0,
        }
    }
}

/// A module loaded into an engine ([`Engine::load`]); valid for that engine only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(u32);
/// A function of a loaded module ([`Engine::func`]): the index of its slot in the
/// engine; valid for that engine only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncId(u32);

/// Outcome of a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileStats {
    /// The tier that was compiled.
    pub tier: Tier,
    /// Compile time in nanoseconds, by the engine's clock.
    pub compile_ns: u64,
    /// Size of the machine code in bytes.
    pub code_bytes: usize,
    /// Hash of the tier's code, independent of the addresses it was linked for
    /// (`CodeUnit::code_hash`; 0 for T0).
    pub code_hash: u64,
}

/// Why [`Engine::load`] refused a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The engine's function table is full.
    TooManyFunctions,
    /// The module's bytecode failed internal validation (a bug in jit).
    Internal(String),
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::TooManyFunctions => f.write_str("too many functions loaded"),
            LoadError::Internal(s) => write!(f, "internal error: {s}"),
        }
    }
}

/// Most functions an engine holds (slots are never removed).
pub const MAX_FUNCS: usize = 4096;
/// Most raw argument words (a buffer takes two).
const MAX_RAW: usize = 64;

/// The JIT engine. `Send + Sync`: many threads (CPUs) may call at once.
pub struct Engine {
    config: EngineConfig,
    mem: SpinLock<Box<dyn ExecMemory>>,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn TraceSink>,
    modules: SpinLock<Vec<Arc<Loaded>>>,
    slots: Box<[AtomicPtr<Slot>]>,
    nslots: AtomicUsize,
    load_lock: SpinLock<()>,
    codegen: SpinLock<Option<CodeGen>>,
    queue: SpinLock<VecDeque<(u32, u64)>>,
    code_sync: Option<Arc<dyn CodeSync>>,
    stack_limit: Option<Arc<dyn StackLimit>>,
    /// What the adaptive policy measured across functions.
    adaptive: AdaptiveStats,
}

impl Engine {
    /// An engine with the embedder's executable memory, clock and trace sink. Every
    /// function starts at T0 and climbs per `config.thresholds`.
    pub fn new(
        config: EngineConfig,
        mem: Box<dyn ExecMemory>,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn TraceSink>,
    ) -> Engine {
        let slots = (0..MAX_FUNCS)
            .map(|_| AtomicPtr::new(core::ptr::null_mut()))
            .collect();
        Engine {
            config,
            mem: SpinLock::new(mem),
            clock,
            sink,
            modules: SpinLock::new(Vec::new()),
            slots,
            nslots: AtomicUsize::new(0),
            load_lock: SpinLock::new(()),
            codegen: SpinLock::new(None),
            queue: SpinLock::new(VecDeque::new()),
            code_sync: None,
            stack_limit: None,
            adaptive: AdaptiveStats::new(),
        }
    }

    /// Installs the embedder's cross-modifying-code hook, called before every entry into
    /// compiled code (see [`CodeSync`]).
    pub fn with_code_sync(mut self, sync: Arc<dyn CodeSync>) -> Engine {
        self.code_sync = Some(sync);
        self
    }

    /// Installs the embedder's stack bound: called on the calling thread before every
    /// entry into compiled code, it says where that thread's (CPU's) stack ends, and
    /// compiled code traps `CallDepth` instead of running past it (see [`StackLimit`]).
    /// Without it only the IR call-depth limit bounds the recursion of compiled code.
    pub fn with_stack_limit(mut self, limit: Arc<dyn StackLimit>) -> Engine {
        self.stack_limit = Some(limit);
        self
    }

    /// An engine on the host: mmap W^X pool, monotonic clock, no-op sink, and each calling
    /// thread's stack bounds as the stack limit ([`crate::ThreadStackLimit`]).
    #[cfg(feature = "std")]
    pub fn host(config: EngineConfig) -> Engine {
        Engine::new(
            config,
            Box::new(super::host_memory::HostExecMemory::default()),
            Arc::new(super::events::StdClock::new()),
            Arc::new(super::events::NullSink),
        )
        .with_stack_limit(Arc::new(super::stack_limit::ThreadStackLimit))
    }

    /// The configuration the engine was made with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Loads a verified module; each of its functions gets a slot starting at T0.
    pub fn load(&self, module: Module) -> Result<ModuleId, LoadError> {
        let _g = self.load_lock.lock();
        let n = self.nslots.load(Ordering::Acquire);
        if n + module.funcs.len() > MAX_FUNCS {
            return Err(LoadError::TooManyFunctions);
        }
        let program = Program::new(&module)
            .ok_or_else(|| LoadError::Internal("bytecode validation failed".into()))?;
        let loaded = Arc::new(Loaded { module, program });
        let mut mods = self.modules.lock();
        let mid = mods.len() as u32;
        mods.push(loaded.clone());
        drop(mods);
        for i in 0..loaded.module.funcs.len() {
            let slot = Box::new(Slot::new(loaded.clone(), i, self.config.max_tier));
            self.slots[n + i].store(Box::into_raw(slot), Ordering::Release);
        }
        // slot ids are dense: module `mid` owns ids n..n+len
        self.nslots
            .store(n + loaded.module.funcs.len(), Ordering::Release);
        let _ = mid;
        Ok(ModuleId(mid))
    }

    fn slot(&self, f: FuncId) -> Option<&Slot> {
        let i = f.0 as usize;
        if i >= self.nslots.load(Ordering::Acquire) {
            return None;
        }
        let p = self.slots[i].load(Ordering::Acquire);
        // SAFETY: slots below nslots are published (Release) Boxes that live until drop.
        unsafe { p.as_ref() }
    }

    /// Looks a function up by name in a loaded module.
    pub fn func(&self, module: ModuleId, name: &str) -> Option<FuncId> {
        let n = self.nslots.load(Ordering::Acquire);
        let mods = self.modules.lock();
        let target = mods.get(module.0 as usize)?.clone();
        drop(mods);
        (0..n).find_map(|i| {
            let s = self.slot(FuncId(i as u32))?;
            (Arc::ptr_eq(&s.loaded, &target) && s.name == name).then_some(FuncId(i as u32))
        })
    }

    /// The function's name (empty for an id of no loaded function).
    pub fn func_name(&self, f: FuncId) -> String {
        self.slot(f).map(|s| s.name.clone()).unwrap_or_default()
    }

    /// Parameter types and return type of a function.
    pub fn signature(&self, f: FuncId) -> Option<(Vec<ParamTy>, Ty)> {
        self.slot(f).map(|s| (s.params.clone(), s.ret))
    }

    /// The tier calls of `f` run at now (T0 for an unknown id).
    pub fn current_tier(&self, f: FuncId) -> Tier {
        self.slot(f)
            .and_then(|s| Tier::from_index(s.current.load(Ordering::Acquire) as usize))
            .unwrap_or(Tier::T0)
    }

    /// How many times `f` was called through the engine (0 for an unknown id).
    pub fn call_count(&self, f: FuncId) -> u64 {
        self.slot(f)
            .map(|s| s.calls.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// The parameters (indices) T3 specializes `f` on when their values are stable: the
    /// scalar ones used as an integer divisor, modulus or shift amount, or as an f32
    /// `pow` base, and never reassigned.
    pub fn specializable(&self, f: FuncId) -> Vec<usize> {
        self.slot(f)
            .map(|s| s.profile.specializable())
            .unwrap_or_default()
    }

    /// The T0 bytecode of `f`, one instruction a line (`i32.add d=s5 a=s1 b=s2`; `sN` are
    /// frame slots, `@N` jump targets, `bN` buffers, `fnN` functions of the module).
    pub fn t0_listing(&self, f: FuncId) -> Option<String> {
        let slot = self.slot(f)?;
        slot.loaded.program.listing(slot.index)
    }

    /// Number of guard misses of the function's specialized T3 code.
    pub fn deopt_count(&self, f: FuncId) -> u64 {
        self.slot(f)
            .map(|s| s.deopts.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Through the slot: counts the call, records the argument profile, tiers up at the
    /// thresholds (inline, or by queueing a request when background_compile is set).
    pub fn call(&self, f: FuncId, args: &mut [Arg]) -> Result<Value, Trap> {
        let Some(slot) = self.slot(f) else {
            return Err(Trap {
                kind: TrapKind::BadArguments,
                tier: Tier::T0,
            });
        };
        let mut raw = [0u64; MAX_RAW];
        let n = self.marshal(slot, args, &mut raw)?;
        let calls = slot.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let cur = slot.current.load(Ordering::Relaxed);
        if records_profile(cur, self.config.max_tier) {
            slot.profile.record(args);
        }
        if self.config.policy == TierPolicy::Adaptive {
            return self.call_adaptive(f, slot, cur, calls, &raw[..n]);
        }
        let target = self.target_tier(slot, calls);
        if target as u8 > cur {
            self.request(f, slot, target, calls);
        }
        let entry = slot.entry.load(Ordering::Acquire);
        self.run_entry(slot, entry, &raw[..n])
    }

    /// A call under [`TierPolicy::Adaptive`]: below the function's top tier it is timed,
    /// and the next tier is requested once the time it would have saved at this tier
    /// passes its estimated compile cost.
    fn call_adaptive(
        &self,
        f: FuncId,
        slot: &Slot,
        cur: u8,
        calls: u64,
        raw: &[u64],
    ) -> Result<Value, Trap> {
        let top = slot
            .cap
            .load(Ordering::Relaxed)
            .min(self.config.max_tier as u8);
        if cur >= top {
            let entry = slot.entry.load(Ordering::Acquire);
            return self.run_entry(slot, entry, raw);
        }
        let next = cur as usize + 1;
        let timed = slot.tier_calls.load(Ordering::Relaxed);
        if timed >= ADAPTIVE_MIN_CALLS {
            let time = slot.tier_time_ns.load(Ordering::Relaxed);
            let below = slot.below_per_call_ns.load(Ordering::Relaxed);
            if timed >= ADAPTIVE_LEARN_CALLS
                && below > 0
                && !slot.speedup_learned.swap(true, Ordering::Relaxed)
            {
                let per_call = time as f64 / timed as f64;
                self.adaptive
                    .record_speedup(cur as usize, below as f64 / per_call.max(1.0));
            }
            let cost = self
                .adaptive
                .compile_estimate(next, slot.tier_compile_ns.load(Ordering::Relaxed));
            if adaptive_pays_off(time, self.adaptive.speedup(next), cost) {
                let target = Tier::from_index(next).unwrap_or(Tier::T0);
                self.request(f, slot, target, calls);
            }
        }
        let entry = slot.entry.load(Ordering::Acquire);
        let t0 = self.clock.now_ns();
        let result = self.run_entry(slot, entry, raw);
        let dt = self.clock.now_ns().saturating_sub(t0);
        // a call that ran on the tier being replaced counts for it; the reset at the
        // publication makes the next tier start from zero
        if slot.current.load(Ordering::Relaxed) == cur {
            slot.tier_time_ns.fetch_add(dt, Ordering::Relaxed);
            slot.tier_calls.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Adaptive policy, at the publication of `target`: the compile time is learned, and
    /// the new tier starts timing from zero.
    fn adaptive_published(&self, slot: &Slot, target: Tier, compile_ns: u64) {
        self.adaptive.record_compile(target as usize, compile_ns);
        let time = slot.tier_time_ns.swap(0, Ordering::Relaxed);
        let calls = slot.tier_calls.swap(0, Ordering::Relaxed);
        let per_call = time.checked_div(calls).unwrap_or(0);
        slot.below_per_call_ns.store(per_call, Ordering::Relaxed);
        slot.tier_compile_ns.store(compile_ns, Ordering::Relaxed);
        slot.speedup_learned.store(per_call == 0, Ordering::Relaxed);
    }

    /// At a forced tier (compiled on first use), no counting, no tier-up: for tests and benches.
    pub fn call_at(&self, f: FuncId, tier: Tier, args: &mut [Arg]) -> Result<Value, Trap> {
        let Some(slot) = self.slot(f) else {
            return Err(Trap {
                kind: TrapKind::BadArguments,
                tier,
            });
        };
        let mut raw = [0u64; MAX_RAW];
        let n = self.marshal(slot, args, &mut raw)?;
        if tier == Tier::T0 {
            return self.run_entry(slot, core::ptr::null_mut(), &raw[..n]);
        }
        let code = match self.ensure(slot, tier) {
            Ok((c, _)) => c,
            Err(e) => {
                self.sink.event(&Event::CompileError {
                    kernel: slot.name.clone(),
                    tier,
                    reason: e.to_string(),
                });
                return Err(Trap {
                    kind: TrapKind::BadArguments,
                    tier,
                });
            }
        };
        self.run_entry(slot, code as *mut Code, &raw[..n])
    }

    /// Compiles a function at a tier (if not already compiled) without publishing it.
    pub fn compile(&self, f: FuncId, tier: Tier) -> Result<CompileStats, BuildError> {
        let slot = self
            .slot(f)
            .ok_or_else(|| CompileError::Unsupported("unknown function".into()))?;
        if tier == Tier::T0 {
            return Ok(CompileStats {
                tier,
                compile_ns: 0,
                code_bytes: 0,
                code_hash: 0,
            });
        }
        let (_, stats) = self.ensure(slot, tier)?;
        Ok(stats)
    }

    /// Background mode: compiles every queued request and publishes each by an atomic swap;
    /// returns how many it compiled.
    pub fn service_compile_queue(&self) -> usize {
        let mut done = 0;
        loop {
            let req = self.queue.lock().pop_front();
            let Some((fi, calls)) = req else { break };
            let f = FuncId(fi);
            let Some(slot) = self.slot(f) else { continue };
            let target = match self.config.policy {
                TierPolicy::Thresholds => {
                    self.target_tier(slot, slot.calls.load(Ordering::Relaxed).max(calls))
                }
                // the request is the decision: the highest tier asked for, within the cap
                TierPolicy::Adaptive => {
                    let cap = slot
                        .cap
                        .load(Ordering::Relaxed)
                        .min(self.config.max_tier as u8);
                    let want = slot.requested.load(Ordering::Acquire).min(cap);
                    Tier::from_index(want as usize).unwrap_or(Tier::T0)
                }
            };
            if target as u8 > slot.current.load(Ordering::Acquire)
                && self.tier_up(slot, target, calls)
            {
                done += 1;
            }
        }
        done
    }

    /// Maps a code address to (kernel name, tier) when it lies in JIT code.
    pub fn code_owner(&self, addr: usize) -> Option<(String, Tier)> {
        let n = self.nslots.load(Ordering::Acquire);
        for i in 0..n {
            let slot = self.slot(FuncId(i as u32))?;
            let owned = slot.owned.lock();
            for c in owned.iter() {
                let start = c.compiled.block.exec_addr();
                if addr >= start && addr < start + c.compiled.block.len() {
                    return Some((slot.name.clone(), c.tier));
                }
            }
        }
        None
    }

    /// The executable range (start address, length) of a function's code at a tier, if compiled.
    pub fn code_range(&self, f: FuncId, tier: Tier) -> Option<(usize, usize)> {
        let slot = self.slot(f)?;
        let p = slot.tiers.get(tier as usize)?.load(Ordering::Acquire);
        // SAFETY: published code objects live until the engine drops.
        let c = unsafe { p.as_ref() }?;
        Some((c.compiled.block.exec_addr(), c.compiled.block.len()))
    }

    /// Sends a function back to T0 for good (after a CPU exception in its code).
    pub fn demote_to_t0(&self, f: FuncId, reason: &str) {
        let Some(slot) = self.slot(f) else { return };
        slot.cap.store(0, Ordering::Release);
        let from =
            Tier::from_index(slot.current.swap(0, Ordering::AcqRel) as usize).unwrap_or(Tier::T0);
        slot.entry.store(core::ptr::null_mut(), Ordering::Release);
        self.sink.event(&Event::Deopt {
            kernel: slot.name.clone(),
            tier: from,
            reason: reason.to_string(),
        });
    }

    /// Usage of the executable memory (all tiers' code).
    pub fn pool_stats(&self) -> PoolStats {
        self.mem.lock().stats()
    }

    /// Writes the raw argument words a compiled entry trampoline takes for these arguments
    /// (scalars as bits; buffers as pointer then length) into `out`, checked against the
    /// signature, and returns how many it wrote (`BadArguments` if `out` is too short).
    /// The buffers' pointers are only valid while `args` borrows them.
    pub fn raw_args(&self, f: FuncId, args: &mut [Arg], out: &mut [u64]) -> Result<usize, Trap> {
        let bad = || Trap {
            kind: TrapKind::BadArguments,
            tier: Tier::T0,
        };
        let slot = self.slot(f).ok_or_else(bad)?;
        marshal(&slot.params, args, out).ok_or_else(bad)
    }

    /// Decodes what an entry trampoline returned (status, result bits) into the call's
    /// outcome, as [`Engine::call`] would report it for code of `tier`.
    pub fn decode_result(
        &self,
        f: FuncId,
        tier: Tier,
        status: u32,
        bits: u64,
    ) -> Result<Value, Trap> {
        let ret = self.slot(f).map(|s| s.ret).unwrap_or(Ty::Unit);
        match status {
            0 => Ok(Value::from_bits(ret, bits)),
            k => Err(Trap {
                kind: TrapKind::from_code(k),
                tier,
            }),
        }
    }

    /// Runs `f` with the engine's code generator, building it (ISA, flags) on first use.
    fn with_codegen<T, E: From<CompileError>>(
        &self,
        f: impl FnOnce(&mut CodeGen) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut cg = self.codegen.lock();
        if cg.is_none() {
            *cg = Some(CodeGen::new(
                self.config.features,
                self.config.call_depth_limit,
            )?);
        }
        let cg = cg
            .as_mut()
            .ok_or_else(|| CompileError::Unsupported("no code generator".into()))?;
        f(cg)
    }

    /// The Cranelift IR `jit` compiles for `f` at `tier` (unspecialized), with the ISA,
    /// names, symbols and libcall addresses another linker needs (see [`crate::ClifUnit`]).
    #[cfg(feature = "std")]
    pub fn cranelift_ir(&self, f: FuncId, tier: Tier) -> Result<crate::ClifUnit, CompileError> {
        let slot = self
            .slot(f)
            .ok_or_else(|| CompileError::Unsupported("unknown function".into()))?;
        let (ir, isa) =
            self.with_codegen(|cg| cg.unit_ir(&slot.loaded.module, slot.index, tier))?;
        let tables: Vec<usize> = slot
            .loaded
            .module
            .tables
            .iter()
            .map(|t| t.data.ptr() as usize)
            .collect();
        Ok(crate::ClifUnit::new(&slot.name, ir, isa, &tables))
    }

    // ---- internals

    fn marshal(
        &self,
        slot: &Slot,
        args: &mut [Arg],
        raw: &mut [u64; MAX_RAW],
    ) -> Result<usize, Trap> {
        marshal(&slot.params, args, raw).ok_or(Trap {
            kind: TrapKind::BadArguments,
            tier: Tier::T0,
        })
    }

    fn target_tier(&self, slot: &Slot, calls: u64) -> Tier {
        target_tier(
            &self.config.thresholds,
            self.config.max_tier,
            slot.cap.load(Ordering::Relaxed),
            calls,
        )
    }

    fn request(&self, f: FuncId, slot: &Slot, target: Tier, calls: u64) {
        if self.config.background_compile {
            if slot.requested.fetch_max(target as u8, Ordering::AcqRel) < target as u8 {
                self.queue.lock().push_back((f.0, calls));
            }
        } else if !slot.compiling.swap(true, Ordering::AcqRel) {
            if target as u8 > slot.current.load(Ordering::Acquire) {
                self.tier_up(slot, target, calls);
            }
            slot.compiling.store(false, Ordering::Release);
        }
    }

    /// Compiles `target` (and T2 under a T3) and publishes it. Returns success.
    fn tier_up(&self, slot: &Slot, target: Tier, calls: u64) -> bool {
        let from =
            Tier::from_index(slot.current.load(Ordering::Acquire) as usize).unwrap_or(Tier::T0);
        let t0 = self.clock.now_ns();
        let c0 = self.clock.cycles();
        let spec = if target == Tier::T3 {
            slot.profile.stable_args(
                &slot.params,
                match self.config.policy {
                    TierPolicy::Thresholds => Some(self.config.thresholds[2]),
                    TierPolicy::Adaptive => None,
                },
            )
        } else {
            Vec::new()
        };
        let result = self.build(slot, target, &spec);
        match result {
            Ok((code, bytes, code_hash)) => {
                let compile_ns = self.clock.now_ns().saturating_sub(t0);
                let compile_cycles = self.clock.cycles().saturating_sub(c0);
                // publish: the code is finalized (executable) before this Release store
                slot.entry.store(code as *mut Code, Ordering::Release);
                if self.config.policy == TierPolicy::Adaptive {
                    self.adaptive_published(slot, target, compile_ns);
                }
                slot.current.store(target as u8, Ordering::Release);
                self.sink.event(&Event::TierUp {
                    kernel: slot.name.clone(),
                    from,
                    to: target,
                    calls,
                    compile_ns,
                    compile_cycles,
                    code_bytes: bytes,
                    code_hash,
                    compiler_cpu: self.config.compiler_cpu,
                });
                true
            }
            Err(e) => {
                // never retry this tier: cap the function below it
                slot.cap
                    .store((target as u8).saturating_sub(1), Ordering::Release);
                match &e {
                    BuildError::Pool(ExecMemError::Exhausted { requested, free }) => {
                        self.sink.event(&Event::PoolExhausted {
                            kernel: slot.name.clone(),
                            tier: target,
                            requested: *requested,
                            free: *free,
                        });
                    }
                    _ => self.sink.event(&Event::CompileError {
                        kernel: slot.name.clone(),
                        tier: target,
                        reason: e.to_string(),
                    }),
                }
                false
            }
        }
    }

    /// Returns the code for `tier` (compiling it unspecialized if needed) and its stats.
    fn ensure(&self, slot: &Slot, tier: Tier) -> Result<(*const Code, CompileStats), BuildError> {
        let existing = slot.tiers[tier as usize].load(Ordering::Acquire);
        if !existing.is_null() {
            // SAFETY: published code objects live until the engine drops.
            let c = unsafe { &*existing };
            return Ok((
                existing,
                CompileStats {
                    tier,
                    compile_ns: 0,
                    code_bytes: c.compiled.code_bytes,
                    code_hash: c.compiled.code_hash,
                },
            ));
        }
        let t0 = self.clock.now_ns();
        let (code, bytes, code_hash) = self.build(slot, tier, &[])?;
        Ok((
            code,
            CompileStats {
                tier,
                compile_ns: self.clock.now_ns().saturating_sub(t0),
                code_bytes: bytes,
                code_hash,
            },
        ))
    }

    /// Compiles a tier (T3 also ensures T2 for its guard fallback) and records it in the slot.
    /// Returns the code, its bytes (with a T2 fallback built for it) and the tier's own
    /// code hash.
    fn build(
        &self,
        slot: &Slot,
        tier: Tier,
        spec: &[(usize, u64)],
    ) -> Result<(*const Code, usize, u64), BuildError> {
        let mut fallback: *const Code = core::ptr::null();
        let mut extra = 0;
        if tier == Tier::T3 && !spec.is_empty() {
            let t2 = slot.tiers[2].load(Ordering::Acquire);
            fallback = if t2.is_null() {
                let (c, b, _) = self.build(slot, Tier::T2, &[])?;
                extra = b;
                c
            } else {
                t2
            };
        }
        let compiled = self.with_codegen(|cg| {
            let unit = cg.compile(&slot.loaded.module, slot.index, tier, spec)?;
            let mut mem = self.mem.lock();
            place(&unit, &mut **mem)
        })?;
        let bytes = compiled.code_bytes;
        let hash = compiled.code_hash;
        let code = Box::new(Code {
            tier,
            compiled,
            fallback,
        });
        let ptr: *const Code = &*code;
        slot.owned.lock().push(code);
        // record (unspecialized code, or specialized T3 as the T3 entry)
        slot.tiers[tier as usize].store(ptr as *mut Code, Ordering::Release);
        Ok((ptr, bytes + extra, hash))
    }

    fn run_entry(&self, slot: &Slot, entry: *mut Code, raw: &[u64]) -> Result<Value, Trap> {
        if entry.is_null() {
            return match slot
                .loaded
                .program
                .run(slot.index, raw, self.config.call_depth_limit)
            {
                Ok(bits) => Ok(Value::from_bits(slot.ret, bits)),
                Err(kind) => Err(self.trap(slot, kind, Tier::T0)),
            };
        }
        if let Some(sync) = &self.code_sync {
            sync.before_enter();
        }
        let stack_limit = self.stack_limit.as_ref().map_or(0, |s| s.stack_limit());
        // SAFETY: published code objects live until the engine drops.
        let mut code = unsafe { &*entry };
        let mut status = code.compiled.invoke(raw, stack_limit);
        if status.0 == GUARD_MISS {
            let n = slot.deopts.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                self.sink.event(&Event::Deopt {
                    kernel: slot.name.clone(),
                    tier: Tier::T3,
                    reason: alloc::format!("specialization guard miss (#{}), running T2", n + 1),
                });
            }
            // SAFETY: a specialized T3 always has its T2 fallback, kept alive like all code.
            code = unsafe { &*code.fallback };
            status = code.compiled.invoke(raw, stack_limit);
        }
        match status {
            (0, bits) => Ok(Value::from_bits(slot.ret, bits)),
            (k, _) => Err(self.trap(slot, TrapKind::from_code(k), code.tier)),
        }
    }

    fn trap(&self, slot: &Slot, kind: TrapKind, tier: Tier) -> Trap {
        self.sink.event(&Event::Trap {
            kernel: slot.name.clone(),
            tier,
            kind,
        });
        Trap { kind, tier }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let n = *self.nslots.get_mut();
        let mut mem = self.mem.lock();
        for i in 0..n {
            let p = self.slots[i].swap(core::ptr::null_mut(), Ordering::AcqRel);
            if p.is_null() {
                continue;
            }
            // SAFETY: the slot was created by Box::into_raw in `load` and is dropped once here;
            // no caller can run while the engine is being dropped (&mut self).
            let slot = unsafe { Box::from_raw(p) };
            let codes = core::mem::take(&mut *slot.owned.lock());
            for c in codes {
                mem.release(c.compiled.into_block());
            }
        }
    }
}
