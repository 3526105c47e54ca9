//! The exponential of the forward pass: the IR's `exp`.
//!
//! [`expf`] is the very sequence of IEEE-754 operations of the JIT's single-precision
//! `exp` (`jit::mathf::expf`, what an IR `exp` on `f32` means at every tier), written out
//! again here so that this crate does not depend on the JIT. [`crate::PlainOps`] uses it
//! in softmax and SwiGLU, so the JIT-compiled ops (`llama.bfir`) give the same bits as
//! the plain ones and generate the same tokens. Accuracy: at most 0.98 ulp from the
//! true value (measured by `jit`'s tests). The `jit` feature's tests check this copy
//! against the JIT's, bit for bit, on a sweep of every range of the f32 encodings.
//!
//! Algorithm: the argument is clamped to [-104, 89] (below, the result rounds to 0;
//! above, it overflows to +inf), `n = round(x·log2 e)` by the `1.5·2^23` rounding
//! constant, a two-constant reduction `r = x − n·ln 2`, a degree-7 polynomial for `e^r`,
//! and the scaling by `2^n` as two exact power-of-two factors. No fused multiply-add.

/// Below this `expf` returns +0.
const EXP_LO: f32 = -104.0;
/// Above this `expf` returns +inf.
const EXP_HI: f32 = 89.0;
/// Adding then subtracting 1.5·2^23 rounds an f32 of magnitude < 2^22 to an integer.
const ROUND_MAGIC: f32 = 12_582_912.0;
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// ln 2 in a part with few significant bits (exact products `n·LN2_HI`) and the rest.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `e^r ≈ 1 + r + r²·P(r)`, P's coefficients from the highest degree down.
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_66,
    0.5,
];

/// 2^n for n in [-126, 127].
#[inline(always)]
fn pow2(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(127) as u32) << 23)
}

/// `e^x` (see the module documentation). NaN stays NaN.
#[inline]
pub fn expf(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let t = x * LOG2_E + ROUND_MAGIC;
    let nf = t - ROUND_MAGIC;
    let n = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let r = (x - nf * LN2_HI) - nf * LN2_LO;
    let z = r * r;
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = p * r + *c;
    }
    let y = p * z + r + 1.0;
    let n1 = n >> 1;
    let n2 = n.wrapping_sub(n1);
    y * pow2(n1) * pow2(n2)
}
