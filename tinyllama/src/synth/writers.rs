//! Serializers for every supported format (the inverse of the loaders).

use alloc::string::String;
use alloc::vec::Vec;

use crate::config::Config;
use crate::gguf::{self, ty};
use crate::llama2c::{HEADER_LEN, MAGIC};
use crate::tensor::{Tensor, f32_to_f16, quantize_q8};
use crate::tokenizer::Tokenizer;
use crate::weights::{LayerWeights, Weights};

type Get = fn(&LayerWeights) -> &Tensor;
const WQ: Get = |l| &l.wq;
const WK: Get = |l| &l.wk;
const WV: Get = |l| &l.wv;
const WO: Get = |l| &l.wo;
const W1: Get = |l| &l.w1;
const W2: Get = |l| &l.w2;
const W3: Get = |l| &l.w3;

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn put_q8(out: &mut Vec<u8>, t: &Tensor, group: usize) {
    let x = t.to_f32();
    let mut q = alloc::vec![0i8; x.len()];
    let mut s = alloc::vec![0f32; x.len() / group];
    quantize_q8(&mut q, &mut s, &x, group);
    out.extend(q.iter().map(|&v| v as u8));
    put_f32s(out, &s);
}

/// Writes a llama2.c checkpoint: `version` 0 or 1 (fp32) or 2 (Q8 with
/// groups of `group`, which must divide `dim` and `hidden_dim`).
/// Panics on another version (a programming error in the caller).
pub fn write_llama2c(config: &Config, w: &Weights, version: u32, group: usize) -> Vec<u8> {
    let c = config;
    let shared = w.wcls.is_none();
    let mut out = Vec::new();
    let params = |out: &mut Vec<u8>, negative_vocab: bool| {
        for v in [c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads] {
            put_i32(out, v as i32);
        }
        let vocab = c.vocab_size as i32;
        put_i32(out, if negative_vocab { -vocab } else { vocab });
        put_i32(out, c.seq_len as i32);
    };
    let f = |t: &Tensor| t.to_f32();
    match version {
        0 => {
            params(&mut out, !shared);
            put_f32s(&mut out, &f(&w.token_embedding));
            for l in &w.layers {
                put_f32s(&mut out, &l.rms_att);
            }
            for get in [WQ, WK, WV, WO] {
                for l in &w.layers {
                    put_f32s(&mut out, &f(get(l)));
                }
            }
            for l in &w.layers {
                put_f32s(&mut out, &l.rms_ffn);
            }
            for get in [W1, W2, W3] {
                for l in &w.layers {
                    put_f32s(&mut out, &f(get(l)));
                }
            }
            put_f32s(&mut out, &w.rms_final);
            // freq_cis_real and freq_cis_imag, which readers skip.
            let half = c.seq_len * c.head_size() / 2;
            let mut real = Vec::with_capacity(half);
            let mut imag = Vec::with_capacity(half);
            for pos in 0..c.seq_len {
                for j in 0..c.head_size() / 2 {
                    let freq = libm::powf(c.rope_theta, -2.0 * j as f32 / c.head_size() as f32);
                    real.push(libm::cosf(pos as f32 * freq));
                    imag.push(libm::sinf(pos as f32 * freq));
                }
            }
            put_f32s(&mut out, &real);
            put_f32s(&mut out, &imag);
            if let Some(wc) = &w.wcls {
                put_f32s(&mut out, &f(wc));
            }
        }
        1 | 2 => {
            out.extend_from_slice(&MAGIC.to_le_bytes());
            put_i32(&mut out, version as i32);
            params(&mut out, false);
            out.push(shared as u8);
            if version == 2 {
                put_i32(&mut out, group as i32);
            }
            out.resize(HEADER_LEN, 0);
            for l in &w.layers {
                put_f32s(&mut out, &l.rms_att);
            }
            for l in &w.layers {
                put_f32s(&mut out, &l.rms_ffn);
            }
            put_f32s(&mut out, &w.rms_final);
            let mut mats: Vec<&Tensor> = alloc::vec![&w.token_embedding];
            for get in [WQ, WK, WV, WO, W1, W2, W3] {
                mats.extend(w.layers.iter().map(get));
            }
            if let Some(wc) = &w.wcls {
                mats.push(wc);
            }
            for m in mats {
                if version == 1 {
                    put_f32s(&mut out, &f(m));
                } else {
                    put_q8(&mut out, m, group);
                }
            }
        }
        v => panic!("write_llama2c: unknown version {v}"),
    }
    out
}

/// Writes a tokenizer in llama2.c's `tokenizer.bin` layout.
pub fn write_tokenizer_bin(t: &Tokenizer) -> Vec<u8> {
    t.to_llama2c()
}

/// The tensor type of the matrices in a generated GGUF file (norms are always F32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgufType {
    /// fp32.
    F32,
    /// IEEE half.
    F16,
    /// Blocks of 32 int8 with an f16 scale.
    Q8_0,
}

struct GgufOut {
    meta: Vec<u8>,
    n_kv: u64,
}

impl GgufOut {
    fn key(&mut self, k: &str, t: u32) {
        put_str(&mut self.meta, k.as_bytes());
        self.meta.extend_from_slice(&t.to_le_bytes());
        self.n_kv += 1;
    }
    fn u32(&mut self, k: &str, v: u32) {
        self.key(k, ty::U32);
        self.meta.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, k: &str, v: f32) {
        self.key(k, ty::F32);
        self.meta.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, k: &str, v: &[u8]) {
        self.key(k, ty::STRING);
        put_str(&mut self.meta, v);
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// SentencePiece form of a piece: spaces become `▁`.
fn spaces_to_spm(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        if b == b' ' {
            out.extend_from_slice("\u{2581}".as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn encode_tensor(t: &Tensor, kind: GgufType) -> (u32, Vec<u8>) {
    let x = t.to_f32();
    match kind {
        GgufType::F32 => {
            let mut out = Vec::with_capacity(x.len() * 4);
            put_f32s(&mut out, &x);
            (gguf::GGML_F32, out)
        }
        GgufType::F16 => (
            gguf::GGML_F16,
            x.iter()
                .flat_map(|v| f32_to_f16(*v).to_le_bytes())
                .collect(),
        ),
        GgufType::Q8_0 => {
            let mut out = Vec::with_capacity(x.len() / 32 * 34);
            let mut q = [0i8; 32];
            let mut s = [0f32; 1];
            for block in x.chunks_exact(32) {
                quantize_q8(&mut q, &mut s, block, 32);
                out.extend_from_slice(&f32_to_f16(s[0]).to_le_bytes());
                out.extend(q.iter().map(|&v| v as u8));
            }
            (gguf::GGML_Q8_0, out)
        }
    }
}

/// Writes a GGUF v3 file for the `llama` architecture with the tokenizer in
/// its metadata, laid out as llama.cpp's converter does: tensor names
/// `token_embd`, `blk.N.*`, `output_norm`, `output` (absent when tied), dims
/// innermost first, Q/K rows in the interleaved RoPE order (see [`crate::gguf`]),
/// data aligned to 32 bytes. Row lengths must be multiples of 32 for Q8_0.
pub fn write_gguf(config: &Config, w: &Weights, tok: &Tokenizer, kind: GgufType) -> Vec<u8> {
    let c = config;
    let mut m = GgufOut {
        meta: Vec::new(),
        n_kv: 0,
    };
    m.str("general.architecture", b"llama");
    m.str("general.name", b"tinyllama-synthetic");
    m.u32("general.alignment", gguf::DEFAULT_ALIGNMENT as u32);
    m.u32("llama.context_length", c.seq_len as u32);
    m.u32("llama.embedding_length", c.dim as u32);
    m.u32("llama.block_count", c.n_layers as u32);
    m.u32("llama.feed_forward_length", c.hidden_dim as u32);
    m.u32("llama.rope.dimension_count", c.head_size() as u32);
    m.u32("llama.attention.head_count", c.n_heads as u32);
    m.u32("llama.attention.head_count_kv", c.n_kv_heads as u32);
    m.f32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
    m.f32("llama.rope.freq_base", c.rope_theta);
    m.str("tokenizer.ggml.model", b"llama");
    let n = tok.vocab_size() as u64;
    m.key("tokenizer.ggml.tokens", ty::ARRAY);
    m.meta.extend_from_slice(&ty::STRING.to_le_bytes());
    m.meta.extend_from_slice(&n.to_le_bytes());
    for id in 0..n as u32 {
        let p = tok.piece(id).unwrap_or_default();
        put_str(&mut m.meta, &spaces_to_spm(p));
    }
    m.key("tokenizer.ggml.scores", ty::ARRAY);
    m.meta.extend_from_slice(&ty::F32.to_le_bytes());
    m.meta.extend_from_slice(&n.to_le_bytes());
    for id in 0..n as u32 {
        m.meta
            .extend_from_slice(&tok.score(id).unwrap_or(0.0).to_le_bytes());
    }
    m.key("tokenizer.ggml.token_type", ty::ARRAY);
    m.meta.extend_from_slice(&ty::I32.to_le_bytes());
    m.meta.extend_from_slice(&n.to_le_bytes());
    for id in 0..n as u32 {
        let k = tok.kind(id).map_or(1, |k| k.to_gguf());
        m.meta.extend_from_slice(&k.to_le_bytes());
    }
    m.u32("tokenizer.ggml.bos_token_id", tok.bos());
    m.u32("tokenizer.ggml.eos_token_id", tok.eos());

    // (name, dims innermost first, ggml type, bytes)
    let mut tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)> = Vec::new();
    let (d, h, kv, v) = (
        c.dim as u64,
        c.hidden_dim as u64,
        c.kv_dim() as u64,
        c.vocab_size as u64,
    );
    let vec_t = |x: &[f32]| {
        let mut b = Vec::new();
        put_f32s(&mut b, x);
        (gguf::GGML_F32, b)
    };
    let mut push = |name: String, dims: Vec<u64>, (t, bytes): (u32, Vec<u8>)| {
        tensors.push((name, dims, t, bytes));
    };
    push(
        String::from("token_embd.weight"),
        alloc::vec![d, v],
        encode_tensor(&w.token_embedding, kind),
    );
    for (i, l) in w.layers.iter().enumerate() {
        let nm = |s: &str| alloc::format!("blk.{i}.{s}.weight");
        push(nm("attn_norm"), alloc::vec![d], vec_t(&l.rms_att));
        push(nm("attn_q"), alloc::vec![d, d], encode_tensor(&l.wq, kind));
        push(nm("attn_k"), alloc::vec![d, kv], encode_tensor(&l.wk, kind));
        push(nm("attn_v"), alloc::vec![d, kv], encode_tensor(&l.wv, kind));
        push(
            nm("attn_output"),
            alloc::vec![d, d],
            encode_tensor(&l.wo, kind),
        );
        push(nm("ffn_norm"), alloc::vec![d], vec_t(&l.rms_ffn));
        push(
            nm("ffn_gate"),
            alloc::vec![d, h],
            encode_tensor(&l.w1, kind),
        );
        push(
            nm("ffn_down"),
            alloc::vec![h, d],
            encode_tensor(&l.w2, kind),
        );
        push(nm("ffn_up"), alloc::vec![d, h], encode_tensor(&l.w3, kind));
    }
    push(
        String::from("output_norm.weight"),
        alloc::vec![d],
        vec_t(&w.rms_final),
    );
    if let Some(wc) = &w.wcls {
        push(
            String::from("output.weight"),
            alloc::vec![d, v],
            encode_tensor(wc, kind),
        );
    }

    let align = gguf::DEFAULT_ALIGNMENT as usize;
    let mut out = Vec::new();
    out.extend_from_slice(gguf::MAGIC);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&m.n_kv.to_le_bytes());
    out.extend_from_slice(&m.meta);
    let mut offset = 0u64;
    for (name, dims, t, bytes) in &tensors {
        put_str(&mut out, name.as_bytes());
        out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for dim in dims {
            out.extend_from_slice(&dim.to_le_bytes());
        }
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset += (bytes.len() as u64).div_ceil(align as u64) * align as u64;
    }
    out.resize(out.len().div_ceil(align) * align, 0);
    for (_, _, _, bytes) in &tensors {
        out.extend_from_slice(bytes);
        out.resize(out.len().div_ceil(align) * align, 0);
    }
    out
}
