//! Diagnostics: every front-end error is `file:line:col: reason`.

use alloc::string::String;
use core::fmt;

/// A parse or verification error, located at the offending token (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The source's name as the caller gave it (a file name, or `<builtin>/name.bfir`).
    pub file: String,
    /// Line of the offending token, from 1.
    pub line: u32,
    /// Column of the offending token in characters, from 1.
    pub col: u32,
    /// What is wrong, in words (no location).
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.reason
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Diagnostic {}

/// A source position (1-based line and column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// An error before the file name is attached.
#[derive(Clone, Debug)]
pub struct PosError {
    pub pos: Pos,
    pub reason: String,
}

pub fn err<T>(pos: Pos, reason: impl Into<String>) -> Result<T, PosError> {
    Err(PosError {
        pos,
        reason: reason.into(),
    })
}
