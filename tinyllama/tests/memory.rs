//! Zero-waste loading: each tensor is read once, straight into its final
//! storage (F32 as fp32, F16 as f16, Q8 as int8 + scales); the bytes the
//! loaded weights occupy are accounted against the file size; model-sized
//! allocations fail with an error instead of aborting; sources see large,
//! sequential, non-overlapping reads.

mod common;

use common::files;
use tinyllama::reader::{BUFFER_BYTES, CHUNK_BYTES};
use tinyllama::synth::{GROUP, Shape};
use tinyllama::{Config, Error, Model, ModelSource, ReadError, Tensor, Tokenizer, Weights};

/// How a format stores the matrices.
#[derive(Clone, Copy, Debug)]
enum Storage {
    F32,
    F16,
    Q8,
}

fn storage(label: &str) -> Storage {
    match label {
        "llama2.c v2" | "gguf q8_0" => Storage::Q8,
        "gguf f16" => Storage::F16,
        _ => Storage::F32,
    }
}

/// The exact bytes the weights of `c` occupy once loaded: matrices in
/// their file's storage (Q8 groups of 32: one byte per value plus an fp32
/// scale per group), norm vectors in fp32.
fn expected_bytes(c: &Config, shared: bool, s: Storage) -> usize {
    let (d, h, kv, v, l) = (c.dim, c.hidden_dim, c.kv_dim(), c.vocab_size, c.n_layers);
    let mut values = v * d + l * (2 * d * d + 2 * kv * d + 3 * h * d);
    if !shared {
        values += v * d;
    }
    let matrices = match s {
        Storage::F32 => 4 * values,
        Storage::F16 => 2 * values,
        Storage::Q8 => values + values / GROUP * 4,
    };
    matrices + 4 * d * (2 * l + 1)
}

fn matrices(w: &Weights) -> Vec<&Tensor> {
    let mut m = vec![&w.token_embedding];
    for l in &w.layers {
        m.extend([&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3]);
    }
    m.extend(w.wcls.as_ref());
    m
}

#[test]
fn loaded_weights_occupy_what_the_file_stores() {
    for shape in [Shape::Tiny, Shape::Gqa] {
        for shared in [true, false] {
            let f = files(shape, 4, shared);
            for (label, bytes, _) in &f.models {
                let m = Model::load(bytes).unwrap();
                let s = storage(label);
                for t in matrices(&m.weights) {
                    let ok = matches!(
                        (s, t),
                        (Storage::F32, Tensor::F32(_))
                            | (Storage::F16, Tensor::F16(_))
                            | (Storage::Q8, Tensor::Q8 { group: 32, .. })
                    );
                    assert!(ok, "{label}: a matrix is not kept as {s:?}");
                }
                let resident = m.weights.resident_bytes();
                assert_eq!(
                    resident,
                    expected_bytes(&f.config, shared, s),
                    "{shape:?} {label}"
                );
                let ratio = resident as f64 / bytes.len() as f64;
                assert!(ratio <= 1.15, "{shape:?} {label}: {ratio:.3} × the file");
            }
        }
    }
}

/// A source that simulates a block device: it reads whole 512-byte sectors
/// and records every request.
struct Sectors<'a> {
    bytes: &'a [u8],
    requests: Vec<(u64, usize)>,
    sectors: u64,
}

impl<'a> Sectors<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Sectors {
            bytes,
            requests: Vec::new(),
            sectors: 0,
        }
    }
}

impl ModelSource for Sectors<'_> {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        assert!(!buf.is_empty(), "empty read at {offset}");
        assert!(offset + buf.len() as u64 <= self.len(), "read past the end");
        self.requests.push((offset, buf.len()));
        let (first, last) = (offset / 512, (offset + buf.len() as u64 - 1) / 512);
        let mut sector = [0u8; 512];
        let mut done = 0;
        for s in first..=last {
            self.sectors += 1;
            let start = (s * 512) as usize;
            let end = (start + 512).min(self.bytes.len());
            sector[..end - start].copy_from_slice(&self.bytes[start..end]);
            let from = (offset as usize + done) - start;
            let n = (end - start - from).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&sector[from..from + n]);
            done += n;
        }
        assert_eq!(done, buf.len());
        Ok(())
    }
}

/// Requests are in increasing offset order, never overlap, and are at most
/// a chunk long.
fn assert_sequential_once(label: &str, s: &Sectors<'_>) {
    let mut end = 0;
    for &(offset, len) in &s.requests {
        assert!(
            offset >= end,
            "{label}: read at {offset} overlaps or goes back (before {end})"
        );
        assert!(len <= CHUNK_BYTES, "{label}: a read of {len} bytes");
        end = offset + len as u64;
    }
    let requested: u64 = s.requests.iter().map(|r| r.1 as u64).sum();
    assert!(requested <= s.len(), "{label}: {requested} bytes requested");
    assert!(
        s.sectors <= s.len().div_ceil(512) + s.requests.len() as u64,
        "{label}: {} sectors",
        s.sectors
    );
}

#[test]
fn a_sector_device_sees_each_byte_once_in_order() {
    let f = files(Shape::Gqa, 6, false);
    for (label, bytes, _) in &f.models {
        let mut dev = Sectors::new(bytes);
        let from_dev = Model::load_from(&mut dev).unwrap();
        let from_bytes = Model::load(bytes).unwrap();
        assert_eq!(from_dev.weights, from_bytes.weights, "{label}");
        assert_eq!(from_dev.config, from_bytes.config, "{label}");
        assert_sequential_once(label, &dev);
        // Large reads: far fewer requests than buffer-sized pieces of the file.
        let max_requests = bytes.len() / BUFFER_BYTES + 2 * 9 * f.config.n_layers + 8;
        assert!(
            dev.requests.len() <= max_requests,
            "{label}: {} requests",
            dev.requests.len()
        );
    }
    let mut dev = Sectors::new(&f.tokenizer_bin);
    let t = Tokenizer::load_llama2c(&mut dev).unwrap();
    assert_eq!(t.vocab_size(), f.config.vocab_size);
    assert_sequential_once("tokenizer.bin", &dev);
}

/// A source that fails every read at or after `fail_at`.
struct FailsAt<'a> {
    bytes: &'a [u8],
    fail_at: u64,
}

impl ModelSource for FailsAt<'_> {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if offset + buf.len() as u64 > self.fail_at {
            return Err(ReadError::new("device error 0x5"));
        }
        buf.copy_from_slice(&self.bytes[offset as usize..][..buf.len()]);
        Ok(())
    }
}

#[test]
fn a_failing_source_gives_an_error_naming_the_field() {
    let f = files(Shape::Gqa, 6, true);
    for (label, bytes, _) in &f.models {
        for fail_at in [0, bytes.len() as u64 / 2, bytes.len() as u64 - 1] {
            let mut src = FailsAt { bytes, fail_at };
            match Model::load_from(&mut src) {
                Err(Error::Read { what, reason, .. }) => {
                    assert!(!what.is_empty() && reason.contains("device error"));
                }
                other => panic!("{label}: fail at {fail_at}: {other:?}"),
            }
        }
    }
    let mut src = FailsAt {
        bytes: &f.tokenizer_bin,
        fail_at: 4096,
    };
    let e = Tokenizer::load_llama2c(&mut src).unwrap_err().to_string();
    assert!(
        e.contains("cannot read token") && e.contains("device error"),
        "{e}"
    );
}

/// `len` bytes: `head`, then zeros (nothing stored): a header that claims
/// enormous tensors, on a "disk" large enough to hold them.
struct Sparse {
    head: Vec<u8>,
    len: u64,
}

impl ModelSource for Sparse {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        buf.fill(0);
        if offset < self.head.len() as u64 {
            let from = &self.head[offset as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
        }
        Ok(())
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A GGUF header (no data) for a llama model with every dimension at
/// `tinyllama::config::MAX_DIM`: a 2^48-value token embedding alone is 1 PiB.
fn huge_gguf_header() -> Vec<u8> {
    let (d, heads) = (1u64 << 24, 4096u32);
    let mut kv = Vec::new();
    let mut n_kv = 0u64;
    let mut key = |out: &mut Vec<u8>, k: &str, t: u32| {
        put_str(out, k);
        out.extend_from_slice(&t.to_le_bytes());
        n_kv += 1;
    };
    key(&mut kv, "general.architecture", 8);
    put_str(&mut kv, "llama");
    for (k, v) in [
        ("llama.context_length", 16u32),
        ("llama.embedding_length", d as u32),
        ("llama.block_count", 1),
        ("llama.feed_forward_length", d as u32),
        ("llama.attention.head_count", heads),
    ] {
        key(&mut kv, k, 4);
        kv.extend_from_slice(&v.to_le_bytes());
    }
    let tensors: Vec<(&str, Vec<u64>)> = vec![
        ("token_embd.weight", vec![d, d]),
        ("blk.0.attn_norm.weight", vec![d]),
        ("blk.0.attn_q.weight", vec![d, d]),
        ("blk.0.attn_k.weight", vec![d, d]),
        ("blk.0.attn_v.weight", vec![d, d]),
        ("blk.0.attn_output.weight", vec![d, d]),
        ("blk.0.ffn_norm.weight", vec![d]),
        ("blk.0.ffn_gate.weight", vec![d, d]),
        ("blk.0.ffn_down.weight", vec![d, d]),
        ("blk.0.ffn_up.weight", vec![d, d]),
        ("output_norm.weight", vec![d]),
    ];
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&n_kv.to_le_bytes());
    out.extend_from_slice(&kv);
    let mut offset = 0u64;
    for (name, dims) in &tensors {
        put_str(&mut out, name);
        out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for x in dims {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&0u32.to_le_bytes()); // F32
        out.extend_from_slice(&offset.to_le_bytes());
        offset += dims.iter().product::<u64>() * 4;
    }
    out.resize(out.len().div_ceil(32) * 32, 0);
    out
}

#[test]
fn a_header_claiming_huge_tensors_is_an_error_not_an_abort() {
    let head = huge_gguf_header();
    // On a small file: the first tensor does not fit.
    let e = Model::load(&head).unwrap_err();
    assert!(
        matches!(&e, Error::Truncated { what, .. } if what.contains("token_embd.weight")),
        "{e}"
    );
    // On a source as large as the header claims: the allocation fails cleanly.
    let mut src = Sparse { head, len: 1 << 62 };
    let e = Model::load_from(&mut src).unwrap_err();
    assert!(
        matches!(&e, Error::OutOfMemory { what, bytes } if what.contains("token_embd.weight") && *bytes == 1 << 50),
        "{e}"
    );
    assert!(e.to_string().starts_with("cannot allocate"), "{e}");

    // The same for a llama2.c v0 header.
    let mut v0 = Vec::new();
    for x in [1i32 << 24, 1 << 24, 1, 4096, 4096, 1 << 24, 16] {
        v0.extend_from_slice(&x.to_le_bytes());
    }
    let mut src = Sparse {
        head: v0,
        len: 1 << 62,
    };
    let e = Model::load_from(&mut src).unwrap_err();
    assert!(
        matches!(&e, Error::OutOfMemory { what, .. } if what.contains("token_embedding")),
        "{e}"
    );
}

#[test]
fn files_load_through_the_file_source() {
    let f = files(Shape::Tiny, 8, true);
    let dir = std::env::temp_dir().join(format!("tinyllama-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (label, bytes, _)) in f.models.iter().enumerate() {
        let path = dir.join(format!("model-{i}"));
        std::fs::write(&path, bytes).unwrap();
        let mut file = tinyllama::FileSource::open(&path).unwrap();
        let m = Model::load_from(&mut file).unwrap();
        assert_eq!(m.weights, Model::load(bytes).unwrap().weights, "{label}");
    }
    let path = dir.join("tokenizer.bin");
    std::fs::write(&path, &f.tokenizer_bin).unwrap();
    let t = Tokenizer::load_llama2c(&mut tinyllama::FileSource::open(&path).unwrap()).unwrap();
    let text = "Once upon a time, the cat";
    assert_eq!(
        t.encode(text, true, false).unwrap(),
        f.tokenizer.encode(text, true, false).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
