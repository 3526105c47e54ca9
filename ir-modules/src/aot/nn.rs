//! AOT baselines of the transformer element-wise kernels: rmsnorm, softmax, rope,
//! silu and swiglu (same operation order as the `.bfir` sources).

use super::{AotError, check_len, dims, max_ieee};
use jit::TrapKind;

/// See `rmsnorm.bfir`.
#[inline(always)]
pub fn rmsnorm(x: &[f32], w: &[f32], out: &mut [f32], n: i32, eps: f32) -> Result<(), AotError> {
    let nf = n as f32;
    let [n] = dims([n]);
    check_len(x.len(), n)?;
    check_len(w.len(), n)?;
    check_len(out.len(), n)?;
    let mut ss = 0.0f32;
    for i in 0..n {
        ss += x[i] * x[i];
    }
    let inv = 1.0f32 / libm::sqrtf(ss / nf + eps);
    for i in 0..n {
        out[i] = w[i] * (x[i] * inv);
    }
    Ok(())
}

/// See `softmax.bfir`.
#[inline(always)]
pub fn softmax(x: &mut [f32], n: i32) -> Result<(), AotError> {
    if n <= 0 {
        return Ok(());
    }
    let n = n as usize;
    check_len(x.len(), n)?;
    let mut mx = x[0];
    for i in 1..n {
        mx = max_ieee(mx, x[i]);
    }
    let mut sum = 0.0f32;
    for i in 0..n {
        let e = jit::mathf::expf(x[i] - mx);
        x[i] = e;
        sum += e;
    }
    let inv = 1.0f32 / sum;
    for v in &mut x[..n] {
        *v *= inv;
    }
    Ok(())
}

/// See `rope.bfir`.
#[inline(always)]
pub fn rope(x: &mut [f32], pos: i32, dim: i32, head_dim: i32, theta: f32) -> Result<(), AotError> {
    if dim <= 0 {
        return Ok(());
    }
    if head_dim == 0 {
        return Err(AotError::WouldTrap(TrapKind::DivisionByZero));
    }
    // The last pair reads x[dim - 1 + 1] when dim is odd.
    check_len(x.len(), (dim as usize + 1) & !1)?;
    for i in (0..dim).step_by(2) {
        let h = i.wrapping_rem(head_dim);
        let freq = 1.0f32 / jit::mathf::powf(theta, (h as f32) / (head_dim as f32));
        let angle = (pos as f32) * freq;
        let c = jit::mathf::cosf(angle);
        let s = jit::mathf::sinf(angle);
        let i = i as usize;
        let x0 = x[i];
        let x1 = x[i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + 1] = x0 * s + x1 * c;
    }
    Ok(())
}

#[inline(always)]
fn silu_scalar(v: f32) -> f32 {
    v / (1.0f32 + jit::mathf::expf(-v))
}

/// See `silu.bfir`.
#[inline(always)]
pub fn silu(x: &mut [f32], n: i32) -> Result<(), AotError> {
    let [n] = dims([n]);
    check_len(x.len(), n)?;
    for v in &mut x[..n] {
        *v = silu_scalar(*v);
    }
    Ok(())
}

/// See `silu.bfir`.
#[inline(always)]
pub fn swiglu(gate: &mut [f32], up: &[f32], n: i32) -> Result<(), AotError> {
    let [n] = dims([n]);
    check_len(gate.len(), n)?;
    check_len(up.len(), n)?;
    for i in 0..n {
        gate[i] = silu_scalar(gate[i]) * up[i];
    }
    Ok(())
}
