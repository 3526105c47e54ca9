//! The IR's traps: every tier stops a call for the same reasons, and compiled code
//! reports them by the same numeric codes the engine decodes.

use core::fmt;

/// Why a kernel call stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapKind {
    /// A buffer index outside `0..len`, or a sub-slice `lo..hi` without `0 <= lo <= hi <= len`.
    OutOfBounds,
    /// Integer `/ % udiv urem` by zero (`MIN / -1` wraps, it does not trap).
    DivisionByZero,
    /// Calls nested deeper than the engine's limit, or (compiled tiers) a call that would
    /// leave less than the stack reserve of native stack.
    CallDepth,
    /// A `for ... step s` loop with `s <= 0`.
    BadStep,
    /// The arguments do not match the function's signature (checked before running).
    BadArguments,
}

impl TrapKind {
    pub(crate) fn code(self) -> u32 {
        match self {
            TrapKind::OutOfBounds => 1,
            TrapKind::DivisionByZero => 2,
            TrapKind::CallDepth => 3,
            TrapKind::BadStep => 4,
            TrapKind::BadArguments => 5,
        }
    }
    pub(crate) fn from_code(c: u32) -> TrapKind {
        match c {
            1 => TrapKind::OutOfBounds,
            2 => TrapKind::DivisionByZero,
            3 => TrapKind::CallDepth,
            4 => TrapKind::BadStep,
            _ => TrapKind::BadArguments,
        }
    }
    /// The words written as the `reason` of a `trap` event.
    pub fn name(self) -> &'static str {
        match self {
            TrapKind::OutOfBounds => "out of bounds",
            TrapKind::DivisionByZero => "division by zero",
            TrapKind::CallDepth => "call depth exceeded",
            TrapKind::BadStep => "bad step",
            TrapKind::BadArguments => "bad arguments",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
