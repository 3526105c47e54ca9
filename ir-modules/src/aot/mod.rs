//! The AOT Rust baselines: the catalog's algorithms as plain Rust.
//!
//! Each function implements exactly the algorithm of its `.bfir` file with the same
//! floating-point operation order (no FMA contraction, no reordering), so its outputs
//! equal T0's bit for bit and the benchmarks compare the same work. The baselines check
//! their arguments up front and return an [`AotError`] where the IR would trap, instead
//! of panicking; they are not meant to reproduce the partial writes of a trapping call.
//!
//! [`run`] dispatches on the kernel name with the arguments of a
//! [`Workload`](crate::Workload). On x86_64, [`run_native`] is the same code compiled
//! with AVX2 and FMA enabled (every baseline is `#[inline(always)]`, so it is
//! instantiated inside that function; the recursive helpers of quicksort and fibonacci
//! stay baseline code).
#![allow(clippy::needless_range_loop)] // index loops mirror the IR on purpose

mod fft;
mod ints;
mod linalg;
mod nn;
mod physics;
mod sha256;
mod text;

pub use fft::fft;
pub use ints::{fib, primes, sort};
pub use linalg::{attention, gemm_tile, matmul, matvec};
pub use nn::{rmsnorm, rope, silu, softmax, swiglu};
pub use physics::physics_step;
pub use sha256::sha256;
pub use text::{regex_dfa, strops};

use core::fmt;

use jit::{TrapKind, Value};

use crate::workload::{Data, Param};

/// The IR's default call-depth limit, mirrored by the recursive baselines.
pub const CALL_DEPTH_LIMIT: u32 = 512;

/// Why a baseline did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AotError {
    /// The arguments do not have the kernel's parameter types.
    BadArguments(&'static str),
    /// The IR kernel would trap with this kind on these arguments.
    WouldTrap(TrapKind),
    /// Arguments the baseline does not handle (the IR gives some defined result).
    Unsupported(&'static str),
    /// No baseline of that name.
    UnknownKernel,
}

impl fmt::Display for AotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AotError::BadArguments(what) => write!(f, "bad arguments: {what}"),
            AotError::WouldTrap(kind) => write!(f, "the IR would trap: {kind:?}"),
            AotError::Unsupported(what) => write!(f, "unsupported by the baseline: {what}"),
            AotError::UnknownKernel => write!(f, "no AOT baseline of that name"),
        }
    }
}

/// Non-negative i32 sizes as usize; negative ones act like 0 (empty loops), as in the IR.
#[inline(always)]
pub(crate) fn dims<const N: usize>(v: [i32; N]) -> [usize; N] {
    v.map(|x| x.max(0) as usize)
}

/// `have >= need` or the IR would index past the end.
#[inline(always)]
pub(crate) fn check_len(have: usize, need: usize) -> Result<(), AotError> {
    if have >= need {
        Ok(())
    } else {
        Err(AotError::WouldTrap(TrapKind::OutOfBounds))
    }
}

/// IEEE 754-2019 `maximum` (the IR's `max` on floats): NaN if either is NaN, -0 < +0.
#[inline(always)]
pub(crate) fn max_ieee(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a > b {
        a
    } else if b > a || a.is_sign_negative() {
        // b > a, or equal values where a may be -0
        b
    } else {
        a
    }
}

const SHAPE: AotError = AotError::BadArguments("parameter types do not match the kernel");

fn unit(r: Result<(), AotError>) -> Result<Value, AotError> {
    r.map(|()| Value::Unit)
}

fn int(r: Result<i32, AotError>) -> Result<Value, AotError> {
    r.map(Value::I32)
}

use Data::{F32, I32, U8};
use Param::{In, Out};

/// Runs the baseline of kernel `name` (a catalog name) on `params`.
#[inline(always)]
pub fn run(name: &str, params: &mut [Param]) -> Result<Value, AotError> {
    match (name, params) {
        (
            "matmul",
            [
                In(F32(a)),
                In(F32(b)),
                Out(F32(c)),
                Param::I32(m),
                Param::I32(n),
                Param::I32(k),
            ],
        ) => unit(matmul(a, b, c, *m, *n, *k)),
        (
            "gemm_tile",
            [
                In(F32(a)),
                In(F32(b)),
                Out(F32(c)),
                Param::I32(m),
                Param::I32(n),
                Param::I32(k),
                Param::I32(t),
            ],
        ) => unit(gemm_tile(a, b, c, *m, *n, *k, *t)),
        (
            "matvec" | "matvec_ffn",
            [
                In(F32(w)),
                In(F32(x)),
                Out(F32(y)),
                Param::I32(r),
                Param::I32(c),
            ],
        ) => unit(matvec(w, x, y, *r, *c)),
        (
            "attention",
            [
                In(F32(q)),
                In(F32(k)),
                In(F32(v)),
                Out(F32(o)),
                Out(F32(s)),
                Param::I32(seq),
                Param::I32(d),
            ],
        ) => unit(attention(q, k, v, o, s, *seq, *d)),
        (
            "rmsnorm",
            [
                In(F32(x)),
                In(F32(w)),
                Out(F32(o)),
                Param::I32(n),
                Param::F32(eps),
            ],
        ) => unit(rmsnorm(x, w, o, *n, *eps)),
        ("softmax", [Out(F32(x)), Param::I32(n)]) => unit(softmax(x, *n)),
        (
            "rope",
            [
                Out(F32(x)),
                Param::I32(pos),
                Param::I32(dim),
                Param::I32(hd),
                Param::F32(theta),
            ],
        ) => unit(rope(x, *pos, *dim, *hd, *theta)),
        ("silu", [Out(F32(x)), Param::I32(n)]) => unit(silu(x, *n)),
        ("swiglu", [Out(F32(g)), In(F32(u)), Param::I32(n)]) => unit(swiglu(g, u, *n)),
        ("fft", [Out(F32(re)), Out(F32(im)), Param::I32(n)]) => int(fft(re, im, *n)),
        (
            "sha256",
            [
                In(U8(data)),
                Param::I32(len),
                Out(U8(digest)),
                Out(I32(state)),
                Out(I32(w)),
            ],
        ) => unit(sha256(data, *len, digest, state, w)),
        (
            "regex_dfa",
            [
                In(U8(text)),
                Param::I32(n),
                In(U8(classes)),
                In(I32(table)),
                In(U8(accept)),
                Param::I32(nc),
                Param::I32(start),
            ],
        ) => int(regex_dfa(text, *n, classes, table, accept, *nc, *start)),
        (
            "physics_step",
            [
                Out(F32(x)),
                Out(F32(y)),
                Out(F32(px)),
                Out(F32(py)),
                In(F32(p)),
                Param::I32(n),
            ],
        ) => unit(physics_step(x, y, px, py, p, *n)),
        ("quicksort", [Out(I32(a)), Param::I32(n)]) => unit(sort(a, *n)),
        ("primes", [Out(U8(s)), Param::I32(n)]) => int(primes(s, *n)),
        ("fibonacci", [Param::I32(n)]) => int(fib(*n)),
        (
            "strops",
            [
                In(U8(t)),
                In(U8(p)),
                Out(U8(o)),
                Param::I32(n),
                Param::I32(m),
            ],
        ) => int(strops(t, p, o, *n, *m)),
        (
            "matmul" | "gemm_tile" | "matvec" | "matvec_ffn" | "attention" | "rmsnorm" | "softmax"
            | "rope" | "silu" | "swiglu" | "fft" | "sha256" | "regex_dfa" | "physics_step"
            | "quicksort" | "primes" | "fibonacci" | "strops",
            _,
        ) => Err(SHAPE),
        _ => Err(AotError::UnknownKernel),
    }
}

/// [`run`] compiled with AVX2 and FMA enabled (the "AOT, target-cpu=native" column of
/// the benchmarks).
///
/// # Safety
/// The CPU must support AVX2 and FMA (check CPUID first, e.g. with
/// `is_x86_feature_detected!` on the host).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn run_native(name: &str, params: &mut [Param]) -> Result<Value, AotError> {
    run(name, params)
}

#[cfg(test)]
mod tests;
