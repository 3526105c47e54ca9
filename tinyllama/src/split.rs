//! Splitting an output buffer into disjoint parts, one per worker.
//!
//! [`Shards`] lends part `i` of a mutable slice to whichever worker asks for
//! index `i`, at most once: the parts are contiguous, disjoint and cover the
//! slice, so workers can write their outputs in place without locks. A
//! [`crate::Workers`] implementation that runs an index twice or not at all
//! is detected ([`Shards::complete`]) instead of aliasing or leaving a part
//! unwritten.

use core::marker::PhantomData;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Most parts one slice is split into.
pub const MAX_PARTS: usize = 1024;

/// Units `units` split into `parts` balanced contiguous ranges: range `i`.
pub fn part_range(units: usize, parts: usize, i: usize) -> Range<usize> {
    units * i / parts..units * (i + 1) / parts
}

/// A mutable slice of `units × granule` elements lent out in `parts`
/// contiguous parts (whole units each), each at most once.
pub struct Shards<'a, T> {
    ptr: *mut T,
    units: usize,
    granule: usize,
    parts: usize,
    taken: [AtomicU64; MAX_PARTS / 64],
    /// Set when a part is asked for a second time.
    conflict: AtomicBool,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: sharing a `Shards` between threads lets each of them take a
// disjoint `&mut [T]` (like `split_at_mut` and sending the halves), which is
// sound when `T: Send`; `take` guarantees the disjointness at run time.
unsafe impl<T: Send> Sync for Shards<'_, T> {}

impl<'a, T> Shards<'a, T> {
    /// Splits `slice` (a whole number of `granule`-element units, `granule`
    /// at least 1) into `parts` parts, `1 <= parts <= MAX_PARTS`.
    pub fn new(slice: &'a mut [T], parts: usize, granule: usize) -> Self {
        assert!(granule > 0 && slice.len().is_multiple_of(granule));
        assert!((1..=MAX_PARTS).contains(&parts));
        Shards {
            ptr: slice.as_mut_ptr(),
            units: slice.len() / granule,
            granule,
            parts,
            taken: Default::default(),
            conflict: AtomicBool::new(false),
            _borrow: PhantomData,
        }
    }

    /// The units of part `i`.
    pub fn units_of(&self, i: usize) -> Range<usize> {
        part_range(self.units, self.parts, i)
    }

    /// Part `i` (its units [`Shards::units_of`]), or `None` if `i` is out of
    /// range or the part was already taken.
    // A `&mut` from `&self` on purpose: workers share the `Shards`, and the
    // claim bit makes each part's borrow unique (see the SAFETY note).
    #[allow(clippy::mut_from_ref)]
    pub fn take(&self, i: usize) -> Option<&mut [T]> {
        if i >= self.parts {
            return None;
        }
        let bit = 1u64 << (i % 64);
        if self.taken[i / 64].fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            self.conflict.store(true, Ordering::Release);
            return None;
        }
        let units = self.units_of(i);
        let (start, len) = (units.start * self.granule, units.len() * self.granule);
        // SAFETY: `start + len <= units * granule`, the length of the slice
        // borrowed mutably for 'a, so the range is in bounds. The ranges of
        // different `i` are disjoint, and the atomic `fetch_or` above lets
        // only one caller ever get part `i`, so no two live `&mut` overlap.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.add(start), len) })
    }

    /// Whether every part was taken exactly once.
    pub fn complete(&self) -> bool {
        if self.conflict.load(Ordering::Acquire) {
            return false;
        }
        (0..self.parts).all(|i| self.taken[i / 64].load(Ordering::Acquire) & (1 << (i % 64)) != 0)
    }
}
