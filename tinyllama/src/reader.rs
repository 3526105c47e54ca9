//! Bounds-checked little-endian reading from a [`ModelSource`].
//!
//! Every read names the field it is for, so that a short or corrupt file
//! produces an [`Error`] that says which field was wrong. Small fields come
//! through one buffer of [`BUFFER_BYTES`]; bulk data ([`Reader::read_into`])
//! goes straight from the source into its destination in reads of at most
//! [`CHUNK_BYTES`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::buffer::{Plain, bytes_of_mut, fix_endianness, try_zeroed};
use crate::error::{Error, Result};
use crate::source::ModelSource;

/// Size of the buffer for headers, metadata and tokenizers.
pub const BUFFER_BYTES: usize = 64 * 1024;
/// Largest single read of tensor data.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// A cursor over a source; reads never go past its end.
pub struct Reader<'s, S: ModelSource + ?Sized> {
    src: &'s mut S,
    len: u64,
    pos: u64,
    /// Bytes `buf_start .. buf_start + buf_len` of the source.
    buf: Vec<u8>,
    buf_start: u64,
    buf_len: usize,
}

impl<'s, S: ModelSource + ?Sized> Reader<'s, S> {
    /// A reader at offset 0.
    pub fn new(src: &'s mut S) -> Result<Self> {
        let len = src.len();
        let cap = usize::try_from(len).map_or(BUFFER_BYTES, |l| l.min(BUFFER_BYTES));
        Ok(Reader {
            src,
            len,
            pos: 0,
            buf: try_zeroed(cap, "read buffer")?,
            buf_start: 0,
            buf_len: 0,
        })
    }

    /// Current offset.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Total input length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes left after the current offset.
    pub fn remaining(&self) -> u64 {
        self.len - self.pos
    }

    /// The error for `what` needing `needed` bytes at the current offset.
    pub fn truncated(&self, what: &str, needed: u64) -> Error {
        Error::Truncated {
            what: String::from(what),
            needed,
            offset: self.pos,
            len: self.len,
        }
    }

    /// Checks that `n` bytes are left for `what`.
    pub fn ensure(&self, n: u64, what: &str) -> Result<()> {
        if n > self.remaining() {
            return Err(self.truncated(what, n));
        }
        Ok(())
    }

    /// Moves to an absolute offset (which may equal the length).
    pub fn seek(&mut self, offset: u64, what: &str) -> Result<()> {
        if offset > self.len {
            return Err(Error::Truncated {
                what: String::from(what),
                needed: offset - self.len,
                offset: self.len,
                len: self.len,
            });
        }
        self.pos = offset;
        Ok(())
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        self.ensure(n, what)?;
        self.pos += n;
        Ok(())
    }

    /// Reads from the source, naming `what` in the error.
    fn source_read(&mut self, offset: u64, dst: &mut [u8], what: &str) -> Result<()> {
        self.src.read_at(offset, dst).map_err(|e| Error::Read {
            what: String::from(what),
            offset,
            reason: e.reason,
        })
    }

    /// Fills `out` with the next bytes: what the buffer already holds comes
    /// from it, the rest from the source (a refill of the buffer for a small
    /// rest, reads straight into `out` for a large one). Reading forward, no
    /// byte of the source is requested twice.
    pub fn read_bytes(&mut self, out: &mut [u8], what: &str) -> Result<()> {
        self.ensure(out.len() as u64, what)?;
        let buf_end = self.buf_start + self.buf_len as u64;
        let mut out = out;
        if self.pos >= self.buf_start && self.pos < buf_end {
            let at = (self.pos - self.buf_start) as usize;
            let n = out.len().min(self.buf_len - at);
            out[..n].copy_from_slice(&self.buf[at..at + n]);
            self.pos += n as u64;
            out = &mut out[n..];
        }
        if out.is_empty() {
            return Ok(());
        }
        if out.len() >= self.buf.len() {
            // Too big for the buffer: straight from the source.
            for chunk in out.chunks_mut(CHUNK_BYTES) {
                self.source_read(self.pos, chunk, what)?;
                self.pos += chunk.len() as u64;
            }
            return Ok(());
        }
        let fill = (self.len - self.pos).min(self.buf.len() as u64) as usize;
        let mut buf = core::mem::take(&mut self.buf);
        let r = self.source_read(self.pos, &mut buf[..fill], what);
        self.buf = buf;
        self.buf_start = self.pos;
        self.buf_len = if r.is_ok() { fill } else { 0 };
        r?;
        let n = out.len();
        out.copy_from_slice(&self.buf[..n]);
        self.pos += n as u64;
        Ok(())
    }

    /// The next `n` bytes in a new vector (allocated fallibly).
    pub fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        self.ensure(n, what)?;
        let mut v = try_zeroed(n as usize, what)?;
        self.read_bytes(&mut v, what)?;
        Ok(v)
    }

    /// Fills `dst` with the next `dst.len()` little-endian values, read
    /// straight into its memory.
    pub fn read_into<T: Plain>(&mut self, dst: &mut [T], what: &str) -> Result<()> {
        self.read_bytes(bytes_of_mut(dst), what)?;
        fix_endianness(dst);
        Ok(())
    }

    /// Reads `n` little-endian values into a new vector (allocated fallibly).
    pub fn vec<T: Plain>(&mut self, n: u64, what: &str) -> Result<Vec<T>> {
        let bytes = checked_bytes(n, core::mem::size_of::<T>() as u64, what)?;
        self.ensure(bytes, what)?;
        let mut v = try_zeroed(n as usize, what)?;
        self.read_into(&mut v, what)?;
        Ok(v)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        self.read_bytes(&mut a, what)?;
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
}

/// `n * size`, or an error naming `what` if it overflows.
pub fn checked_bytes(n: u64, size: u64, what: &str) -> Result<u64> {
    n.checked_mul(size)
        .ok_or_else(|| Error::invalid(what, "size overflows 64 bits"))
}
