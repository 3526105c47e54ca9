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

    /// Frames still available.
    pub fn free_frames(&self) -> u64 {
        self.total - self.allocated
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
    fn never_returns_non_usable_frames() {
        let m = map();
        let mut fa = FrameAllocator::new(&m, 0);
        while let Some(f) = fa.allocate() {
            assert!(m.is_usable(f, f + PAGE_SIZE));
        }
    }
}
