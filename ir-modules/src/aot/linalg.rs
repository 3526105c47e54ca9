//! AOT baselines of matmul, gemm_tile, matvec and attention.
//!
//! Same loops and the same floating-point operation order as the `.bfir` sources:
//! sums start at 0.0 and add the products in increasing index, nothing is fused.

use super::{AotError, check_len, dims, max_ieee};
use jit::TrapKind;

/// C = A x B (see `matmul.bfir`).
#[inline(always)]
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) -> Result<(), AotError> {
    let [m, n, k] = dims([m, n, k]);
    check_len(a.len(), m * k)?;
    check_len(b.len(), k * n)?;
    check_len(c.len(), m * n)?;
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = acc;
        }
    }
    Ok(())
}

/// Tiled C = A x B (see `gemm_tile.bfir`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn gemm_tile(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: i32,
    n: i32,
    k: i32,
    tile: i32,
) -> Result<(), AotError> {
    let [m, n, k] = dims([m, n, k]);
    if tile <= 0 && m > 0 {
        return Err(AotError::WouldTrap(TrapKind::BadStep));
    }
    check_len(a.len(), m * k)?;
    check_len(b.len(), k * n)?;
    check_len(c.len(), m * n)?;
    let tile = tile.max(1) as usize;
    c[..m * n].fill(0.0);
    for i0 in (0..m).step_by(tile) {
        let i1 = (i0 + tile).min(m);
        for p0 in (0..k).step_by(tile) {
            let p1 = (p0 + tile).min(k);
            for j0 in (0..n).step_by(tile) {
                let j1 = (j0 + tile).min(n);
                for i in i0..i1 {
                    for p in p0..p1 {
                        let aip = a[i * k + p];
                        for j in j0..j1 {
                            c[i * n + j] += aip * b[p * n + j];
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// y = W x (see `matvec.bfir`).
#[inline(always)]
pub fn matvec(w: &[f32], x: &[f32], y: &mut [f32], rows: i32, cols: i32) -> Result<(), AotError> {
    let [rows, cols] = dims([rows, cols]);
    check_len(w.len(), rows * cols)?;
    check_len(x.len(), if rows > 0 { cols } else { 0 })?;
    check_len(y.len(), rows)?;
    for r in 0..rows {
        let row = &w[r * cols..r * cols + cols];
        let mut acc = 0.0f32;
        for c in 0..cols {
            acc += row[c] * x[c];
        }
        y[r] = acc;
    }
    Ok(())
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for i in 0..a.len() {
        acc += a[i] * b[i];
    }
    acc
}

/// One attention head (see `attention.bfir`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    scores: &mut [f32],
    seq: i32,
    d: i32,
) -> Result<(), AotError> {
    let [seq, d] = dims([seq, d]);
    for len in [q.len(), k.len(), v.len(), out.len()] {
        check_len(len, seq * d)?;
    }
    check_len(scores.len(), seq)?;
    let scale = 1.0f32 / libm::sqrtf(d as f32);
    for i in 0..seq {
        let qi = i * d;
        let qrow = &q[qi..qi + d];
        for j in 0..seq {
            scores[j] = dot(qrow, &k[j * d..j * d + d]) * scale;
        }
        let mut mx = scores[0];
        for j in 1..seq {
            mx = max_ieee(mx, scores[j]);
        }
        let mut sum = 0.0f32;
        for j in 0..seq {
            let e = jit::mathf::expf(scores[j] - mx);
            scores[j] = e;
            sum += e;
        }
        let inv = 1.0f32 / sum;
        for c in 0..d {
            let mut acc = 0.0f32;
            for j in 0..seq {
                acc += scores[j] * v[j * d + c];
            }
            out[qi + c] = acc * inv;
        }
    }
    Ok(())
}
