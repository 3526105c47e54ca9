//! The checkpoint generator: deterministic random weights for a chosen
//! shape, written in every supported format, and a matching tokenizer.
//!
//! Weights are drawn on a grid that every format represents exactly: in each
//! run of 32 consecutive values (one quantization group) every value is
//! `q · 2^-e` with an int8 `q`, one `q` of ±127, and a per-group `e`. Such a
//! value is exact in f32 and f16, and Q8 quantization (scale `max|w| / 127 =
//! 2^-e`) recovers it exactly. So every format of one generated model holds
//! the very same weights, and fp32, f16 and Q8_0 files differ only in how the
//! forward pass computes (Q8 files quantize the activations too).

mod corpus;
mod tokenizer;
mod weights;
mod writers;

pub use tokenizer::synth_tokenizer;
pub use weights::synth_weights;
pub use writers::{GgufType, write_gguf, write_llama2c, write_tokenizer_bin};

use crate::config::Config;
use crate::error::{Error, Result};

/// The Q8 group size of generated llama2.c v2 files (the same as GGUF's Q8_0 block).
pub const GROUP: usize = 32;

/// A named model shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Small enough for debug-build tests: dim 64, 2 layers, 4 heads, hidden 160, vocab 512, seq 64.
    Tiny,
    /// Grouped-query attention: dim 128, 2 layers, 8 heads, 2 KV heads, hidden 352, vocab 512, seq 64.
    Gqa,
    /// stories15M's shape: dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, seq 256.
    Stories15M,
    /// stories110M's shape: dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000, seq 1024.
    Stories110M,
    /// TinyLlama-1.1B's shape: dim 2048, 22 layers, 32 heads, 4 KV heads, hidden 5632, vocab 32000, seq 2048.
    TinyLlama1B,
}

impl Shape {
    /// All shapes, with their command-line names.
    pub const ALL: [(&'static str, Shape); 5] = [
        ("tiny", Shape::Tiny),
        ("gqa", Shape::Gqa),
        ("stories15m", Shape::Stories15M),
        ("stories110m", Shape::Stories110M),
        ("tinyllama-1.1b", Shape::TinyLlama1B),
    ];

    /// Looks a shape up by its command-line name.
    pub fn from_name(name: &str) -> Result<Shape> {
        Shape::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                Error::invalid(
                    "shape",
                    alloc::format!(
                        "{name:?} (known: tiny, gqa, stories15m, stories110m, tinyllama-1.1b)"
                    ),
                )
            })
    }

    /// The configuration of this shape.
    pub fn config(self) -> Config {
        let (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) = match self {
            Shape::Tiny => (64, 160, 2, 4, 4, 512, 64),
            Shape::Gqa => (128, 352, 2, 8, 2, 512, 64),
            Shape::Stories15M => (288, 768, 6, 6, 6, 32000, 256),
            Shape::Stories110M => (768, 2048, 12, 12, 12, 32000, 1024),
            Shape::TinyLlama1B => (2048, 5632, 22, 32, 4, 32000, 2048),
        };
        Config {
            dim,
            hidden_dim,
            n_layers,
            n_heads,
            n_kv_heads,
            vocab_size,
            seq_len,
            rms_eps: 1e-5,
            rope_theta: 10000.0,
        }
    }
}
