//! Truncated, oversized, inconsistent and corrupted files give errors, never
//! panics: every header field, every tensor boundary, random truncations and
//! byte flips.

mod common;

use common::files;
use std::sync::OnceLock;

use proptest::prelude::*;
use tinyllama::gguf::Gguf;
use tinyllama::synth::Shape;
use tinyllama::{Error, Model, PlainOps, Session, Tokenizer};

/// Loads and, if that works, runs a few steps: nothing may panic.
fn exercise(bytes: &[u8]) -> Result<(), Error> {
    let mut m = Model::load(bytes)?;
    let mut s = Session::new(m.config, &m.weights, PlainOps, 3)?;
    for pos in 0..3 {
        s.forward((pos as u32 * 7) % m.config.vocab_size as u32, pos)?;
    }
    if let Some(t) = m.tokenizer.take() {
        let ids = t.encode("Once upon a time, é!", true, true)?;
        let _ = t.decode_string(&ids);
    }
    Ok(())
}

/// Tensor boundaries of a llama2.c file, from the layout in `llama2c.rs`'s docs.
fn llama2c_boundaries(version: u32, c: &tinyllama::Config, shared: bool) -> Vec<usize> {
    let (d, h, kv, l, v) = (c.dim, c.hidden_dim, c.kv_dim(), c.n_layers, c.vocab_size);
    let g = 32;
    let q8 = |n: usize| n + n / g * 4;
    let mut sizes: Vec<usize> = Vec::new();
    match version {
        0 => {
            sizes.push(v * d * 4);
            sizes.extend(std::iter::repeat_n(d * 4, l));
            for n in [d * d, kv * d, kv * d, d * d] {
                sizes.extend(std::iter::repeat_n(n * 4, l));
            }
            sizes.extend(std::iter::repeat_n(d * 4, l));
            for n in [h * d, d * h, h * d] {
                sizes.extend(std::iter::repeat_n(n * 4, l));
            }
            sizes.push(d * 4);
            sizes.push(c.seq_len * c.head_size() / 2 * 4);
            sizes.push(c.seq_len * c.head_size() / 2 * 4);
            if !shared {
                sizes.push(v * d * 4);
            }
        }
        _ => {
            sizes.extend(std::iter::repeat_n(d * 4, 2 * l));
            sizes.push(d * 4);
            let per = |n: usize| if version == 1 { n * 4 } else { q8(n) };
            sizes.push(per(v * d));
            for n in [d * d, kv * d, kv * d, d * d, h * d, d * h, h * d] {
                for _ in 0..l {
                    if version == 2 {
                        // int8 values, then scales: both boundaries.
                        sizes.push(n);
                        sizes.push(n / g * 4);
                    } else {
                        sizes.push(per(n));
                    }
                }
            }
            if !shared {
                sizes.push(per(v * d));
            }
        }
    }
    let mut at = if version == 0 { 28 } else { 256 };
    let mut out = vec![at];
    for s in sizes {
        at += s;
        out.push(at);
    }
    out
}

#[test]
fn llama2c_truncation_at_every_header_byte_and_tensor_boundary() {
    for shared in [true, false] {
        let f = files(Shape::Gqa, 2, shared);
        for (version, (label, bytes, _)) in f.models[..3].iter().enumerate() {
            let bounds = llama2c_boundaries(version as u32, &f.config, shared);
            assert_eq!(*bounds.last().unwrap(), bytes.len(), "{label}: layout");
            let mut cuts: Vec<usize> = (0..=bounds[0] + 4).collect();
            for b in &bounds {
                cuts.extend([b.saturating_sub(1), *b, b + 1]);
            }
            for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
                let err = exercise(&bytes[..cut]).expect_err(&format!("{label}: cut at {cut}"));
                assert!(!err.to_string().is_empty());
            }
            // Oversized: bytes after the last tensor.
            let mut long = bytes.clone();
            long.extend_from_slice(&[0; 4]);
            let e = Model::load(&long).unwrap_err().to_string();
            assert!(e.contains("trailing bytes"), "{label}: {e}");
        }
    }
}

#[test]
fn gguf_truncation_at_every_header_byte_and_tensor_boundary() {
    let f = files(Shape::Tiny, 2, false);
    for (label, bytes, _) in &f.models[3..] {
        let g = Gguf::parse(&mut bytes.as_slice()).unwrap();
        let data_end = g
            .tensors
            .iter()
            .map(|t| {
                let n: u64 = t.dims.iter().product();
                g.data_start
                    + t.offset
                    + tinyllama::gguf::tensor_bytes(t.ty, n, t.dims[0], "").unwrap()
            })
            .max()
            .unwrap() as usize;
        // The metadata is the same in all three files: sweep it byte by byte
        // once, then every byte of the tensor infos of each file.
        let key = b"token_embd.weight";
        let infos = bytes.windows(key.len()).position(|w| w == key).unwrap() - 8;
        let from = if label.contains("f32") { 0 } else { infos };
        let mut cuts: Vec<usize> = (from..=g.data_start as usize).collect();
        for t in &g.tensors {
            let start = (g.data_start + t.offset) as usize;
            cuts.extend([start - 1, start, start + 1]);
        }
        cuts.push(data_end - 1);
        for cut in cuts.into_iter().filter(|&c| c < data_end) {
            assert!(exercise(&bytes[..cut]).is_err(), "{label}: cut at {cut}");
        }
        // Everything up to the last tensor's end is there: the file loads.
        exercise(&bytes[..data_end]).unwrap();
    }
}

fn set_i32(bytes: &mut [u8], at: usize, v: i32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn inconsistent_llama2c_headers_name_the_field() {
    let f = files(Shape::Gqa, 2, true);
    let v1 = &f.models[1].1;
    // v1 header: magic, version, then dim, hidden_dim, n_layers, n_heads,
    // n_kv_heads, vocab_size, seq_len at 8, 12, ..., 32; shared byte at 36.
    let cases: &[(usize, i32, &str)] = &[
        (4, 7, "version"),
        (8, 0, "dim"),
        (8, -5, "dim"),
        (8, i32::MAX, "dim"),
        (12, 0, "hidden_dim"),
        (16, -1, "n_layers"),
        (20, 0, "n_heads"),
        (20, 3, "n_heads"),
        (24, 3, "n_kv_heads"),
        (24, 16, "n_kv_heads"),
        (28, 0, "vocab_size"),
        // Issue 11 §3: was reported as "0 is not positive" (its magnitude overflows i32).
        (28, i32::MIN, "vocab_size: -2147483648"),
        (32, 0, "seq_len"),
        (16, 3, "truncated input: w2"),
        (28, 100, "file length"),
    ];
    for &(at, v, field) in cases {
        let mut b = v1.clone();
        set_i32(&mut b, at, v);
        let e = Model::load(&b).unwrap_err().to_string();
        assert!(e.contains(field), "field at {at} = {v}: {e}");
    }
    let mut b = v1.clone();
    b[36] = 2;
    assert!(
        Model::load(&b)
            .unwrap_err()
            .to_string()
            .contains("shared_classifier")
    );
    let mut b = f.models[2].1.clone();
    set_i32(&mut b, 37, 48);
    assert!(
        Model::load(&b)
            .unwrap_err()
            .to_string()
            .contains("group_size")
    );
    set_i32(&mut b, 37, 0);
    assert!(
        Model::load(&b)
            .unwrap_err()
            .to_string()
            .contains("group_size")
    );
    set_i32(&mut b, 37, 1 << 17);
    let e = Model::load(&b).unwrap_err().to_string();
    assert!(
        e.contains("group_size") && e.contains("larger than 65536"),
        "{e}"
    );
    // A huge layer count in a legacy header must not allocate, just fail.
    let mut b = f.models[0].1.clone();
    set_i32(&mut b, 8, 4000);
    assert!(matches!(Model::load(&b), Err(Error::Truncated { .. })));
}

#[test]
fn inconsistent_gguf_metadata_names_the_key() {
    use tinyllama::synth::{GgufType, synth_tokenizer, synth_weights, write_gguf};
    let c = Shape::Tiny.config();
    let w = synth_weights(&c, 1, true);
    let t = synth_tokenizer(c.vocab_size).unwrap();
    let good = write_gguf(&c, &w, &t, GgufType::Q8_0);
    // Replace a u32 metadata value, located by its key.
    let patch = |key: &str, v: u32| {
        let mut b = good.clone();
        let pos = b
            .windows(key.len())
            .position(|w| w == key.as_bytes())
            .unwrap();
        let at = pos + key.len() + 4; // after the key and its type
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        Model::load(&b).unwrap_err().to_string()
    };
    assert!(patch("llama.attention.head_count_kv", 3).contains("n_kv_heads"));
    let e = patch("llama.feed_forward_length", 192);
    assert!(
        e.contains("blk.0.ffn_gate.weight") && e.contains("shape"),
        "{e}"
    );
    assert!(patch("llama.embedding_length", 128).contains("dimension_count"));
    assert!(patch("llama.block_count", 3).contains("blk.2"));
    assert!(patch("llama.rope.dimension_count", 8).contains("dimension_count"));
    assert!(patch("general.alignment", 24).contains("alignment"));
    assert!(patch("tokenizer.ggml.bos_token_id", 9999).contains("bos"));
    // Issue 11 §3: a damaged magic used to be parsed as a llama2.c header
    // ("invalid n_heads: 0 is not positive"); say what the file is not.
    for (at, v) in [(3, b'G'), (0, b'g'), (1, 0)] {
        let mut b = good.clone();
        b[at] = v;
        let e = Model::load(&b).unwrap_err().to_string();
        assert!(
            e.contains("not a GGUF file")
                && e.contains("not a valid llama2.c checkpoint")
                && e.contains("damaged GGUF magic"),
            "magic byte {at} = {v}: {e}"
        );
    }
    // Neither format at all.
    let e = Model::load(b"hello, this is a text file, not a model at all")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a GGUF file") && e.contains("not a valid llama2.c checkpoint"),
        "{e}"
    );
    // Wrong version.
    let mut b = good.clone();
    b[4] = 9;
    assert!(
        Model::load(&b)
            .unwrap_err()
            .to_string()
            .contains("GGUF version")
    );
    // A tensor type this crate does not implement.
    let mut c2 = good.clone();
    let key = b"blk.0.attn_q.weight";
    let pos = c2.windows(key.len()).position(|w| w == key).unwrap();
    let at = pos + key.len() + 4 + 2 * 8; // n_dims, two dims
    c2[at..at + 4].copy_from_slice(&12u32.to_le_bytes());
    let e = Model::load(&c2).unwrap_err().to_string();
    assert!(
        e.contains("Q4_K") && e.contains("blk.0.attn_q.weight"),
        "{e}"
    );
}

#[test]
fn broken_tokenizer_files_are_rejected() {
    let f = files(Shape::Tiny, 2, true);
    let good = &f.tokenizer_bin;
    assert_eq!(Tokenizer::from_llama2c(good).unwrap().vocab_size(), 512);
    assert!(
        Tokenizer::from_llama2c(&[])
            .unwrap_err()
            .to_string()
            .contains("max_token_length")
    );
    let mut b = good.clone();
    set_i32(&mut b, 0, 0);
    assert!(
        Tokenizer::from_llama2c(&b)
            .unwrap_err()
            .to_string()
            .contains("max_token_length")
    );
    let mut b = good.clone();
    set_i32(&mut b, 8, -3); // token 0 length
    assert!(
        Tokenizer::from_llama2c(&b)
            .unwrap_err()
            .to_string()
            .contains("token 0 length")
    );
    let mut b = good.clone();
    set_i32(&mut b, 8, 1000);
    assert!(
        Tokenizer::from_llama2c(&b)
            .unwrap_err()
            .to_string()
            .contains("token 0 length")
    );
    let mut b = good.clone();
    b[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(
        Tokenizer::from_llama2c(&b)
            .unwrap_err()
            .to_string()
            .contains("score")
    );
    for cut in 1..good.len() {
        if let Ok(t) = Tokenizer::from_llama2c(&good[..cut]) {
            // A cut between two entries is a smaller, valid vocabulary.
            assert!(t.vocab_size() < 512);
        }
    }
}

fn tiny_files() -> &'static common::Files {
    static FILES: OnceLock<common::Files> = OnceLock::new();
    FILES.get_or_init(|| files(Shape::Tiny, 9, false))
}

fn any_model() -> impl Strategy<Value = Vec<u8>> {
    let models: Vec<Vec<u8>> = tiny_files()
        .models
        .iter()
        .map(|(_, b, _)| b.clone())
        .collect();
    prop::sample::select(models)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_truncations_are_errors(bytes in any_model(), frac in 0.0f64..1.0) {
        let cut = (bytes.len() as f64 * frac) as usize;
        // GGUF padding after the last tensor may be cut and still load.
        let r = exercise(&bytes[..cut]);
        if !bytes.starts_with(b"GGUF") || cut < bytes.len() - 32 {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn random_byte_flips_never_panic(
        bytes in any_model(),
        flips in prop::collection::vec((0.0f64..1.0, 1u8..=255), 1..6),
        header_bias in any::<bool>(),
    ) {
        let mut b = bytes.clone();
        for (pos, x) in flips {
            // Half of the cases aim at the first 4 KiB, where the headers are.
            let span = if header_bias { b.len().min(4096) } else { b.len() };
            let i = (pos * span as f64) as usize % b.len();
            b[i] ^= x;
        }
        let _ = exercise(&b);
    }

    #[test]
    fn random_tokenizer_flips_never_panic(
        flips in prop::collection::vec((0usize..6305, 1u8..=255), 1..6),
        text in "\\PC{0,24}",
    ) {
        let mut b = tiny_files().tokenizer_bin.clone();
        for (i, x) in flips {
            let i = i % b.len();
            b[i] ^= x;
        }
        if let Ok(t) = Tokenizer::from_llama2c(&b) {
            let ids = t.encode(&text, true, true).unwrap();
            let _ = t.decode_all(&ids);
        }
    }
}
