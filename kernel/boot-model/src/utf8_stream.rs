//! Text from a stream of byte pieces (the tokens of a language model), as
//! whole UTF-8 characters: a piece may end in the middle of a character
//! (byte-fallback tokens), and the next one completes it.

use alloc::string::String;
use alloc::vec::Vec;

/// Bytes of a character that is still incomplete.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

/// Length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Stream {
    /// An empty stream.
    pub fn new() -> Utf8Stream {
        Utf8Stream::default()
    }

    /// Appends `piece` and returns the text it completes: every whole
    /// character so far, invalid bytes as U+FFFD; an incomplete character at
    /// the end waits for the next piece.
    pub fn push(&mut self, piece: &[u8]) -> String {
        self.pending.extend_from_slice(piece);
        let keep = self.incomplete_tail();
        let ready: Vec<u8> = self.pending.drain(..self.pending.len() - keep).collect();
        String::from_utf8_lossy(&ready).into_owned()
    }

    /// What is left at the end of the stream (an incomplete character
    /// becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = core::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// Bytes at the end of `pending` that start a character not yet complete.
    fn incomplete_tail(&self) -> usize {
        let p = &self.pending;
        for back in 1..=p.len().min(3) {
            let b = p[p.len() - back];
            if b & 0xc0 == 0x80 {
                continue;
            }
            let need = sequence_len(b);
            return if need > back { back } else { 0 };
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_split_over_pieces() {
        let mut s = Utf8Stream::new();
        assert_eq!(s.push(b"caf"), "caf");
        assert_eq!(s.push(&[0xc3]), "");
        assert_eq!(s.push(&[0xa9, b'!']), "é!");
        assert_eq!(s.push(&[0xf0, 0x9f]), "");
        assert_eq!(s.push(&[0x98]), "");
        assert_eq!(s.push(&[0x80]), "😀");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn invalid_bytes_and_unfinished_end() {
        let mut s = Utf8Stream::new();
        assert_eq!(s.push(&[b'a', 0xff, b'b']), "a\u{fffd}b");
        assert_eq!(s.push(&[0xe2, 0x82]), "");
        assert_eq!(s.finish(), "\u{fffd}");
        // A lead byte followed by a non-continuation byte is not held back.
        assert_eq!(s.push(&[0xc3, b'x']), "\u{fffd}x");
    }
}
