//! llama2.c checkpoints: version 0 (legacy header, fp32), version 1
//! ("ak42" 256-byte header, fp32) and version 2 ("ak42" header, Q8 groups).
//!
//! Layouts (all little-endian):
//! - v0: 7 × i32 `dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//!   seq_len` (negative `vocab_size` = separate classifier), then fp32
//!   `token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
//!   freq_cis_real, freq_cis_imag` (the last two `seq_len * head_size / 2`
//!   each, unused), then `wcls` if unshared.
//! - v1: u32 magic `0x616b3432`, i32 version, the 7 × i32, u8
//!   shared_classifier, zero padding to 256 bytes; fp32 `rms_att, rms_ffn,
//!   rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3`, then `wcls` if
//!   unshared.
//! - v2: as v1 plus an i32 group size after the shared byte; fp32 norms
//!   (`rms_att, rms_ffn, rms_final`), then for each quantized matrix (`token_embedding`, then each
//!   layer's `wq`, each `wk`, `wv`, `wo`, `w1`, `w2`, `w3`, then `wcls` if unshared) its
//!   int8 values followed by its fp32 group scales.
//!
//! Files must be exactly as long as the header implies.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::reader::{Reader, checked_bytes};
use crate::source::ModelSource;
use crate::tensor::Tensor;
use crate::weights::{LayerWeights, Weights};

/// Magic of the v1/v2 header ("ak42" read as a little-endian u32).
pub const MAGIC: u32 = 0x616b_3432;
/// Size of the v1/v2 header.
pub const HEADER_LEN: usize = 256;
/// Largest accepted Q8 group size: keeps every group's i32 dot product
/// far from overflow (see [`crate::ops::Ops::matvec_q8`]).
pub const MAX_GROUP: usize = 1 << 16;
/// RMSNorm epsilon used by llama2.c.
pub const RMS_EPS: f32 = 1e-5;
/// RoPE base used by llama2.c.
pub const ROPE_THETA: f32 = 10000.0;

/// Which llama2.c layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Legacy header, fp32.
    V0,
    /// "ak42" header, fp32.
    V1,
    /// "ak42" header, Q8 groups.
    V2 {
        /// Quantization group size.
        group: usize,
    },
}

/// Whether `head` (the first bytes of a file) starts like a v1/v2 file.
pub fn has_magic(head: &[u8]) -> bool {
    head.len() >= 4 && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == MAGIC
}

fn positive(v: i32, what: &str) -> Result<usize> {
    if v <= 0 {
        return Err(Error::invalid(what, format!("{v} is not positive")));
    }
    Ok(v as usize)
}

/// The v0 vocabulary field: its sign says whether the classifier is separate,
/// its magnitude is the vocabulary size (`i32::MIN` has none that fits).
fn vocab_magnitude(v: i32) -> Result<usize> {
    match v.unsigned_abs() as usize {
        0 => Err(Error::invalid("vocab_size", "0 is not positive")),
        n if n > crate::config::MAX_DIM => Err(Error::invalid(
            "vocab_size",
            format!(
                "{v} (negative means a separate classifier): its magnitude {n} is outside 1..={}",
                crate::config::MAX_DIM
            ),
        )),
        n => Ok(n),
    }
}

/// Whether the first bytes look like a GGUF magic with a byte or two damaged:
/// three of the four magic bytes in place, or two followed by a GGUF version.
fn near_gguf(bytes: &[u8]) -> bool {
    let same = bytes
        .iter()
        .zip(crate::gguf::MAGIC)
        .filter(|(a, b)| a == b)
        .count();
    let version = bytes
        .get(4..8)
        .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
    same >= 3 || (same >= 2 && matches!(version, Some(1..=3)))
}

/// Reads the 7 shape fields; returns the config and whether the vocab field was negative.
fn read_params<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    what: &str,
) -> Result<(Config, bool)> {
    let dim = r.i32(&format!("{what} dim"))?;
    let hidden = r.i32(&format!("{what} hidden_dim"))?;
    let layers = r.i32(&format!("{what} n_layers"))?;
    let heads = r.i32(&format!("{what} n_heads"))?;
    let kv_heads = r.i32(&format!("{what} n_kv_heads"))?;
    let vocab = r.i32(&format!("{what} vocab_size"))?;
    let seq = r.i32(&format!("{what} seq_len"))?;
    let negative_vocab = vocab < 0;
    let config = Config {
        dim: positive(dim, "dim")?,
        hidden_dim: positive(hidden, "hidden_dim")?,
        n_layers: positive(layers, "n_layers")?,
        n_heads: positive(heads, "n_heads")?,
        n_kv_heads: positive(kv_heads, "n_kv_heads")?,
        vocab_size: vocab_magnitude(vocab)?,
        seq_len: positive(seq, "seq_len")?,
        rms_eps: RMS_EPS,
        rope_theta: ROPE_THETA,
    };
    config.validate()?;
    Ok((config, negative_vocab))
}

/// Reads `n` fp32 matrices (or vectors) of `size` values each.
fn f32_tensors<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    n: usize,
    size: usize,
    what: &str,
) -> Result<Vec<Vec<f32>>> {
    // Check the whole group first so a truncation names the tensor group.
    let total = checked_bytes(checked_bytes(n as u64, size as u64, what)?, 4, what)?;
    r.ensure(total, what)?;
    (0..n)
        .map(|i| r.vec::<f32>(size as u64, &format!("{what}[{i}]")))
        .collect()
}

/// Reads `n` Q8 matrices of `size` values: int8 values, then fp32 group scales.
fn q8_tensors<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    n: usize,
    size: usize,
    group: usize,
    what: &str,
) -> Result<Vec<Tensor>> {
    let per = size as u64 + checked_bytes((size / group) as u64, 4, what)?;
    r.ensure(checked_bytes(n as u64, per, what)?, what)?;
    (0..n)
        .map(|i| {
            let q = r.vec::<i8>(size as u64, &format!("{what}[{i}] int8 values"))?;
            let scales = r.vec::<f32>((size / group) as u64, &format!("{what}[{i}] scales"))?;
            Ok(Tensor::Q8 { q, scales, group })
        })
        .collect()
}

fn one<T>(mut v: Vec<T>) -> T {
    // Callers only use this on vectors read with n == 1.
    v.swap_remove(0)
}

fn finish<S: ModelSource + ?Sized>(r: &Reader<'_, S>) -> Result<()> {
    if r.remaining() != 0 {
        return Err(Error::invalid(
            "file length",
            format!(
                "{} trailing bytes after the last tensor at offset {}",
                r.remaining(),
                r.pos()
            ),
        ));
    }
    Ok(())
}

struct Parts {
    emb: Tensor,
    rms_att: Vec<Vec<f32>>,
    rms_ffn: Vec<Vec<f32>>,
    rms_final: Vec<f32>,
    wq: Vec<Tensor>,
    wk: Vec<Tensor>,
    wv: Vec<Tensor>,
    wo: Vec<Tensor>,
    w1: Vec<Tensor>,
    w2: Vec<Tensor>,
    w3: Vec<Tensor>,
    wcls: Option<Tensor>,
}

impl Parts {
    fn into_weights(self) -> Weights {
        let mut layers = Vec::with_capacity(self.wq.len());
        let it = self
            .rms_att
            .into_iter()
            .zip(self.rms_ffn)
            .zip(self.wq)
            .zip(self.wk)
            .zip(self.wv)
            .zip(self.wo)
            .zip(self.w1)
            .zip(self.w2)
            .zip(self.w3);
        for ((((((((rms_att, rms_ffn), wq), wk), wv), wo), w1), w2), w3) in it {
            layers.push(LayerWeights {
                rms_att,
                wq,
                wk,
                wv,
                wo,
                rms_ffn,
                w1,
                w2,
                w3,
            });
        }
        Weights {
            token_embedding: self.emb,
            layers,
            rms_final: self.rms_final,
            wcls: self.wcls,
        }
    }
}

fn f32_t(v: Vec<Vec<f32>>) -> Vec<Tensor> {
    v.into_iter().map(Tensor::F32).collect()
}

/// Loads a llama2.c checkpoint of any version, reading it once from start
/// to end. Without the v1/v2 magic the file must start with a valid v0
/// header, or the error is [`Error::UnknownFormat`].
pub fn load<S: ModelSource + ?Sized>(src: &mut S) -> Result<(Config, Weights, Version)> {
    read(&mut Reader::new(src)?)
}

/// [`load`] through a reader, from its start.
pub fn read<S: ModelSource + ?Sized>(r: &mut Reader<'_, S>) -> Result<(Config, Weights, Version)> {
    r.seek(0, "file start")?;
    let mut head = [0u8; 8];
    let head_len = r.len().min(8) as usize;
    r.read_bytes(&mut head[..head_len], "file start")?;
    let head = &head[..head_len];
    r.seek(0, "file start")?;
    if has_magic(head) {
        r.u32("magic")?;
        let version = r.i32("version")?;
        if version != 1 && version != 2 {
            return Err(Error::unsupported(
                "llama2.c version",
                format!("{version} (supported: 0, 1, 2)"),
            ));
        }
        let (config, _) = read_params(r, "header")?;
        let shared = match r.u8("shared_classifier")? {
            0 => false,
            1 => true,
            v => {
                return Err(Error::invalid(
                    "shared_classifier",
                    format!("{v} is neither 0 nor 1"),
                ));
            }
        };
        let group = if version == 2 {
            let g = positive(r.i32("group_size")?, "group_size")?;
            if g > MAX_GROUP {
                return Err(Error::invalid(
                    "group_size",
                    format!("{g} is larger than {MAX_GROUP}"),
                ));
            }
            if config.dim % g != 0 || config.hidden_dim % g != 0 {
                return Err(Error::invalid(
                    "group_size",
                    format!(
                        "{g} does not divide dim {} and hidden_dim {}",
                        config.dim, config.hidden_dim
                    ),
                ));
            }
            Some(g)
        } else {
            None
        };
        r.seek(HEADER_LEN as u64, "256-byte header")?;
        let parts = match group {
            None => v1_body(r, &config, shared)?,
            Some(g) => v2_body(r, &config, shared, g)?,
        };
        finish(r)?;
        let v = match group {
            None => Version::V1,
            Some(group) => Version::V2 { group },
        };
        Ok((config, parts.into_weights(), v))
    } else {
        // No magic: a v0 header, or not a model at all.
        let (config, unshared) =
            read_params(r, "legacy header").map_err(|e| Error::UnknownFormat {
                magic: head[..head.len().min(4)].to_vec(),
                near_gguf: near_gguf(head),
                llama2c: e.to_string(),
            })?;
        let parts = v0_body(r, &config, !unshared)?;
        finish(r)?;
        Ok((config, parts.into_weights(), Version::V0))
    }
}

fn v0_body<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    c: &Config,
    shared: bool,
) -> Result<Parts> {
    let (d, h, kv, l, v) = (c.dim, c.hidden_dim, c.kv_dim(), c.n_layers, c.vocab_size);
    let emb = Tensor::F32(one(f32_tensors(r, 1, v * d, "token_embedding")?));
    let rms_att = f32_tensors(r, l, d, "rms_att")?;
    let wq = f32_t(f32_tensors(r, l, d * d, "wq")?);
    let wk = f32_t(f32_tensors(r, l, kv * d, "wk")?);
    let wv = f32_t(f32_tensors(r, l, kv * d, "wv")?);
    let wo = f32_t(f32_tensors(r, l, d * d, "wo")?);
    let rms_ffn = f32_tensors(r, l, d, "rms_ffn")?;
    let w1 = f32_t(f32_tensors(r, l, h * d, "w1")?);
    let w2 = f32_t(f32_tensors(r, l, d * h, "w2")?);
    let w3 = f32_t(f32_tensors(r, l, h * d, "w3")?);
    let rms_final = one(f32_tensors(r, 1, d, "rms_final")?);
    let freq = (c.seq_len * c.head_size() / 2) as u64 * 4;
    r.skip(freq, "freq_cis_real")?;
    r.skip(freq, "freq_cis_imag")?;
    let wcls = if shared {
        None
    } else {
        Some(Tensor::F32(one(f32_tensors(r, 1, v * d, "wcls")?)))
    };
    Ok(Parts {
        emb,
        rms_att,
        rms_ffn,
        rms_final,
        wq,
        wk,
        wv,
        wo,
        w1,
        w2,
        w3,
        wcls,
    })
}

fn v1_body<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    c: &Config,
    shared: bool,
) -> Result<Parts> {
    let (d, h, kv, l, v) = (c.dim, c.hidden_dim, c.kv_dim(), c.n_layers, c.vocab_size);
    let rms_att = f32_tensors(r, l, d, "rms_att")?;
    let rms_ffn = f32_tensors(r, l, d, "rms_ffn")?;
    let rms_final = one(f32_tensors(r, 1, d, "rms_final")?);
    let emb = Tensor::F32(one(f32_tensors(r, 1, v * d, "token_embedding")?));
    let wq = f32_t(f32_tensors(r, l, d * d, "wq")?);
    let wk = f32_t(f32_tensors(r, l, kv * d, "wk")?);
    let wv = f32_t(f32_tensors(r, l, kv * d, "wv")?);
    let wo = f32_t(f32_tensors(r, l, d * d, "wo")?);
    let w1 = f32_t(f32_tensors(r, l, h * d, "w1")?);
    let w2 = f32_t(f32_tensors(r, l, d * h, "w2")?);
    let w3 = f32_t(f32_tensors(r, l, h * d, "w3")?);
    let wcls = if shared {
        None
    } else {
        Some(Tensor::F32(one(f32_tensors(r, 1, v * d, "wcls")?)))
    };
    Ok(Parts {
        emb,
        rms_att,
        rms_ffn,
        rms_final,
        wq,
        wk,
        wv,
        wo,
        w1,
        w2,
        w3,
        wcls,
    })
}

fn v2_body<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    c: &Config,
    shared: bool,
    g: usize,
) -> Result<Parts> {
    let (d, h, kv, l, v) = (c.dim, c.hidden_dim, c.kv_dim(), c.n_layers, c.vocab_size);
    let rms_att = f32_tensors(r, l, d, "rms_att")?;
    let rms_ffn = f32_tensors(r, l, d, "rms_ffn")?;
    let rms_final = one(f32_tensors(r, 1, d, "rms_final")?);
    let emb = one(q8_tensors(r, 1, v * d, g, "token_embedding")?);
    let wq = q8_tensors(r, l, d * d, g, "wq")?;
    let wk = q8_tensors(r, l, kv * d, g, "wk")?;
    let wv = q8_tensors(r, l, kv * d, g, "wv")?;
    let wo = q8_tensors(r, l, d * d, g, "wo")?;
    let w1 = q8_tensors(r, l, h * d, g, "w1")?;
    let w2 = q8_tensors(r, l, d * h, g, "w2")?;
    let w3 = q8_tensors(r, l, h * d, g, "w3")?;
    let wcls = if shared {
        None
    } else {
        Some(one(q8_tensors(r, 1, v * d, g, "wcls")?))
    };
    Ok(Parts {
        emb,
        rms_att,
        rms_ffn,
        rms_final,
        wq,
        wk,
        wv,
        wo,
        w1,
        w2,
        w3,
        wcls,
    })
}
