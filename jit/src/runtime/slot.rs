//! A slot: one loaded function's current entry, its compiled code and its counters.
//!
//! The entry is an `AtomicPtr<Code>` (null = the T0 interpreter). A [`Code`] is complete
//! and executable before the Release store that publishes it, and it is never freed while
//! the engine lives (the slot owns every code object it ever published), so a concurrent
//! caller runs either the old entry or the new one, never a half-published one.

use super::code::Compiled;
use super::policy::ArgProfile;
use crate::ir::{Module, ParamTy, Tier, Ty};
use crate::sync::SpinLock;
use crate::t0::Program;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64};

/// A loaded module with its bytecode.
pub(crate) struct Loaded {
    pub module: Module,
    pub program: Program,
}

/// A piece of published code.
pub(crate) struct Code {
    pub tier: Tier,
    pub compiled: Compiled,
    /// For a specialized T3 entry: the T2 code run on a guard miss.
    pub fallback: *const Code,
}

// SAFETY: the raw pointers in Slot/Code point to Code objects owned by `owned` (never
// freed before the engine drops) and to immutable machine code; all mutation is atomic
// or behind the spin lock.
unsafe impl Send for Code {}
// SAFETY: as above.
unsafe impl Sync for Code {}

pub(crate) struct Slot {
    pub loaded: Arc<Loaded>,
    pub index: usize,
    pub name: String,
    pub params: Vec<ParamTy>,
    pub ret: Ty,
    pub calls: AtomicU64,
    pub entry: AtomicPtr<Code>,
    pub current: AtomicU8,
    /// Compiled versions by tier (T1..T3; index 0 unused).
    pub tiers: [AtomicPtr<Code>; 4],
    /// Highest tier this function may reach (lowered after a compile error or demotion).
    pub cap: AtomicU8,
    pub compiling: AtomicBool,
    /// Background mode: the highest tier a request was queued for (each tier is queued
    /// once, so a request made while an earlier one is still being served is never lost).
    pub requested: AtomicU8,
    /// The argument profile T3 specializes from.
    pub profile: ArgProfile,
    pub deopts: AtomicU64,
    /// Adaptive policy: time (ns) and calls at the current tier, the per-call time at the
    /// tier below (ns, 0: none), the compile time of the current tier (ns), and whether
    /// the current tier's speed-up was learned.
    pub tier_time_ns: AtomicU64,
    pub tier_calls: AtomicU64,
    pub below_per_call_ns: AtomicU64,
    pub tier_compile_ns: AtomicU64,
    pub speedup_learned: AtomicBool,
    /// Owns every code object ever published for this slot (boxed: slots and callers
    /// hold raw pointers to them, which must stay valid when the vector grows).
    #[allow(clippy::vec_box)]
    pub owned: SpinLock<Vec<Box<Code>>>,
}

impl Slot {
    /// A slot at T0 for function `index` of `loaded`, allowed up to `max_tier`.
    pub fn new(loaded: Arc<Loaded>, index: usize, max_tier: Tier) -> Slot {
        let f = &loaded.module.funcs[index];
        Slot {
            index,
            name: f.name.clone(),
            params: f.params.clone(),
            ret: f.ret,
            calls: AtomicU64::new(0),
            entry: AtomicPtr::new(core::ptr::null_mut()),
            current: AtomicU8::new(0),
            tiers: Default::default(),
            cap: AtomicU8::new(max_tier as u8),
            compiling: AtomicBool::new(false),
            requested: AtomicU8::new(0),
            profile: ArgProfile::new(f),
            deopts: AtomicU64::new(0),
            tier_time_ns: AtomicU64::new(0),
            tier_calls: AtomicU64::new(0),
            below_per_call_ns: AtomicU64::new(0),
            tier_compile_ns: AtomicU64::new(0),
            speedup_learned: AtomicBool::new(true),
            owned: SpinLock::new(Vec::new()),
            loaded,
        }
    }
}
