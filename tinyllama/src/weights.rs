//! The weights of a llama-family transformer, independent of the file format.

use alloc::format;
use alloc::vec::Vec;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The weights of one transformer block. Matrices are row-major `[out][in]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// RMSNorm weight before attention, `dim`.
    pub rms_att: Vec<f32>,
    /// Query projection, `dim` × `dim` (rows in the interleaved RoPE layout).
    pub wq: Tensor,
    /// Key projection, `kv_dim` × `dim` (rows in the interleaved RoPE layout).
    pub wk: Tensor,
    /// Value projection, `kv_dim` × `dim`.
    pub wv: Tensor,
    /// Attention output projection, `dim` × `dim`.
    pub wo: Tensor,
    /// RMSNorm weight before the FFN, `dim`.
    pub rms_ffn: Vec<f32>,
    /// FFN gate projection, `hidden_dim` × `dim`.
    pub w1: Tensor,
    /// FFN down projection, `dim` × `hidden_dim`.
    pub w2: Tensor,
    /// FFN up projection, `hidden_dim` × `dim`.
    pub w3: Tensor,
}

/// All weights of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Token embedding table, `vocab_size` × `dim`.
    pub token_embedding: Tensor,
    /// One entry per block.
    pub layers: Vec<LayerWeights>,
    /// Final RMSNorm weight, `dim`.
    pub rms_final: Vec<f32>,
    /// Classifier, `vocab_size` × `dim`; `None` means tied to the embedding.
    pub wcls: Option<Tensor>,
}

impl Weights {
    /// The classifier (the embedding table when tied).
    pub fn classifier(&self) -> &Tensor {
        self.wcls.as_ref().unwrap_or(&self.token_embedding)
    }

    /// Bytes of memory all weight buffers hold (tensors and norm vectors,
    /// by capacity): what a loaded model keeps resident besides the small
    /// fixed-size structs.
    pub fn resident_bytes(&self) -> usize {
        let vec = |v: &Vec<f32>| v.capacity() * core::mem::size_of::<f32>();
        let mut total = self.token_embedding.resident_bytes() + vec(&self.rms_final);
        total += self.wcls.as_ref().map_or(0, Tensor::resident_bytes);
        for l in &self.layers {
            total += vec(&l.rms_att) + vec(&l.rms_ffn);
            total += [&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3]
                .iter()
                .map(|t| t.resident_bytes())
                .sum::<usize>();
        }
        total
    }

    /// Checks every tensor's size (and Q8 grouping) against `config`.
    pub fn validate(&self, config: &Config) -> Result<()> {
        let (dim, hidden, kv_dim, vocab) = (
            config.dim,
            config.hidden_dim,
            config.kv_dim(),
            config.vocab_size,
        );
        check_tensor("token_embedding", &self.token_embedding, vocab, dim)?;
        if self.layers.len() != config.n_layers {
            return Err(Error::invalid(
                "layers",
                format!("{} layers, expected {}", self.layers.len(), config.n_layers),
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            check_vec(&format!("layer {i} rms_att"), &l.rms_att, dim)?;
            check_vec(&format!("layer {i} rms_ffn"), &l.rms_ffn, dim)?;
            check_tensor(&format!("layer {i} wq"), &l.wq, dim, dim)?;
            check_tensor(&format!("layer {i} wk"), &l.wk, kv_dim, dim)?;
            check_tensor(&format!("layer {i} wv"), &l.wv, kv_dim, dim)?;
            check_tensor(&format!("layer {i} wo"), &l.wo, dim, dim)?;
            check_tensor(&format!("layer {i} w1"), &l.w1, hidden, dim)?;
            check_tensor(&format!("layer {i} w2"), &l.w2, dim, hidden)?;
            check_tensor(&format!("layer {i} w3"), &l.w3, hidden, dim)?;
        }
        check_vec("rms_final", &self.rms_final, dim)?;
        if let Some(w) = &self.wcls {
            check_tensor("wcls", w, vocab, dim)?;
        }
        Ok(())
    }
}

fn check_vec(what: &str, v: &[f32], n: usize) -> Result<()> {
    if v.len() != n {
        return Err(Error::invalid(
            what,
            format!("{} values, expected {n}", v.len()),
        ));
    }
    Ok(())
}

fn check_tensor(what: &str, t: &Tensor, rows: usize, cols: usize) -> Result<()> {
    let n = rows * cols;
    match t {
        Tensor::F32(v) => check_vec(what, v, n),
        Tensor::F16(v) => {
            if v.len() != n {
                return Err(Error::invalid(
                    what,
                    format!("{} f16 values, expected {n}", v.len()),
                ));
            }
            Ok(())
        }
        Tensor::Q8 { q, scales, group } => {
            if *group > crate::llama2c::MAX_GROUP {
                return Err(Error::invalid(
                    what,
                    format!(
                        "Q8 group size {group} exceeds {}",
                        crate::llama2c::MAX_GROUP
                    ),
                ));
            }
            if *group == 0 || !cols.is_multiple_of(*group) {
                return Err(Error::invalid(
                    what,
                    format!("Q8 group size {group} does not divide the row length {cols}"),
                ));
            }
            if q.len() != n || scales.len() != n / group {
                return Err(Error::invalid(
                    what,
                    format!(
                        "{} int8 values and {} scales, expected {n} and {}",
                        q.len(),
                        scales.len(),
                        n / group
                    ),
                ));
            }
            Ok(())
        }
    }
}
