//! Limine protocol responses -> [`BootInfo`].
//!
//! The kernel reads the `limine` crate's responses and describes them with a
//! [`LimineView`] (plain values and iterators); this module turns that into a
//! `BootInfo`. Keeping the conversion here lets host tests drive it with
//! synthetic responses of every loader generation.
//!
//! # Base revisions
//!
//! The kernel asks for base revision 3 ([`REQUESTED_BASE_REVISION`]). What it
//! gets depends on the loader:
//!
//! | loader | base revision tag after hand-over | hand-over follows |
//! |---|---|---|
//! | Limine 9.x and later | 3rd word 0 (accepted), 2nd word 3 | revision 3 |
//! | Limine 8.x (implements 0-2) | untouched: 3rd word still 3, 2nd word still the magic | revision 2 (8.x picks it; the tag does not say) |
//! | older loaders without base revisions | untouched | revision 0 |
//!
//! A loader that supports revision 3 or later always writes the revision it
//! used into the 2nd word, so an untouched tag means "a loader that predates
//! revision 3": [`LimineRevision::Legacy`], one of 0, 1 or 2.
//!
//! What differs between the revisions, and what the kernel does about it:
//!
//! - **RSDP address**: a pointer in the HHDM in revisions 0-2 (and again from
//!   revision 4 on); a *physical* address in revision 3 only. The conversion
//!   below subtracts the HHDM offset unless the revision is exactly 3, so
//!   `BootInfo::rsdp_phys` is physical either way.
//! - **Module, MP and response pointers**: HHDM pointers in every revision
//!   (physical = pointer - HHDM offset, checked).
//! - **What the HHDM maps**: revision 0 maps every memory-map region (plus an
//!   identity map of the low 4 GiB); revisions 1 and 2 map the first 4 GiB
//!   and every region above it except reserved and bad memory; revision 3
//!   maps only usable, bootloader-reclaimable, executable/modules and
//!   framebuffer regions (no unconditional low 4 GiB, so ACPI tables and
//!   device registers are *not* reachable through it). The kernel only uses
//!   the loader's HHDM for usable RAM (the frames of its own page tables)
//!   before it switches to page tables of its own, which map all RAM, ACPI
//!   memory and the low 4 GiB at the same offset; everything else (ACPI,
//!   modules, the local APIC) is read after that switch.
//! - **Page 0**: revisions 0-2 never report 0..0x1000 as usable; revision 3
//!   may. The kernel's frame allocator starts above 1 MiB either way.
//! - **Requests**: revisions 1 and up ignore the `.limine_reqs` section, and
//!   revision 2 and up require the start/end markers to be honoured; the
//!   kernel places all its requests between markers, which every revision
//!   accepts.
//! - **Command line**: Limine 9.x answers the Executable Command Line request;
//!   8.x does not know it and gives the command line only as the executable
//!   file's string. The kernel asks for both and takes the first present.

use crate::bootinfo::{BootInfo, BootInfoError, BootModule, Loader, LoaderCpu};
use crate::fixed::FixedStr;
use crate::memmap::{MemoryMap, RegionKind};

/// Limine memory map entry types (protocol constants).
pub mod entry_type {
    /// Usable RAM.
    pub const USABLE: u64 = 0;
    /// Reserved.
    pub const RESERVED: u64 = 1;
    /// ACPI reclaimable.
    pub const ACPI_RECLAIMABLE: u64 = 2;
    /// ACPI NVS.
    pub const ACPI_NVS: u64 = 3;
    /// Bad memory.
    pub const BAD_MEMORY: u64 = 4;
    /// Boot loader reclaimable.
    pub const BOOTLOADER_RECLAIMABLE: u64 = 5;
    /// Executable and modules.
    pub const EXECUTABLE_AND_MODULES: u64 = 6;
    /// Framebuffer.
    pub const FRAMEBUFFER: u64 = 7;
}

/// One Limine module (`struct limine_file`), as the kernel reads it.
#[derive(Debug, Clone, Copy)]
pub struct LimineModule<'a> {
    /// Path on the boot medium.
    pub path: &'a [u8],
    /// The module's command line (`module_cmdline` in limine.conf).
    pub cmdline: &'a [u8],
    /// Virtual address (in the HHDM) of the first byte.
    pub virt_addr: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The base revision the kernel requests in its tag.
pub const REQUESTED_BASE_REVISION: u64 = 3;

/// The base revision a Limine hand-over follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimineRevision {
    /// The loader said which revision it used: it accepted the requested one,
    /// or (a revision-3-or-later loader not supporting the request) it wrote
    /// the one it used instead into the tag.
    Known(u64),
    /// The loader left the tag untouched: it predates base revision 3
    /// (Limine 8.x and older) and booted with revision 0, 1 or 2 without
    /// saying which. These three agree on everything the kernel reads.
    Legacy,
}

impl LimineRevision {
    /// Interprets the base revision tag after hand-over: `accepted` when the
    /// loader zeroed the requested revision (3rd word), `loaded` when it wrote
    /// the revision it used into the 2nd word.
    pub fn from_tag(requested: u64, accepted: bool, loaded: Option<u64>) -> LimineRevision {
        match (accepted, loaded) {
            (true, _) => LimineRevision::Known(requested),
            (false, Some(used)) => LimineRevision::Known(used),
            (false, None) => LimineRevision::Legacy,
        }
    }

    /// Whether the RSDP response holds a physical address (revision 3 only);
    /// every other revision gives an HHDM pointer.
    pub fn rsdp_is_physical(self) -> bool {
        self == LimineRevision::Known(3)
    }
}

/// How the `boot` event names it: the number, or `0-2` for a loader that
/// predates revision 3.
impl core::fmt::Display for LimineRevision {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LimineRevision::Known(r) => write!(f, "{r}"),
            LimineRevision::Legacy => f.write_str("0-2"),
        }
    }
}

/// The Limine responses the kernel asks for. `None` means "no response".
pub struct LimineView<'a> {
    /// The base revision the hand-over follows (see [`LimineRevision::from_tag`]).
    pub revision: LimineRevision,
    /// Bootloader info: name and version.
    pub bootloader: Option<(&'a str, &'a str)>,
    /// HHDM offset.
    pub hhdm_offset: Option<u64>,
    /// Memory map entries: base, length, type.
    pub memmap: Option<&'a mut dyn Iterator<Item = (u64, u64, u64)>>,
    /// Executable address: physical base, virtual base.
    pub executable_address: Option<(u64, u64)>,
    /// Executable command line (Executable Command Line response, Limine 9.x and later).
    pub cmdline: Option<&'a [u8]>,
    /// The executable file's string, which is its command line (Executable
    /// File response; the only place Limine 8.x gives the command line).
    pub executable_file_string: Option<&'a [u8]>,
    /// Modules.
    pub modules: &'a mut dyn Iterator<Item = LimineModule<'a>>,
    /// RSDP response address as given: physical under base revision 3, an
    /// HHDM pointer under every other revision.
    pub rsdp_address: Option<u64>,
    /// MP: BSP local APIC id and every CPU's (ACPI id, local APIC id).
    pub mp: Option<(u32, &'a mut dyn Iterator<Item = (u32, u32)>)>,
}

fn kind_of(t: u64) -> RegionKind {
    match t {
        entry_type::USABLE => RegionKind::Usable,
        entry_type::ACPI_RECLAIMABLE => RegionKind::AcpiReclaimable,
        entry_type::ACPI_NVS => RegionKind::AcpiNvs,
        entry_type::BAD_MEMORY => RegionKind::Bad,
        entry_type::BOOTLOADER_RECLAIMABLE => RegionKind::BootloaderReclaimable,
        entry_type::EXECUTABLE_AND_MODULES => RegionKind::KernelAndModules,
        entry_type::FRAMEBUFFER => RegionKind::Framebuffer,
        _ => RegionKind::Reserved,
    }
}

impl BootInfo {
    /// Normalizes Limine responses.
    pub fn from_limine(view: LimineView<'_>) -> Result<BootInfo, BootInfoError> {
        let hhdm = view.hhdm_offset.ok_or(BootInfoError::NoHhdm)?;
        let entries = view.memmap.ok_or(BootInfoError::NoMemoryMap)?;
        let memory = MemoryMap::from_entries(entries.map(|(b, l, t)| (b, l, kind_of(t))))
            .map_err(|_| BootInfoError::MemoryMapTooLarge)?;
        if memory.totals().usable_bytes == 0 {
            return Err(BootInfoError::NoUsableMemory);
        }
        let (phys, virt) = view
            .executable_address
            .ok_or(BootInfoError::NoKernelAddress)?;

        let mut info = BootInfo {
            loader: Loader::Limine,
            memory,
            hhdm_offset: hhdm,
            kernel_phys_base: phys,
            kernel_virt_base: virt,
            rsdp_phys: rsdp_phys(view.revision, view.rsdp_address, hhdm)?,
            limine_revision: Some(view.revision),
            ..BootInfo::default()
        };
        if let Some((name, version)) = view.bootloader {
            info.loader_name = FixedStr::from_str_lossy(name);
            if !version.is_empty() {
                info.loader_name.push_str(" ");
                info.loader_name.push_str(version);
            }
        }
        if let Some(cmdline) = view.cmdline.or(view.executable_file_string) {
            info.cmdline = FixedStr::from_bytes_lossy(cmdline);
        }
        for m in view.modules {
            let label = if m.cmdline.iter().any(|&b| b != 0) {
                m.cmdline
            } else {
                module_basename(m.path)
            };
            let module = BootModule {
                name: FixedStr::from_bytes_lossy(label),
                phys_start: m
                    .virt_addr
                    .checked_sub(hhdm)
                    .ok_or(BootInfoError::ModuleNotInHhdm)?,
                len: m.size,
            };
            if info.modules.push(module).is_err() {
                info.modules_dropped += 1;
            }
        }
        if let Some((bsp, cpus)) = view.mp {
            info.bsp_apic_id = Some(bsp);
            for (acpi_id, apic_id) in cpus {
                // More CPUs than the kernel supports: the extra ones stay parked
                // in the loader; `loader_cpus` keeps the first MAX_CPUS.
                let _ = info.loader_cpus.push(LoaderCpu { apic_id, acpi_id });
            }
        }
        Ok(info)
    }
}

/// The RSDP's physical address from the response (0 counts as none).
fn rsdp_phys(
    revision: LimineRevision,
    address: Option<u64>,
    hhdm: u64,
) -> Result<Option<u64>, BootInfoError> {
    match address.filter(|&a| a != 0) {
        None => Ok(None),
        Some(a) if revision.rsdp_is_physical() => Ok(Some(a)),
        Some(a) => a
            .checked_sub(hhdm)
            .map(Some)
            .ok_or(BootInfoError::RsdpNotInHhdm),
    }
}

/// The last path component (`/boot/modules/matmul.bfir` -> `matmul.bfir`).
pub fn module_basename(path: &[u8]) -> &[u8] {
    let path = match path.iter().position(|&b| b == 0) {
        Some(n) => &path[..n],
        None => path,
    };
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const HHDM: u64 = 0xffff_8000_0000_0000;

    fn memmap() -> Vec<(u64, u64, u64)> {
        vec![
            (0, 0x1000, entry_type::RESERVED),
            (0x1000, 0x9e000, entry_type::USABLE),
            (0x10_0000, 0x7ee_0000, entry_type::USABLE),
            (0x7fe_0000, 0x2_0000, entry_type::ACPI_RECLAIMABLE),
            (0x100_0000, 0x20_0000, entry_type::EXECUTABLE_AND_MODULES),
            (0x7f0_0000, 0x10_0000, entry_type::BOOTLOADER_RECLAIMABLE),
            (0xfd00_0000, 0x100_0000, entry_type::FRAMEBUFFER),
        ]
    }

    /// Where the firmware put the RSDP in these synthetic machines.
    const RSDP: u64 = 0xf_5000;

    /// A Limine 9.x hand-over: revision 3 accepted, the command line in its
    /// own response (and in the executable file's string), the RSDP physical.
    fn view<'a>(
        mm: &'a mut dyn Iterator<Item = (u64, u64, u64)>,
        mods: &'a mut dyn Iterator<Item = LimineModule<'a>>,
        cpus: &'a mut dyn Iterator<Item = (u32, u32)>,
    ) -> LimineView<'a> {
        LimineView {
            revision: LimineRevision::from_tag(REQUESTED_BASE_REVISION, true, Some(3)),
            bootloader: Some(("Limine", "9.3.0")),
            hhdm_offset: Some(HHDM),
            memmap: Some(mm),
            executable_address: Some((0x100_0000, 0xffff_ffff_8020_0000)),
            cmdline: Some(b"bareflow.mode=selftest\0"),
            executable_file_string: Some(b"bareflow.mode=selftest\0"),
            modules: mods,
            rsdp_address: Some(RSDP),
            mp: Some((0, cpus)),
        }
    }

    /// The same machine handed over by Limine 8.x: the tag left untouched
    /// (revision 2 used, not said), no Executable Command Line response, the
    /// RSDP as an HHDM pointer.
    fn view_8x<'a>(
        mm: &'a mut dyn Iterator<Item = (u64, u64, u64)>,
        mods: &'a mut dyn Iterator<Item = LimineModule<'a>>,
        cpus: &'a mut dyn Iterator<Item = (u32, u32)>,
    ) -> LimineView<'a> {
        LimineView {
            revision: LimineRevision::from_tag(REQUESTED_BASE_REVISION, false, None),
            bootloader: Some(("Limine", "8.2.0")),
            cmdline: None,
            rsdp_address: Some(HHDM + RSDP),
            ..view(mm, mods, cpus)
        }
    }

    #[test]
    fn normalizes_synthetic_limine_responses() {
        let mm = memmap();
        let mut mm_it = mm.iter().copied();
        let mods = [
            LimineModule {
                path: b"/boot/modules/matmul.bfir",
                cmdline: b"",
                virt_addr: HHDM + 0x200_0000,
                size: 1234,
            },
            LimineModule {
                path: b"/boot/x",
                cmdline: b"fft.bfir",
                virt_addr: HHDM + 0x300_0000,
                size: 99,
            },
        ];
        let mut mod_it = mods.iter().copied();
        let mut cpu_it = [(0u32, 0u32), (1, 1)].into_iter();
        let info = BootInfo::from_limine(view(&mut mm_it, &mut mod_it, &mut cpu_it)).unwrap();

        assert_eq!(info.loader, Loader::Limine);
        assert_eq!(info.loader_name.as_str(), "Limine 9.3.0");
        assert_eq!(info.cmdline.as_str(), "bareflow.mode=selftest");
        assert_eq!(info.hhdm_offset, HHDM);
        assert_eq!(info.kernel_phys_base, 0x100_0000);
        assert_eq!(info.rsdp_phys, Some(0xf_5000));
        // The executable range is carved out of the usable range.
        let usable: Vec<_> = info.memory.usable().map(|r| (r.start, r.end)).collect();
        assert_eq!(
            usable,
            [
                (0x1000, 0x9f000),
                (0x10_0000, 0x100_0000),
                (0x120_0000, 0x7f0_0000)
            ]
        );
        assert_eq!(info.modules.len(), 2);
        assert_eq!(info.modules.as_slice()[0].name.as_str(), "matmul.bfir");
        assert_eq!(info.modules.as_slice()[0].phys_start, 0x200_0000);
        assert_eq!(info.modules.as_slice()[1].name.as_str(), "fft.bfir");
        assert_eq!(info.loader_cpus.len(), 2);
        assert_eq!(info.bsp_apic_id, Some(0));
    }

    #[test]
    fn missing_responses_are_errors() {
        let mm = memmap();
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.hhdm_offset = None;
        assert_eq!(BootInfo::from_limine(v).unwrap_err(), BootInfoError::NoHhdm);

        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut mm_it = mm.iter().copied();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.memmap = None;
        assert_eq!(
            BootInfo::from_limine(v).unwrap_err(),
            BootInfoError::NoMemoryMap
        );

        let reserved_only = [(0u64, 0x10_0000u64, entry_type::RESERVED)];
        let mut mm_it = reserved_only.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        assert_eq!(
            BootInfo::from_limine(v).unwrap_err(),
            BootInfoError::NoUsableMemory
        );
    }

    #[test]
    fn revision_from_the_tag() {
        use LimineRevision::{Known, Legacy};
        // Limine 9.x and later: accepted (3rd word zeroed, 2nd word = 3).
        assert_eq!(LimineRevision::from_tag(3, true, Some(3)), Known(3));
        // A revision-3 loader that does not zero the 3rd word still says.
        assert_eq!(LimineRevision::from_tag(3, false, Some(3)), Known(3));
        // Limine 8.x: the tag untouched.
        assert_eq!(LimineRevision::from_tag(3, false, None), Legacy);
        assert!(Known(3).rsdp_is_physical());
        for r in [Known(0), Known(1), Known(2), Known(4), Known(5), Legacy] {
            assert!(!r.rsdp_is_physical(), "{r:?}");
        }
        assert_eq!(std::format!("{}", Known(3)), "3");
        assert_eq!(std::format!("{Legacy}"), "0-2");
    }

    #[test]
    fn limine_8x_hand_over_normalizes_like_9x() {
        let mm = memmap();
        let mods = [LimineModule {
            path: b"/boot/modules/fft.bfir",
            cmdline: b"fft.bfir",
            virt_addr: HHDM + 0x300_0000,
            size: 99,
        }];
        let (mut a_mm, mut a_mods, mut a_cpus) = (
            mm.iter().copied(),
            mods.iter().copied(),
            [(0u32, 0u32), (1, 1)].into_iter(),
        );
        let (mut b_mm, mut b_mods, mut b_cpus) = (
            mm.iter().copied(),
            mods.iter().copied(),
            [(0u32, 0u32), (1, 1)].into_iter(),
        );
        let new = BootInfo::from_limine(view(&mut a_mm, &mut a_mods, &mut a_cpus)).unwrap();
        let old = BootInfo::from_limine(view_8x(&mut b_mm, &mut b_mods, &mut b_cpus)).unwrap();
        assert_eq!(new.limine_revision, Some(LimineRevision::Known(3)));
        assert_eq!(old.limine_revision, Some(LimineRevision::Legacy));
        // The RSDP: physical as given under revision 3, HHDM pointer under 8.x.
        assert_eq!(new.rsdp_phys, Some(RSDP));
        assert_eq!(old.rsdp_phys, Some(RSDP));
        // 8.x gives the command line only as the executable file's string.
        assert_eq!(old.cmdline.as_str(), "bareflow.mode=selftest");
        assert_eq!(old.loader_name.as_str(), "Limine 8.2.0");
        // Module pointers are HHDM pointers under both.
        assert_eq!(old.modules.as_slice(), new.modules.as_slice());
        assert_eq!(old.modules.as_slice()[0].phys_start, 0x300_0000);
        assert_eq!(old.loader_cpus.as_slice(), new.loader_cpus.as_slice());
    }

    #[test]
    fn later_revisions_give_the_rsdp_in_the_hhdm_again() {
        let mm = memmap();
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.revision = LimineRevision::Known(4);
        v.rsdp_address = Some(HHDM + RSDP);
        assert_eq!(BootInfo::from_limine(v).unwrap().rsdp_phys, Some(RSDP));
    }

    #[test]
    fn the_command_line_response_wins_over_the_file_string() {
        let mm = memmap();
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.cmdline = Some(b"bareflow.mode=bench");
        v.executable_file_string = Some(b"bareflow.mode=demo");
        assert_eq!(
            BootInfo::from_limine(v).unwrap().cmdline.as_str(),
            "bareflow.mode=bench"
        );
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.cmdline = None;
        v.executable_file_string = None;
        assert_eq!(BootInfo::from_limine(v).unwrap().cmdline.as_str(), "");
    }

    #[test]
    fn addresses_outside_the_hhdm_are_errors() {
        let mm = memmap();
        // A legacy loader whose RSDP pointer is not in the HHDM.
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view_8x(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.rsdp_address = Some(RSDP);
        assert_eq!(
            BootInfo::from_limine(v).unwrap_err(),
            BootInfoError::RsdpNotInHhdm
        );
        // No RSDP at all (or a null one) is not an error.
        let mut mm_it = mm.iter().copied();
        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut v = view_8x(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.rsdp_address = Some(0);
        assert_eq!(BootInfo::from_limine(v).unwrap().rsdp_phys, None);
        // A module given by physical address.
        let mods = [LimineModule {
            path: b"/boot/modules/fft.bfir",
            cmdline: b"",
            virt_addr: 0x300_0000,
            size: 99,
        }];
        let mut mm_it = mm.iter().copied();
        let mut mod_it = mods.iter().copied();
        let mut cpu_it = core::iter::empty();
        let v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        assert_eq!(
            BootInfo::from_limine(v).unwrap_err(),
            BootInfoError::ModuleNotInHhdm
        );
    }

    #[test]
    fn basename() {
        assert_eq!(module_basename(b"/a/b/c.bfir\0"), b"c.bfir");
        assert_eq!(module_basename(b"plain"), b"plain");
    }
}
