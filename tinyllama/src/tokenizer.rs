//! SentencePiece-style BPE tokenizer, loaded from llama2.c's `tokenizer.bin`
//! or from GGUF metadata, into one [`Tokenizer`] type.
//!
//! Pieces are kept with plain spaces: GGUF's `▁` (U+2581) is turned into
//! `' '` on load, which is what llama2.c's `tokenizer.bin` already stores.
//! Byte-fallback tokens are the pieces `<0x00>`..`<0xFF>`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::buffer::try_reserve;
use crate::error::{Error, Result};
use crate::reader::Reader;
use crate::source::ModelSource;

/// Largest accepted piece length.
pub const MAX_PIECE_LEN: usize = 1 << 16;
/// Largest accepted vocabulary (the largest model dimension).
pub const MAX_VOCAB: usize = crate::config::MAX_DIM;

/// What a vocabulary entry is (the GGUF `tokenizer.ggml.token_type` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Ordinary text piece (type 1).
    Normal,
    /// The unknown token (type 2).
    Unknown,
    /// Control tokens such as BOS/EOS (type 3); decode to nothing.
    Control,
    /// User-defined piece (type 4), matched like normal text.
    UserDefined,
    /// Unused slot (type 5); never produced by encoding, decodes to nothing.
    Unused,
    /// Byte-fallback token `<0xXX>` (type 6).
    Byte,
}

impl TokenKind {
    /// From the GGUF token type number.
    pub fn from_gguf(v: i64) -> Option<TokenKind> {
        Some(match v {
            1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => return None,
        })
    }

    /// The GGUF token type number.
    pub fn to_gguf(self) -> i32 {
        match self {
            TokenKind::Normal => 1,
            TokenKind::Unknown => 2,
            TokenKind::Control => 3,
            TokenKind::UserDefined => 4,
            TokenKind::Unused => 5,
            TokenKind::Byte => 6,
        }
    }
}

/// A BPE vocabulary with scores.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    pieces: Vec<Vec<u8>>,
    scores: Vec<f32>,
    kinds: Vec<TokenKind>,
    /// Ids of matchable pieces, sorted by piece bytes.
    sorted: Vec<u32>,
    byte_tokens: [Option<u32>; 256],
    unk: Option<u32>,
    bos: u32,
    eos: u32,
    max_token_length: usize,
}

/// Every byte value, for decoding byte tokens without storing their text.
static BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

/// Parses a `<0xXX>` byte-token piece.
pub fn parse_byte_piece(p: &[u8]) -> Option<u8> {
    if p.len() != 6 || &p[..3] != b"<0x" || p[5] != b'>' {
        return None;
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(hex(p[3])? * 16 + hex(p[4])?)
}

/// Replaces SentencePiece's `▁` by a space.
pub fn spm_to_spaces(p: &[u8]) -> Vec<u8> {
    const SPM_SPACE: &[u8] = "\u{2581}".as_bytes();
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i..].starts_with(SPM_SPACE) {
            out.push(b' ');
            i += SPM_SPACE.len();
        } else {
            out.push(p[i]);
            i += 1;
        }
    }
    out
}

impl Tokenizer {
    /// Builds a tokenizer from pieces (with plain spaces), scores and kinds.
    pub fn new(
        pieces: Vec<Vec<u8>>,
        scores: Vec<f32>,
        kinds: Vec<TokenKind>,
        bos: u32,
        eos: u32,
    ) -> Result<Tokenizer> {
        let n = pieces.len();
        if n < 3 {
            return Err(Error::invalid(
                "tokenizer vocabulary",
                format!("{n} tokens; at least 3 (unk, bos, eos) are needed"),
            ));
        }
        if n > MAX_VOCAB {
            return Err(Error::invalid(
                "tokenizer vocabulary",
                format!("{n} tokens; at most {MAX_VOCAB} are accepted"),
            ));
        }
        if scores.len() != n || kinds.len() != n {
            return Err(Error::invalid(
                "tokenizer",
                format!(
                    "{n} pieces but {} scores and {} token types",
                    scores.len(),
                    kinds.len()
                ),
            ));
        }
        for (name, id) in [("bos token id", bos), ("eos token id", eos)] {
            if id as usize >= n {
                return Err(Error::invalid(
                    name,
                    format!("{id} is outside the vocabulary of {n}"),
                ));
            }
        }
        let mut byte_tokens = [None; 256];
        let mut max_token_length = 0;
        let mut unk = None;
        for (id, (p, (s, k))) in pieces.iter().zip(scores.iter().zip(&kinds)).enumerate() {
            if s.is_nan() {
                return Err(Error::invalid(format!("token {id} score"), "NaN"));
            }
            if p.len() > MAX_PIECE_LEN {
                return Err(Error::invalid(
                    format!("token {id}"),
                    format!("piece of {} bytes", p.len()),
                ));
            }
            max_token_length = max_token_length.max(p.len());
            match k {
                TokenKind::Byte => {
                    let b = parse_byte_piece(p).ok_or_else(|| {
                        Error::invalid(
                            format!("token {id}"),
                            "a byte token whose piece is not <0xXX>",
                        )
                    })?;
                    if byte_tokens[b as usize].is_none() {
                        byte_tokens[b as usize] = Some(id as u32);
                    }
                }
                TokenKind::Unknown => {
                    unk.get_or_insert(id as u32);
                }
                TokenKind::Control
                | TokenKind::Unused
                | TokenKind::Normal
                | TokenKind::UserDefined => {}
            }
        }
        let mut sorted: Vec<u32> = Vec::new();
        try_reserve(&mut sorted, n, "tokenizer index")?;
        sorted.extend((0..n as u32).filter(|&i| {
            matches!(
                kinds[i as usize],
                TokenKind::Normal | TokenKind::UserDefined
            )
        }));
        // Stable sort: among equal pieces the lowest id comes first and wins.
        sorted.sort_by(|&a, &b| pieces[a as usize].cmp(&pieces[b as usize]));
        sorted.dedup_by(|a, b| pieces[*a as usize] == pieces[*b as usize]);
        Ok(Tokenizer {
            pieces,
            scores,
            kinds,
            sorted,
            byte_tokens,
            unk,
            bos,
            eos,
            max_token_length,
        })
    }

    /// Loads llama2.c's `tokenizer.bin` from its bytes (see
    /// [`Tokenizer::load_llama2c`]).
    pub fn from_llama2c(bytes: &[u8]) -> Result<Tokenizer> {
        Tokenizer::load_llama2c(&mut &*bytes)
    }

    /// Loads llama2.c's `tokenizer.bin`: i32 `max_token_length`, then per token
    /// f32 score, i32 length, bytes. Reads the source once to its end; the ids
    /// 0, 1, 2 are unk, BOS and EOS, and `<0xXX>` pieces are byte tokens.
    pub fn load_llama2c<S: ModelSource + ?Sized>(src: &mut S) -> Result<Tokenizer> {
        let mut r = Reader::new(src)?;
        let max_len = r.i32("tokenizer max_token_length")?;
        if max_len <= 0 || max_len as usize > MAX_PIECE_LEN {
            return Err(Error::invalid(
                "tokenizer max_token_length",
                format!("{max_len} is outside 1..={MAX_PIECE_LEN}"),
            ));
        }
        let mut pieces = Vec::new();
        let mut scores = Vec::new();
        while r.remaining() > 0 {
            let id = pieces.len();
            if id == MAX_VOCAB {
                return Err(Error::invalid(
                    "tokenizer vocabulary",
                    format!("more than {MAX_VOCAB} tokens"),
                ));
            }
            try_reserve(&mut pieces, 1, "tokenizer pieces")?;
            try_reserve(&mut scores, 1, "tokenizer scores")?;
            let score = r.f32(&format!("token {id} score"))?;
            let len = r.i32(&format!("token {id} length"))?;
            if len < 0 || len > max_len {
                return Err(Error::invalid(
                    format!("token {id} length"),
                    format!("{len} is outside 0..={max_len} (max_token_length)"),
                ));
            }
            pieces.push(r.bytes(len as u64, &format!("token {id} bytes"))?);
            scores.push(score);
        }
        let kinds = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| match i {
                0 => TokenKind::Unknown,
                1 | 2 => TokenKind::Control,
                _ if parse_byte_piece(p).is_some() => TokenKind::Byte,
                _ => TokenKind::Normal,
            })
            .collect();
        Tokenizer::new(pieces, scores, kinds, 1, 2)
    }

    /// Serializes in llama2.c's `tokenizer.bin` layout.
    pub fn to_llama2c(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.max_token_length.max(1) as i32).to_le_bytes());
        for (p, s) in self.pieces.iter().zip(&self.scores) {
            out.extend_from_slice(&s.to_le_bytes());
            out.extend_from_slice(&(p.len() as i32).to_le_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    /// Number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }
    /// Beginning-of-sequence token.
    pub fn bos(&self) -> u32 {
        self.bos
    }
    /// End-of-sequence token.
    pub fn eos(&self) -> u32 {
        self.eos
    }
    /// The piece of `id` (plain spaces), if `id` is in the vocabulary.
    pub fn piece(&self, id: u32) -> Option<&[u8]> {
        self.pieces.get(id as usize).map(|p| p.as_slice())
    }
    /// The merge score of `id`.
    pub fn score(&self, id: u32) -> Option<f32> {
        self.scores.get(id as usize).copied()
    }
    /// The kind of `id`.
    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }
    /// Longest piece in bytes.
    pub fn max_token_length(&self) -> usize {
        self.max_token_length
    }

    /// The id of a matchable (normal or user-defined) piece.
    pub fn lookup(&self, piece: &[u8]) -> Option<u32> {
        self.sorted
            .binary_search_by(|&id| self.pieces[id as usize].as_slice().cmp(piece))
            .ok()
            .map(|i| self.sorted[i])
    }

    /// Encodes `text`: optional BOS, a dummy-prefix space (when the text is
    /// non-empty and the vocabulary has a `" "` piece), every character as
    /// its piece or as byte-fallback tokens, then repeated merging of the
    /// adjacent pair whose concatenation is the best-scoring piece (ties: the
    /// leftmost pair), then optional EOS.
    pub fn encode(&self, text: &str, bos: bool, eos: bool) -> Result<Vec<u32>> {
        let mut tokens = Vec::with_capacity(text.len() + 3);
        if bos {
            tokens.push(self.bos);
        }
        let start = tokens.len();
        if !text.is_empty()
            && let Some(space) = self.lookup(b" ")
        {
            tokens.push(space);
        }
        let mut buf = [0u8; 4];
        for ch in text.chars() {
            let s = ch.encode_utf8(&mut buf);
            if let Some(id) = self.lookup(s.as_bytes()) {
                tokens.push(id);
            } else {
                for &b in s.as_bytes() {
                    match self.byte_tokens[b as usize].or(self.unk) {
                        Some(id) => tokens.push(id),
                        None => {
                            return Err(Error::invalid(
                                "tokenizer",
                                format!(
                                    "no byte token <0x{b:02X}> and no unknown token to encode {ch:?}"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        let mut joined = Vec::with_capacity(self.max_token_length * 2);
        loop {
            let mut best: Option<(f32, usize, u32)> = None;
            for i in start..tokens.len().saturating_sub(1) {
                joined.clear();
                joined.extend_from_slice(&self.pieces[tokens[i] as usize]);
                joined.extend_from_slice(&self.pieces[tokens[i + 1] as usize]);
                if let Some(id) = self.lookup(&joined) {
                    let score = self.scores[id as usize];
                    if best.is_none_or(|(s, _, _)| score > s) {
                        best = Some((score, i, id));
                    }
                }
            }
            let Some((_, i, id)) = best else { break };
            tokens[i] = id;
            tokens.remove(i + 1);
        }
        if eos {
            tokens.push(self.eos);
        }
        Ok(tokens)
    }

    /// Like [`Tokenizer::encode`], but control, user-defined and unknown
    /// pieces written in the text (such as `</s>`) become their tokens
    /// (llama.cpp's "parse special"): the text is split at the longest such
    /// piece at each position, and every plain-text fragment is encoded on
    /// its own, with its own dummy-prefix space, as llama.cpp does for SPM
    /// vocabularies.
    pub fn encode_special(&self, text: &str, bos: bool, eos: bool) -> Result<Vec<u32>> {
        let specials: Vec<u32> = (0..self.pieces.len() as u32)
            .filter(|&i| {
                matches!(
                    self.kinds[i as usize],
                    TokenKind::Control | TokenKind::UserDefined | TokenKind::Unknown
                ) && !self.pieces[i as usize].is_empty()
            })
            .collect();
        let mut out = Vec::new();
        if bos {
            out.push(self.bos);
        }
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let hit = specials
                .iter()
                .filter(|&&id| bytes[i..].starts_with(&self.pieces[id as usize]))
                .max_by_key(|&&id| (self.pieces[id as usize].len(), core::cmp::Reverse(id)));
            match hit {
                // A piece that starts inside a UTF-8 character cannot split the text.
                Some(&id) if text.is_char_boundary(i) => {
                    out.extend(self.encode(&text[start..i], false, false)?);
                    out.push(id);
                    i += self.pieces[id as usize].len();
                    start = i;
                }
                _ => i += 1,
            }
        }
        if start < bytes.len() {
            out.extend(self.encode(&text[start..], false, false)?);
        }
        if eos {
            out.push(self.eos);
        }
        Ok(out)
    }

    /// The bytes `token` stands for when it follows `prev`: byte tokens give
    /// their byte, control and unused tokens nothing, and a piece right
    /// after BOS loses its leading space. Out-of-range ids give nothing.
    pub fn decode(&self, prev: u32, token: u32) -> &[u8] {
        let (Some(piece), Some(kind)) = (
            self.pieces.get(token as usize),
            self.kinds.get(token as usize),
        ) else {
            return &[];
        };
        let t: &[u8] = match kind {
            // `Tokenizer::new` checked that every byte token's piece parses.
            TokenKind::Byte => parse_byte_piece(piece).map_or(&[], |b| &BYTES[b as usize..][..1]),
            TokenKind::Control | TokenKind::Unused => &[],
            TokenKind::Normal | TokenKind::UserDefined | TokenKind::Unknown => piece,
        };
        if prev == self.bos && t.first() == Some(&b' ') {
            &t[1..]
        } else {
            t
        }
    }

    /// Decodes a whole sequence (as a stream starting after `tokens[0]` would,
    /// with the first token decoded as if it followed BOS).
    pub fn decode_all(&self, tokens: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = self.bos;
        for &t in tokens {
            out.extend_from_slice(self.decode(prev, t));
            prev = t;
        }
        out
    }

    /// Decodes a sequence into a `String`, replacing invalid UTF-8.
    pub fn decode_string(&self, tokens: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_all(tokens)).into_owned()
    }
}
