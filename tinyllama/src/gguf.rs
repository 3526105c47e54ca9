//! GGUF (versions 2 and 3) for the `llama` architecture.
//!
//! Layout: `"GGUF"`, u32 version, u64 tensor count, u64 metadata count, the
//! metadata key/values, the tensor infos (name, u32 n_dims, u64 dims with the
//! innermost dimension first, u32 ggml type, u64 offset), then the tensor data
//! starting at the next multiple of `general.alignment` (default 32); each
//! offset is relative to that start and a multiple of the alignment.
//!
//! RoPE convention: llama.cpp's HF converter permutes the rows of
//! `attn_q`/`attn_k` (per head, from the half-split order used by Hugging
//! Face's `rotate_half` back to interleaved pairs), and llama.cpp runs the
//! `llama` architecture with `LLAMA_ROPE_TYPE_NORM`, which rotates adjacent
//! pairs `(x[2j], x[2j+1])`. That is the same layout llama2.c uses, so the
//! rows are used as stored and [`crate::ops::Ops::rope`] rotates adjacent
//! pairs for every format.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::buffer::{try_reserve, try_zeroed};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::reader::{CHUNK_BYTES, Reader, checked_bytes};
use crate::source::ModelSource;
use crate::tensor::{Tensor, f16_to_f32};
use crate::tokenizer::{TokenKind, Tokenizer, spm_to_spaces};
use crate::weights::{LayerWeights, Weights};

/// The file magic.
pub const MAGIC: &[u8; 4] = b"GGUF";
/// Default data alignment.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml type ids used here.
pub const GGML_F32: u32 = 0;
/// ggml F16.
pub const GGML_F16: u32 = 1;
/// ggml Q8_0: blocks of 32 values, an f16 scale then 32 int8.
pub const GGML_Q8_0: u32 = 8;
/// Values per Q8_0 block.
pub const Q8_0_BLOCK: usize = 32;
/// Bytes per Q8_0 block.
pub const Q8_0_BLOCK_BYTES: usize = 34;
/// Largest tensor rank ggml has.
pub const MAX_DIMS: u32 = 4;
/// Deepest nesting of metadata arrays accepted.
const MAX_ARRAY_DEPTH: u32 = 3;
/// Most elements of one metadata array (vocabularies are far smaller).
pub const MAX_ARRAY_LEN: u64 = 1 << 24;

/// Metadata value types.
pub mod ty {
    /// u8
    pub const U8: u32 = 0;
    /// i8
    pub const I8: u32 = 1;
    /// u16
    pub const U16: u32 = 2;
    /// i16
    pub const I16: u32 = 3;
    /// u32
    pub const U32: u32 = 4;
    /// i32
    pub const I32: u32 = 5;
    /// f32
    pub const F32: u32 = 6;
    /// bool (one byte, 0 or 1)
    pub const BOOL: u32 = 7;
    /// string: u64 length + bytes
    pub const STRING: u32 = 8;
    /// array: u32 element type, u64 count, elements
    pub const ARRAY: u32 = 9;
    /// u64
    pub const U64: u32 = 10;
    /// i64
    pub const I64: u32 = 11;
    /// f64
    pub const F64: u32 = 12;
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any integer type, widened.
    Int(i128),
    /// f32 or f64, widened.
    Float(f64),
    /// bool.
    Bool(bool),
    /// A string (bytes; GGUF strings should be UTF-8 but are not trusted to be).
    Str(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
}

/// The name of a ggml type, for error messages.
pub fn ggml_type_name(t: u32) -> String {
    let name = match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        30 => "BF16",
        _ => return format!("ggml type {t}"),
    };
    String::from(name)
}

/// One tensor info.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ty: u32,
    /// Offset relative to the data section.
    pub offset: u64,
}

/// A parsed GGUF header: metadata and tensor infos, with the data section's offset.
#[derive(Debug, Clone)]
pub struct Gguf {
    /// File version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Data alignment.
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_start: u64,
    /// Length of the whole file.
    pub len: u64,
}

fn read_string<S: ModelSource + ?Sized>(r: &mut Reader<'_, S>, what: &str) -> Result<Vec<u8>> {
    let len = r.u64(&format!("{what} length"))?;
    r.bytes(len, what)
}

fn min_size(t: u32) -> u64 {
    match t {
        ty::U8 | ty::I8 | ty::BOOL => 1,
        ty::U16 | ty::I16 => 2,
        ty::U32 | ty::I32 | ty::F32 => 4,
        ty::ARRAY => 12,
        _ => 8,
    }
}

fn read_value<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    t: u32,
    what: &str,
    depth: u32,
) -> Result<Value> {
    Ok(match t {
        ty::U8 => Value::Int(r.u8(what)? as i128),
        ty::I8 => Value::Int(r.u8(what)? as i8 as i128),
        ty::U16 => Value::Int(r.u16(what)? as i128),
        ty::I16 => Value::Int(r.u16(what)? as i16 as i128),
        ty::U32 => Value::Int(r.u32(what)? as i128),
        ty::I32 => Value::Int(r.i32(what)? as i128),
        ty::F32 => Value::Float(r.f32(what)? as f64),
        ty::BOOL => match r.u8(what)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            v => return Err(Error::invalid(what, format!("bool value {v}"))),
        },
        ty::STRING => Value::Str(read_string(r, what)?),
        ty::ARRAY => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(Error::unsupported(what, "arrays nested too deeply"));
            }
            let et = r.u32(&format!("{what} element type"))?;
            if et > ty::F64 {
                return Err(Error::invalid(
                    format!("{what} element type"),
                    format!("unknown value type {et}"),
                ));
            }
            let count = r.u64(&format!("{what} count"))?;
            let need = checked_bytes(count, min_size(et), what)?;
            r.ensure(need, &format!("{what} ({count} elements)"))?;
            if count > MAX_ARRAY_LEN {
                return Err(Error::unsupported(
                    what,
                    format!("array of {count} elements (at most {MAX_ARRAY_LEN})"),
                ));
            }
            let mut v = Vec::new();
            try_reserve(&mut v, count as usize, what)?;
            for i in 0..count {
                v.push(read_value(r, et, &format!("{what}[{i}]"), depth + 1)?);
            }
            Value::Array(v)
        }
        ty::U64 => Value::Int(r.u64(what)? as i128),
        ty::I64 => Value::Int(r.u64(what)? as i64 as i128),
        ty::F64 => Value::Float(f64::from_bits(r.u64(what)?)),
        _ => {
            return Err(Error::invalid(
                format!("{what} type"),
                format!("unknown value type {t}"),
            ));
        }
    })
}

/// Whether `head` (the first bytes of a file) starts with the GGUF magic.
pub fn has_magic(head: &[u8]) -> bool {
    head.len() >= 4 && &head[..4] == MAGIC
}

/// Bytes of a tensor of `n` values of ggml type `t` whose rows are `ne0` long.
pub fn tensor_bytes(t: u32, n: u64, ne0: u64, name: &str) -> Result<u64> {
    match t {
        GGML_F32 => checked_bytes(n, 4, name),
        GGML_F16 => checked_bytes(n, 2, name),
        GGML_Q8_0 => {
            if !ne0.is_multiple_of(Q8_0_BLOCK as u64) {
                return Err(Error::invalid(
                    name,
                    format!("Q8_0 row length {ne0} is not a multiple of {Q8_0_BLOCK}"),
                ));
            }
            checked_bytes(n / Q8_0_BLOCK as u64, Q8_0_BLOCK_BYTES as u64, name)
        }
        _ => Err(Error::unsupported(
            format!("tensor type of {name}"),
            format!("{} (supported: F32, F16, Q8_0)", ggml_type_name(t)),
        )),
    }
}

impl Gguf {
    /// Parses the header, metadata and tensor infos of a GGUF file.
    pub fn parse<S: ModelSource + ?Sized>(src: &mut S) -> Result<Gguf> {
        Gguf::read(&mut Reader::new(src)?)
    }

    /// Parses the header, metadata and tensor infos from the reader's start,
    /// leaving it after the tensor infos.
    pub fn read<S: ModelSource + ?Sized>(r: &mut Reader<'_, S>) -> Result<Gguf> {
        r.seek(0, "GGUF magic")?;
        let mut magic = [0u8; 4];
        r.read_bytes(&mut magic, "GGUF magic")?;
        if &magic != MAGIC {
            return Err(Error::invalid("GGUF magic", format!("{magic:02x?}")));
        }
        let version = r.u32("GGUF version")?;
        if version != 2 && version != 3 {
            return Err(Error::unsupported(
                "GGUF version",
                format!("{version} (supported: 2, 3)"),
            ));
        }
        let n_tensors = r.u64("tensor_count")?;
        let n_kv = r.u64("metadata_kv_count")?;
        // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes.
        if checked_bytes(n_kv, 13, "metadata_kv_count")? > r.remaining() {
            return Err(Error::invalid(
                "metadata_kv_count",
                format!("{n_kv} entries cannot fit in {} bytes", r.remaining()),
            ));
        }
        // Each tensor info takes at least 8 + 4 + 4 + 8 bytes.
        if checked_bytes(n_tensors, 24, "tensor_count")? > r.remaining() {
            return Err(Error::invalid(
                "tensor_count",
                format!("{n_tensors} tensors cannot fit in {} bytes", r.remaining()),
            ));
        }
        let mut metadata = Vec::new();
        try_reserve(&mut metadata, n_kv as usize, "metadata")?;
        for i in 0..n_kv {
            let key = read_string(r, &format!("metadata key {i}"))?;
            let key = String::from_utf8(key)
                .map_err(|_| Error::invalid(format!("metadata key {i}"), "not UTF-8"))?;
            let t = r.u32(&format!("type of {key}"))?;
            let v = read_value(r, t, &key, 0)?;
            metadata.push((key, v));
        }
        let mut tensors = Vec::new();
        try_reserve(&mut tensors, n_tensors as usize, "tensor infos")?;
        let mut g = Gguf {
            version,
            metadata,
            tensors,
            alignment: DEFAULT_ALIGNMENT,
            data_start: 0,
            len: r.len(),
        };
        if let Some(a) = g.get("general.alignment") {
            let a = as_uint(a, "general.alignment")?;
            if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                return Err(Error::invalid(
                    "general.alignment",
                    format!("{a} is not a power of two up to 2^20"),
                ));
            }
            g.alignment = a;
        }
        for i in 0..n_tensors {
            let name = read_string(r, &format!("tensor {i} name"))?;
            let name = String::from_utf8(name)
                .map_err(|_| Error::invalid(format!("tensor {i} name"), "not UTF-8"))?;
            let n_dims = r.u32(&format!("{name} n_dims"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(Error::invalid(
                    format!("{name} n_dims"),
                    format!("{n_dims} is outside 1..={MAX_DIMS}"),
                ));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(r.u64(&format!("{name} dims[{d}]"))?);
            }
            let ty = r.u32(&format!("{name} type"))?;
            let offset = r.u64(&format!("{name} offset"))?;
            if offset % g.alignment != 0 {
                return Err(Error::invalid(
                    format!("{name} offset"),
                    format!(
                        "{offset} is not a multiple of the alignment {}",
                        g.alignment
                    ),
                ));
            }
            g.tensors.push(TensorInfo {
                name,
                dims,
                ty,
                offset,
            });
        }
        let pos = r.pos();
        g.data_start = pos.div_ceil(g.alignment) * g.alignment;
        if g.data_start > g.len {
            return Err(Error::Truncated {
                what: String::from("padding before the tensor data"),
                needed: g.data_start - pos,
                offset: pos,
                len: g.len,
            });
        }
        Ok(g)
    }

    /// A metadata value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn uint(&self, key: &str) -> Result<u64> {
        let v = self
            .get(key)
            .ok_or_else(|| Error::invalid(key, "missing metadata key"))?;
        as_uint(v, key)
    }

    fn uint_or(&self, key: &str, default: u64) -> Result<u64> {
        match self.get(key) {
            Some(v) => as_uint(v, key),
            None => Ok(default),
        }
    }

    fn float_or(&self, key: &str, default: f32) -> Result<f32> {
        match self.get(key) {
            Some(Value::Float(f)) => Ok(*f as f32),
            Some(Value::Int(i)) => Ok(*i as f32),
            Some(_) => Err(Error::invalid(key, "not a number")),
            None => Ok(default),
        }
    }

    /// A tensor info by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The model configuration from the `llama.*` keys and tensor shapes.
    pub fn config(&self) -> Result<Config> {
        match self.get("general.architecture") {
            Some(Value::Str(s)) if s.as_slice() == b"llama" => {}
            Some(Value::Str(s)) => {
                return Err(Error::unsupported(
                    "general.architecture",
                    format!("{:?} (supported: \"llama\")", String::from_utf8_lossy(s)),
                ));
            }
            Some(_) => return Err(Error::invalid("general.architecture", "not a string")),
            None => {
                return Err(Error::invalid(
                    "general.architecture",
                    "missing metadata key",
                ));
            }
        }
        let dim = usize_of(
            self.uint("llama.embedding_length")?,
            "llama.embedding_length",
        )?;
        let n_heads = usize_of(
            self.uint("llama.attention.head_count")?,
            "llama.attention.head_count",
        )?;
        let emb = self
            .tensor("token_embd.weight")
            .ok_or_else(|| Error::invalid("token_embd.weight", "missing tensor"))?;
        if emb.dims.len() != 2 {
            return Err(Error::invalid(
                "token_embd.weight",
                format!("{} dimensions, expected 2", emb.dims.len()),
            ));
        }
        let config = Config {
            dim,
            hidden_dim: usize_of(
                self.uint("llama.feed_forward_length")?,
                "llama.feed_forward_length",
            )?,
            n_layers: usize_of(self.uint("llama.block_count")?, "llama.block_count")?,
            n_heads,
            n_kv_heads: usize_of(
                self.uint_or("llama.attention.head_count_kv", n_heads as u64)?,
                "llama.attention.head_count_kv",
            )?,
            vocab_size: usize_of(emb.dims[1], "token_embd.weight dims[1] (vocabulary)")?,
            seq_len: usize_of(self.uint("llama.context_length")?, "llama.context_length")?,
            rms_eps: self.float_or("llama.attention.layer_norm_rms_epsilon", 1e-5)?,
            rope_theta: self.float_or("llama.rope.freq_base", 10000.0)?,
        };
        config.validate().map_err(|e| match e {
            Error::Invalid { what, reason } => Error::invalid(format!("GGUF {what}"), reason),
            other => other,
        })?;
        if let Some(v) = self.get("llama.rope.dimension_count") {
            let n = as_uint(v, "llama.rope.dimension_count")?;
            if n != config.head_size() as u64 {
                return Err(Error::unsupported(
                    "llama.rope.dimension_count",
                    format!(
                        "{n} (partial RoPE; the head size is {})",
                        config.head_size()
                    ),
                ));
            }
        }
        if let Some(v) = self.get("llama.vocab_size") {
            let n = as_uint(v, "llama.vocab_size")?;
            if n != config.vocab_size as u64 {
                return Err(Error::invalid(
                    "llama.vocab_size",
                    format!("{n} but token_embd.weight has {} rows", config.vocab_size),
                ));
            }
        }
        Ok(config)
    }

    /// Finds tensor `name`, checks its shape (`[cols, rows]`, innermost
    /// first), type and extent in the file, and returns it with its absolute
    /// offset and number of values. Reads and allocates nothing.
    fn locate(&self, name: &str, shape: &[u64]) -> Result<Located<'_>> {
        let info = self
            .tensor(name)
            .ok_or_else(|| Error::invalid(name, "missing tensor"))?;
        // Trailing dimensions of 1 are allowed (ggml pads shapes with them).
        let dims: &[u64] = {
            let mut d = info.dims.as_slice();
            while d.len() > shape.len() && d.last() == Some(&1) {
                d = &d[..d.len() - 1];
            }
            d
        };
        if dims != shape {
            return Err(Error::invalid(
                name,
                format!("shape {:?}, expected {:?}", info.dims, shape),
            ));
        }
        let n = shape.iter().product::<u64>();
        let size = tensor_bytes(info.ty, n, shape[0], name)?;
        let start = self
            .data_start
            .checked_add(info.offset)
            .ok_or_else(|| Error::invalid(format!("{name} offset"), "overflows"))?;
        let end = start
            .checked_add(size)
            .ok_or_else(|| Error::invalid(format!("{name} size"), "overflows"))?;
        if end > self.len {
            return Err(Error::Truncated {
                what: format!("tensor {name} ({})", ggml_type_name(info.ty)),
                needed: size,
                offset: start,
                len: self.len,
            });
        }
        Ok(Located {
            info,
            start,
            values: n as usize,
        })
    }

    /// Loads all weights of a llama model from `src` (the file this header
    /// was parsed from). Every tensor is located and checked first; then the
    /// tensors are read in file order, each straight into its final
    /// storage: F32 as fp32, F16 as f16, Q8_0 repacked into int8 values and
    /// fp32 scales through a staging buffer of about [`CHUNK_BYTES`].
    pub fn weights<S: ModelSource + ?Sized>(&self, c: &Config, src: &mut S) -> Result<Weights> {
        self.read_weights(c, &mut Reader::new(src)?)
    }

    /// [`Gguf::weights`] through a reader (e.g. the one [`Gguf::read`] used,
    /// so the data its buffer already holds is not read again).
    pub fn read_weights<S: ModelSource + ?Sized>(
        &self,
        c: &Config,
        r: &mut Reader<'_, S>,
    ) -> Result<Weights> {
        let (d, h, kv, v) = (
            c.dim as u64,
            c.hidden_dim as u64,
            c.kv_dim() as u64,
            c.vocab_size as u64,
        );
        // The tensors in the order the weights are assembled below.
        let mut plan: Vec<Located<'_>> = Vec::new();
        try_reserve(&mut plan, 9 * c.n_layers + 3, "tensor plan")?;
        plan.push(self.locate("token_embd.weight", &[d, v])?);
        for i in 0..c.n_layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            plan.push(self.locate(&n("attn_norm"), &[d])?);
            plan.push(self.locate(&n("attn_q"), &[d, d])?);
            plan.push(self.locate(&n("attn_k"), &[d, kv])?);
            plan.push(self.locate(&n("attn_v"), &[d, kv])?);
            plan.push(self.locate(&n("attn_output"), &[d, d])?);
            plan.push(self.locate(&n("ffn_norm"), &[d])?);
            plan.push(self.locate(&n("ffn_gate"), &[d, h])?);
            plan.push(self.locate(&n("ffn_down"), &[h, d])?);
            plan.push(self.locate(&n("ffn_up"), &[d, h])?);
        }
        plan.push(self.locate("output_norm.weight", &[d])?);
        if self.tensor("output.weight").is_some() {
            plan.push(self.locate("output.weight", &[d, v])?);
        }

        let mut order: Vec<usize> = Vec::new();
        try_reserve(&mut order, plan.len(), "tensor plan")?;
        order.extend(0..plan.len());
        order.sort_by_key(|&i| plan[i].start);
        let mut loaded: Vec<Option<Tensor>> = Vec::new();
        try_reserve(&mut loaded, plan.len(), "tensor plan")?;
        loaded.resize_with(plan.len(), || None);
        let mut staging = Vec::new();
        for i in order {
            loaded[i] = Some(read_tensor(r, &plan[i], &mut staging)?);
        }
        drop(staging);

        let mut tensors = loaded.into_iter().zip(&plan).map(|(t, p)| {
            t.ok_or_else(|| Error::invalid(p.info.name.as_str(), "tensor was not read"))
        });
        let mut next = || {
            tensors
                .next()
                .unwrap_or_else(|| Err(Error::invalid("tensor plan", "ended early")))
        };
        let vector = |t: Tensor| match t {
            Tensor::F32(v) => v,
            other => other.to_f32(),
        };
        let token_embedding = next()?;
        let mut layers = Vec::new();
        try_reserve(&mut layers, c.n_layers, "layers")?;
        for _ in 0..c.n_layers {
            layers.push(LayerWeights {
                rms_att: vector(next()?),
                wq: next()?,
                wk: next()?,
                wv: next()?,
                wo: next()?,
                rms_ffn: vector(next()?),
                w1: next()?,
                w2: next()?,
                w3: next()?,
            });
        }
        let rms_final = vector(next()?);
        let wcls = if self.tensor("output.weight").is_some() {
            Some(next()?)
        } else {
            None
        };
        Ok(Weights {
            token_embedding,
            layers,
            rms_final,
            wcls,
        })
    }

    /// The tokenizer carried in the metadata (`tokenizer.ggml.*`, model "llama").
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        if let Some(m) = self.get("tokenizer.ggml.model") {
            match m {
                Value::Str(s) if s.as_slice() == b"llama" => {}
                Value::Str(s) => {
                    return Err(Error::unsupported(
                        "tokenizer.ggml.model",
                        format!("{:?} (supported: \"llama\")", String::from_utf8_lossy(s)),
                    ));
                }
                _ => return Err(Error::invalid("tokenizer.ggml.model", "not a string")),
            }
        }
        let tokens = match self.get("tokenizer.ggml.tokens") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(Error::invalid("tokenizer.ggml.tokens", "not an array")),
            None => {
                return Err(Error::invalid(
                    "tokenizer.ggml.tokens",
                    "missing metadata key",
                ));
            }
        };
        let mut pieces = Vec::new();
        try_reserve(&mut pieces, tokens.len(), "tokenizer pieces")?;
        for (i, t) in tokens.iter().enumerate() {
            match t {
                Value::Str(s) => pieces.push(spm_to_spaces(s)),
                _ => {
                    return Err(Error::invalid(
                        format!("tokenizer.ggml.tokens[{i}]"),
                        "not a string",
                    ));
                }
            }
        }
        let n = pieces.len();
        let mut scores = try_zeroed::<f32>(n, "tokenizer scores")?;
        match self.get("tokenizer.ggml.scores") {
            Some(Value::Array(a)) if a.len() == n => {
                for (i, (s, v)) in scores.iter_mut().zip(a).enumerate() {
                    let Value::Float(f) = v else {
                        return Err(Error::invalid(
                            format!("tokenizer.ggml.scores[{i}]"),
                            "not a float",
                        ));
                    };
                    *s = *f as f32;
                }
            }
            Some(_) => {
                return Err(Error::invalid(
                    "tokenizer.ggml.scores",
                    format!("not an array of {n} floats"),
                ));
            }
            None => {}
        }
        let mut kinds = Vec::new();
        try_reserve(&mut kinds, n, "tokenizer token types")?;
        match self.get("tokenizer.ggml.token_type") {
            Some(Value::Array(a)) if a.len() == n => {
                for (i, v) in a.iter().enumerate() {
                    let what = || format!("tokenizer.ggml.token_type[{i}]");
                    let Value::Int(k) = v else {
                        return Err(Error::invalid(what(), "not an integer"));
                    };
                    let kind = TokenKind::from_gguf(*k as i64)
                        .ok_or_else(|| Error::invalid(what(), format!("unknown token type {k}")))?;
                    kinds.push(kind);
                }
            }
            Some(_) => {
                return Err(Error::invalid(
                    "tokenizer.ggml.token_type",
                    format!("not an array of {n} integers"),
                ));
            }
            None => kinds.extend(pieces.iter().map(|p| {
                if crate::tokenizer::parse_byte_piece(p).is_some() {
                    TokenKind::Byte
                } else {
                    TokenKind::Normal
                }
            })),
        }
        let bos = self.uint_or("tokenizer.ggml.bos_token_id", 1)?;
        let eos = self.uint_or("tokenizer.ggml.eos_token_id", 2)?;
        let id = |v: u64, what: &str| {
            u32::try_from(v).map_err(|_| Error::invalid(what, format!("{v} is out of range")))
        };
        Tokenizer::new(
            pieces,
            scores,
            kinds,
            id(bos, "tokenizer.ggml.bos_token_id")?,
            id(eos, "tokenizer.ggml.eos_token_id")?,
        )
    }
}

fn as_uint(v: &Value, what: &str) -> Result<u64> {
    match v {
        Value::Int(i) if *i >= 0 && *i <= u64::MAX as i128 => Ok(*i as u64),
        Value::Int(i) => Err(Error::invalid(
            what,
            format!("{i} is negative or too large"),
        )),
        _ => Err(Error::invalid(what, "not an integer")),
    }
}

fn usize_of(v: u64, what: &str) -> Result<usize> {
    if v == 0 || v > crate::config::MAX_DIM as u64 {
        return Err(Error::invalid(
            what,
            format!("{v} is outside 1..={}", crate::config::MAX_DIM),
        ));
    }
    Ok(v as usize)
}

/// A tensor found and checked by [`Gguf::locate`].
struct Located<'g> {
    info: &'g TensorInfo,
    /// Absolute offset of its data.
    start: u64,
    /// Number of values.
    values: usize,
}

/// Reads a located tensor into its final storage (see [`Gguf::weights`]).
fn read_tensor<S: ModelSource + ?Sized>(
    r: &mut Reader<'_, S>,
    t: &Located<'_>,
    staging: &mut Vec<u8>,
) -> Result<Tensor> {
    let what = format!("tensor {} ({})", t.info.name, ggml_type_name(t.info.ty));
    r.seek(t.start, &what)?;
    let n = t.values as u64;
    Ok(match t.info.ty {
        GGML_F32 => Tensor::F32(r.vec::<f32>(n, &what)?),
        GGML_F16 => Tensor::F16(r.vec::<u16>(n, &what)?),
        GGML_Q8_0 => {
            let blocks = t.values / Q8_0_BLOCK;
            let mut q = try_zeroed::<i8>(t.values, &what)?;
            let mut scales = try_zeroed::<f32>(blocks, &what)?;
            if staging.is_empty() {
                let per_chunk = CHUNK_BYTES / Q8_0_BLOCK_BYTES;
                *staging = try_zeroed(per_chunk * Q8_0_BLOCK_BYTES, "Q8_0 staging buffer")?;
            }
            let per_chunk = staging.len() / Q8_0_BLOCK_BYTES;
            for (qc, sc) in q
                .chunks_mut(per_chunk * Q8_0_BLOCK)
                .zip(scales.chunks_mut(per_chunk))
            {
                let raw = &mut staging[..sc.len() * Q8_0_BLOCK_BYTES];
                r.read_bytes(raw, &what)?;
                for ((block, qb), s) in raw
                    .chunks_exact(Q8_0_BLOCK_BYTES)
                    .zip(qc.chunks_exact_mut(Q8_0_BLOCK))
                    .zip(sc)
                {
                    *s = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                    for (dst, &b) in qb.iter_mut().zip(&block[2..]) {
                        *dst = b as i8;
                    }
                }
            }
            Tensor::Q8 {
                q,
                scales,
                group: Q8_0_BLOCK,
            }
        }
        other => {
            return Err(Error::unsupported(
                format!("tensor type of {}", t.info.name),
                ggml_type_name(other),
            ));
        }
    })
}
