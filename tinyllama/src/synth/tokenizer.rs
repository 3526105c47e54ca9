//! A small SentencePiece-style vocabulary: unk/BOS/EOS, 256 byte tokens,
//! printable ASCII, merges learned by BPE on [`super::corpus::CORPUS`],
//! then (for large vocabularies) extra merges of random piece pairs.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::vec::Vec;

use crate::error::Result;
use crate::sampler::Rng;
use crate::tokenizer::{TokenKind, Tokenizer};

use super::corpus::CORPUS;

/// Most merges learned from the corpus (keeps generation fast in debug builds).
const MAX_LEARNED: usize = 600;

/// Learns BPE merges: words carry their leading space, merges never cross
/// words, the most frequent pair wins (ties: the smallest pair).
fn learn_merges(limit: usize) -> Vec<Vec<u8>> {
    let mut words: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for w in CORPUS.split(' ').filter(|w| !w.is_empty()) {
        *words.entry(format!(" {w}").into_bytes()).or_default() += 1;
    }
    let mut split: Vec<(Vec<Vec<u8>>, usize)> = words
        .into_iter()
        .map(|(w, n)| (w.iter().map(|&b| alloc::vec![b]).collect(), n))
        .collect();
    let mut merges = Vec::new();
    while merges.len() < limit {
        let mut pairs: BTreeMap<(&[u8], &[u8]), usize> = BTreeMap::new();
        for (syms, n) in &split {
            for p in syms.windows(2) {
                *pairs.entry((&p[0], &p[1])).or_default() += n;
            }
        }
        let Some(((a, b), count)) = pairs
            .iter()
            .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
            .map(|(k, v)| (*k, *v))
        else {
            break;
        };
        if count < 2 {
            break;
        }
        let (a, b) = (a.to_vec(), b.to_vec());
        let mut joined = a.clone();
        joined.extend_from_slice(&b);
        for (syms, _) in split.iter_mut() {
            let mut i = 0;
            while i + 1 < syms.len() {
                if syms[i] == a && syms[i + 1] == b {
                    syms[i] = joined.clone();
                    syms.remove(i + 1);
                }
                i += 1;
            }
        }
        merges.push(joined);
    }
    merges
}

/// A tokenizer of exactly `vocab_size` tokens (at least 354 + 1 are needed
/// for the fixed part and one merge). Deterministic.
pub fn synth_tokenizer(vocab_size: usize) -> Result<Tokenizer> {
    let mut pieces: Vec<Vec<u8>> = Vec::with_capacity(vocab_size);
    let mut scores = Vec::with_capacity(vocab_size);
    let mut kinds = Vec::with_capacity(vocab_size);
    for (p, k) in [
        (&b"<unk>"[..], TokenKind::Unknown),
        (b"<s>", TokenKind::Control),
        (b"</s>", TokenKind::Control),
    ] {
        pieces.push(p.to_vec());
        scores.push(0.0);
        kinds.push(k);
    }
    for b in 0..=255u8 {
        pieces.push(format!("<0x{b:02X}>").into_bytes());
        scores.push(0.0);
        kinds.push(TokenKind::Byte);
    }
    let mut seen: BTreeSet<Vec<u8>> = BTreeSet::new();
    for c in 32u8..=126 {
        pieces.push(alloc::vec![c]);
        // Single characters rank below every merge.
        scores.push(-1e6 - c as f32);
        kinds.push(TokenKind::Normal);
        seen.insert(alloc::vec![c]);
    }
    let room = vocab_size.saturating_sub(pieces.len());
    let mut score = 0.0f32;
    for m in learn_merges(room.min(MAX_LEARNED)) {
        if seen.insert(m.clone()) {
            pieces.push(m);
            scores.push(score);
            kinds.push(TokenKind::Normal);
            score -= 1.0;
        }
    }
    // Fill the rest with merges of two existing normal pieces.
    let mut rng = Rng::new(0x70CE_11A5);
    let first_normal = 3 + 256;
    while pieces.len() < vocab_size {
        let n = pieces.len() - first_normal;
        let a = first_normal + rng.next_u32() as usize % n;
        let b = first_normal + rng.next_u32() as usize % n;
        if pieces[a].len() + pieces[b].len() > 12 {
            continue;
        }
        let mut joined = pieces[a].clone();
        joined.extend_from_slice(&pieces[b]);
        if seen.insert(joined.clone()) {
            pieces.push(joined);
            scores.push(score);
            kinds.push(TokenKind::Normal);
            score -= 1.0;
        }
    }
    pieces.truncate(vocab_size);
    scores.truncate(vocab_size);
    kinds.truncate(vocab_size);
    Tokenizer::new(pieces, scores, kinds, 1, 2)
}
