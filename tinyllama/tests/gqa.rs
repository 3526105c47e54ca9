//! Grouped-query attention matches a straightforward per-head implementation.

mod common;

use common::reference::RefModel;
use common::{files, rel_err};
use tinyllama::synth::Shape;
use tinyllama::{Config, LayerWeights, Model, PlainOps, Session, Tensor, Weights};

/// The same model with every KV head copied for each query head it serves:
/// plain multi-head attention with `n_kv_heads == n_heads`.
fn expand_to_mha(c: &Config, w: &Weights) -> (Config, Weights) {
    let hs = c.head_size();
    let group = c.n_heads / c.n_kv_heads;
    let expand = |t: &Tensor| {
        let v = t.to_f32();
        let mut out = Vec::with_capacity(c.dim * c.dim);
        for h in 0..c.n_heads {
            let kvh = h / group;
            out.extend_from_slice(&v[kvh * hs * c.dim..(kvh + 1) * hs * c.dim]);
        }
        Tensor::F32(out)
    };
    let layers = w
        .layers
        .iter()
        .map(|l| LayerWeights {
            wk: expand(&l.wk),
            wv: expand(&l.wv),
            ..l.clone()
        })
        .collect();
    let mut mc = *c;
    mc.n_kv_heads = c.n_heads;
    (
        mc,
        Weights {
            layers,
            ..w.clone()
        },
    )
}

#[test]
fn gqa_equals_expanded_multi_head_attention() {
    let f = files(Shape::Gqa, 3, false);
    let m = Model::load(&f.models[3].1).unwrap();
    assert!(m.config.n_kv_heads < m.config.n_heads);
    let (mc, mw) = expand_to_mha(&m.config, &m.weights);
    let tokens = [1u32, 280, 33, 400, 100, 9, 77];
    let mut g = Session::new(m.config, &m.weights, PlainOps, 16).unwrap();
    let mut h = Session::new(mc, &mw, PlainOps, 16).unwrap();
    for (pos, &t) in tokens.iter().enumerate() {
        let a = g.forward(t, pos).unwrap().to_vec();
        let b = h.forward(t, pos).unwrap().to_vec();
        assert_eq!(a, b, "position {pos}");
    }
}

#[test]
fn gqa_matches_the_per_head_reference() {
    let f = files(Shape::Gqa, 4, true);
    for (label, bytes, quantized) in &f.models {
        if *quantized {
            continue;
        }
        let m = Model::load(bytes).unwrap();
        let r = RefModel::new(m.config, &m.weights);
        let tokens = [1u32, 300, 301, 302, 5, 6];
        let expected = r.logits(&tokens);
        let mut s = Session::new(m.config, &m.weights, PlainOps, 8).unwrap();
        for (pos, &t) in tokens.iter().enumerate() {
            let err = rel_err(s.forward(t, pos).unwrap(), &expected[pos]);
            assert!(err < 1e-5, "{label}: position {pos}: {err}");
        }
    }
}
