//! The forward pass: one token at a time, with a KV cache.

use alloc::format;
use alloc::vec::Vec;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ops::Ops;
use crate::tensor::{Tensor, quantize_q8};
use crate::weights::Weights;

/// Allocates a zeroed vector without aborting on failure.
fn zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what: alloc::string::String::from(what),
        bytes: (n as u64).saturating_mul(core::mem::size_of::<T>() as u64),
    })?;
    v.resize(n, T::default());
    Ok(v)
}

/// Activations, KV cache and RoPE tables of one sequence.
struct State {
    x: Vec<f32>,
    xb: Vec<f32>,
    xb2: Vec<f32>,
    hb: Vec<f32>,
    hb2: Vec<f32>,
    q: Vec<f32>,
    att: Vec<f32>,
    logits: Vec<f32>,
    /// `n_layers × ctx × kv_dim`.
    key_cache: Vec<f32>,
    /// `n_layers × ctx × kv_dim`.
    value_cache: Vec<f32>,
    /// Quantized activations for Q8 matrices (`max(dim, hidden_dim)`).
    xq: Vec<i8>,
    xs: Vec<f32>,
    /// `ctx × head_size/2` each.
    rope_cos: Vec<f32>,
    rope_sin: Vec<f32>,
}

/// An inference session over borrowed weights: the forward pass plus its state.
pub struct Session<'w, O: Ops> {
    config: Config,
    weights: &'w Weights,
    ops: O,
    ctx: usize,
    s: State,
}

/// `out = w · x` for a fp32 or Q8 matrix of `rows` × `cols`.
#[allow(clippy::too_many_arguments)]
fn matmul<O: Ops>(
    ops: &O,
    out: &mut [f32],
    w: &Tensor,
    x: &[f32],
    xq: &mut [i8],
    xs: &mut [f32],
    rows: usize,
    cols: usize,
) -> Result<()> {
    match w {
        Tensor::F32(w) => ops.matvec(out, w, x, rows, cols)?,
        Tensor::Q8 { q, scales, group } => {
            let (xq, xs) = (&mut xq[..cols], &mut xs[..cols / group]);
            quantize_q8(xq, xs, x, *group);
            ops.matvec_q8(out, q, scales, xq, xs, rows, cols, *group)?;
        }
    }
    Ok(())
}

impl<'w, O: Ops> Session<'w, O> {
    /// A session with a context of `min(max_ctx, config.seq_len)` positions
    /// (`max_ctx == 0` is an error). The weights are checked against `config`.
    pub fn new(config: Config, weights: &'w Weights, ops: O, max_ctx: usize) -> Result<Self> {
        config.validate()?;
        weights.validate(&config)?;
        if max_ctx == 0 {
            return Err(Error::invalid(
                "context length",
                "0 positions; a session needs at least 1",
            ));
        }
        let ctx = max_ctx.min(config.seq_len);
        let (d, h, kv, hs) = (
            config.dim,
            config.hidden_dim,
            config.kv_dim(),
            config.head_size(),
        );
        let cache = config
            .n_layers
            .checked_mul(ctx)
            .and_then(|v| v.checked_mul(kv))
            .ok_or_else(|| Error::invalid("context length", "KV cache size overflows"))?;
        let half = hs / 2;
        let mut rope_cos = zeroed(ctx * half, "RoPE table")?;
        let mut rope_sin = zeroed(ctx * half, "RoPE table")?;
        for pos in 0..ctx {
            for j in 0..half {
                let freq = libm::pow(config.rope_theta as f64, -2.0 * j as f64 / hs as f64);
                let angle = pos as f64 * freq;
                rope_cos[pos * half + j] = libm::cos(angle) as f32;
                rope_sin[pos * half + j] = libm::sin(angle) as f32;
            }
        }
        let s = State {
            x: zeroed(d, "activations")?,
            xb: zeroed(d, "activations")?,
            xb2: zeroed(d, "activations")?,
            hb: zeroed(h, "activations")?,
            hb2: zeroed(h, "activations")?,
            q: zeroed(d, "activations")?,
            att: zeroed(ctx, "attention scores")?,
            logits: zeroed(config.vocab_size, "logits")?,
            key_cache: zeroed(cache, "key cache")?,
            value_cache: zeroed(cache, "value cache")?,
            xq: zeroed(d.max(h), "quantized activations")?,
            xs: zeroed(d.max(h), "quantized activations")?,
            rope_cos,
            rope_sin,
        };
        Ok(Session {
            config,
            weights,
            ops,
            ctx,
            s,
        })
    }

    /// The model configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of positions the KV cache holds.
    pub fn context_len(&self) -> usize {
        self.ctx
    }

    /// The ops implementation.
    pub fn ops(&self) -> &O {
        &self.ops
    }

    /// Runs `token` at position `pos` (positions `0..pos` must have been run
    /// before in this session) and returns the logits over the vocabulary.
    pub fn forward(&mut self, token: u32, pos: usize) -> Result<&mut [f32]> {
        let c = self.config;
        if token as usize >= c.vocab_size {
            return Err(Error::invalid(
                "token",
                format!("{token} is outside the vocabulary of {}", c.vocab_size),
            ));
        }
        if pos >= self.ctx {
            return Err(Error::invalid(
                "position",
                format!("{pos} is outside the context of {} positions", self.ctx),
            ));
        }
        let (d, h, kv, hs) = (c.dim, c.hidden_dim, c.kv_dim(), c.head_size());
        let group = c.n_heads / c.n_kv_heads;
        let half = hs / 2;
        let ops = &self.ops;
        let s = &mut self.s;
        let w = self.weights;

        w.token_embedding
            .dequantize_into(token as usize * d, &mut s.x);
        let cos = &s.rope_cos[pos * half..(pos + 1) * half];
        let sin = &s.rope_sin[pos * half..(pos + 1) * half];
        let layer_len = self.ctx * kv;

        for (l, lw) in w.layers.iter().enumerate() {
            ops.rmsnorm(&mut s.xb, &s.x, &lw.rms_att, c.rms_eps)?;

            let kc = &mut s.key_cache[l * layer_len..(l + 1) * layer_len];
            let vc = &mut s.value_cache[l * layer_len..(l + 1) * layer_len];
            let k = &mut kc[pos * kv..(pos + 1) * kv];
            matmul(ops, &mut s.q, &lw.wq, &s.xb, &mut s.xq, &mut s.xs, d, d)?;
            matmul(ops, k, &lw.wk, &s.xb, &mut s.xq, &mut s.xs, kv, d)?;
            ops.rope(&mut s.q, cos, sin, hs)?;
            ops.rope(k, cos, sin, hs)?;
            let v = &mut vc[pos * kv..(pos + 1) * kv];
            matmul(ops, v, &lw.wv, &s.xb, &mut s.xq, &mut s.xs, kv, d)?;

            for (head, (out, q)) in
                s.xb.chunks_exact_mut(hs)
                    .zip(s.q.chunks_exact(hs))
                    .enumerate()
            {
                let kvh = head / group;
                ops.attention(out, q, kc, vc, &mut s.att, pos + 1, hs, kv, kvh * hs)?;
            }
            matmul(ops, &mut s.xb2, &lw.wo, &s.xb, &mut s.xq, &mut s.xs, d, d)?;
            for (x, y) in s.x.iter_mut().zip(&s.xb2) {
                *x += y;
            }

            ops.rmsnorm(&mut s.xb, &s.x, &lw.rms_ffn, c.rms_eps)?;
            matmul(ops, &mut s.hb, &lw.w1, &s.xb, &mut s.xq, &mut s.xs, h, d)?;
            matmul(ops, &mut s.hb2, &lw.w3, &s.xb, &mut s.xq, &mut s.xs, h, d)?;
            ops.swiglu(&mut s.hb, &s.hb2)?;
            matmul(ops, &mut s.xb, &lw.w2, &s.hb, &mut s.xq, &mut s.xs, d, h)?;
            for (x, y) in s.x.iter_mut().zip(&s.xb) {
                *x += y;
            }
        }

        ops.rmsnorm(&mut s.xb, &s.x, &w.rms_final, c.rms_eps)?;
        let v = c.vocab_size;
        matmul(
            ops,
            &mut s.logits,
            w.classifier(),
            &s.xb,
            &mut s.xq,
            &mut s.xs,
            v,
            d,
        )?;
        Ok(&mut s.logits)
    }
}
