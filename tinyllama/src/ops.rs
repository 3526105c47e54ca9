//! The compute operations of the forward pass, behind a trait.
//!
//! Every heavy op of the transformer goes through [`Ops`]. The methods take
//! only slices and sizes (no crate types), because the kernel implements them
//! a second time as JIT-compiled IR kernels. All matrices are row-major and
//! all vectors contiguous. Implementations may assume the documented length
//! relations hold (the forward pass guarantees them); [`PlainOps`] checks them
//! with `debug_assert!`.
//!
//! # Contract for implementations
//!
//! - **Shared across workers.** `Ops: Sync`: the forward pass calls the same
//!   `&Ops` from every worker of a [`crate::Workers`] at once, each call on
//!   its own output range. Keep per-call state on the stack or behind
//!   synchronization.
//! - **Row-split invariance.** The forward pass splits the matvecs into row
//!   ranges and the attention into heads, one range per worker: a matvec
//!   call may cover any sub-range of a matrix's rows (`w` then starts at the
//!   first row of the range, `out` has one element per row of the range).
//!   Each output row must be a function of that row of `w` and of `x` only,
//!   computed the same way whatever range it is part of, so that results are
//!   bit-identical for every worker count. [`crate::conformance::check`]
//!   tests this.
//! - **Errors, not panics.** An op that cannot run (a JIT trap) returns an
//!   [`OpError`]; the forward pass stops with [`crate::Error::Op`].
//! - **Numerics.** [`PlainOps`] is the reference: a reassociating
//!   implementation states its tolerance (see [`crate::conformance`]).

use alloc::string::String;

use crate::expf::expf;
use crate::tensor::f16_to_f32;

/// An op could not run (for a JIT-compiled op: it trapped). The forward
/// pass stops and reports it as [`crate::Error::Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// Which op (`"matvec"`, `"attention"`, ...).
    pub op: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// What every op returns.
pub type OpResult = core::result::Result<(), OpError>;

/// The operations the forward pass needs. Each returns `Ok(())` after
/// writing its outputs, or an [`OpError`] (for instance a trap in a
/// JIT-compiled implementation), which aborts the forward pass.
pub trait Ops: Sync {
    /// Matrix-vector product: `out[r] = Σ_c w[r * cols + c] * x[c]`.
    ///
    /// Shapes: `out.len() == rows`, `w.len() == rows * cols`, `x.len() == cols`.
    fn matvec(&self, out: &mut [f32], w: &[f32], x: &[f32], rows: usize, cols: usize) -> OpResult;

    /// Matrix-vector product with IEEE binary16 weights:
    /// `out[r] = Σ_c f16(w[r * cols + c]) * x[c]`, where `w` holds the bit
    /// patterns and `f16(h)` is their exact fp32 value
    /// ([`crate::tensor::f16_to_f32`]). [`PlainOps`] gives exactly what
    /// [`Ops::matvec`] gives on the widened matrix.
    ///
    /// Shapes: `out.len() == rows`, `w.len() == rows * cols`, `x.len() == cols`.
    fn matvec_f16(
        &self,
        out: &mut [f32],
        w: &[u16],
        x: &[f32],
        rows: usize,
        cols: usize,
    ) -> OpResult;

    /// Quantized matrix-vector product over Q8 groups of `group` values.
    ///
    /// `w_q` is `rows * cols` int8 values row-major, `w_s` holds `rows * cols / group`
    /// scales (group `g` covers `w_q[g * group .. (g + 1) * group]`); `x_q` is the
    /// quantized input (`cols` values) with `x_s` its `cols / group` scales.
    /// `cols % group == 0` and `group <= 65536` (the loaders enforce it), so a
    /// group's int8 dot product fits in i32. Per group it is accumulated in i32
    /// and then scaled:
    /// `out[r] = Σ_g (Σ_{j<group} w_q[r*cols + g*group + j] * x_q[g*group + j]) * w_s[r*cols/group + g] * x_s[g]`.
    #[allow(clippy::too_many_arguments)]
    fn matvec_q8(
        &self,
        out: &mut [f32],
        w_q: &[i8],
        w_s: &[f32],
        x_q: &[i8],
        x_s: &[f32],
        rows: usize,
        cols: usize,
        group: usize,
    ) -> OpResult;

    /// RMSNorm: `out[i] = weight[i] * x[i] / sqrt(mean(x²) + eps)`.
    ///
    /// `out.len() == x.len() == weight.len()`.
    fn rmsnorm(&self, out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) -> OpResult;

    /// In-place softmax over all of `x` (max-subtracted for stability; `exp` is
    /// [`crate::expf`]).
    fn softmax(&self, x: &mut [f32]) -> OpResult;

    /// Rotary position embedding, in place, on `x.len() / head_size` heads.
    ///
    /// Pairs are adjacent elements (the interleaved convention of llama2.c and
    /// of llama.cpp's `LLAMA_ROPE_TYPE_NORM`): for every head `h` and pair
    /// `j < head_size / 2`, with `i = h * head_size + 2 * j`,
    /// `(x[i], x[i+1]) ← (x[i]·cos[j] − x[i+1]·sin[j], x[i]·sin[j] + x[i+1]·cos[j])`.
    /// `cos`/`sin` hold `head_size / 2` values for the current position
    /// (`cos[j] = cos(pos · θ^(−2j/head_size))`), computed once by the caller.
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], head_size: usize) -> OpResult;

    /// SwiGLU gate, in place: `gate[i] = silu(gate[i]) * up[i]`,
    /// with `silu(v) = v / (1 + exp(−v))` (`exp`: [`crate::expf`]). `gate.len() == up.len()`.
    fn swiglu(&self, gate: &mut [f32], up: &[f32]) -> OpResult;

    /// Causal attention of one query head over positions `0..n_pos` of the cache.
    ///
    /// `q` is the head's query (`head_size` values). Key `t` is
    /// `k_cache[t * kv_stride + kv_offset ..][..head_size]`, value `t` likewise in
    /// `v_cache`. `scores` is scratch of at least `n_pos` values. Computes
    /// `s[t] = q·k_t / sqrt(head_size)`, `a = softmax(s)`, `out = Σ_t a[t] · v_t`
    /// (`out.len() == head_size`).
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        out: &mut [f32],
        q: &[f32],
        k_cache: &[f32],
        v_cache: &[f32],
        scores: &mut [f32],
        n_pos: usize,
        head_size: usize,
        kv_stride: usize,
        kv_offset: usize,
    ) -> OpResult;
}

/// Lanes of the partial sums in [`dot`]: wide enough for the compiler to
/// keep several SIMD accumulators in flight.
const LANES: usize = 8;

/// Dot product of binary16 bit patterns with fp32 values: the same sums in
/// the same order as [`dot`] on the widened values, hence the same result.
/// The values are widened a block at a time into a buffer (a loop that
/// vectorizes well), then accumulated exactly as [`dot`] does.
#[inline(always)]
pub fn dot_f16(a: &[u16], b: &[f32]) -> f32 {
    const BLOCK: usize = 32 * LANES;
    let n = a.len().min(b.len());
    let whole = n / LANES * LANES;
    let mut acc = [0.0f32; LANES];
    let mut wide = [0.0f32; BLOCK];
    for (ab, bb) in a[..whole].chunks(BLOCK).zip(b[..whole].chunks(BLOCK)) {
        let wide = &mut wide[..ab.len()];
        for (w, &h) in wide.iter_mut().zip(ab) {
            *w = f16_to_f32(h);
        }
        accumulate_lanes(&mut acc, wide, bb);
    }
    let mut tail = 0.0f32;
    for (x, y) in a[whole..n].iter().zip(&b[whole..n]) {
        tail += f16_to_f32(*x) * y;
    }
    reduce_lanes(acc) + tail
}

/// Pairwise reduction of the lanes of [`dot`].
#[inline(always)]
fn reduce_lanes(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0]
}

/// Dot product with `LANES` independent partial sums (auto-vectorizes):
/// lane `i` sums the products of the elements `i`, `i + LANES`, ... of the
/// whole chunks, the tail is summed separately, then the lanes pairwise.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let whole = n / LANES * LANES;
    let mut acc = [0.0f32; LANES];
    accumulate_lanes(&mut acc, &a[..whole], &b[..whole]);
    let mut tail = 0.0f32;
    for (x, y) in a[whole..].iter().zip(&b[whole..]) {
        tail += x * y;
    }
    reduce_lanes(acc) + tail
}

/// `acc[i] += a[k] * b[k]` for every `k ≡ i (mod LANES)`, in order of `k`
/// (`a.len()` a multiple of `LANES`).
#[inline(always)]
fn accumulate_lanes(acc: &mut [f32; LANES], a: &[f32], b: &[f32]) {
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
}

/// `out[r] = dot_f16(row r, x)` for every row.
#[inline(always)]
fn matvec_f16_rows(out: &mut [f32], w: &[u16], x: &[f32], cols: usize) {
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        *o = dot_f16(row, x);
    }
}

/// [`matvec_f16_rows`] with the F16C conversion instruction: `acc` holds
/// the `LANES` partial sums of [`dot`] in one register, multiplied and added
/// separately (no FMA) in the same order, and reduced pairwise as
/// [`reduce_lanes`] does; the tail as in [`dot_f16`]. The hardware widening
/// is exact like [`f16_to_f32`] (it only sets the quiet bit of signalling
/// NaNs), so the results are the same.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,f16c")]
fn matvec_f16_f16c(out: &mut [f32], w: &[u16], x: &[f32], cols: usize) {
    use core::arch::x86_64::{
        _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_set_epi16, _mm_shuffle_ps,
        _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtph_ps, _mm256_extractf128_ps,
        _mm256_mul_ps, _mm256_set_ps, _mm256_setzero_ps,
    };
    const _: () = assert!(LANES == 8);
    let whole = cols / LANES * LANES;
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        let mut acc = _mm256_setzero_ps();
        for (h, y) in row.as_chunks::<8>().0.iter().zip(x.as_chunks::<8>().0) {
            let h = h.map(|v| v as i16);
            let h = _mm_set_epi16(h[7], h[6], h[5], h[4], h[3], h[2], h[1], h[0]);
            let y = _mm256_set_ps(y[7], y[6], y[5], y[4], y[3], y[2], y[1], y[0]);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtph_ps(h), y));
        }
        // acc[i] += acc[i + 4], then acc[i] += acc[i + 2], then acc[0] + acc[1].
        let four = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
        let one = _mm_add_ss(two, _mm_shuffle_ps::<0b01>(two, two));
        let mut tail = 0.0f32;
        for (h, y) in row[whole..].iter().zip(&x[whole..]) {
            tail += f16_to_f32(*h) * y;
        }
        *o = _mm_cvtss_f32(one) + tail;
    }
}

/// Integer dot product of two int8 slices: products in i16 (an i8 × i8
/// product always fits), accumulated in i32 over 16 independent lanes
/// (auto-vectorizes).
#[inline]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0i32; 16];
    let ac = a.chunks_exact(16);
    let bc = b.chunks_exact(16);
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..16 {
            acc[i] += (x[i] as i16 * y[i] as i16) as i32;
        }
    }
    let tail: i32 = ar.iter().zip(br).map(|(&x, &y)| x as i32 * y as i32).sum();
    acc.iter().sum::<i32>() + tail
}

/// The plain Rust implementation: single-threaded, written so the compiler
/// vectorizes the inner loops. The reference the JIT version (`JitOps`, the
/// same operations in the same order) is compared to, bit for bit.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainOps;

impl Ops for PlainOps {
    fn matvec(&self, out: &mut [f32], w: &[f32], x: &[f32], rows: usize, cols: usize) -> OpResult {
        debug_assert_eq!(out.len(), rows);
        debug_assert_eq!(w.len(), rows * cols);
        debug_assert_eq!(x.len(), cols);
        for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
            *o = dot(row, x);
        }
        Ok(())
    }

    fn matvec_f16(
        &self,
        out: &mut [f32],
        w: &[u16],
        x: &[f32],
        rows: usize,
        cols: usize,
    ) -> OpResult {
        debug_assert_eq!(out.len(), rows);
        debug_assert_eq!(w.len(), rows * cols);
        debug_assert_eq!(x.len(), cols);
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the CPU has AVX2 and F16C, the features the function enables.
            unsafe { matvec_f16_f16c(out, w, x, cols) };
            return Ok(());
        }
        matvec_f16_rows(out, w, x, cols);
        Ok(())
    }

    fn matvec_q8(
        &self,
        out: &mut [f32],
        w_q: &[i8],
        w_s: &[f32],
        x_q: &[i8],
        x_s: &[f32],
        rows: usize,
        cols: usize,
        group: usize,
    ) -> OpResult {
        debug_assert_eq!(out.len(), rows);
        debug_assert_eq!(w_q.len(), rows * cols);
        debug_assert_eq!(w_s.len(), rows * cols / group);
        debug_assert_eq!(x_q.len(), cols);
        debug_assert_eq!(x_s.len(), cols / group);
        let groups_per_row = cols / group;
        for ((o, row_q), row_s) in out
            .iter_mut()
            .zip(w_q.chunks_exact(cols))
            .zip(w_s.chunks_exact(groups_per_row))
        {
            let mut sum = 0.0f32;
            for (((wg, xg), ws), xs) in row_q
                .chunks_exact(group)
                .zip(x_q.chunks_exact(group))
                .zip(row_s)
                .zip(x_s)
            {
                sum += dot_i8(wg, xg) as f32 * ws * xs;
            }
            *o = sum;
        }
        Ok(())
    }

    fn rmsnorm(&self, out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) -> OpResult {
        debug_assert_eq!(out.len(), x.len());
        debug_assert_eq!(weight.len(), x.len());
        let ss = dot(x, x) / x.len() as f32;
        let inv = 1.0 / libm::sqrtf(ss + eps);
        for ((o, xv), wv) in out.iter_mut().zip(x).zip(weight) {
            *o = wv * (inv * xv);
        }
        Ok(())
    }

    fn softmax(&self, x: &mut [f32]) -> OpResult {
        let max = x.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
        let mut sum = 0.0f32;
        for v in x.iter_mut() {
            *v = expf(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in x.iter_mut() {
            *v *= inv;
        }
        Ok(())
    }

    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], head_size: usize) -> OpResult {
        debug_assert_eq!(cos.len(), head_size / 2);
        debug_assert_eq!(sin.len(), head_size / 2);
        for head in x.chunks_exact_mut(head_size) {
            for ((pair, c), s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * c - b * s;
                pair[1] = a * s + b * c;
            }
        }
        Ok(())
    }

    fn swiglu(&self, gate: &mut [f32], up: &[f32]) -> OpResult {
        debug_assert_eq!(gate.len(), up.len());
        for (g, u) in gate.iter_mut().zip(up) {
            let v = *g;
            *g = v / (1.0 + expf(-v)) * u;
        }
        Ok(())
    }

    fn attention(
        &self,
        out: &mut [f32],
        q: &[f32],
        k_cache: &[f32],
        v_cache: &[f32],
        scores: &mut [f32],
        n_pos: usize,
        head_size: usize,
        kv_stride: usize,
        kv_offset: usize,
    ) -> OpResult {
        debug_assert_eq!(q.len(), head_size);
        debug_assert_eq!(out.len(), head_size);
        let scale = 1.0 / libm::sqrtf(head_size as f32);
        let scores = &mut scores[..n_pos];
        for (t, s) in scores.iter_mut().enumerate() {
            let k = &k_cache[t * kv_stride + kv_offset..][..head_size];
            *s = dot(q, k) * scale;
        }
        self.softmax(scores)?;
        out.fill(0.0);
        for (t, a) in scores.iter().enumerate() {
            let v = &v_cache[t * kv_stride + kv_offset..][..head_size];
            for (o, vv) in out.iter_mut().zip(v) {
                *o += a * vv;
            }
        }
        Ok(())
    }
}
