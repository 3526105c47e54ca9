//! Shared helpers for the integration tests: generated models in every format.
#![allow(dead_code)]

pub mod reference;

use tinyllama::synth::{
    GROUP, GgufType, Shape, synth_tokenizer, synth_weights, write_gguf, write_llama2c,
    write_tokenizer_bin,
};
use tinyllama::{Config, Model, PlainOps, Session, Tokenizer, Weights};

/// Every format of one generated model.
pub struct Files {
    pub config: Config,
    pub weights: Weights,
    pub tokenizer: Tokenizer,
    pub tokenizer_bin: Vec<u8>,
    /// (label, bytes, quantized?)
    pub models: Vec<(&'static str, Vec<u8>, bool)>,
}

pub fn files(shape: Shape, seed: u64, shared: bool) -> Files {
    let config = shape.config();
    let weights = synth_weights(&config, seed, shared);
    let tokenizer = synth_tokenizer(config.vocab_size).expect("synthetic tokenizer");
    let models = vec![
        (
            "llama2.c v0",
            write_llama2c(&config, &weights, 0, GROUP),
            false,
        ),
        (
            "llama2.c v1",
            write_llama2c(&config, &weights, 1, GROUP),
            false,
        ),
        (
            "llama2.c v2",
            write_llama2c(&config, &weights, 2, GROUP),
            true,
        ),
        (
            "gguf f32",
            write_gguf(&config, &weights, &tokenizer, GgufType::F32),
            false,
        ),
        (
            "gguf f16",
            write_gguf(&config, &weights, &tokenizer, GgufType::F16),
            false,
        ),
        (
            "gguf q8_0",
            write_gguf(&config, &weights, &tokenizer, GgufType::Q8_0),
            true,
        ),
    ];
    Files {
        config,
        weights,
        tokenizer_bin: write_tokenizer_bin(&tokenizer),
        tokenizer,
        models,
    }
}

/// Logits for each position when feeding `tokens` (teacher forcing).
pub fn logits_for(model: &Model, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut s = Session::new(model.config, &model.weights, PlainOps, tokens.len()).unwrap();
    tokens
        .iter()
        .enumerate()
        .map(|(pos, &t)| s.forward(t, pos).unwrap().to_vec())
        .collect()
}

/// Greedy continuation of `prompt` for `steps` tokens (no EOS stop).
pub fn greedy(model: &Model, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut s = Session::new(model.config, &model.weights, PlainOps, prompt.len() + steps).unwrap();
    let mut out = Vec::new();
    let mut token = prompt[0];
    for pos in 0..prompt.len() + steps - 1 {
        let logits = s.forward(token, pos).unwrap();
        let next = tinyllama::sampler::argmax(logits);
        token = if pos + 1 < prompt.len() {
            prompt[pos + 1]
        } else {
            out.push(next);
            next
        };
    }
    out
}

/// Largest absolute difference divided by the largest magnitude in `b`.
pub fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
        / scale
}
