//! The tiers that run IR: the T0 interpreter and three Cranelift tiers.

use core::fmt;

/// An execution tier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum Tier {
    /// Bytecode interpreter.
    T0,
    /// Cranelift, `opt_level=none`, every check kept.
    T1,
    /// Cranelift, `opt_level=speed`, bounds checks hoisted by loop versioning, strength reduction.
    T2,
    /// T2 + argument specialization behind a guard, unrolling, f32x4 vectorization.
    T3,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 4] = [Tier::T0, Tier::T1, Tier::T2, Tier::T3];
    /// 0 for T0 up to 3 for T3 (an index into per-tier tables).
    pub fn index(self) -> usize {
        self as usize
    }
    /// The tier with this [`Tier::index`], `None` above 3.
    pub fn from_index(i: usize) -> Option<Tier> {
        Tier::ALL.get(i).copied()
    }
    /// `"T0"` .. `"T3"`, as written in the trace.
    pub fn name(self) -> &'static str {
        ["T0", "T1", "T2", "T3"][self as usize]
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
