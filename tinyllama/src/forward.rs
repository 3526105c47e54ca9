//! The forward pass: one token at a time, with a KV cache, its matvec rows
//! and attention heads split over [`Workers`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::buffer::try_zeroed;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ops::{OpError, OpResult, Ops};
use crate::split::{MAX_PARTS, Shards};
use crate::tensor::{Tensor, quantize_q8};
use crate::weights::Weights;
use crate::workers::{SerialWorkers, Workers};

/// Most workers a session uses.
pub const MAX_WORKERS: usize = 256;
/// Chunks per worker a split op is cut into: workers claim chunks until
/// none are left, so a worker that starts late (a descheduled thread, a
/// CPU busy compiling) leaves its share to the others.
const CHUNKS_PER_WORKER: usize = 4;

/// What one worker owns during a split op.
struct Lane {
    /// The failure of the lowest-numbered chunk this worker saw fail.
    error: Option<(usize, OpError)>,
    /// Attention scores scratch, one per context position.
    scores: Vec<f32>,
}

/// Activations, KV cache and RoPE tables of one sequence.
struct State {
    x: Vec<f32>,
    xb: Vec<f32>,
    xb2: Vec<f32>,
    hb: Vec<f32>,
    hb2: Vec<f32>,
    q: Vec<f32>,
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
    /// One per worker (at most [`MAX_WORKERS`]).
    lanes: Vec<Lane>,
}

/// An inference session over borrowed weights: the forward pass plus its state.
pub struct Session<'w, O: Ops> {
    config: Config,
    weights: &'w Weights,
    ops: O,
    workers: &'w dyn Workers,
    ctx: usize,
    s: State,
}

/// Splits `out` (units of `granule` elements) into contiguous chunks and
/// runs `op(units, chunk, lane)` on each, on the workers: every worker
/// claims chunks from a shared counter until none are left, using its own
/// lane. Each unit belongs to exactly one chunk, so (with a row-split
/// invariant op) the result does not depend on who computed what. With one
/// worker (or one unit) the op runs once on the whole of `out`.
fn split<F>(
    workers: &dyn Workers,
    lanes: &mut [Lane],
    out: &mut [f32],
    granule: usize,
    op: F,
) -> Result<()>
where
    F: Fn(Range<usize>, &mut [f32], &mut Lane) -> OpResult + Sync,
{
    let units = out.len() / granule;
    let n_workers = workers.count().min(lanes.len());
    if n_workers <= 1 || units <= 1 {
        return Ok(op(0..units, out, &mut lanes[0])?);
    }
    let chunks = units.min(n_workers * CHUNKS_PER_WORKER).min(MAX_PARTS);
    let outs = Shards::new(out, chunks, granule);
    let mine = Shards::new(&mut lanes[..n_workers], n_workers, 1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    workers.run(&|worker| {
        let Some([lane]) = mine.take(worker) else {
            return;
        };
        while !failed.load(Ordering::Relaxed) {
            let chunk = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = outs.take(chunk) else {
                return;
            };
            if let Err(e) = op(outs.units_of(chunk), part, lane) {
                failed.store(true, Ordering::Relaxed);
                if lane.error.as_ref().is_none_or(|(c, _)| chunk < *c) {
                    lane.error = Some((chunk, e));
                }
            }
        }
    });
    let complete = outs.complete();
    let first_error = lanes[..n_workers]
        .iter_mut()
        .filter_map(|l| l.error.take())
        .min_by_key(|(chunk, _)| *chunk);
    if let Some((_, e)) = first_error {
        return Err(e.into());
    }
    if !complete {
        return Err(Error::Workers {
            reason: format!(
                "after Workers::run, {chunks} chunks of {units} units were not all computed \
                 (no task ran, or a task did not return normally)"
            ),
        });
    }
    Ok(())
}

/// `out = w · x` for a fp32, f16 or Q8 matrix of `rows` × `cols`, rows
/// split over the workers.
#[allow(clippy::too_many_arguments)]
fn matmul<O: Ops>(
    ops: &O,
    workers: &dyn Workers,
    lanes: &mut [Lane],
    out: &mut [f32],
    w: &Tensor,
    x: &[f32],
    xq: &mut [i8],
    xs: &mut [f32],
    cols: usize,
) -> Result<()> {
    let rows_of = |r: &Range<usize>| r.start * cols..r.end * cols;
    match w {
        Tensor::F32(w) => split(workers, lanes, out, 1, |r, o, _| {
            ops.matvec(o, &w[rows_of(&r)], x, r.len(), cols)
        }),
        Tensor::F16(w) => split(workers, lanes, out, 1, |r, o, _| {
            ops.matvec_f16(o, &w[rows_of(&r)], x, r.len(), cols)
        }),
        Tensor::Q8 { q, scales, group } => {
            let group = *group;
            let (xq, xs) = (&mut xq[..cols], &mut xs[..cols / group]);
            quantize_q8(xq, xs, x, group);
            let (xq, xs) = (&*xq, &*xs);
            let per_row = cols / group;
            split(workers, lanes, out, 1, |r, o, _| {
                let s = &scales[r.start * per_row..r.end * per_row];
                ops.matvec_q8(o, &q[rows_of(&r)], s, xq, xs, r.len(), cols, group)
            })
        }
    }
}

/// The workers of [`Session::new`].
static SERIAL: SerialWorkers = SerialWorkers;

impl<'w, O: Ops> Session<'w, O> {
    /// A single-worker session with a context of `min(max_ctx,
    /// config.seq_len)` positions (`max_ctx == 0` is an error). The weights
    /// are checked against `config`.
    pub fn new(config: Config, weights: &'w Weights, ops: O, max_ctx: usize) -> Result<Self> {
        Session::with_workers(config, weights, ops, max_ctx, &SERIAL)
    }

    /// Like [`Session::new`], with the matvec rows and attention heads of
    /// every step split over `workers` (at most [`MAX_WORKERS`] of them are
    /// used). Results are bit-identical for every worker count.
    pub fn with_workers(
        config: Config,
        weights: &'w Weights,
        ops: O,
        max_ctx: usize,
        workers: &'w dyn Workers,
    ) -> Result<Self> {
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
        let mut rope_cos = try_zeroed(ctx * half, "RoPE table")?;
        let mut rope_sin = try_zeroed(ctx * half, "RoPE table")?;
        for pos in 0..ctx {
            for j in 0..half {
                let freq = libm::pow(config.rope_theta as f64, -2.0 * j as f64 / hs as f64);
                let angle = pos as f64 * freq;
                rope_cos[pos * half + j] = libm::cos(angle) as f32;
                rope_sin[pos * half + j] = libm::sin(angle) as f32;
            }
        }
        let n_lanes = workers.count().clamp(1, MAX_WORKERS);
        let mut lanes = Vec::new();
        lanes
            .try_reserve_exact(n_lanes)
            .map_err(|_| Error::OutOfMemory {
                what: String::from("worker lanes"),
                bytes: (n_lanes * core::mem::size_of::<Lane>()) as u64,
            })?;
        for _ in 0..n_lanes {
            lanes.push(Lane {
                error: None,
                scores: try_zeroed(ctx, "attention scores")?,
            });
        }
        let s = State {
            x: try_zeroed(d, "activations")?,
            xb: try_zeroed(d, "activations")?,
            xb2: try_zeroed(d, "activations")?,
            hb: try_zeroed(h, "activations")?,
            hb2: try_zeroed(h, "activations")?,
            q: try_zeroed(d, "activations")?,
            logits: try_zeroed(config.vocab_size, "logits")?,
            key_cache: try_zeroed(cache, "key cache")?,
            value_cache: try_zeroed(cache, "value cache")?,
            xq: try_zeroed(d.max(h), "quantized activations")?,
            xs: try_zeroed(d.max(h), "quantized activations")?,
            rope_cos,
            rope_sin,
            lanes,
        };
        Ok(Session {
            config,
            weights,
            ops,
            workers,
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

    /// Number of workers the split ops use.
    pub fn workers(&self) -> usize {
        self.workers.count().clamp(1, MAX_WORKERS)
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
        let workers = self.workers;
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
            let lanes = &mut s.lanes;
            let (xq, xs) = (&mut s.xq, &mut s.xs);
            matmul(ops, workers, lanes, &mut s.q, &lw.wq, &s.xb, xq, xs, d)?;
            matmul(ops, workers, lanes, k, &lw.wk, &s.xb, xq, xs, d)?;
            ops.rope(&mut s.q, cos, sin, hs)?;
            ops.rope(k, cos, sin, hs)?;
            let v = &mut vc[pos * kv..(pos + 1) * kv];
            matmul(ops, workers, lanes, v, &lw.wv, &s.xb, xq, xs, d)?;

            // Every query head reads its KV head in place; heads split over workers.
            let (kc, vc, q) = (&*kc, &*vc, &s.q);
            split(workers, lanes, &mut s.xb, hs, |heads, out, lane| {
                for (out, head) in out.chunks_exact_mut(hs).zip(heads) {
                    let q = &q[head * hs..(head + 1) * hs];
                    let kv_offset = (head / group) * hs;
                    let scores = &mut lane.scores;
                    ops.attention(out, q, kc, vc, scores, pos + 1, hs, kv, kv_offset)?;
                }
                Ok(())
            })?;
            matmul(ops, workers, lanes, &mut s.xb2, &lw.wo, &s.xb, xq, xs, d)?;
            for (x, y) in s.x.iter_mut().zip(&s.xb2) {
                *x += y;
            }

            ops.rmsnorm(&mut s.xb, &s.x, &lw.rms_ffn, c.rms_eps)?;
            matmul(ops, workers, lanes, &mut s.hb, &lw.w1, &s.xb, xq, xs, d)?;
            matmul(ops, workers, lanes, &mut s.hb2, &lw.w3, &s.xb, xq, xs, d)?;
            ops.swiglu(&mut s.hb, &s.hb2)?;
            matmul(ops, workers, lanes, &mut s.xb, &lw.w2, &s.hb, xq, xs, h)?;
            for (x, y) in s.x.iter_mut().zip(&s.xb) {
                *x += y;
            }
        }

        ops.rmsnorm(&mut s.xb, &s.x, &w.rms_final, c.rms_eps)?;
        let (xq, xs) = (&mut s.xq, &mut s.xs);
        let classifier = w.classifier();
        matmul(
            ops,
            workers,
            &mut s.lanes,
            &mut s.logits,
            classifier,
            &s.xb,
            xq,
            xs,
            d,
        )?;
        Ok(&mut s.logits)
    }
}
