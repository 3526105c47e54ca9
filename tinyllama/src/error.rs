//! The crate's error type: every failure names what was being read or checked.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Everything that can go wrong while loading a model or tokenizer, or running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ended before `what` could be read completely.
    Truncated {
        /// The field or tensor being read.
        what: String,
        /// Bytes needed from `offset` on.
        needed: u64,
        /// Offset at which `what` starts.
        offset: u64,
        /// Total length of the input.
        len: u64,
    },
    /// The [`crate::ModelSource`] could not deliver bytes for `what`.
    Read {
        /// The field or tensor being read.
        what: String,
        /// Offset of the failed read.
        offset: u64,
        /// The source's reason.
        reason: String,
    },
    /// A field was read but its value is not acceptable.
    Invalid {
        /// The field or tensor concerned.
        what: String,
        /// Why the value was rejected.
        reason: String,
    },
    /// A feature the file uses that this crate does not implement.
    Unsupported {
        /// The field concerned.
        what: String,
        /// What was found.
        reason: String,
    },
    /// An [`crate::Ops`] implementation failed (e.g. a JIT-compiled op trapped).
    Op {
        /// Which op.
        op: String,
        /// Its reason.
        reason: String,
    },
    /// The input is neither a GGUF file nor a llama2.c checkpoint: it lacks
    /// both magics and its first bytes do not make a valid llama2.c v0 header.
    UnknownFormat {
        /// The first (up to 4) bytes of the input.
        magic: Vec<u8>,
        /// Whether those bytes look like a damaged GGUF magic.
        near_gguf: bool,
        /// Why the start of the input is not a llama2.c v0 header.
        llama2c: String,
    },
    /// A [`crate::Workers`] implementation broke its contract (did not run
    /// every task index exactly once).
    Workers {
        /// What went wrong.
        reason: String,
    },
    /// A buffer could not be allocated.
    OutOfMemory {
        /// What the allocation was for.
        what: String,
        /// Number of bytes requested.
        bytes: u64,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated {
                what,
                needed,
                offset,
                len,
            } => write!(
                f,
                "truncated input: {what} needs {needed} bytes at offset {offset}, but the input is {len} bytes long"
            ),
            Error::Read {
                what,
                offset,
                reason,
            } => write!(f, "cannot read {what} at offset {offset}: {reason}"),
            Error::Invalid { what, reason } => write!(f, "invalid {what}: {reason}"),
            Error::Unsupported { what, reason } => write!(f, "unsupported {what}: {reason}"),
            Error::Op { op, reason } => write!(f, "op {op} failed: {reason}"),
            Error::UnknownFormat {
                magic,
                near_gguf,
                llama2c,
            } => {
                write!(f, "not a GGUF file (magic")?;
                for b in magic {
                    write!(f, " {b:02x}")?;
                }
                let text: String = magic
                    .iter()
                    .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                    .collect();
                write!(f, " {text:?}")?;
                if *near_gguf {
                    write!(f, ", a damaged GGUF magic?")?;
                }
                write!(f, ") and not a valid llama2.c checkpoint ({llama2c})")
            }
            Error::Workers { reason } => write!(f, "workers failed: {reason}"),
            Error::OutOfMemory { what, bytes } => {
                write!(f, "cannot allocate {bytes} bytes for {what}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;

impl From<crate::ops::OpError> for Error {
    fn from(e: crate::ops::OpError) -> Self {
        Error::Op {
            op: String::from(e.op),
            reason: e.reason,
        }
    }
}
