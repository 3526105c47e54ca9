//! Fallible allocation of model-sized buffers, and the byte view that lets a
//! source read little-endian values straight into them.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};

/// A zeroed vector of `n` elements; failure to allocate is
/// [`Error::OutOfMemory`] naming `what`, never an abort.
pub fn try_zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what: String::from(what),
        bytes: (n as u64).saturating_mul(core::mem::size_of::<T>() as u64),
    })?;
    v.resize(n, T::default());
    Ok(v)
}

/// Reserves room for `additional` more elements, or [`Error::OutOfMemory`].
pub fn try_reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<()> {
    v.try_reserve(additional).map_err(|_| Error::OutOfMemory {
        what: String::from(what),
        bytes: (additional as u64).saturating_mul(core::mem::size_of::<T>() as u64),
    })
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
    impl Sealed for u16 {}
    impl Sealed for f32 {}
}

/// Element types a file stores little-endian and a tensor keeps as they are:
/// every bit pattern is a valid value, and there is no padding.
pub trait Plain: sealed::Sealed + Copy + Default + Send + Sync + 'static {
    /// Converts a value read as little-endian bytes into native order
    /// (nothing to do on a little-endian machine).
    fn le_to_native(self) -> Self;
}

impl Plain for u8 {
    fn le_to_native(self) -> Self {
        self
    }
}
impl Plain for i8 {
    fn le_to_native(self) -> Self {
        self
    }
}
impl Plain for u16 {
    fn le_to_native(self) -> Self {
        u16::from_le(self)
    }
}
impl Plain for f32 {
    fn le_to_native(self) -> Self {
        f32::from_bits(u32::from_le(self.to_bits()))
    }
}

/// The bytes of `v`, writable.
pub fn bytes_of_mut<T: Plain>(v: &mut [T]) -> &mut [u8] {
    let len = core::mem::size_of_val(v);
    // SAFETY: `T` is one of u8, i8, u16, f32 (sealed): no padding, and every
    // byte pattern is a valid `T`, so writing arbitrary bytes keeps `v` valid.
    // The view covers exactly `v`'s memory, u8 has alignment 1, and the
    // returned borrow holds `v` mutably for its whole life (no aliasing).
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), len) }
}

/// Turns values just read as little-endian bytes into native order.
pub fn fix_endianness<T: Plain>(v: &mut [T]) {
    if cfg!(target_endian = "big") {
        for x in v {
            *x = x.le_to_native();
        }
    }
}
