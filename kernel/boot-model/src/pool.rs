//! Allocation logic of the executable pool.
//!
//! The pool is one virtual range seen twice (a writable view and an
//! executable view of the same frames). This module only deals in offsets
//! into it: first-fit over a free list that coalesces on free, with counters.
//! The kernel's `exec_pool` module turns offsets into the two addresses.

use alloc::collections::BTreeMap;

/// Smallest alignment handed out (code entry points like 16 bytes).
pub const MIN_ALIGN: u64 = 16;

/// Why a pool request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// Zero-sized request.
    ZeroSize,
    /// Alignment is not a power of two or exceeds 4096.
    BadAlign,
    /// No free block is large enough.
    OutOfSpace {
        /// Bytes asked for (rounded).
        requested: u64,
        /// Largest free block.
        largest_free: u64,
    },
    /// `free` of an offset that is not the start of a live allocation.
    NotAllocated(u64),
}

/// Counters reported by the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Bytes the pool manages.
    pub capacity: u64,
    /// Bytes currently allocated.
    pub used: u64,
    /// Highest `used` ever seen.
    pub peak: u64,
    /// Allocations made.
    pub allocs: u64,
    /// Allocations freed.
    pub frees: u64,
    /// Live allocations.
    pub live: u64,
    /// Number of free blocks (fragmentation).
    pub free_blocks: u64,
    /// Largest free block.
    pub largest_free: u64,
}

/// First-fit, coalescing allocator of offsets in `[0, capacity)`.
#[derive(Debug, Clone)]
pub struct PoolAllocator {
    capacity: u64,
    free: BTreeMap<u64, u64>,
    live: BTreeMap<u64, u64>,
    stats: PoolStats,
}

impl PoolAllocator {
    /// A pool of `capacity` bytes, all free.
    pub fn new(capacity: u64) -> Self {
        let mut free = BTreeMap::new();
        let capacity = capacity & !(MIN_ALIGN - 1);
        if capacity > 0 {
            free.insert(0, capacity);
        }
        PoolAllocator {
            capacity,
            free,
            live: BTreeMap::new(),
            stats: PoolStats {
                capacity,
                ..PoolStats::default()
            },
        }
    }

    /// Reserves `size` bytes aligned to `align`; returns the offset.
    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64, PoolError> {
        if size == 0 {
            return Err(PoolError::ZeroSize);
        }
        if !align.is_power_of_two() || align > 4096 {
            return Err(PoolError::BadAlign);
        }
        let align = align.max(MIN_ALIGN);
        let size = size
            .checked_next_multiple_of(MIN_ALIGN)
            .ok_or(PoolError::OutOfSpace {
                requested: size,
                largest_free: self.largest_free(),
            })?;
        let found = self.free.iter().find_map(|(&start, &len)| {
            let aligned = start.next_multiple_of(align);
            let pad = aligned - start;
            (len >= pad && len - pad >= size).then_some((start, len, aligned))
        });
        let Some((start, len, aligned)) = found else {
            return Err(PoolError::OutOfSpace {
                requested: size,
                largest_free: self.largest_free(),
            });
        };
        self.free.remove(&start);
        if aligned > start {
            self.free.insert(start, aligned - start);
        }
        let end = aligned + size;
        if end < start + len {
            self.free.insert(end, start + len - end);
        }
        self.live.insert(aligned, size);
        self.stats.used += size;
        self.stats.peak = self.stats.peak.max(self.stats.used);
        self.stats.allocs += 1;
        Ok(aligned)
    }

    /// Returns the allocation starting at `offset`; gives back its size.
    pub fn free(&mut self, offset: u64) -> Result<u64, PoolError> {
        let size = self
            .live
            .remove(&offset)
            .ok_or(PoolError::NotAllocated(offset))?;
        let mut start = offset;
        let mut len = size;
        if let Some((&prev, &plen)) = self.free.range(..offset).next_back()
            && prev + plen == offset
        {
            self.free.remove(&prev);
            start = prev;
            len += plen;
        }
        if let Some(&nlen) = self.free.get(&(offset + size)) {
            self.free.remove(&(offset + size));
            len += nlen;
        }
        self.free.insert(start, len);
        self.stats.used -= size;
        self.stats.frees += 1;
        Ok(size)
    }

    /// Size of the live allocation at `offset`.
    pub fn size_of(&self, offset: u64) -> Option<u64> {
        self.live.get(&offset).copied()
    }

    /// The live allocation containing `offset`, as (start, size).
    pub fn live_containing(&self, offset: u64) -> Option<(u64, u64)> {
        let (&start, &size) = self.live.range(..=offset).next_back()?;
        (offset < start + size).then_some((start, size))
    }

    fn largest_free(&self) -> u64 {
        self.free.values().copied().max().unwrap_or(0)
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            live: self.live.len() as u64,
            free_blocks: self.free.len() as u64,
            largest_free: self.largest_free(),
            ..self.stats
        }
    }

    /// Bytes managed.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn finds_the_live_allocation_around_an_offset() {
        let mut p = PoolAllocator::new(4096);
        let a = p.alloc(40, 16).unwrap();
        let b = p.alloc(100, 64).unwrap();
        let (sa, sb) = (p.size_of(a).unwrap(), p.size_of(b).unwrap());
        assert_eq!(p.live_containing(a), Some((a, sa)));
        assert_eq!(p.live_containing(a + sa - 1), Some((a, sa)));
        assert_eq!(p.live_containing(b + 7), Some((b, sb)));
        // The padding between them and the space after are not live.
        if a + sa < b {
            assert_eq!(p.live_containing(a + sa), None);
        }
        assert_eq!(p.live_containing(b + sb), None);
        assert_eq!(p.live_containing(4000), None);
        p.free(a).unwrap();
        assert_eq!(p.live_containing(a), None);
    }

    #[test]
    fn allocations_are_aligned_and_disjoint() {
        let mut p = PoolAllocator::new(4096);
        let a = p.alloc(10, 16).unwrap();
        let b = p.alloc(100, 64).unwrap();
        let c = p.alloc(1, 1).unwrap();
        assert_eq!(a % 16, 0);
        assert_eq!(b % 64, 0);
        let mut spans = [(a, 16), (b, 112), (c, 16)];
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0);
        }
        let s = p.stats();
        assert_eq!(s.used, 16 + 112 + 16);
        assert_eq!(s.live, 3);
    }

    #[test]
    fn free_coalesces_back_to_one_block() {
        let mut p = PoolAllocator::new(1 << 16);
        let offs: Vec<_> = (0..20).map(|i| p.alloc(100 + i * 7, 16).unwrap()).collect();
        for &o in offs.iter().step_by(2) {
            p.free(o).unwrap();
        }
        assert!(p.stats().free_blocks > 1);
        for &o in offs.iter().skip(1).step_by(2) {
            p.free(o).unwrap();
        }
        let s = p.stats();
        assert_eq!(s.used, 0);
        assert_eq!(s.free_blocks, 1);
        assert_eq!(s.largest_free, 1 << 16);
        assert_eq!(s.allocs, 20);
        assert_eq!(s.frees, 20);
        assert!(s.peak > 0);
    }

    #[test]
    fn errors_are_reported() {
        let mut p = PoolAllocator::new(256);
        assert_eq!(p.alloc(0, 16), Err(PoolError::ZeroSize));
        assert_eq!(p.alloc(8, 3), Err(PoolError::BadAlign));
        let a = p.alloc(200, 16).unwrap();
        assert_eq!(
            p.alloc(100, 16),
            Err(PoolError::OutOfSpace {
                requested: 112,
                largest_free: 48
            })
        );
        assert_eq!(p.free(a + 16), Err(PoolError::NotAllocated(a + 16)));
        assert_eq!(p.free(a), Ok(208));
        assert_eq!(p.free(a), Err(PoolError::NotAllocated(a)));
        assert!(p.alloc(256, 16).is_ok());
    }
}
