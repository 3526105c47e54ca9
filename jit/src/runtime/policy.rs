//! The tier policy: when a function moves up a tier, what its argument profile records,
//! and which stable arguments T3 turns into constants.
//!
//! * [`target_tier`]: the tier a call count asks for (thresholds T1/T2/T3, capped by the
//!   configuration's `max_tier` and by the function's own cap, lowered after a compile
//!   error or a demotion).
//! * [`ArgProfile`]: per parameter, the last value and how many consecutive calls kept it,
//!   recorded only for the parameters [`worth_specializing`] selects, and only below T3.
//! * [`ArgProfile::stable_args`]: the (parameter, value) pairs T3 specializes on.
//! * [`TierPolicy::Adaptive`]: the break-even policy ([`adaptive_pays_off`]) and what it
//!   learns across functions (`AdaptiveStats`).

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

/// How many consecutive calls must keep an argument's value before T3 specializes on it
/// (`None`: the adaptive policy, [`ADAPTIVE_STABLE_STREAK`]).
fn stable_streak(t3_threshold: Option<u64>) -> u32 {
    match t3_threshold {
        Some(t) => (t / 4).clamp(2, 256) as u32,
        None => ADAPTIVE_STABLE_STREAK,
    }
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
    /// is `t3_threshold`; `None` under the adaptive policy): (parameter index, value bits).
    pub(crate) fn stable_args(
        &self,
        params: &[ParamTy],
        t3_threshold: Option<u64>,
    ) -> Vec<(usize, u64)> {
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

/// How functions climb the tiers ([`crate::EngineConfig::policy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TierPolicy {
    /// At fixed call counts: [`crate::EngineConfig::thresholds`] (100/1000/10000 by default).
    #[default]
    Thresholds,
    /// When the time the next tier would have saved so far passes its compile cost (the
    /// break-even, or "ski rental", rule: never more than twice the best choice made
    /// knowing the future). Per function, the engine times every call below the top tier;
    /// the saving is `time at this tier x (1 - 1 / speed-up of the next tier)`, the cost the
    /// estimated compile time of the next tier. Both estimates start from
    /// [`PRIOR_SPEEDUP`] and [`PRIOR_COMPILE_NS`] and follow what this engine measures:
    /// the mean compile time per tier (scaled by how this function compiled at the tier
    /// below), and the mean speed-up a tier-up to that tier brought.
    Adaptive,
}

/// Speed-up of tier n over tier n - 1 assumed before the engine measured any (index n):
/// typical ratios of the catalog's host benchmark (benches/RESULTS.md: T1 over T0 about
/// 4-20x, T2 over T1 1.1-1.5x, T3 over T2 1-10x).
pub const PRIOR_SPEEDUP: [f64; 4] = [1.0, 8.0, 1.3, 1.5];

/// Compile time of tier n assumed before the engine measured any (index n), in ns: the
/// order of the catalog's host compile times (benches/RESULTS.md).
pub const PRIOR_COMPILE_NS: [u64; 4] = [0, 300_000, 600_000, 1_500_000];

/// The least speed-up the adaptive policy expects of a higher tier, whatever it measured:
/// under an emulator (QEMU TCG) T2 measured no faster than T1, and an expectation of 1x
/// would keep a kernel below T3 for good; with this floor it still climbs, once it has
/// spent eleven times the next tier's compile cost at its tier.
pub const ADAPTIVE_MIN_SPEEDUP: f64 = 1.1;

/// Calls timed at a tier before the adaptive policy decides on it (the first call of a
/// tier pays cold caches).
pub const ADAPTIVE_MIN_CALLS: u64 = 2;

/// Calls timed at a new tier before its measured speed-up over the tier below is learned.
pub const ADAPTIVE_LEARN_CALLS: u64 = 8;

/// Consecutive calls with the same value before the adaptive policy's T3 specializes on an
/// argument (the threshold policy asks for a quarter of the T3 threshold, at most 256).
pub const ADAPTIVE_STABLE_STREAK: u32 = 4;

/// Whether a function that has spent `time_ns` at its current tier should move to the next
/// one, whose speed-up is `speedup` and compile cost `compile_ns`: the time the next tier
/// would have saved, `time_ns x (1 - 1 / speedup)`, has reached the compile cost.
pub fn adaptive_pays_off(time_ns: u64, speedup: f64, compile_ns: u64) -> bool {
    if speedup <= 1.0 {
        return false;
    }
    time_ns as f64 * (1.0 - 1.0 / speedup) >= compile_ns as f64
}

/// Calls after which a tier pays for itself: its compile cost over the time it saves per
/// call (`per_call_ns` at the tier below, `next_per_call_ns` at this tier). `None` when it
/// saves nothing.
pub fn break_even_calls(per_call_ns: f64, next_per_call_ns: f64, compile_ns: f64) -> Option<f64> {
    let saved = per_call_ns - next_per_call_ns;
    (saved > 0.0).then(|| compile_ns / saved)
}

/// What the adaptive policy has measured across the engine's functions, per tier.
pub(crate) struct AdaptiveStats {
    /// Sum of compile times (ns) and number of compiles per tier.
    compile_ns: [AtomicU64; 4],
    compiles: [AtomicU64; 4],
    /// Sum of measured speed-ups over the tier below (x 1000) and how many, per tier.
    speedup_milli: [AtomicU64; 4],
    speedups: [AtomicU64; 4],
}

impl AdaptiveStats {
    pub(crate) fn new() -> AdaptiveStats {
        AdaptiveStats {
            compile_ns: Default::default(),
            compiles: Default::default(),
            speedup_milli: Default::default(),
            speedups: Default::default(),
        }
    }

    /// Records a compile of `tier` that took `ns`.
    pub(crate) fn record_compile(&self, tier: usize, ns: u64) {
        if tier < 4 {
            self.compile_ns[tier].fetch_add(ns, Ordering::Relaxed);
            self.compiles[tier].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a measured speed-up of `tier` over the tier below (kept within 1..=1000).
    pub(crate) fn record_speedup(&self, tier: usize, speedup: f64) {
        if tier < 4 && speedup.is_finite() {
            let s = speedup.clamp(1.0, 1000.0);
            self.speedup_milli[tier].fetch_add((s * 1000.0) as u64, Ordering::Relaxed);
            self.speedups[tier].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Mean compile time of `tier` so far, if any.
    fn mean_compile_ns(&self, tier: usize) -> Option<f64> {
        let n = self.compiles[tier].load(Ordering::Relaxed);
        (n > 0).then(|| self.compile_ns[tier].load(Ordering::Relaxed) as f64 / n as f64)
    }

    /// The speed-up expected of `tier` over the tier below: the mean measured one, else
    /// the prior; at least [`ADAPTIVE_MIN_SPEEDUP`].
    pub(crate) fn speedup(&self, tier: usize) -> f64 {
        let n = self.speedups[tier].load(Ordering::Relaxed);
        let s = if n == 0 {
            PRIOR_SPEEDUP[tier]
        } else {
            self.speedup_milli[tier].load(Ordering::Relaxed) as f64 / 1000.0 / n as f64
        };
        s.max(ADAPTIVE_MIN_SPEEDUP)
    }

    /// The compile time expected of `tier` for a function whose compile at the tier below
    /// took `below_ns` (0: none measured): the engine's mean at `tier`, scaled by how this
    /// function compared with the mean at the tier below; the prior when nothing was
    /// measured at `tier`.
    pub(crate) fn compile_estimate(&self, tier: usize, below_ns: u64) -> u64 {
        let Some(mean) = self.mean_compile_ns(tier) else {
            return PRIOR_COMPILE_NS[tier];
        };
        let scale = match (tier > 1 && below_ns > 0, self.mean_compile_ns(tier - 1)) {
            (true, Some(m)) if m > 0.0 => below_ns as f64 / m,
            _ => 1.0,
        };
        (mean * scale) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_tiers_up_once_the_saving_passes_the_compile_cost() {
        // 2 ms at T2, T3 twice as fast: it would have saved 1 ms
        assert!(adaptive_pays_off(2_000_000, 2.0, 1_000_000));
        assert!(!adaptive_pays_off(1_999_000, 2.0, 1_000_000));
        // nothing spent yet, or a next tier that is no faster: never
        assert!(!adaptive_pays_off(0, 8.0, 1));
        assert!(!adaptive_pays_off(u64::MAX / 2, 1.0, 1));
        assert!(!adaptive_pays_off(u64::MAX / 2, 0.5, 1));
    }

    #[test]
    fn break_even_is_the_compile_cost_over_the_saving_per_call() {
        assert_eq!(break_even_calls(100.0, 50.0, 1000.0), Some(20.0));
        assert_eq!(break_even_calls(50.0, 60.0, 1000.0), None);
        assert_eq!(break_even_calls(50.0, 50.0, 1000.0), None);
    }

    #[test]
    fn adaptive_estimates_start_from_the_priors_and_follow_the_measurements() {
        let s = AdaptiveStats::new();
        for t in 1..4 {
            assert_eq!(s.speedup(t), PRIOR_SPEEDUP[t]);
            assert_eq!(s.compile_estimate(t, 123), PRIOR_COMPILE_NS[t]);
        }
        s.record_compile(1, 400_000);
        s.record_compile(1, 600_000);
        s.record_compile(2, 1_000_000);
        // T1: the mean; T2: the mean scaled by how this function compiled at T1
        assert_eq!(s.compile_estimate(1, 0), 500_000);
        assert_eq!(s.compile_estimate(2, 250_000), 500_000);
        assert_eq!(s.compile_estimate(2, 0), 1_000_000);
        // T3 still unmeasured: the prior
        assert_eq!(s.compile_estimate(3, 1_000_000), PRIOR_COMPILE_NS[3]);
        s.record_speedup(3, 4.0);
        s.record_speedup(3, 2.0);
        assert_eq!(s.speedup(3), 3.0);
        // a slower tier counts as no speed-up (1x), and the expectation keeps its floor
        s.record_speedup(2, 0.5);
        assert_eq!(s.speedup(2), ADAPTIVE_MIN_SPEEDUP);
    }

    #[test]
    fn adaptive_specializes_after_a_short_streak() {
        assert_eq!(stable_streak(None), ADAPTIVE_STABLE_STREAK);
        assert_eq!(stable_streak(Some(10_000)), 256);
        assert_eq!(stable_streak(Some(4)), 2);
    }
}
