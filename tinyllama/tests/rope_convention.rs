//! The RoPE / GGUF convention: a model whose Q/K rows are in Hugging Face's
//! half-split order, run with HF's `rotate_half` RoPE, is what llama.cpp's
//! converter turns into GGUF by permuting the rows of each head
//! (row `2i + s` of a head takes HF row `s · head_size/2 + i`). Loading such
//! a GGUF and running this crate's interleaved-pair RoPE must reproduce the HF
//! model; skipping the permutation must not.

mod common;

use common::reference::RefModel;
use common::rel_err;
use tinyllama::synth::{GgufType, Shape, synth_tokenizer, synth_weights, write_gguf};
use tinyllama::{Model, PlainOps, Session, Tensor, Weights};

/// llama.cpp's converter permutation, for a matrix of `heads` heads.
fn hf_to_gguf(t: &Tensor, heads: usize, cols: usize) -> Tensor {
    let v = t.to_f32();
    let rows = v.len() / cols;
    let hs = rows / heads;
    let mut out = vec![0.0; v.len()];
    for h in 0..heads {
        for i in 0..hs / 2 {
            for s in 0..2 {
                let dst = h * hs + 2 * i + s;
                let src = h * hs + s * (hs / 2) + i;
                out[dst * cols..(dst + 1) * cols].copy_from_slice(&v[src * cols..(src + 1) * cols]);
            }
        }
    }
    Tensor::F32(out)
}

fn logits(bytes: &[u8], tokens: &[u32]) -> Vec<Vec<f32>> {
    let m = Model::load(bytes).unwrap();
    let mut s = Session::new(m.config, &m.weights, PlainOps, tokens.len()).unwrap();
    tokens
        .iter()
        .enumerate()
        .map(|(p, &t)| s.forward(t, p).unwrap().to_vec())
        .collect()
}

#[test]
fn gguf_from_hf_layout_matches_the_hf_model() {
    for shape in [Shape::Tiny, Shape::Gqa] {
        let c = shape.config();
        // Read these weights as an HF checkpoint (half-split Q/K rows).
        let hf = synth_weights(&c, 21, false);
        let mut reference = RefModel::new(c, &hf);
        reference.half_split_rope = true;
        let tokens = [1u32, 300, 301, 77, 400, 12];
        let expected = reference.logits(&tokens);

        let mut converted: Weights = hf.clone();
        for l in converted.layers.iter_mut() {
            l.wq = hf_to_gguf(&l.wq, c.n_heads, c.dim);
            l.wk = hf_to_gguf(&l.wk, c.n_kv_heads, c.dim);
        }
        let tok = synth_tokenizer(c.vocab_size).unwrap();
        let gguf = write_gguf(&c, &converted, &tok, GgufType::F32);
        for (pos, got) in logits(&gguf, &tokens).iter().enumerate() {
            let err = rel_err(got, &expected[pos]);
            assert!(err < 1e-5, "{shape:?}: position {pos}: {err}");
        }

        // Without the permutation the model is a different one (from position 1 on).
        let raw = write_gguf(&c, &hf, &tok, GgufType::F32);
        let wrong = logits(&raw, &tokens);
        assert!(
            rel_err(&wrong[3], &expected[3]) > 1e-2,
            "{shape:?}: the test cannot tell"
        );
    }
}
