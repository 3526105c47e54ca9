//! Where model and tokenizer bytes come from: the [`ModelSource`] contract.
//!
//! The loaders never need a whole file in memory. They ask a source for
//! byte ranges and copy them straight into the final tensor storage, so the
//! peak memory of loading is the weights plus small fixed buffers. The
//! kernel implements the trait for a virtio block device; this crate
//! implements it for byte slices (a boot module already in memory) and,
//! with `std`, for files (`FileSource`).
//!
//! # Contract for implementations
//!
//! - [`ModelSource::len`] is the total length in bytes and does not change.
//! - [`ModelSource::read_at`] fills *all* of `buf` with the bytes at
//!   `offset .. offset + buf.len()`, or returns a [`ReadError`] saying why it
//!   could not (device error, short read). Callers never ask for a range
//!   that ends past `len()` (the loaders check every size against `len()`
//!   first and report [`crate::Error::Truncated`] themselves), and never for
//!   an empty range. Offsets and lengths have no alignment: a device that
//!   reads 512-byte sectors rounds the range out internally.
//! - How the loaders read, so a device can be efficient: headers, metadata
//!   and tokenizers through one [`crate::reader::Reader`] buffer of
//!   [`crate::reader::BUFFER_BYTES`] (sequential refills); tensor data
//!   straight into the tensor's memory in reads of at most
//!   [`crate::reader::CHUNK_BYTES`], in increasing offset order within a
//!   tensor, and tensors in increasing file offset order. Each byte of a
//!   model is read about once.
//! - A failed read is not retried by the loaders: the load stops with
//!   [`crate::Error::Read`] naming the field or tensor being read.

use alloc::string::String;

/// Why a [`ModelSource`] could not deliver the requested bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// A short description (e.g. the device's error).
    pub reason: String,
}

impl ReadError {
    /// A read error with the given reason.
    pub fn new(reason: impl Into<String>) -> Self {
        ReadError {
            reason: reason.into(),
        }
    }
}

/// Random-access bytes of a model or tokenizer file (see the module docs for
/// the exact contract).
pub trait ModelSource {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills all of `buf` with the bytes at `offset .. offset + buf.len()`
    /// (a range inside `len()`, never empty).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError>;
}

/// Bytes already in memory (a boot module, a test buffer).
impl ModelSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let start = usize::try_from(offset).map_err(|_| ReadError::new("offset out of range"))?;
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| ReadError::new("read past the end of the input"))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

impl<S: ModelSource + ?Sized> ModelSource for &mut S {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_at(offset, buf)
    }
}

/// A file read through the OS, seeking only when a read is not sequential.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct FileSource {
    file: std::fs::File,
    len: u64,
    /// The file position after the last read.
    pos: u64,
}

#[cfg(feature = "std")]
impl FileSource {
    /// Opens `path` for reading.
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<FileSource> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len, pos: 0 })
    }
}

#[cfg(feature = "std")]
impl ModelSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        use std::io::{Read, Seek, SeekFrom};
        if offset != self.pos {
            self.file
                .seek(SeekFrom::Start(offset))
                .map_err(|e| ReadError::new(alloc::format!("seek: {e}")))?;
            self.pos = offset;
        }
        let r = self.file.read_exact(buf);
        // After a failed read the position is unknown: seek next time.
        self.pos = if r.is_ok() {
            offset + buf.len() as u64
        } else {
            u64::MAX
        };
        r.map_err(|e| ReadError::new(alloc::format!("{e}")))
    }
}
