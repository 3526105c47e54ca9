//! Independent numerical check: every op, and whole forward steps of the
//! tiny model, against a second implementation written from the math (f64).
//! Tolerance: 1e-5 relative to the largest magnitude of the reference vector.

mod common;

use common::reference::{self, RefModel};
use common::{files, rel_err};
use tinyllama::sampler::Rng;
use tinyllama::synth::Shape;
use tinyllama::tensor::quantize_q8;
use tinyllama::{Model, Ops, PlainOps, Session};

const TOL: f64 = 1e-5;

fn random(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
        .collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn each_op_matches_the_math() {
    let ops = PlainOps;
    let mut rng = Rng::new(42);
    for &(rows, cols) in &[(1, 1), (3, 17), (64, 64), (160, 64), (64, 160), (7, 288)] {
        let w = random(&mut rng, rows * cols, 1.0);
        let x = random(&mut rng, cols, 2.0);
        let mut out = vec![0.0; rows];
        ops.matvec(&mut out, &w, &x, rows, cols).unwrap();
        let e = reference::matvec(&f64s(&w), &f64s(&x), rows);
        assert!(
            rel_err(&out, &e) < TOL,
            "matvec {rows}x{cols}: {}",
            rel_err(&out, &e)
        );
    }
    for &n in &[1, 5, 64, 2048] {
        let x = random(&mut rng, n, 3.0);
        let w = random(&mut rng, n, 1.5);
        let mut out = vec![0.0; n];
        ops.rmsnorm(&mut out, &x, &w, 1e-5).unwrap();
        let e = reference::rmsnorm(&f64s(&x), &f64s(&w), 1e-5);
        assert!(rel_err(&out, &e) < TOL, "rmsnorm {n}");

        let mut s = random(&mut rng, n, 20.0);
        let e = reference::softmax(&f64s(&s));
        ops.softmax(&mut s).unwrap();
        assert!(rel_err(&s, &e) < TOL, "softmax {n}");

        let mut g = random(&mut rng, n, 6.0);
        let u = random(&mut rng, n, 2.0);
        let e: Vec<f64> = g
            .iter()
            .zip(&u)
            .map(|(&a, &b)| {
                let a = a as f64;
                a / (1.0 + (-a).exp()) * b as f64
            })
            .collect();
        ops.swiglu(&mut g, &u).unwrap();
        assert!(rel_err(&g, &e) < TOL, "swiglu {n}");
    }
    for &(heads, hs, pos) in &[(1, 2, 0), (4, 16, 3), (6, 48, 200), (32, 64, 2047)] {
        let mut x = random(&mut rng, heads * hs, 1.0);
        let mut e = f64s(&x);
        reference::rope(&mut e, pos, hs, 10000.0);
        // The caller-provided tables, as the forward pass computes them.
        let cos: Vec<f32> = (0..hs / 2)
            .map(|j| ((pos as f64) * 10000f64.powf(-(2.0 * j as f64) / hs as f64)).cos() as f32)
            .collect();
        let sin: Vec<f32> = (0..hs / 2)
            .map(|j| ((pos as f64) * 10000f64.powf(-(2.0 * j as f64) / hs as f64)).sin() as f32)
            .collect();
        ops.rope(&mut x, &cos, &sin, hs).unwrap();
        assert!(rel_err(&x, &e) < TOL, "rope {heads}x{hs} at {pos}");
    }
    // Attention of one head over a cache with interleaved KV heads.
    for &(n_pos, hs, kv_heads, kvh) in &[(1, 8, 1, 0), (5, 16, 2, 1), (64, 48, 3, 2)] {
        let stride = hs * kv_heads;
        let kc = random(&mut rng, n_pos * stride, 1.0);
        let vc = random(&mut rng, n_pos * stride, 1.0);
        let q = random(&mut rng, hs, 2.0);
        let mut out = vec![0.0; hs];
        let mut scratch = vec![0.0; n_pos];
        ops.attention(
            &mut out,
            &q,
            &kc,
            &vc,
            &mut scratch,
            n_pos,
            hs,
            stride,
            kvh * hs,
        )
        .unwrap();
        let scores: Vec<f64> = (0..n_pos)
            .map(|t| {
                (0..hs)
                    .map(|i| q[i] as f64 * kc[t * stride + kvh * hs + i] as f64)
                    .sum::<f64>()
                    / (hs as f64).sqrt()
            })
            .collect();
        let p = reference::softmax(&scores);
        let e: Vec<f64> = (0..hs)
            .map(|i| {
                (0..n_pos)
                    .map(|t| p[t] * vc[t * stride + kvh * hs + i] as f64)
                    .sum()
            })
            .collect();
        assert!(rel_err(&out, &e) < TOL, "attention {n_pos} positions");
    }
}

#[test]
fn q8_matvec_matches_the_math() {
    let ops = PlainOps;
    let mut rng = Rng::new(9);
    for &(rows, cols, group) in &[
        (1, 32, 32),
        (5, 64, 32),
        (64, 160, 32),
        (3, 96, 48),
        (4, 8, 2),
    ] {
        let w = random(&mut rng, rows * cols, 1.0);
        let x = random(&mut rng, cols, 3.0);
        let (mut wq, mut ws) = (vec![0i8; rows * cols], vec![0f32; rows * cols / group]);
        let (mut xq, mut xs) = (vec![0i8; cols], vec![0f32; cols / group]);
        quantize_q8(&mut wq, &mut ws, &w, group);
        quantize_q8(&mut xq, &mut xs, &x, group);
        let mut out = vec![0.0; rows];
        ops.matvec_q8(&mut out, &wq, &ws, &xq, &xs, rows, cols, group)
            .unwrap();
        let e: Vec<f64> = (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| {
                        let i = r * cols + c;
                        wq[i] as f64 * ws[i / group] as f64 * xq[c] as f64 * xs[c / group] as f64
                    })
                    .sum()
            })
            .collect();
        assert!(rel_err(&out, &e) < TOL, "matvec_q8 {rows}x{cols}/{group}");
        // And the quantized product approximates the fp32 one.
        let exact = reference::matvec(&f64s(&w), &f64s(&x), rows);
        assert!(rel_err(&out, &exact) < 0.05, "Q8 error {rows}x{cols}");
    }
}

fn forward_matches(shape: Shape, shared: bool) {
    let f = files(shape, 11, shared);
    let m = Model::load(&f.models[0].1).unwrap();
    let r = RefModel::new(m.config, &m.weights);
    let tokens: Vec<u32> = vec![1, 300, 45, 100, 511, 7, 260, 300];
    let expected = r.logits(&tokens);
    let mut s = Session::new(m.config, &m.weights, PlainOps, tokens.len()).unwrap();
    for (pos, &t) in tokens.iter().enumerate() {
        let got = s.forward(t, pos).unwrap();
        let err = rel_err(got, &expected[pos]);
        assert!(err < TOL, "{shape:?}: position {pos}: relative error {err}");
    }
}

#[test]
fn tiny_forward_matches_the_reference() {
    forward_matches(Shape::Tiny, true);
    forward_matches(Shape::Tiny, false);
}

fn random_weights(c: &tinyllama::Config, rng: &mut Rng, shared: bool) -> tinyllama::Weights {
    use tinyllama::{LayerWeights, Tensor};
    let (d, h, kv, v) = (c.dim, c.hidden_dim, c.kv_dim(), c.vocab_size);
    let mut m = |n: usize, s: f32| Tensor::F32(random(rng, n, s));
    let mut layers = Vec::new();
    for _ in 0..c.n_layers {
        layers.push(LayerWeights {
            rms_att: m(d, 1.0).to_f32(),
            wq: m(d * d, 0.5),
            wk: m(kv * d, 0.5),
            wv: m(kv * d, 0.5),
            wo: m(d * d, 0.5),
            rms_ffn: m(d, 1.0).to_f32(),
            w1: m(h * d, 0.5),
            w2: m(d * h, 0.5),
            w3: m(h * d, 0.5),
        });
    }
    tinyllama::Weights {
        token_embedding: m(v * d, 1.0),
        layers,
        rms_final: m(d, 1.0).to_f32(),
        wcls: if shared { None } else { Some(m(v * d, 1.0)) },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Odd sizes exercise the remainder paths of the vectorized loops.
    #[test]
    fn random_shapes_match_the_reference(
        half_head in 1usize..6,
        kv_heads in 1usize..3,
        group in 1usize..3,
        hidden in 1usize..40,
        vocab in 4usize..40,
        layers in 1usize..3,
        n_tokens in 1usize..6,
        shared in proptest::bool::ANY,
        seed in 1u64..1000,
    ) {
        let n_heads = kv_heads * group;
        let c = tinyllama::Config {
            dim: n_heads * half_head * 2,
            hidden_dim: hidden,
            n_layers: layers,
            n_heads,
            n_kv_heads: kv_heads,
            vocab_size: vocab,
            seq_len: 8,
            rms_eps: 1e-5,
            rope_theta: 10000.0,
        };
        let mut rng = Rng::new(seed);
        let w = random_weights(&c, &mut rng, shared);
        let tokens: Vec<u32> = (0..n_tokens).map(|_| rng.next_u32() % vocab as u32).collect();
        let expected = RefModel::new(c, &w).logits(&tokens);
        let mut s = Session::new(c, &w, PlainOps, 8).unwrap();
        for (pos, &t) in tokens.iter().enumerate() {
            let err = rel_err(s.forward(t, pos).unwrap(), &expected[pos]);
            proptest::prop_assert!(err < TOL, "{c:?} position {pos}: {err}");
        }
    }
}
