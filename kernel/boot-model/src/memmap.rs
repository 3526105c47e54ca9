//! The physical memory map, in one form whatever the boot loader.

use crate::fixed::{FixedVec, Full};

/// Size of a small page / physical frame.
pub const PAGE_SIZE: u64 = 4096;

/// What a physical range holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RegionKind {
    /// Free RAM the kernel may use.
    Usable,
    /// Firmware or hardware owned; never touched.
    #[default]
    Reserved,
    /// ACPI tables; reclaimable once parsed (the kernel keeps them).
    AcpiReclaimable,
    /// ACPI non-volatile storage.
    AcpiNvs,
    /// Defective RAM.
    Bad,
    /// Boot loader data (page tables, stacks, responses); kept.
    BootloaderReclaimable,
    /// The kernel image and boot modules.
    KernelAndModules,
    /// A framebuffer.
    Framebuffer,
}

impl RegionKind {
    /// Name used in trace events.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::Usable => "usable",
            RegionKind::Reserved => "reserved",
            RegionKind::AcpiReclaimable => "acpi_reclaimable",
            RegionKind::AcpiNvs => "acpi_nvs",
            RegionKind::Bad => "bad",
            RegionKind::BootloaderReclaimable => "bootloader_reclaimable",
            RegionKind::KernelAndModules => "kernel_and_modules",
            RegionKind::Framebuffer => "framebuffer",
        }
    }
}

/// A physical range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// What the range holds.
    pub kind: RegionKind,
}

impl Region {
    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Most entries any firmware we know of reports, with room to spare.
pub const MAX_REGIONS: usize = 256;

/// Sorted, non-overlapping regions; usable ones are page aligned.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryMap {
    regions: FixedVec<Region, MAX_REGIONS>,
}

/// Totals reported in the `mem` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryTotals {
    /// Bytes of usable RAM.
    pub usable_bytes: u64,
    /// Bytes of everything else.
    pub reserved_bytes: u64,
    /// Highest physical address covered by any region.
    pub max_phys: u64,
    /// Number of regions.
    pub regions: usize,
}

impl MemoryMap {
    /// Builds a map from raw loader entries `(start, length, kind)`.
    ///
    /// Usable ranges shrink inwards to page boundaries; where a usable range
    /// overlaps a non-usable one, the non-usable one wins; adjacent regions
    /// of the same kind merge. Entries beyond [`MAX_REGIONS`] are reported.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (u64, u64, RegionKind)>,
    ) -> Result<Self, Full> {
        let mut raw: FixedVec<Region, MAX_REGIONS> = FixedVec::new();
        for (start, len, kind) in entries {
            let end = start.saturating_add(len);
            let (start, end) = if kind == RegionKind::Usable {
                (align_up(start), align_down(end))
            } else {
                (start, end)
            };
            if end > start {
                raw.push(Region { start, end, kind })?;
            }
        }
        raw.as_mut_slice()
            .sort_unstable_by_key(|r| (r.start, r.end));

        // Carve reserved ranges out of usable ones (firmware maps can overlap).
        let mut cut: FixedVec<Region, MAX_REGIONS> = FixedVec::new();
        for r in raw.as_slice() {
            if r.kind != RegionKind::Usable {
                cut.push(*r)?;
                continue;
            }
            let mut pieces: FixedVec<Region, 8> = FixedVec::new();
            pieces.push(*r)?;
            for other in raw
                .as_slice()
                .iter()
                .filter(|o| o.kind != RegionKind::Usable)
            {
                let mut next: FixedVec<Region, 8> = FixedVec::new();
                for p in pieces.as_slice() {
                    for q in subtract(*p, other.start, other.end) {
                        let q = Region {
                            start: align_up(q.start),
                            end: align_down(q.end),
                            kind: q.kind,
                        };
                        if !q.is_empty() {
                            next.push(q)?;
                        }
                    }
                }
                pieces = next;
            }
            for p in pieces.as_slice() {
                cut.push(*p)?;
            }
        }
        cut.as_mut_slice()
            .sort_unstable_by_key(|r| (r.start, r.end));

        let mut regions: FixedVec<Region, MAX_REGIONS> = FixedVec::new();
        for r in cut.as_slice() {
            if let Some(last) = regions.as_mut_slice().last_mut()
                && last.kind == r.kind
                && r.start <= last.end
            {
                last.end = last.end.max(r.end);
                continue;
            }
            regions.push(*r)?;
        }
        Ok(Self { regions })
    }

    /// The regions, sorted by start address.
    pub fn regions(&self) -> &[Region] {
        self.regions.as_slice()
    }

    /// Usable regions only.
    pub fn usable(&self) -> impl Iterator<Item = &Region> {
        self.regions()
            .iter()
            .filter(|r| r.kind == RegionKind::Usable)
    }

    /// Whether `[start, end)` lies entirely in usable RAM.
    pub fn is_usable(&self, start: u64, end: u64) -> bool {
        self.usable().any(|r| r.start <= start && end <= r.end)
    }

    /// Byte totals.
    pub fn totals(&self) -> MemoryTotals {
        let mut t = MemoryTotals {
            regions: self.regions.len(),
            ..MemoryTotals::default()
        };
        for r in self.regions() {
            if r.kind == RegionKind::Usable {
                t.usable_bytes += r.len();
            } else {
                t.reserved_bytes += r.len();
            }
            t.max_phys = t.max_phys.max(r.end);
        }
        t
    }
}

/// The parts of `r` outside `[start, end)`.
fn subtract(r: Region, start: u64, end: u64) -> impl Iterator<Item = Region> {
    let left = Region {
        start: r.start,
        end: r.end.min(start),
        kind: r.kind,
    };
    let right = Region {
        start: r.start.max(end),
        end: r.end,
        kind: r.kind,
    };
    [left, right].into_iter().filter(|p| !p.is_empty())
}

/// Rounds up to a page boundary (saturating at the top of the address space).
pub fn align_up(x: u64) -> u64 {
    x.checked_add(PAGE_SIZE - 1)
        .map_or(!(PAGE_SIZE - 1), |v| v & !(PAGE_SIZE - 1))
}

/// Rounds down to a page boundary.
pub fn align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegionKind::*;

    #[test]
    fn aligns_usable_inwards_and_merges() {
        let m = MemoryMap::from_entries([
            (0x1000, 0x9_f000 - 0x1000 + 0x100, Usable),
            (0x10_0000, 0x10_0000, Usable),
            (0x20_0000, 0x10_0000, Usable),
            (0xf0000, 0x10000, Reserved),
        ])
        .unwrap();
        let r = m.regions();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].start, r[0].end), (0x1000, 0x9_f000));
        assert_eq!(r[1].kind, Reserved);
        assert_eq!((r[2].start, r[2].end), (0x10_0000, 0x30_0000));
        let t = m.totals();
        assert_eq!(t.usable_bytes, 0x9_e000 + 0x20_0000);
        assert_eq!(t.max_phys, 0x30_0000);
    }

    #[test]
    fn reserved_overlap_wins() {
        let m =
            MemoryMap::from_entries([(0x10_0000, 0x40_0000, Usable), (0x20_0800, 0x800, AcpiNvs)])
                .unwrap();
        let usable: std::vec::Vec<_> = m.usable().map(|r| (r.start, r.end)).collect();
        assert_eq!(usable, [(0x10_0000, 0x20_0000), (0x20_1000, 0x50_0000)]);
        assert!(m.is_usable(0x10_0000, 0x20_0000));
        assert!(!m.is_usable(0x1f_f000, 0x20_1000));
    }

    #[test]
    fn drops_empty_and_reports_overflow() {
        let m = MemoryMap::from_entries([(0x1234, 0x10, Usable)]).unwrap();
        assert!(m.regions().is_empty());
        let many = (0..(MAX_REGIONS as u64 + 1)).map(|i| (i * 0x2000, 0x1000, Reserved));
        assert!(MemoryMap::from_entries(many).is_err());
    }
}
