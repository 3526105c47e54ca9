//! Model hyper-parameters, validated once so the rest of the crate can trust them.

use alloc::format;

use crate::error::{Error, Result};

/// Largest accepted value of any single dimension (dim, hidden, vocab, seq_len).
/// Generous for llama-family models, small enough that products of a few
/// dimensions cannot overflow 64 bits.
pub const MAX_DIM: usize = 1 << 24;
/// Largest accepted layer or head count.
pub const MAX_COUNT: usize = 1 << 12;

/// The shape and constants of a llama-family transformer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Model width (`embedding_length`).
    pub dim: usize,
    /// FFN inner width (`feed_forward_length`).
    pub hidden_dim: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (`n_heads` is a multiple of it; fewer means grouped-query attention).
    pub n_kv_heads: usize,
    /// Vocabulary size (rows of the embedding and classifier).
    pub vocab_size: usize,
    /// Maximum context length.
    pub seq_len: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// RoPE base frequency.
    pub rope_theta: f32,
}

impl Config {
    /// Per-head width.
    pub fn head_size(&self) -> usize {
        self.dim / self.n_heads
    }

    /// Width of the K and V projections (`n_kv_heads * head_size`).
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_size()
    }

    /// Checks every field and their relations; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let dims = [
            ("dim", self.dim),
            ("hidden_dim", self.hidden_dim),
            ("vocab_size", self.vocab_size),
            ("seq_len", self.seq_len),
        ];
        for (name, v) in dims {
            if v == 0 || v > MAX_DIM {
                return Err(Error::invalid(
                    name,
                    format!("{v} is outside 1..={MAX_DIM}"),
                ));
            }
        }
        let counts = [
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
        ];
        for (name, v) in counts {
            if v == 0 || v > MAX_COUNT {
                return Err(Error::invalid(
                    name,
                    format!("{v} is outside 1..={MAX_COUNT}"),
                ));
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return Err(Error::invalid(
                "n_heads",
                format!(
                    "dim {} is not a multiple of n_heads {}",
                    self.dim, self.n_heads
                ),
            ));
        }
        if !self.head_size().is_multiple_of(2) {
            return Err(Error::invalid(
                "n_heads",
                format!("head size {} is odd; RoPE needs pairs", self.head_size()),
            ));
        }
        if self.n_kv_heads > self.n_heads || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(Error::invalid(
                "n_kv_heads",
                format!(
                    "{} does not divide n_heads {}",
                    self.n_kv_heads, self.n_heads
                ),
            ));
        }
        if !(self.rms_eps.is_finite() && self.rms_eps > 0.0 && self.rms_eps < 1.0) {
            return Err(Error::invalid(
                "rms_norm_epsilon",
                format!("{} is not in (0, 1)", self.rms_eps),
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(Error::invalid(
                "rope_freq_base",
                format!("{} is not a finite value above 1", self.rope_theta),
            ));
        }
        Ok(())
    }
}
