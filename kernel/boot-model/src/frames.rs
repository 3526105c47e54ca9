//! Physical frame allocation logic.
//!
//! Frames are handed out from the usable regions of the memory map, lowest
//! address first (page tables built early therefore land low, below 4 GiB,
//! where the multiboot2 entry's temporary map can reach them). Frames are
//! never returned: the kernel allocates page tables, the heap, stacks and the
//! executable pool once, at boot, and keeps them for its whole life.

use crate::fixed::FixedVec;
use crate::memmap::{MAX_REGIONS, MemoryMap, PAGE_SIZE, Region};

/// Bump allocator over usable RAM.
#[derive(Debug, Clone)]
pub struct FrameAllocator {
    regions: FixedVec<Region, MAX_REGIONS>,
    /// Index of the region being allocated from.
    current: usize,
    /// Next free frame in that region.
    next: u64,
    allocated: u64,
    skipped: u64,
    total: u64,
}

/// Counters for the `mem` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames available at boot.
    pub total_frames: u64,
    /// Frames handed out so far.
    pub allocated_frames: u64,
}

impl FrameAllocator {
    /// Frames of every usable region at or above `min_addr`.
    pub fn new(map: &MemoryMap, min_addr: u64) -> Self {
        let mut regions = FixedVec::new();
        let mut total = 0;
        for r in map.usable() {
            let start = r.start.max(min_addr.next_multiple_of(PAGE_SIZE));
            if start < r.end {
                // Cannot overflow: the map holds at most MAX_REGIONS regions.
                let _ = regions.push(Region { start, ..*r });
                total += (r.end - start) / PAGE_SIZE;
            }
        }
        let next = regions.as_slice().first().map_or(0, |r| r.start);
        FrameAllocator {
            regions,
            current: 0,
            next,
            allocated: 0,
            skipped: 0,
            total,
        }
    }

    /// One 4 KiB frame, or `None` when RAM is exhausted.
    pub fn allocate(&mut self) -> Option<u64> {
        loop {
            let r = self.regions.as_slice().get(self.current)?;
            if self.next + PAGE_SIZE <= r.end {
                let frame = self.next;
                self.next += PAGE_SIZE;
                self.allocated += 1;
                return Some(frame);
            }
            self.current += 1;
            self.next = self
                .regions
                .as_slice()
                .get(self.current)
                .map_or(0, |r| r.start);
        }
    }

    /// `count` physically contiguous frames (lowest address first), or
    /// `None` if no region has that many left. Frames left at the end of a
    /// region that is passed over stay unused (counted in `skipped`).
    pub fn allocate_contiguous(&mut self, count: u64) -> Option<u64> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        if count == 0 {
            return None;
        }
        let regions = self.regions.as_slice();
        let mut idx = self.current;
        let mut next = self.next;
        while let Some(r) = regions.get(idx) {
            if next.checked_add(bytes).is_some_and(|end| end <= r.end) {
                // Frames passed over in earlier regions are lost to allocation.
                for skipped in &regions[self.current..idx] {
                    let from = if skipped.start <= self.next && self.next <= skipped.end {
                        self.next
                    } else {
                        skipped.start
                    };
                    self.skipped += (skipped.end - from) / PAGE_SIZE;
                }
                self.current = idx;
                self.next = next + bytes;
                self.allocated += count;
                return Some(next);
            }
            idx += 1;
            next = regions.get(idx).map_or(0, |r| r.start);
        }
        None
    }

    /// Longest run of frames `allocate_contiguous` could still return.
    pub fn largest_contiguous(&self) -> u64 {
        let regions = self.regions.as_slice();
        regions
            .iter()
            .enumerate()
            .skip(self.current)
            .map(|(i, r)| {
                let start = if i == self.current {
                    self.next
                } else {
                    r.start
                };
                r.end.saturating_sub(start) / PAGE_SIZE
            })
            .max()
            .unwrap_or(0)
    }

    /// The longest run `allocate_contiguous` could return now that still
    /// leaves at least `keep` frames free afterwards (frames it would pass
    /// over in earlier regions are lost, so a run from a later region costs
    /// more than its length). 0 when even `keep` frames are not free.
    pub fn largest_contiguous_leaving(&self, keep: u64) -> u64 {
        let leaves = |count: u64| {
            let mut after = self.clone();
            after
                .allocate_contiguous(count)
                .is_some_and(|_| after.free_frames() >= keep)
        };
        // A longer run never leaves more (it takes more, from the same or a
        // later region), so the runs that leave `keep` are 1..=best.
        let (mut lo, mut hi) = (0, self.largest_contiguous());
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if leaves(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// Frames still available.
    pub fn free_frames(&self) -> u64 {
        self.total - self.allocated - self.skipped
    }

    /// Counters.
    pub fn stats(&self) -> FrameStats {
        FrameStats {
            total_frames: self.total,
            allocated_frames: self.allocated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap::RegionKind::*;
    use std::collections::BTreeSet;

    fn map() -> MemoryMap {
        MemoryMap::from_entries([
            (0x0, 0x9f000, Usable),
            (0x10_0000, 0x3000, Usable),
            (0x10_3000, 0x1000, Reserved),
            (0x20_0000, 0x2000, Usable),
        ])
        .unwrap()
    }

    #[test]
    fn hands_out_every_frame_once_lowest_first() {
        let mut fa = FrameAllocator::new(&map(), 0x10_0000);
        assert_eq!(fa.stats().total_frames, 5);
        let mut seen = BTreeSet::new();
        let mut order = std::vec::Vec::new();
        while let Some(f) = fa.allocate() {
            assert_eq!(f % PAGE_SIZE, 0);
            assert!(seen.insert(f), "frame {f:#x} handed out twice");
            order.push(f);
        }
        assert_eq!(
            order,
            [0x10_0000, 0x10_1000, 0x10_2000, 0x20_0000, 0x20_1000]
        );
        assert_eq!(fa.free_frames(), 0);
        assert_eq!(fa.allocate(), None);
    }

    #[test]
    fn respects_min_addr_inside_a_region() {
        let mut fa = FrameAllocator::new(&map(), 0x10_1800);
        assert_eq!(fa.allocate(), Some(0x10_2000));
        assert_eq!(fa.stats().total_frames, 3);
    }

    #[test]
    fn contiguous_runs_skip_short_regions() {
        let mut fa = FrameAllocator::new(&map(), 0x10_0000);
        assert_eq!(fa.allocate(), Some(0x10_0000));
        assert_eq!(fa.largest_contiguous(), 2);
        // Two frames fit at 0x10_1000.
        assert_eq!(fa.allocate_contiguous(2), Some(0x10_1000));
        // The next region (0x20_0000, 2 frames) is the only one left.
        assert_eq!(fa.allocate_contiguous(3), None);
        assert_eq!(fa.allocate_contiguous(2), Some(0x20_0000));
        assert_eq!(fa.allocate(), None);
        assert_eq!(fa.free_frames(), 0);
        assert_eq!(fa.allocate_contiguous(0), None);

        // Passing over a region counts its remainder as skipped.
        let mut fa2 = FrameAllocator::new(&map(), 0x10_0000);
        assert_eq!(fa2.allocate_contiguous(2), Some(0x10_0000));
        assert_eq!(fa2.allocate_contiguous(2), Some(0x20_0000));
        assert_eq!(fa2.free_frames(), 0, "the frame at 0x10_2000 was skipped");
        assert_eq!(fa2.allocate(), None);
    }

    #[test]
    fn longest_run_that_leaves_frames_for_later() {
        // A short region below a long one (a boot module split the RAM):
        // a run from the long region loses the short one's frames.
        let m = MemoryMap::from_entries([
            (0x10_0000, 0x4000, Usable),
            (0x10_4000, 0x4000, Reserved),
            (0x20_0000, 0x10000, Usable),
        ])
        .unwrap();
        let fa = FrameAllocator::new(&m, 0x10_0000);
        assert_eq!(fa.free_frames(), 20);
        assert_eq!(fa.largest_contiguous(), 16);
        // Keeping 6: the 4 low frames are lost, so the run is 16 - 6 = 10.
        assert_eq!(fa.largest_contiguous_leaving(6), 10);
        let mut after = fa.clone();
        assert!(after.allocate_contiguous(10).is_some());
        assert_eq!(after.free_frames(), 6);
        // Keeping 4 or fewer frames, a run from the low region itself is no
        // better than one from the long region leaving them.
        assert_eq!(fa.largest_contiguous_leaving(0), 16);
        assert_eq!(fa.largest_contiguous_leaving(16), 4);
        assert_eq!(fa.largest_contiguous_leaving(17), 3);
        assert_eq!(fa.largest_contiguous_leaving(21), 0);
    }

    #[test]
    fn never_returns_non_usable_frames() {
        let m = map();
        let mut fa = FrameAllocator::new(&m, 0);
        while let Some(f) = fa.allocate() {
            assert!(m.is_usable(f, f + PAGE_SIZE));
        }
    }
}
