//! Multiboot2 boot information -> [`BootInfo`].
//!
//! Parses the information structure GRUB leaves in memory (tags, 8-byte
//! aligned) from a byte slice, so the host can test it with synthetic data.

use crate::bootinfo::{BootInfo, BootInfoError, BootModule, Loader};
use crate::fixed::{FixedStr, FixedVec};
use crate::memmap::{MemoryMap, RegionKind};

/// Value in EAX when a multiboot2 loader jumps to the kernel.
pub const BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_LOADER_NAME: u32 = 2;
const TAG_MODULE: u32 = 3;
const TAG_MMAP: u32 = 6;
const TAG_ACPI_OLD: u32 = 14;
const TAG_ACPI_NEW: u32 = 15;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Where the kernel image and the direct map are, as the entry code set them up.
#[derive(Debug, Clone, Copy)]
pub struct KernelPlacement {
    /// Physical `[start, end)` of the loaded image (including .bss).
    pub phys_start: u64,
    /// End of the image.
    pub phys_end: u64,
    /// Virtual address `phys_start` is linked at.
    pub virt_base: u64,
    /// Direct-map offset the kernel will use.
    pub hhdm_offset: u64,
}

/// Reads the `total_size` field at the start of the information structure.
pub fn total_size(header: &[u8; 8]) -> u32 {
    u32::from_le_bytes([header[0], header[1], header[2], header[3]])
}

impl BootInfo {
    /// Normalizes a multiboot2 hand-over. `mbi` is the whole information
    /// structure (its `total_size` bytes), found at physical `mbi_phys`.
    pub fn from_multiboot2(
        magic: u32,
        mbi_phys: u64,
        mbi: &[u8],
        kernel: KernelPlacement,
    ) -> Result<BootInfo, BootInfoError> {
        if magic != BOOTLOADER_MAGIC {
            return Err(BootInfoError::BadMagic(magic));
        }
        let total = u32_at(mbi, 0)
            .ok_or(BootInfoError::Malformed("information structure too short"))?
            as usize;
        if total < 16 || total > mbi.len() {
            return Err(BootInfoError::Malformed(
                "information structure size out of range",
            ));
        }
        let mbi = &mbi[..total];

        let mut info = BootInfo {
            loader: Loader::Multiboot2,
            hhdm_offset: kernel.hhdm_offset,
            kernel_phys_base: kernel.phys_start,
            kernel_virt_base: kernel.virt_base,
            ..BootInfo::default()
        };
        let mut raw_map: FixedVec<(u64, u64, RegionKind), 200> = FixedVec::new();
        let mut saw_map = false;
        let mut rsdp_new = None;
        let mut rsdp_old = None;

        let mut off = 8usize;
        loop {
            let ty = u32_at(mbi, off).ok_or(BootInfoError::Malformed("tag header past the end"))?;
            let size = u32_at(mbi, off + 4)
                .ok_or(BootInfoError::Malformed("tag header past the end"))?
                as usize;
            if size < 8 || off + size > total {
                return Err(BootInfoError::Malformed("tag size out of range"));
            }
            let body = &mbi[off + 8..off + size];
            match ty {
                TAG_END => break,
                TAG_CMDLINE => info.cmdline = FixedStr::from_bytes_lossy(body),
                TAG_LOADER_NAME => info.loader_name = FixedStr::from_bytes_lossy(body),
                TAG_MODULE => {
                    let start =
                        u32_at(body, 0).ok_or(BootInfoError::Malformed("module tag too short"))?;
                    let end =
                        u32_at(body, 4).ok_or(BootInfoError::Malformed("module tag too short"))?;
                    if end < start {
                        return Err(BootInfoError::Malformed("module ends before it starts"));
                    }
                    let label = crate::limine_view::module_basename(body.get(8..).unwrap_or(&[]));
                    let m = BootModule {
                        name: FixedStr::from_bytes_lossy(label),
                        phys_start: start as u64,
                        len: (end - start) as u64,
                    };
                    if info.modules.push(m).is_err() {
                        info.modules_dropped += 1;
                    }
                }
                TAG_MMAP => {
                    saw_map = true;
                    let entry_size = u32_at(body, 0)
                        .ok_or(BootInfoError::Malformed("mmap tag too short"))?
                        as usize;
                    if entry_size < 24 {
                        return Err(BootInfoError::Malformed("mmap entry size below 24"));
                    }
                    let mut e = 8;
                    while e + entry_size <= body.len() {
                        let base = u64_at(body, e).unwrap_or(0);
                        let len = u64_at(body, e + 8).unwrap_or(0);
                        let kind = match u32_at(body, e + 16).unwrap_or(0) {
                            1 => RegionKind::Usable,
                            3 => RegionKind::AcpiReclaimable,
                            4 => RegionKind::AcpiNvs,
                            5 => RegionKind::Bad,
                            _ => RegionKind::Reserved,
                        };
                        raw_map
                            .push((base, len, kind))
                            .map_err(|_| BootInfoError::MemoryMapTooLarge)?;
                        e += entry_size;
                    }
                }
                // The tags hold a copy of the RSDP itself: point at the copy.
                TAG_ACPI_NEW if body.len() >= 36 => rsdp_new = Some(mbi_phys + off as u64 + 8),
                TAG_ACPI_OLD if body.len() >= 20 => rsdp_old = Some(mbi_phys + off as u64 + 8),
                _ => {}
            }
            off += size.next_multiple_of(8);
            if off + 8 > total {
                return Err(BootInfoError::Malformed("no end tag"));
            }
        }
        if !saw_map {
            return Err(BootInfoError::NoMemoryMap);
        }
        info.rsdp_phys = rsdp_new.or(rsdp_old);

        // Mark what the loader placed (kernel, modules, this structure) the
        // way Limine does, so the frame allocator sees one kind of map.
        let mut placed: FixedVec<(u64, u64, RegionKind), 40> = FixedVec::new();
        let ours = RegionKind::KernelAndModules;
        let _ = placed.push((kernel.phys_start, kernel.phys_end - kernel.phys_start, ours));
        let _ = placed.push((mbi_phys, total as u64, RegionKind::BootloaderReclaimable));
        for m in info.modules.as_slice() {
            let _ = placed.push((m.phys_start, m.len, ours));
        }
        let all = raw_map
            .as_slice()
            .iter()
            .chain(placed.as_slice().iter())
            .copied();
        info.memory = MemoryMap::from_entries(all).map_err(|_| BootInfoError::MemoryMapTooLarge)?;
        if info.memory.totals().usable_bytes == 0 {
            return Err(BootInfoError::NoUsableMemory);
        }
        Ok(info)
    }
}

/// Builds multiboot2 information structures for tests (host only).
#[cfg(test)]
pub mod build {
    use std::vec::Vec;

    /// Tag-by-tag builder.
    #[derive(Default)]
    pub struct Mbi(pub Vec<u8>);

    impl Mbi {
        /// Empty structure (header only).
        pub fn new() -> Self {
            Mbi(std::vec![0; 8])
        }
        /// Appends a tag with the given body.
        pub fn tag(mut self, ty: u32, body: &[u8]) -> Self {
            self.0.extend_from_slice(&ty.to_le_bytes());
            self.0
                .extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
            self.0.extend_from_slice(body);
            while !self.0.len().is_multiple_of(8) {
                self.0.push(0);
            }
            self
        }
        /// Appends a memory map tag.
        pub fn mmap(self, entries: &[(u64, u64, u32)]) -> Self {
            let mut body = Vec::new();
            body.extend_from_slice(&24u32.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            for &(b, l, t) in entries {
                body.extend_from_slice(&b.to_le_bytes());
                body.extend_from_slice(&l.to_le_bytes());
                body.extend_from_slice(&t.to_le_bytes());
                body.extend_from_slice(&0u32.to_le_bytes());
            }
            self.tag(6, &body)
        }
        /// Adds the end tag and fixes `total_size`.
        pub fn finish(self) -> Vec<u8> {
            let mut v = self.tag(0, &[]).0;
            let n = v.len() as u32;
            v[0..4].copy_from_slice(&n.to_le_bytes());
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::Mbi;
    use super::*;
    use std::vec::Vec;

    const PLACE: KernelPlacement = KernelPlacement {
        phys_start: 0x20_0000,
        phys_end: 0x40_0000,
        virt_base: 0xffff_ffff_8020_0000,
        hhdm_offset: 0xffff_8000_0000_0000,
    };

    fn module_body(start: u32, end: u32, name: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&start.to_le_bytes());
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b
    }

    #[test]
    fn parses_a_grub_like_structure() {
        let mbi = Mbi::new()
            .tag(1, b"bareflow.mode=selftest\0")
            .tag(2, b"GRUB 2.06-13+deb12u1\0")
            .tag(
                3,
                &module_body(0x80_0000, 0x80_1000, "/boot/modules/fib.bfir"),
            )
            .mmap(&[
                (0, 0x9fc00, 1),
                (0x9fc00, 0x400, 2),
                (0x10_0000, 0x1fee_0000, 1),
                (0x1ffe_0000, 0x2_0000, 2),
            ])
            .tag(14, &[0x52; 20])
            .finish();
        let info = BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0x9000, &mbi, PLACE).unwrap();
        assert_eq!(info.loader, Loader::Multiboot2);
        assert_eq!(info.cmdline.as_str(), "bareflow.mode=selftest");
        assert_eq!(info.loader_name.as_str(), "GRUB 2.06-13+deb12u1");
        assert_eq!(info.modules.len(), 1);
        assert_eq!(info.modules.as_slice()[0].name.as_str(), "fib.bfir");
        assert_eq!(info.modules.as_slice()[0].len, 0x1000);
        // RSDP points into the structure: tag 14 is the 5th tag.
        let tag14_off = mbi.len() - 8 - 32;
        assert_eq!(info.rsdp_phys, Some(0x9000 + tag14_off as u64 + 8));
        // Kernel, module and the structure itself are not usable.
        assert!(!info.memory.is_usable(0x20_0000, 0x20_1000));
        assert!(!info.memory.is_usable(0x80_0000, 0x80_1000));
        assert!(!info.memory.is_usable(0x9000, 0xa000));
        assert!(info.memory.is_usable(0x40_0000, 0x80_0000));
        let t = info.memory.totals();
        let expect = 0x9f000 - 0x1000 /* mbi page */ + 0x1fee_0000 - 0x20_0000 - 0x1000;
        assert_eq!(t.usable_bytes, expect);
    }

    #[test]
    fn rejects_bad_input() {
        let ok = Mbi::new().mmap(&[(0x10_0000, 0x100_0000, 1)]).finish();
        assert!(BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0, &ok, PLACE).is_ok());
        assert_eq!(
            BootInfo::from_multiboot2(0x2bad_b002, 0, &ok, PLACE).unwrap_err(),
            BootInfoError::BadMagic(0x2bad_b002)
        );
        // Truncated.
        assert!(matches!(
            BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0, &ok[..ok.len() - 8], PLACE),
            Err(BootInfoError::Malformed(_))
        ));
        // Tag size running past the end.
        let mut bad = ok.clone();
        bad[12..16].copy_from_slice(&0x1000u32.to_le_bytes());
        assert!(matches!(
            BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0, &bad, PLACE),
            Err(BootInfoError::Malformed(_))
        ));
        // No memory map.
        let no_map = Mbi::new().tag(1, b"x\0").finish();
        assert_eq!(
            BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0, &no_map, PLACE).unwrap_err(),
            BootInfoError::NoMemoryMap
        );
        // A module whose end precedes its start.
        let bad_mod = Mbi::new()
            .tag(3, &module_body(0x2000, 0x1000, "m"))
            .mmap(&[(0x10_0000, 0x100_0000, 1)])
            .finish();
        assert!(matches!(
            BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0, &bad_mod, PLACE),
            Err(BootInfoError::Malformed(_))
        ));
    }

    #[test]
    fn same_bootinfo_shape_as_limine() {
        // The same machine described by both loaders gives the same usable RAM.
        use crate::limine_view::{LimineModule, LimineRevision, LimineView, entry_type as t};
        let mbi = Mbi::new().mmap(&[(0x10_0000, 0x1000_0000, 1)]).finish();
        let mb = BootInfo::from_multiboot2(BOOTLOADER_MAGIC, 0x9000, &mbi, PLACE).unwrap();
        let lm = [
            (0x10_0000u64, 0x10_0000u64, t::USABLE),
            (0x20_0000, 0x20_0000, t::EXECUTABLE_AND_MODULES),
            (0x40_0000, 0x1000_0000 - 0x30_0000, t::USABLE),
        ];
        let mut it = lm.iter().copied();
        let mut mods = core::iter::empty::<LimineModule<'_>>();
        let li = BootInfo::from_limine(LimineView {
            revision: LimineRevision::Known(3),
            bootloader: None,
            hhdm_offset: Some(PLACE.hhdm_offset),
            memmap: Some(&mut it),
            executable_address: Some((PLACE.phys_start, PLACE.virt_base)),
            cmdline: None,
            executable_file_string: None,
            modules: &mut mods,
            rsdp_address: None,
            mp: None,
        })
        .unwrap();
        let a: Vec<_> = mb.memory.usable().map(|r| (r.start, r.end)).collect();
        let b: Vec<_> = li.memory.usable().map(|r| (r.start, r.end)).collect();
        assert_eq!(a, b);
        assert_eq!(mb.kernel_phys_base, li.kernel_phys_base);
        assert_eq!(mb.hhdm_offset, li.hhdm_offset);
    }
}
