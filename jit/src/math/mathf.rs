//! BareFlow's own single-precision `exp`, `sin`, `cos` and `pow`.
//!
//! These are what an IR `exp`/`sin`/`cos`/`pow` on `f32` means, in every tier. Each one is
//! a fixed sequence of IEEE-754 basic operations (add, subtract, multiply, compare,
//! integer bit manipulation of the float encoding; never a fused multiply-add), so the same
//! sequence emitted by the compiler — scalar in T2, four lanes at a time in T3's `f32x4`
//! loops (`codegen::lower::inline_math`) — yields bit-identical results. T0 and T1 call the
//! functions below; the compiled tiers inline them. That is what lets T3 vectorize
//! `softmax`, `silu` or `attention` without giving up the "same bits in every tier" rule.
//!
//! # Algorithms and accuracy
//!
//! - `exp`: argument clamped to [`EXP_LO`, `EXP_HI`] (below: the result rounds to 0, above:
//!   it overflows to +inf, as the true value does), `n = round(x·log2 e)` by the
//!   `1.5·2^23` rounding constant, two-constant (Cody–Waite) reduction `r = x − n·ln 2`,
//!   a degree-7 polynomial for `e^r` on |r| ≤ ln2/2 (Cephes' coefficients), and the
//!   scaling by `2^n` done as two exact power-of-two factors so that results in the
//!   subnormal range are rounded once. NaN stays NaN.
//! - `sin`/`cos`: for |x| ≤ [`TRIG_LIMIT`], quadrant `q = round(x·2/π)`, three-constant
//!   reduction `r = x − q·π/2` (|r| ≤ π/4), minimax polynomials for sin and cos on
//!   [−π/4, π/4] (Cephes' coefficients), the quadrant choosing polynomial and sign.
//!   Beyond the limit, and for inf/NaN, the `libm` routines (exact argument reduction).
//!
//! - `pow`: for a base `x > 0`, finite and not 1, `2^(y·log2 x)` computed in double
//!   precision ([`log2_f64`], [`exp2_to_f32`]: series with a truncation error below 2^-53)
//!   and rounded once to f32 — correctly rounded but for results within ~1e-7 ulp of a
//!   rounding boundary. Every other base (zero, negative, 1, inf, NaN), with its IEEE
//!   special cases, goes to `libm`. Because `log2 x` is a pure function of `x`, a compiler
//!   that knows `x` (a literal, or an argument T3 specialized on) folds it and emits only
//!   the `exp2` half, with the very same result.
//!
//! The accuracy is measured by the tests below against double-precision references on
//! millions of arguments and stated in `jit/IR.md`.

/// Below this `exp` returns +0 (e^-104 is under half the smallest subnormal).
pub const EXP_LO: f32 = -104.0;
/// Above this `exp` returns +inf (e^89 is over `f32::MAX`).
pub const EXP_HI: f32 = 89.0;
/// Adding then subtracting 1.5·2^23 rounds an f32 of magnitude < 2^22 to the nearest
/// integer (ties to even); the integer is then also the low bits of the sum's encoding.
pub const ROUND_MAGIC: f32 = 12_582_912.0;
/// log2(e): `e^x = 2^(x·LOG2_E)`, the factor that gives the power of two `n` of `exp`.
pub const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// ln 2 split in a part with few significant bits (exact products `n·LN2_HI`) and the rest.
pub const LN2_HI: f32 = 0.693_359_4; // = 355/512
/// ln 2 − `LN2_HI`: the low part, so `x − n·LN2_HI − n·LN2_LO` keeps the precision.
pub const LN2_LO: f32 = -2.121_944_4e-4;
/// `e^r ≈ 1 + r + r²·P(r)`, P's coefficients from the highest degree down.
pub const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_66,
    0.5,
];

/// `sin`/`cos` use the inline algorithm up to this magnitude, `libm` beyond: the
/// single-precision reduction loses accuracy near the zeros of large arguments (measured
/// worst error 2.1 ulp up to 64, 16 ulp up to 256, 144 ulp up to 8192).
pub const TRIG_LIMIT: f32 = 64.0;
/// 2/π: `q = round(x·FRAC_2_PI)` is the quadrant count of the reduction.
pub const FRAC_2_PI: f32 = core::f32::consts::FRAC_2_PI;
/// π/2 in three parts: `PIO2_1` has few significant bits, so `q·PIO2_1` is exact.
pub const PIO2_1: f32 = 1.570_312_5;
/// The second part of π/2 (also few significant bits).
pub const PIO2_2: f32 = 4.837_513e-4;
/// The rest: π/2 − `PIO2_1` − `PIO2_2`.
pub const PIO2_3: f32 = 7.549_79e-8;
/// `sin r ≈ r + r·z·S(z)`, `z = r²`, from the highest degree down.
pub const SIN_POLY: [f32; 3] = [-1.951_529_6e-4, 8.332_161e-3, -0.166_666_55];
/// `cos r ≈ 1 − z/2 + z²·C(z)`, from the highest degree down.
pub const COS_POLY: [f32; 3] = [2.443_315_7e-5, -1.388_731_6e-3, 4.166_664_6e-2];

/// Adding then subtracting 1.5·2^52 rounds an f64 of magnitude < 2^51 to an integer.
pub const ROUND_MAGIC_F64: f64 = 6_755_399_441_055_744.0;
/// `pow`'s exponent `y·log2 x` is clamped to ±this (2^±200 is far outside f32's range).
pub const EXP2_CLAMP: f64 = 200.0;
/// `e^u = Σ u^k/k!`, k = 13 down to 0 (|u| ≤ ln2/2: the first term left out is < 2^-56).
pub const EXP2_POLY: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// `ln m = 2s·Σ s^2k/(2k+1)`, `s = (m-1)/(m+1)`, k = 10 down to 0 (|s| ≤ 0.172).
pub const LN_SERIES: [f64; 11] = [
    1.0 / 21.0,
    1.0 / 19.0,
    1.0 / 17.0,
    1.0 / 15.0,
    1.0 / 13.0,
    1.0 / 11.0,
    1.0 / 9.0,
    1.0 / 7.0,
    1.0 / 5.0,
    1.0 / 3.0,
    1.0,
];

#[inline(always)]
fn horner(c: &[f32], x: f32) -> f32 {
    let mut p = c[0];
    for k in &c[1..] {
        p = p * x + *k;
    }
    p
}

/// 2^n for n in [-126, 127] (the callers keep it there).
#[inline(always)]
fn pow2(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(127) as u32) << 23)
}

/// `e^x` (see the module documentation).
pub fn expf(x: f32) -> f32 {
    // NaN passes through the clamp and poisons the polynomial
    let x = x.clamp(EXP_LO, EXP_HI);
    let t = x * LOG2_E + ROUND_MAGIC;
    let nf = t - ROUND_MAGIC;
    let n = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let r = (x - nf * LN2_HI) - nf * LN2_LO;
    let z = r * r;
    let y = horner(&EXP_POLY, r) * z + r + 1.0;
    let n1 = n >> 1;
    let n2 = n.wrapping_sub(n1);
    y * pow2(n1) * pow2(n2)
}

/// sin(x) (`cos == false`) or cos(x) for |x| ≤ [`TRIG_LIMIT`].
#[inline(always)]
fn sincos_reduced(x: f32, cos: bool) -> f32 {
    let t = x * FRAC_2_PI + ROUND_MAGIC;
    let qf = t - ROUND_MAGIC;
    // cos x = sin(x + π/2): one quadrant further
    let q = (t.to_bits() as i32)
        .wrapping_sub(ROUND_MAGIC.to_bits() as i32)
        .wrapping_add(cos as i32);
    let r = ((x - qf * PIO2_1) - qf * PIO2_2) - qf * PIO2_3;
    let z = r * r;
    let s = r + r * z * horner(&SIN_POLY, z);
    let c = (z * z * horner(&COS_POLY, z) - 0.5 * z) + 1.0;
    let v = if q & 1 == 0 { s } else { c };
    let v = if q & 2 == 0 { v } else { -v };
    // sin(±0) = ±0 (the polynomial would give +0 for -0)
    if x == 0.0 && !cos { x } else { v }
}

#[inline(always)]
fn horner64(c: &[f64], x: f64) -> f64 {
    let mut p = c[0];
    for k in &c[1..] {
        p = p * x + *k;
    }
    p
}

/// log2 x in double precision for a positive, finite, normal `x`.
pub fn log2_f64(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let ln_m = 2.0 * s * horner64(&LN_SERIES, s * s);
    e as f64 + ln_m * core::f64::consts::LOG2_E
}

/// `2^t` rounded to f32 (t computed in double precision; NaN stays NaN).
pub fn exp2_to_f32(t: f64) -> f32 {
    let t = t.clamp(-EXP2_CLAMP, EXP2_CLAMP);
    let k = t + ROUND_MAGIC_F64;
    let nf = k - ROUND_MAGIC_F64;
    let n = (k.to_bits() as i64).wrapping_sub(ROUND_MAGIC_F64.to_bits() as i64);
    let u = (t - nf) * core::f64::consts::LN_2;
    let p = horner64(&EXP2_POLY, u);
    let scale = f64::from_bits((n.wrapping_add(1023) as u64) << 52);
    (p * scale) as f32
}

/// Whether `pow` with this base takes the double-precision path (else `libm`).
pub fn pow_base_inline(x: f32) -> bool {
    x > 0.0 && x.is_finite() && x != 1.0
}

/// `x^y` (see the module documentation).
pub fn powf(x: f32, y: f32) -> f32 {
    if pow_base_inline(x) {
        exp2_to_f32(y as f64 * log2_f64(x as f64))
    } else {
        libm::powf(x, y)
    }
}

/// `sin x` (see the module documentation).
pub fn sinf(x: f32) -> f32 {
    if x.abs() <= TRIG_LIMIT {
        sincos_reduced(x, false)
    } else {
        libm::sinf(x)
    }
}

/// `cos x` (see the module documentation).
pub fn cosf(x: f32) -> f32 {
    if x.abs() <= TRIG_LIMIT {
        sincos_reduced(x, true)
    } else {
        libm::cosf(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `got` and the f64 reference.
    fn ulps(got: f32, want: f64) -> f64 {
        if got.is_nan() || want.is_nan() {
            return if got.is_nan() && want.is_nan() {
                0.0
            } else {
                f64::INFINITY
            };
        }
        let w = want as f32;
        if w.is_infinite() || got.is_infinite() {
            return if w == got { 0.0 } else { f64::INFINITY };
        }
        // the ulp of the reference's magnitude, never below the subnormal spacing
        let e = if w == 0.0 {
            -149
        } else {
            (libm::ilogbf(w) - 23).max(-149)
        };
        (got as f64 - want).abs() / 2f64.powi(e)
    }

    /// A deterministic stream of f32 in [lo, hi] (xorshift).
    fn sweep(lo: f32, hi: f32, n: usize, mut f: impl FnMut(f32)) {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..n {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            f((lo as f64 + (hi as f64 - lo as f64) * u) as f32);
        }
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_whole_range() {
        let mut worst = (0.0, 0.0f32);
        sweep(-104.0, 89.0, 2_000_000, |x| {
            let u = ulps(expf(x), (x as f64).exp());
            if u > worst.0 {
                worst = (u, x);
            }
        });
        sweep(-1.0, 1.0, 500_000, |x| {
            let u = ulps(expf(x), (x as f64).exp());
            if u > worst.0 {
                worst = (u, x);
            }
        });
        assert!(worst.0 <= 2.0, "exp: {} ulp at {:e}", worst.0, worst.1);
        std::println!("exp: worst {:.3} ulp at {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(expf(0.0), 1.0);
        assert_eq!(expf(-0.0), 1.0);
        assert_eq!(expf(f32::INFINITY), f32::INFINITY);
        assert_eq!(expf(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf(88.8), f32::INFINITY);
        assert_eq!(expf(-110.0), 0.0);
        assert!(expf(f32::NAN).is_nan());
        // subnormal results are rounded once
        for x in [-87.5f32, -90.0, -95.0, -100.0, -103.0] {
            assert!(ulps(expf(x), (x as f64).exp()) <= 1.0, "exp({x})");
        }
    }

    #[test]
    fn sin_and_cos_are_accurate_up_to_the_limit() {
        for (lo, hi, max) in [(-4.0f32, 4.0f32, 2.0), (-TRIG_LIMIT, TRIG_LIMIT, 3.0)] {
            let mut worst = (0.0, 0.0f32, "");
            sweep(lo, hi, 2_000_000, |x| {
                for (name, got, want) in [
                    ("sin", sinf(x), (x as f64).sin()),
                    ("cos", cosf(x), (x as f64).cos()),
                ] {
                    let u = ulps(got, want);
                    if u > worst.0 {
                        worst = (u, x, name);
                    }
                }
            });
            std::println!(
                "{}: worst {:.3} ulp at {:e} (±{hi})",
                worst.2,
                worst.0,
                worst.1
            );
            assert!(
                worst.0 <= max,
                "{}: {} ulp at {:e} (range ±{hi})",
                worst.2,
                worst.0,
                worst.1
            );
        }
    }

    #[test]
    fn pow_is_correctly_rounded_but_for_rare_ties() {
        let mut worst = (0.0, 0.0f32, 0.0f32);
        let mut s: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..2_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // bases over 2^-30..2^30, exponents in ±(a range that keeps results finite)
            let x = 2f32.powf(((s >> 40) as f32 / (1u64 << 24) as f32) * 60.0 - 30.0);
            let y = ((s & 0xFF_FFFF) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0;
            let u = ulps(powf(x, y), (x as f64).powf(y as f64));
            if u > worst.0 {
                worst = (u, x, y);
            }
        }
        std::println!(
            "pow: worst {:.4} ulp at {:e}^{:e}",
            worst.0,
            worst.1,
            worst.2
        );
        assert!(
            worst.0 <= 0.5001,
            "pow: {} ulp at {:e}^{:e}",
            worst.0,
            worst.1,
            worst.2
        );
        // rope's use: 10000^(-h/64)
        for h in 0..64 {
            let y = h as f32 / 64.0;
            assert!(ulps(powf(10000.0, y), 10000f64.powf(y as f64)) <= 0.5001);
        }
    }

    #[test]
    fn pow_special_values() {
        assert_eq!(powf(2.0, 3.0), 8.0);
        assert_eq!(powf(2.0, -1.0), 0.5);
        assert_eq!(powf(7.5, 0.0), 1.0);
        assert_eq!(powf(7.5, 1.0), 7.5);
        assert_eq!(powf(3.0, f32::INFINITY), f32::INFINITY);
        assert_eq!(powf(0.5, f32::INFINITY), 0.0);
        assert_eq!(powf(3.0, f32::NEG_INFINITY), 0.0);
        assert!(powf(3.0, f32::NAN).is_nan());
        assert_eq!(powf(10.0, 39.0), f32::INFINITY);
        assert_eq!(powf(10.0, -46.0), 0.0);
        assert!(ulps(powf(10.0, -40.0), 1e-40) <= 0.5001, "subnormal result");
        // the libm side: bases that are not positive finite, or 1
        for (x, y) in [
            (0.0f32, 2.0f32),
            (-2.0, 3.0),
            (-2.0, 0.5),
            (1.0, f32::NAN),
            (f32::INFINITY, -1.0),
        ] {
            let (a, b) = (powf(x, y), libm::powf(x, y));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x}^{y}"
            );
        }
    }

    #[test]
    fn sin_and_cos_special_values() {
        assert_eq!(sinf(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(sinf(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(cosf(0.0), 1.0);
        assert_eq!(cosf(-0.0), 1.0);
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert!(sinf(x).is_nan() && cosf(x).is_nan());
        }
        // beyond the limit: libm
        for x in [1.0e6f32, -3.0e4, 64.5, -100.0] {
            assert_eq!(sinf(x), libm::sinf(x));
            assert_eq!(cosf(x), libm::cosf(x));
        }
    }
}
