//! Bounds-checked little-endian reading from a byte slice.
//!
//! Every read names the field it is for, so that a short or corrupt file
//! produces an [`Error`] that says which field was wrong.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};

/// A cursor over a byte slice; reads never go past its end.
#[derive(Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at offset 0.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Total input length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes left after the current offset.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn truncated(&self, what: &str, needed: u64) -> Error {
        Error::Truncated {
            what: String::from(what),
            needed,
            offset: self.pos as u64,
            len: self.bytes.len() as u64,
        }
    }

    /// The next `n` bytes, or an error naming `what`.
    pub fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.truncated(what, n));
        }
        let n = n as usize;
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Moves to an absolute offset (which may equal the length).
    pub fn seek(&mut self, offset: u64, what: &str) -> Result<()> {
        if offset > self.bytes.len() as u64 {
            return Err(Error::Truncated {
                what: String::from(what),
                needed: offset.saturating_sub(self.bytes.len() as u64),
                offset: self.bytes.len() as u64,
                len: self.bytes.len() as u64,
            });
        }
        self.pos = offset as usize;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// Reads a little-endian `i32`.
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// Reads a little-endian `f32`.
    pub fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// Reads `n` little-endian `f32` values.
    pub fn f32_vec(&mut self, n: u64, what: &str) -> Result<Vec<f32>> {
        let bytes = self.take(checked_bytes(n, 4, what)?, what)?;
        Ok(f32s_from_le(bytes))
    }

    /// Reads `n` `i8` values.
    pub fn i8_vec(&mut self, n: u64, what: &str) -> Result<Vec<i8>> {
        let bytes = self.take(n, what)?;
        Ok(bytes.iter().map(|&b| b as i8).collect())
    }
}

/// `n * size`, or an error naming `what` if it overflows.
pub fn checked_bytes(n: u64, size: u64, what: &str) -> Result<u64> {
    n.checked_mul(size)
        .ok_or_else(|| Error::invalid(what, "size overflows 64 bits"))
}

/// Decodes little-endian `f32`s (the slice length must be a multiple of 4).
pub fn f32s_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
