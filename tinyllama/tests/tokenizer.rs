//! Tokenizer: known merges, byte fallback, BOS/EOS, decoding rules,
//! round-trips, and agreement between tokenizer.bin and GGUF metadata.

mod common;

use proptest::prelude::*;
use std::sync::OnceLock;
use tinyllama::synth::synth_tokenizer;
use tinyllama::{TokenKind, Tokenizer};

/// unk, BOS, EOS, 256 byte tokens, then the given (piece, score) pairs.
fn vocab(extra: &[(&str, f32)]) -> Tokenizer {
    let mut pieces: Vec<Vec<u8>> = vec![b"<unk>".to_vec(), b"<s>".to_vec(), b"</s>".to_vec()];
    let mut kinds = vec![TokenKind::Unknown, TokenKind::Control, TokenKind::Control];
    for b in 0..=255u8 {
        pieces.push(format!("<0x{b:02X}>").into_bytes());
        kinds.push(TokenKind::Byte);
    }
    let mut scores = vec![0.0; pieces.len()];
    for (p, s) in extra {
        pieces.push(p.as_bytes().to_vec());
        scores.push(*s);
        kinds.push(TokenKind::Normal);
    }
    Tokenizer::new(pieces, scores, kinds, 1, 2).unwrap()
}

fn pieces(t: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&i| String::from_utf8_lossy(t.piece(i).unwrap()).into_owned())
        .collect()
}

#[test]
fn merges_follow_scores() {
    let base = [("a", -10.0), ("b", -10.0), ("c", -10.0)];
    // bc outranks ab, then abc joins a + bc.
    let mut v = base.to_vec();
    v.extend([("ab", 1.0), ("bc", 2.0), ("abc", 3.0)]);
    let t = vocab(&v);
    assert_eq!(pieces(&t, &t.encode("abc", false, false).unwrap()), ["abc"]);
    // Without abc the best first merge (bc) decides the split.
    let mut v = base.to_vec();
    v.extend([("ab", 1.0), ("bc", 2.0)]);
    let t = vocab(&v);
    assert_eq!(
        pieces(&t, &t.encode("abc", false, false).unwrap()),
        ["a", "bc"]
    );
    // With ab ranked higher the split flips.
    let mut v = base.to_vec();
    v.extend([("ab", 5.0), ("bc", 2.0)]);
    let t = vocab(&v);
    assert_eq!(
        pieces(&t, &t.encode("abc", false, false).unwrap()),
        ["ab", "c"]
    );
    // Equal scores: the leftmost pair merges first.
    let mut v = base.to_vec();
    v.extend([("ab", 2.0), ("bc", 2.0)]);
    let t = vocab(&v);
    assert_eq!(
        pieces(&t, &t.encode("abc", false, false).unwrap()),
        ["ab", "c"]
    );
}

#[test]
fn dummy_prefix_bos_eos_and_byte_fallback() {
    let t = vocab(&[
        (" ", -1.0),
        ("h", -1.0),
        ("i", -1.0),
        (" h", 1.0),
        (" hi", 2.0),
    ]);
    let ids = t.encode("hi", true, true).unwrap();
    assert_eq!(ids[0], 1);
    assert_eq!(*ids.last().unwrap(), 2);
    assert_eq!(pieces(&t, &ids[1..ids.len() - 1]), [" hi"]);
    // "é" is not a piece: its two UTF-8 bytes become byte tokens.
    let ids = t.encode("hé", false, false).unwrap();
    assert_eq!(pieces(&t, &ids), [" h", "<0xC3>", "<0xA9>"]);
    assert_eq!(ids[1], 3 + 0xC3);
    // Empty text: no dummy prefix.
    assert_eq!(t.encode("", true, false).unwrap(), [1]);
    // Control pieces are never produced from text.
    let t2 = vocab(&[("<", -1.0), ("s", -1.0), (">", -1.0)]);
    assert!(!t2.encode("<s>", false, false).unwrap().contains(&1));
}

#[test]
fn decoding_rules() {
    let t = vocab(&[(" ", -1.0), (" hi", 2.0), ("x", -1.0)]);
    let hi = t.lookup(b" hi").unwrap();
    // Leading space dropped right after BOS only.
    assert_eq!(t.decode(1, hi), b"hi");
    assert_eq!(t.decode(hi, hi), b" hi");
    // Byte tokens give their byte; control tokens nothing.
    assert_eq!(t.decode(hi, 3 + 0x41), b"A");
    assert_eq!(t.decode(hi, 2), b"");
    assert_eq!(t.decode(hi, 99_999), b"");
    let ids = [1, hi, hi, 3 + 0xC3, 3 + 0xA9, 2];
    assert_eq!(t.decode_string(&ids), "hi hié");
}

#[test]
fn special_pieces_in_text_become_tokens_on_request() {
    let t = vocab(&[
        (" ", -1.0),
        ("h", -1.0),
        ("i", -1.0),
        (" h", 1.0),
        (" hi", 2.0),
        ("<", -1.0),
        ("/", -1.0),
        ("s", -1.0),
        (">", -1.0),
    ]);
    let plain = t.encode("hi</s>hi", true, false).unwrap();
    assert!(!plain.contains(&2), "plain encoding keeps </s> as text");
    let ids = t.encode_special("hi</s>hi", true, false).unwrap();
    let hi = t.lookup(b" hi").unwrap();
    // Each text fragment gets its own dummy-prefix space, as llama.cpp does.
    assert_eq!(ids, [1, hi, 2, hi]);
    assert_eq!(t.encode_special("<s></s>", false, true).unwrap(), [1, 2, 2]);
    // Without special pieces it is the plain encoding.
    assert_eq!(
        t.encode_special("hi hi", true, true).unwrap(),
        t.encode("hi hi", true, true).unwrap()
    );
    assert_eq!(t.encode_special("é</s>", false, false).unwrap()[3], 2);
}

fn synth() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| synth_tokenizer(512).unwrap())
}

#[test]
fn synthetic_vocabulary_learned_common_words() {
    let t = synth();
    assert_eq!(t.vocab_size(), 512);
    // Frequent corpus words are single tokens.
    for w in [" the", " and", " was"] {
        let ids = t.encode(w.trim_start(), false, false).unwrap();
        assert_eq!(pieces(t, &ids), [w], "{w:?}");
    }
    let ids = t.encode("the cat", true, false).unwrap();
    assert!(ids.len() <= 4, "{:?}", pieces(t, &ids));
    let big = synth_tokenizer(32000).unwrap();
    assert_eq!(big.vocab_size(), 32000);
}

#[test]
fn tokenizer_bin_round_trip() {
    let t = synth();
    let back = Tokenizer::from_llama2c(&t.to_llama2c()).unwrap();
    assert_eq!(back.vocab_size(), t.vocab_size());
    for id in 0..t.vocab_size() as u32 {
        assert_eq!(back.piece(id), t.piece(id));
        assert_eq!(back.score(id), t.score(id));
        assert_eq!(back.kind(id), t.kind(id), "kind of {id}");
    }
}

#[test]
fn gguf_pieces_use_the_sentencepiece_space() {
    let f = common::files(tinyllama::synth::Shape::Tiny, 1, true);
    let bytes = &f.models[3].1;
    // The GGUF stores " the" as "▁the".
    assert!(bytes.windows(6).any(|w| w == "\u{2581}the".as_bytes()));
    let g = tinyllama::gguf::Gguf::parse(&mut bytes.as_slice()).unwrap();
    let t = g.tokenizer().unwrap();
    assert!(t.lookup(b" the").is_some());
}

proptest! {
    #[test]
    fn encode_decode_round_trips(text in "\\PC{0,40}") {
        let t = synth();
        let ids = t.encode(&text, true, false).unwrap();
        prop_assert_eq!(t.decode_string(&ids), text.clone());
        // Every id is a real token and concatenated pieces give " " + text.
        let mut joined = Vec::new();
        for &id in &ids[1..] {
            match t.kind(id).unwrap() {
                TokenKind::Byte => joined.push(t.decode(0, id)[0]),
                _ => joined.extend_from_slice(t.piece(id).unwrap()),
            }
        }
        if !text.is_empty() {
            prop_assert_eq!(joined, format!(" {text}").into_bytes());
        }
    }

    #[test]
    fn encoding_reaches_a_merge_fixpoint(text in "[a-z .,]{1,40}") {
        // After encoding, no adjacent pair concatenates to a vocabulary piece.
        let t = synth();
        let ids = t.encode(&text, false, false).unwrap();
        for w in ids.windows(2) {
            let mut joined = t.piece(w[0]).unwrap().to_vec();
            joined.extend_from_slice(t.piece(w[1]).unwrap());
            prop_assert!(t.lookup(&joined).is_none(), "{:?} could still merge", String::from_utf8_lossy(&joined));
        }
    }
}
