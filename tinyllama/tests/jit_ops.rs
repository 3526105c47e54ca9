//! `JitOps` (the ops as the JIT kernels of `ir-modules/llama.bfir`) against `PlainOps`:
//! every op on random inputs of awkward sizes at every tier, then whole models at every
//! forced tier, with two worker threads, and through the live slots (tiering up while
//! generating): the same bits, hence the same tokens. `PlainOps`' `exp` is the JIT's
//! (`tinyllama::expf`), checked here against `jit::mathf::expf`.
#![cfg(feature = "jit")]

mod common;

use std::sync::Arc;

use common::files;
use jit::{Engine, EngineConfig, Tier};
use tinyllama::synth::Shape;
use tinyllama::{
    EngineCaller, JitOps, LlamaKernel, Model, OpError, Ops, PlainOps, Session, ThreadPool, Workers,
};

const TIERS: [Tier; 4] = [Tier::T0, Tier::T1, Tier::T2, Tier::T3];

/// Ops whose kernels all run at `tier`.
fn ops_at(tier: Tier) -> JitOps<EngineCaller> {
    let engine = Arc::new(Engine::host(EngineConfig::default()));
    JitOps::new(EngineCaller::new(engine).unwrap().at_tier(tier))
}

/// Ops whose kernels tier up through their slots at the given call counts.
fn live_ops(thresholds: [u64; 3]) -> JitOps<EngineCaller> {
    let engine = Arc::new(Engine::host(EngineConfig {
        thresholds,
        ..EngineConfig::default()
    }));
    JitOps::new(EngineCaller::new(engine).unwrap())
}

/// SplitMix64 values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn expf_is_the_jit_exp_bit_for_bit() {
    // Every 499th encoding (both signs, all magnitudes: NaN, inf, subnormals) plus a
    // dense sweep of the range the forward pass uses.
    let mut checked = 0u64;
    for b in (0..=u32::MAX).step_by(499) {
        let x = f32::from_bits(b);
        let (ours, jit) = (tinyllama::expf(x), jit::mathf::expf(x));
        assert!(
            ours.to_bits() == jit.to_bits() || (ours.is_nan() && jit.is_nan()),
            "expf({x:e}) = {ours:e}, jit {jit:e}"
        );
        checked += 1;
    }
    for i in -500_000..500_000 {
        let x = i as f32 * 2e-4;
        assert_eq!(
            tinyllama::expf(x).to_bits(),
            jit::mathf::expf(x).to_bits(),
            "{x}"
        );
    }
    assert!(checked > 8_000_000);
}

#[test]
fn every_op_matches_plain_ops_at_every_tier() {
    let mut rng = Rng(7);
    // Lengths that are and are not multiples of the 8 partial sums, and shorter than 8.
    for &(rows, cols) in &[(1, 1), (3, 7), (5, 8), (4, 13), (9, 64), (2, 100)] {
        let w = rng.vec(rows * cols, 1.0);
        let x = rng.vec(cols, 2.0);
        let weight = rng.vec(cols, 1.5);
        let mut want = vec![0.0; rows];
        PlainOps.matvec(&mut want, &w, &x, rows, cols).unwrap();
        let mut want_norm = vec![0.0; cols];
        PlainOps.rmsnorm(&mut want_norm, &x, &weight, 1e-5).unwrap();
        let mut want_soft = rng.vec(cols, 30.0);
        let soft_in = want_soft.clone();
        PlainOps.softmax(&mut want_soft).unwrap();
        let mut want_gate = rng.vec(cols, 12.0);
        let gate_in = want_gate.clone();
        PlainOps.swiglu(&mut want_gate, &weight).unwrap();
        for tier in TIERS {
            let ops = ops_at(tier);
            let mut got = vec![f32::NAN; rows];
            ops.matvec(&mut got, &w, &x, rows, cols).unwrap();
            assert_eq!(bits(&got), bits(&want), "matvec {rows}x{cols} at {tier}");
            let mut got = vec![f32::NAN; cols];
            ops.rmsnorm(&mut got, &x, &weight, 1e-5).unwrap();
            assert_eq!(bits(&got), bits(&want_norm), "rmsnorm {cols} at {tier}");
            let mut got = soft_in.clone();
            ops.softmax(&mut got).unwrap();
            assert_eq!(bits(&got), bits(&want_soft), "softmax {cols} at {tier}");
            let mut got = gate_in.clone();
            ops.swiglu(&mut got, &weight).unwrap();
            assert_eq!(bits(&got), bits(&want_gate), "swiglu {cols} at {tier}");
        }
    }
}

#[test]
fn matvec_f16_matches_plain_ops_at_every_tier() {
    let mut rng = Rng(9);
    for &(rows, cols) in &[(1, 1), (3, 7), (4, 13), (5, 64), (2, 100)] {
        let mut w: Vec<u16> = rng
            .vec(rows * cols, 4.0)
            .into_iter()
            .map(tinyllama::tensor::f32_to_f16)
            .collect();
        // Subnormals, zeros of both signs and the largest finite values.
        for (i, h) in [0x0001u16, 0x8000, 0x03ff, 0x7bff, 0xfbff, 0x0000]
            .iter()
            .enumerate()
        {
            if i < w.len() {
                w[i] = *h;
            }
        }
        let x = rng.vec(cols, 2.0);
        let mut want = vec![0.0; rows];
        PlainOps.matvec_f16(&mut want, &w, &x, rows, cols).unwrap();
        for tier in TIERS {
            let mut got = vec![f32::NAN; rows];
            ops_at(tier)
                .matvec_f16(&mut got, &w, &x, rows, cols)
                .unwrap();
            assert_eq!(
                bits(&got),
                bits(&want),
                "matvec_f16 {rows}x{cols} at {tier}"
            );
        }
    }
}

#[test]
fn matvec_q8_matches_plain_ops_at_every_tier() {
    let mut rng = Rng(5);
    let mut int8 = |n: usize| -> Vec<i8> {
        // The whole int8 range, -128 and 127 included.
        (0..n)
            .map(|_| ((rng.next() + 1.0) * 128.0) as i32 as i8)
            .collect()
    };
    for &(rows, cols, group) in &[
        (1, 32, 32),
        (3, 15, 5),
        (4, 64, 32),
        (2, 96, 1),
        (5, 64, 64),
    ] {
        let w_q = int8(rows * cols);
        let x_q = int8(cols);
        let mut rng = Rng(rows as u64 * 31 + cols as u64);
        let w_s = rng.vec(rows * cols / group, 0.01);
        let x_s = rng.vec(cols / group, 0.02);
        let mut want = vec![0.0; rows];
        PlainOps
            .matvec_q8(&mut want, &w_q, &w_s, &x_q, &x_s, rows, cols, group)
            .unwrap();
        for tier in TIERS {
            let mut got = vec![f32::NAN; rows];
            ops_at(tier)
                .matvec_q8(&mut got, &w_q, &w_s, &x_q, &x_s, rows, cols, group)
                .unwrap();
            assert_eq!(
                bits(&got),
                bits(&want),
                "matvec_q8 {rows}x{cols}/{group} at {tier}"
            );
        }
    }
    // A group of 0 divides by zero in the kernel: an error, not a panic.
    let err = ops_at(Tier::T0)
        .matvec_q8(&mut [0.0], &[1; 4], &[1.0], &[1; 4], &[1.0], 1, 4, 0)
        .unwrap_err();
    assert_eq!(err.op, "matvec_q8");
}

#[test]
fn rope_and_attention_match_plain_ops_at_every_tier() {
    let mut rng = Rng(11);
    // (head size, heads, KV heads, positions): head sizes with and without a tail.
    for &(hs, heads, kv_heads, n_pos) in
        &[(2, 1, 1, 1), (6, 3, 1, 5), (16, 4, 2, 9), (20, 2, 2, 33)]
    {
        let half = hs / 2;
        let cos = rng.vec(half, 1.0);
        let sin = rng.vec(half, 1.0);
        let x_in = rng.vec(hs * heads, 3.0);
        let mut want_x = x_in.clone();
        PlainOps.rope(&mut want_x, &cos, &sin, hs).unwrap();
        let kv_stride = hs * kv_heads;
        let k_cache = rng.vec(n_pos * kv_stride, 2.0);
        let v_cache = rng.vec(n_pos * kv_stride, 2.0);
        let q = rng.vec(hs, 2.0);
        let kv_offset = (kv_heads - 1) * hs;
        let mut scores = vec![0.0; n_pos + 3];
        let mut want_out = vec![0.0; hs];
        PlainOps
            .attention(
                &mut want_out,
                &q,
                &k_cache,
                &v_cache,
                &mut scores,
                n_pos,
                hs,
                kv_stride,
                kv_offset,
            )
            .unwrap();
        for tier in TIERS {
            let ops = ops_at(tier);
            let mut got = x_in.clone();
            ops.rope(&mut got, &cos, &sin, hs).unwrap();
            assert_eq!(bits(&got), bits(&want_x), "rope hs {hs} at {tier}");
            let mut out = vec![f32::NAN; hs];
            let mut scores = vec![f32::NAN; n_pos + 3];
            ops.attention(
                &mut out,
                &q,
                &k_cache,
                &v_cache,
                &mut scores,
                n_pos,
                hs,
                kv_stride,
                kv_offset,
            )
            .unwrap();
            assert_eq!(
                bits(&out),
                bits(&want_out),
                "attention hs {hs} n {n_pos} at {tier}"
            );
        }
    }
}

#[test]
fn shapes_the_kernel_cannot_take_are_op_errors() {
    for tier in TIERS {
        let ops = ops_at(tier);
        // `w` one element short: the kernel traps instead of reading past it.
        let mut out = [0.0; 2];
        let err: OpError = ops
            .matvec(&mut out, &[1.0; 7], &[1.0; 4], 2, 4)
            .unwrap_err();
        assert_eq!(err.op, "matvec");
        assert!(
            err.reason.contains("out of bounds"),
            "{tier}: {}",
            err.reason
        );
        // A head size of 0 divides by zero in the kernel.
        let err = ops.rope(&mut [1.0; 4], &[], &[], 0).unwrap_err();
        assert_eq!(err.op, "rope");
        // A length past the kernels' i32 parameters never reaches the engine.
        let err = ops.matvec(&mut [], &[], &[], 1 << 31, 0).unwrap_err();
        assert!(err.reason.contains("does not fit"), "{}", err.reason);
    }
}

/// Logits (as bits) at every position of `tokens`, then the greedy continuation.
fn run<O: Ops>(
    model: &Model,
    ops: O,
    workers: &dyn Workers,
    tokens: &[u32],
    steps: usize,
) -> (Vec<Vec<u32>>, Vec<u32>) {
    let n = tokens.len() + steps;
    let mut s = Session::with_workers(model.config, &model.weights, ops, n, workers).unwrap();
    let mut logits = Vec::new();
    let mut generated = Vec::new();
    let mut token = tokens[0];
    for pos in 0..n - 1 {
        let l = s.forward(token, pos).unwrap();
        logits.push(bits(l));
        let next = tinyllama::sampler::argmax(l);
        token = match tokens.get(pos + 1) {
            Some(&t) => t,
            None => {
                generated.push(next);
                next
            }
        };
    }
    (logits, generated)
}

const PROMPT: [u32; 4] = [1, 17, 200, 33];

#[test]
fn models_give_plain_ops_logits_at_every_tier_and_with_two_threads() {
    let one = tinyllama::SerialWorkers;
    let two = ThreadPool::new(2).unwrap();
    for shape in [Shape::Tiny, Shape::Gqa] {
        let f = files(shape, 3, false);
        // Every format of the small shape; the GQA shape (shared KV heads) in F32 and Q8.
        let formats = f.models.iter().filter(|(label, _, _)| {
            shape == Shape::Tiny || label.contains("v0") || label.contains("q8")
        });
        for (label, bytes, _) in formats {
            let model = Model::load(bytes).unwrap();
            let (want_logits, want_tokens) = run(&model, PlainOps, &one, &PROMPT, 12);
            for tier in TIERS {
                for workers in [&one as &dyn Workers, &two] {
                    let (logits, tokens) = run(&model, ops_at(tier), workers, &PROMPT, 12);
                    let threads = workers.count();
                    assert_eq!(
                        tokens, want_tokens,
                        "{shape:?} {label} at {tier}, {threads} threads"
                    );
                    assert!(
                        logits == want_logits,
                        "{shape:?} {label} at {tier}, {threads} threads: logits differ"
                    );
                }
            }
        }
    }
}

#[test]
fn live_slots_tier_up_while_generating_and_keep_the_tokens() {
    let f = files(Shape::Tiny, 5, true);
    let two = ThreadPool::new(2).unwrap();
    for (label, bytes, _) in &f.models {
        let model = Model::load(bytes).unwrap();
        let (want_logits, want_tokens) = run(&model, PlainOps, &two, &PROMPT, 24);
        let caller = live_ops([3, 6, 12]);
        let (logits, tokens) = run(&model, JitOps::new(caller.caller()), &two, &PROMPT, 24);
        assert_eq!(tokens, want_tokens, "{label}");
        assert!(logits == want_logits, "{label}: logits differ");
        for k in LlamaKernel::ALL
            .into_iter()
            .filter(|&k| model_uses(&model, k))
        {
            assert_eq!(caller.caller().tier(k), Tier::T3, "{label}: {}", k.name());
        }
    }
}

/// Whether the forward pass of `model` calls `kernel` (the matvecs by weight type).
fn model_uses(model: &Model, kernel: LlamaKernel) -> bool {
    let q8 = matches!(model.weights.layers[0].wq, tinyllama::Tensor::Q8 { .. });
    let f16 = matches!(model.weights.layers[0].wq, tinyllama::Tensor::F16(_));
    match kernel {
        LlamaKernel::Matvec => !q8 && !f16,
        LlamaKernel::MatvecQ8 => q8,
        LlamaKernel::MatvecF16 => f16,
        _ => true,
    }
}
