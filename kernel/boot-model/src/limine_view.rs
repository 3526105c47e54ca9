//! Limine protocol responses -> [`BootInfo`].
//!
//! The kernel reads the `limine` crate's responses and describes them with a
//! [`LimineView`] (plain values and iterators); this module turns that into a
//! `BootInfo`. Keeping the conversion here lets host tests drive it with
//! synthetic responses.

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

/// The Limine responses the kernel asks for. `None` means "no response".
pub struct LimineView<'a> {
    /// Whether the loader accepted our base revision.
    pub base_revision_supported: bool,
    /// Bootloader info: name and version.
    pub bootloader: Option<(&'a str, &'a str)>,
    /// HHDM offset.
    pub hhdm_offset: Option<u64>,
    /// Memory map entries: base, length, type.
    pub memmap: Option<&'a mut dyn Iterator<Item = (u64, u64, u64)>>,
    /// Executable address: physical base, virtual base.
    pub executable_address: Option<(u64, u64)>,
    /// Executable command line.
    pub cmdline: Option<&'a [u8]>,
    /// Modules.
    pub modules: &'a mut dyn Iterator<Item = LimineModule<'a>>,
    /// RSDP address (physical under base revision 3).
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
        if !view.base_revision_supported {
            return Err(BootInfoError::UnsupportedRevision);
        }
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
            rsdp_phys: view.rsdp_address.filter(|&a| a != 0),
            ..BootInfo::default()
        };
        if let Some((name, version)) = view.bootloader {
            info.loader_name = FixedStr::from_str_lossy(name);
            if !version.is_empty() {
                info.loader_name.push_str(" ");
                info.loader_name.push_str(version);
            }
        }
        if let Some(cmdline) = view.cmdline {
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
                phys_start: m.virt_addr.wrapping_sub(hhdm),
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

    fn view<'a>(
        mm: &'a mut dyn Iterator<Item = (u64, u64, u64)>,
        mods: &'a mut dyn Iterator<Item = LimineModule<'a>>,
        cpus: &'a mut dyn Iterator<Item = (u32, u32)>,
    ) -> LimineView<'a> {
        LimineView {
            base_revision_supported: true,
            bootloader: Some(("Limine", "9.3.0")),
            hhdm_offset: Some(HHDM),
            memmap: Some(mm),
            executable_address: Some((0x100_0000, 0xffff_ffff_8020_0000)),
            cmdline: Some(b"bareflow.mode=selftest\0"),
            modules: mods,
            rsdp_address: Some(0xf_5000),
            mp: Some((0, cpus)),
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

        let mut mod_it = core::iter::empty();
        let mut cpu_it = core::iter::empty();
        let mut mm_it = mm.iter().copied();
        let mut v = view(&mut mm_it, &mut mod_it, &mut cpu_it);
        v.base_revision_supported = false;
        assert_eq!(
            BootInfo::from_limine(v).unwrap_err(),
            BootInfoError::UnsupportedRevision
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
    fn basename() {
        assert_eq!(module_basename(b"/a/b/c.bfir\0"), b"c.bfir");
        assert_eq!(module_basename(b"plain"), b"plain");
    }
}
