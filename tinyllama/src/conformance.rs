//! A conformance check for other [`Ops`] implementations (such as the
//! kernel's JIT-slot ops): every op is run on deterministic random inputs of
//! several shapes, including sizes that are not multiples of any SIMD width,
//! and compared with [`PlainOps`]; and every matvec is checked for row-split
//! invariance (the forward pass splits rows over workers, see
//! [`crate::ops`]), bit-exactly whatever the tolerance.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::ops::{OpError, OpResult, Ops, PlainOps};
use crate::sampler::Rng;
use crate::tensor::{f32_to_f16, quantize_q8};

/// The first case where the implementation under test fails.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The op returned an error.
    Error {
        /// Which op and shape.
        case: String,
        /// The error.
        error: OpError,
    },
    /// An output element differs from [`PlainOps`] by more than the tolerance.
    Mismatch {
        /// Which op and shape.
        case: String,
        /// Index of the first offending element.
        index: usize,
        /// The value from the implementation under test.
        got: f32,
        /// The value from [`PlainOps`].
        expected: f32,
    },
}

impl Failure {
    /// Which op and shape failed.
    pub fn case(&self) -> &str {
        match self {
            Failure::Error { case, .. } | Failure::Mismatch { case, .. } => case,
        }
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Error { case, error } => {
                write!(f, "{case}: the op failed: {}: {}", error.op, error.reason)
            }
            Failure::Mismatch {
                case,
                index,
                got,
                expected,
            } => write!(
                f,
                "{case}: element {index} is {got} but PlainOps gives {expected}"
            ),
        }
    }
}

/// Turns an op's error into a [`Failure`].
fn ran(case: &str, r: OpResult) -> Result<(), Failure> {
    r.map_err(|error| Failure::Error {
        case: String::from(case),
        error,
    })
}

fn random(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
        .collect()
}

/// Compares `got` with `expected`: each element may differ by `tol` times
/// the largest magnitude in `expected` (relative-to-max tolerance).
fn compare(case: &str, got: &[f32], expected: &[f32], tol: f32) -> Result<(), Failure> {
    let scale = expected
        .iter()
        .fold(0.0f32, |m, v| m.max(libm::fabsf(*v)))
        .max(f32::MIN_POSITIVE);
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let ok = libm::fabsf(g - e) <= tol * scale;
        if !ok {
            return Err(Failure::Mismatch {
                case: String::from(case),
                index: i,
                got: *g,
                expected: *e,
            });
        }
    }
    Ok(())
}

/// Runs `matvec(out, first_row, rows)` on the whole matrix, then on the
/// row ranges `0..a`, `a..b`, `b..rows`, and demands bit-identical rows.
fn split_invariant(
    case: &str,
    rows: usize,
    mut matvec: impl FnMut(&mut [f32], usize, usize) -> OpResult,
) -> Result<(), Failure> {
    let mut whole = vec![0.0; rows];
    ran(case, matvec(&mut whole, 0, rows))?;
    let mut parts = vec![0.0; rows];
    let (a, b) = (rows / 3, rows - rows / 4);
    for (start, end) in [(0, a), (a, b), (b, rows)] {
        if start < end {
            ran(case, matvec(&mut parts[start..end], start, end - start))?;
        }
    }
    let split = format!("{case}, rows split at {a} and {b}");
    compare(&split, &parts, &whole, 0.0)
}

/// Runs every op of `ops` against [`PlainOps`]; `tol` is relative to the
/// largest magnitude of each expected vector (1e-5 suits a reassociating
/// fp32 implementation; 0 demands bit-exact results). Row-split invariance
/// is always checked bit-exactly.
pub fn check<O: Ops>(ops: &O, tol: f32) -> Result<(), Failure> {
    let plain = PlainOps;
    let mut rng = Rng::new(0x00C0_FFEE);
    for &(rows, cols) in &[(1, 1), (3, 7), (5, 33), (16, 64), (9, 288), (4, 1000)] {
        let w = random(&mut rng, rows * cols, 1.0);
        let x = random(&mut rng, cols, 1.0);
        let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
        let case = format!("matvec {rows}x{cols}");
        ran(&case, ops.matvec(&mut a, &w, &x, rows, cols))?;
        ran(&case, plain.matvec(&mut b, &w, &x, rows, cols))?;
        compare(&case, &a, &b, tol)?;
        split_invariant(&case, rows, |out, first, n| {
            ops.matvec(out, &w[first * cols..(first + n) * cols], &x, n, cols)
        })?;

        let w16: Vec<u16> = w.iter().map(|&v| f32_to_f16(v)).collect();
        let case = format!("matvec_f16 {rows}x{cols}");
        ran(&case, ops.matvec_f16(&mut a, &w16, &x, rows, cols))?;
        ran(&case, plain.matvec_f16(&mut b, &w16, &x, rows, cols))?;
        compare(&case, &a, &b, tol)?;
        split_invariant(&case, rows, |out, first, n| {
            ops.matvec_f16(out, &w16[first * cols..(first + n) * cols], &x, n, cols)
        })?;
    }
    for &(rows, cols, group) in &[
        (1, 32, 32),
        (3, 96, 32),
        (7, 288, 32),
        (2, 10, 2),
        (4, 192, 64),
    ] {
        let w = random(&mut rng, rows * cols, 1.0);
        let x = random(&mut rng, cols, 1.0);
        let (mut wq, mut ws) = (vec![0i8; rows * cols], vec![0.0; rows * cols / group]);
        let (mut xq, mut xs) = (vec![0i8; cols], vec![0.0; cols / group]);
        quantize_q8(&mut wq, &mut ws, &w, group);
        quantize_q8(&mut xq, &mut xs, &x, group);
        let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
        let case = format!("matvec_q8 {rows}x{cols}/{group}");
        ran(
            &case,
            ops.matvec_q8(&mut a, &wq, &ws, &xq, &xs, rows, cols, group),
        )?;
        ran(
            &case,
            plain.matvec_q8(&mut b, &wq, &ws, &xq, &xs, rows, cols, group),
        )?;
        compare(&case, &a, &b, tol)?;
        let per_row = cols / group;
        split_invariant(&case, rows, |out, first, n| {
            let q = &wq[first * cols..(first + n) * cols];
            let s = &ws[first * per_row..(first + n) * per_row];
            ops.matvec_q8(out, q, s, &xq, &xs, n, cols, group)
        })?;
    }
    for &n in &[1, 3, 17, 64, 288, 2048] {
        let x = random(&mut rng, n, 4.0);
        let w = random(&mut rng, n, 1.0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        let case = format!("rmsnorm {n}");
        ran(&case, ops.rmsnorm(&mut a, &x, &w, 1e-5))?;
        ran(&case, plain.rmsnorm(&mut b, &x, &w, 1e-5))?;
        compare(&case, &a, &b, tol)?;

        let s = random(&mut rng, n, 10.0);
        let (mut a, mut b) = (s.clone(), s);
        let case = format!("softmax {n}");
        ran(&case, ops.softmax(&mut a))?;
        ran(&case, plain.softmax(&mut b))?;
        compare(&case, &a, &b, tol)?;

        let g = random(&mut rng, n, 5.0);
        let u = random(&mut rng, n, 1.0);
        let (mut a, mut b) = (g.clone(), g);
        let case = format!("swiglu {n}");
        ran(&case, ops.swiglu(&mut a, &u))?;
        ran(&case, plain.swiglu(&mut b, &u))?;
        compare(&case, &a, &b, tol)?;
    }
    for &(heads, hs, pos) in &[(1, 2, 0), (3, 6, 5), (4, 64, 100), (32, 64, 2047)] {
        let x = random(&mut rng, heads * hs, 1.0);
        let half = hs / 2;
        let mut cos = Vec::with_capacity(half);
        let mut sin = Vec::with_capacity(half);
        for j in 0..half {
            let angle = pos as f64 * libm::pow(10000.0, -2.0 * j as f64 / hs as f64);
            cos.push(libm::cos(angle) as f32);
            sin.push(libm::sin(angle) as f32);
        }
        let (mut a, mut b) = (x.clone(), x);
        let case = format!("rope {heads}x{hs} at {pos}");
        ran(&case, ops.rope(&mut a, &cos, &sin, hs))?;
        ran(&case, plain.rope(&mut b, &cos, &sin, hs))?;
        compare(&case, &a, &b, tol)?;
    }
    for &(n_pos, hs, kv_heads, kvh) in &[(1, 2, 1, 0), (7, 6, 2, 1), (100, 64, 4, 3)] {
        let stride = hs * kv_heads;
        let kc = random(&mut rng, n_pos * stride, 1.0);
        let vc = random(&mut rng, n_pos * stride, 1.0);
        let q = random(&mut rng, hs, 2.0);
        let (mut a, mut b) = (vec![0.0; hs], vec![0.0; hs]);
        let (sa, sb) = (vec![0.0; n_pos], vec![0.0; n_pos]);
        let case = format!("attention {n_pos} positions, head size {hs}");
        let (offset, mut sa, mut sb) = (kvh * hs, sa, sb);
        ran(
            &case,
            ops.attention(&mut a, &q, &kc, &vc, &mut sa, n_pos, hs, stride, offset),
        )?;
        ran(
            &case,
            plain.attention(&mut b, &q, &kc, &vc, &mut sb, n_pos, hs, stride, offset),
        )?;
        compare(&case, &a, &b, tol)?;
    }
    Ok(())
}
