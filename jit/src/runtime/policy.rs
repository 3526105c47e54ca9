//! The tier policy: when a function moves up a tier, what its argument profile records,
//! and which stable arguments T3 turns into constants.
//!
//! * [`target_tier`]: the tier a call count asks for (thresholds T1/T2/T3, capped by the
//!   configuration's `max_tier` and by the function's own cap, lowered after a compile
//!   error or a demotion).
//! * [`ArgProfile`]: per parameter, the last value and how many consecutive calls kept it,
//!   recorded only for the parameters [`worth_specializing`] selects, and only below T3.
//! * [`ArgProfile::stable_args`]: the (parameter, value) pairs T3 specializes on.

use crate::ir::walk::{assigned, is_assigned, visit_body_exprs};
use crate::ir::*;
use crate::runtime::values::Arg;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The tier `calls` calls ask for: the highest whose threshold they reached, no higher than
/// `max_tier` and the function's `cap` (a tier index).
pub(crate) fn target_tier(thresholds: &[u64; 3], max_tier: Tier, cap: u8, calls: u64) -> Tier {
    let want = if calls >= thresholds[2] {
        3
    } else if calls >= thresholds[1] {
        2
    } else if calls >= thresholds[0] {
        1
    } else {
        0
    };
    let cap = cap.min(max_tier as u8);
    Tier::from_index(want.min(cap) as usize).unwrap_or(Tier::T0)
}

/// Whether a call running at tier index `current` records the argument profile: only
/// T3 uses it, so it is recorded while a function is below T3 and T3 is allowed.
pub(crate) fn records_profile(current: u8, max_tier: Tier) -> bool {
    current < Tier::T3 as u8 && max_tier == Tier::T3
}

/// How many consecutive calls must keep an argument's value before T3 specializes on it.
fn stable_streak(t3_threshold: u64) -> u32 {
    (t3_threshold / 4).clamp(2, 256) as u32
}

/// A function's argument profile.
pub(crate) struct ArgProfile {
    /// Per parameter: the last value (bits).
    last: Vec<AtomicU64>,
    /// Per parameter: how many consecutive calls kept `last`.
    streak: Vec<AtomicU32>,
    /// Per parameter: whether T3 may specialize on it ([`worth_specializing`]).
    spec_ok: Vec<bool>,
}

impl ArgProfile {
    /// An empty profile for `f`.
    pub(crate) fn new(f: &Function) -> ArgProfile {
        let np = f.params.len();
        ArgProfile {
            last: (0..np).map(|_| AtomicU64::new(0)).collect(),
            streak: (0..np).map(|_| AtomicU32::new(0)).collect(),
            spec_ok: worth_specializing(f),
        }
    }

    /// Records one call's arguments (already checked against the signature).
    pub(crate) fn record(&self, args: &[Arg]) {
        for (i, a) in args.iter().enumerate() {
            // only what T3 may specialize on is worth the atomic traffic on every call
            if !self.spec_ok[i] {
                continue;
            }
            let bits = match a {
                Arg::I32(v) => *v as u32 as u64,
                Arg::I64(v) => *v as u64,
                Arg::Bool(v) => *v as u64,
                Arg::F32(v) => v.to_bits() as u64,
                Arg::F64(v) => v.to_bits(),
                _ => continue,
            };
            if self.last[i].swap(bits, Ordering::Relaxed) == bits {
                self.streak[i].fetch_add(1, Ordering::Relaxed);
            } else {
                self.streak[i].store(0, Ordering::Relaxed);
            }
        }
    }

    /// Scalar parameters whose value has been stable long enough for T3 (whose threshold
    /// is `t3_threshold`): (parameter index, value bits).
    pub(crate) fn stable_args(&self, params: &[ParamTy], t3_threshold: u64) -> Vec<(usize, u64)> {
        let need = stable_streak(t3_threshold);
        let mut v = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if matches!(p, ParamTy::Scalar(_))
                && self.spec_ok[i]
                && self.streak[i].load(Ordering::Relaxed) >= need
            {
                v.push((i, self.last[i].load(Ordering::Relaxed)));
            }
        }
        v
    }

    /// The parameters (indices) T3 may specialize on.
    pub(crate) fn specializable(&self) -> Vec<usize> {
        self.spec_ok
            .iter()
            .enumerate()
            .filter(|(_, ok)| **ok)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Which parameters T3 specializes on when the profile shows them stable: scalar
/// parameters the body never reassigns and uses where a constant changes the code — a
/// `bool` (its branches fold), an integer divisor or remainder modulus (a constant one
/// becomes a multiply and shifts), a shift amount, or an `f32` `pow` base (its log2 is
/// folded, see `mathf`). Elsewhere
/// a constant buys nothing measurable and can cost: specializing every stable argument
/// made primes' T3 about 25 % slower (same buffers, side by side), its loop bounds turned
/// into constants.
pub fn worth_specializing(f: &Function) -> Vec<bool> {
    let mut asg = Vec::new();
    assigned(&f.body, &mut asg);
    let mut useful: Vec<u32> = Vec::new();
    let mut note = |e: &Expr| {
        if let ExprKind::Local(l) = e.kind {
            useful.push(l);
        }
    };
    visit_body_exprs(&f.body, &mut |root: &Expr| {
        root.visit(&mut |e| match &e.kind {
            ExprKind::Binary(
                BinOp::Div | BinOp::Rem | BinOp::Shl | BinOp::Shr | BinOp::UShr,
                _,
                rhs,
            ) if !e.ty.is_float() => note(rhs),
            ExprKind::Intrinsic(Intrinsic::Udiv | Intrinsic::Urem, a) => note(&a[1]),
            ExprKind::Intrinsic(Intrinsic::Pow, a) if e.ty == Ty::F32 => note(&a[0]),
            _ => {}
        })
    });
    f.param_slots
        .iter()
        .map(|slot| match slot {
            ParamSlot::Local(l) => {
                (useful.contains(l) || f.locals[*l as usize] == Ty::Bool) && !is_assigned(&asg, *l)
            }
            _ => false,
        })
        .collect()
}
