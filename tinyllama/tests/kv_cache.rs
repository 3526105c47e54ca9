//! The KV-cached, one-token-at-a-time forward pass equals a full recompute
//! of the whole prefix (the no-cache reference implementation).

mod common;

use common::reference::RefModel;
use common::{files, rel_err};
use tinyllama::synth::Shape;
use tinyllama::{Model, PlainOps, Session};

#[test]
fn cached_forward_matches_full_recompute_of_each_prefix() {
    for shape in [Shape::Tiny, Shape::Gqa] {
        let f = files(shape, 5, false);
        let m = Model::load(&f.models[1].1).unwrap();
        let r = RefModel::new(m.config, &m.weights);
        let tokens = f
            .tokenizer
            .encode("The cat liked the sun and the soft wind.", true, false)
            .unwrap();
        assert!(tokens.len() >= 8);
        let mut s = Session::new(m.config, &m.weights, PlainOps, tokens.len()).unwrap();
        for n in 1..=tokens.len() {
            let cached = s.forward(tokens[n - 1], n - 1).unwrap().to_vec();
            // Recompute everything for the prefix of length n, no cache.
            let full = r.logits(&tokens[..n]);
            let err = rel_err(&cached, full.last().unwrap());
            assert!(err < 1e-5, "{shape:?}: prefix {n}: relative error {err}");
        }
    }
}

#[test]
fn fresh_sessions_reproduce_the_same_logits() {
    let f = files(Shape::Tiny, 5, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let tokens = [1u32, 40, 41, 42, 43];
    let mut a = Session::new(m.config, &m.weights, PlainOps, 8).unwrap();
    let run_a: Vec<Vec<f32>> = tokens
        .iter()
        .enumerate()
        .map(|(p, &t)| a.forward(t, p).unwrap().to_vec())
        .collect();
    // Reusing the session from position 0 overwrites the cache.
    let run_b: Vec<Vec<f32>> = tokens
        .iter()
        .enumerate()
        .map(|(p, &t)| a.forward(t, p).unwrap().to_vec())
        .collect();
    assert_eq!(run_a, run_b);
}

#[test]
fn positions_and_tokens_out_of_range_are_errors() {
    let f = files(Shape::Tiny, 5, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let mut s = Session::new(m.config, &m.weights, PlainOps, 4).unwrap();
    assert_eq!(s.context_len(), 4);
    assert!(
        s.forward(1, 4)
            .unwrap_err()
            .to_string()
            .contains("position")
    );
    assert!(s.forward(512, 0).unwrap_err().to_string().contains("token"));
    // A context of 0 positions used to be raised to 1 silently.
    let e = Session::new(m.config, &m.weights, PlainOps, 0)
        .err()
        .expect("a context of 0 is an error");
    assert!(e.to_string().contains("context length"), "{e}");
}
