//! Fixed-capacity containers, usable before the kernel has a heap.

use core::fmt;

/// A UTF-8 string stored inline, at most `N` bytes. Longer input is cut at a
/// character boundary and `truncated` records that it was.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> FixedStr<N> {
    /// The empty string.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Copies `s`, cutting it at the last character boundary that fits.
    pub fn from_str_lossy(s: &str) -> Self {
        let mut out = Self::new();
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        out.bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        out.len = end;
        out.truncated = end < s.len();
        out
    }

    /// Copies raw bytes (e.g. a C string from a boot loader): stops at the
    /// first NUL, replaces invalid UTF-8 with `?`.
    pub fn from_bytes_lossy(raw: &[u8]) -> Self {
        let raw = match raw.iter().position(|&b| b == 0) {
            Some(nul) => &raw[..nul],
            None => raw,
        };
        let mut out = Self::new();
        let mut rest = raw;
        while !rest.is_empty() {
            match core::str::from_utf8(rest) {
                Ok(valid) => {
                    out.push_str(valid);
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    // `valid` is valid UTF-8 by construction.
                    out.push_str(core::str::from_utf8(valid).unwrap_or(""));
                    out.push_str("?");
                    let skip = err.error_len().unwrap_or(after.len()).max(1);
                    rest = &after[skip.min(after.len())..];
                }
            }
            if out.truncated {
                break;
            }
        }
        out
    }

    /// Appends as much of `s` as fits.
    pub fn push_str(&mut self, s: &str) {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            self.truncated = true;
        }
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        // Only whole characters of valid `&str`s are ever copied in.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// Whether input was cut to fit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A vector stored inline with room for `N` elements.
#[derive(Clone, Copy)]
pub struct FixedVec<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

/// Returned when a [`FixedVec`] is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl<T: Copy + Default, const N: usize> FixedVec<T, N> {
    /// An empty vector.
    pub fn new() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
        }
    }

    /// Appends `item`, or reports that there is no room.
    pub fn push(&mut self, item: T) -> Result<(), Full> {
        if self.len == N {
            return Err(Full);
        }
        self.items[self.len] = item;
        self.len += 1;
        Ok(())
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `len` elements.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl<T: Copy + Default, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default + fmt::Debug, const N: usize> fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_str_cuts_at_char_boundary() {
        let s = FixedStr::<4>::from_str_lossy("abé€");
        assert_eq!(s.as_str(), "abé");
        assert!(s.truncated());
    }

    #[test]
    fn fixed_str_from_c_bytes() {
        let s = FixedStr::<16>::from_bytes_lossy(b"ok\xffgo\0junk");
        assert_eq!(s.as_str(), "ok?go");
        assert!(!s.truncated());
    }

    #[test]
    fn fixed_vec_reports_full() {
        let mut v = FixedVec::<u8, 2>::new();
        assert!(v.push(1).is_ok());
        assert!(v.push(2).is_ok());
        assert_eq!(v.push(3), Err(Full));
        assert_eq!(v.as_slice(), &[1, 2]);
    }
}
