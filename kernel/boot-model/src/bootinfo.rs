//! `BootInfo`: what the kernel knows after the boot loader hands over.
//!
//! Both entry paths (Limine, multiboot2) fill exactly this structure; nothing
//! after that knows which loader ran except through [`BootInfo::loader`].

use crate::fixed::{FixedStr, FixedVec};
use crate::limine_view::LimineRevision;
use crate::memmap::MemoryMap;

/// Which boot protocol started the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loader {
    /// The Limine boot protocol.
    #[default]
    Limine,
    /// Multiboot2 (GRUB).
    Multiboot2,
}

impl Loader {
    /// Name used in the `boot` event.
    pub fn name(self) -> &'static str {
        match self {
            Loader::Limine => "limine",
            Loader::Multiboot2 => "multiboot2",
        }
    }
}

/// A file the loader put in memory next to the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootModule {
    /// Its name: the loader's command line for it, or else its path.
    pub name: FixedStr<96>,
    /// Physical address of the first byte.
    pub phys_start: u64,
    /// Size in bytes.
    pub len: u64,
}

/// A CPU the loader (Limine MP) already knows about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoaderCpu {
    /// Local APIC id.
    pub apic_id: u32,
    /// ACPI processor id.
    pub acpi_id: u32,
}

/// Longest kernel command line kept.
pub const CMDLINE_MAX: usize = 1024;
/// Most boot modules kept.
pub const MAX_MODULES: usize = 32;
/// Most CPUs the kernel brings up.
pub const MAX_CPUS: usize = 64;

/// Everything the rest of the kernel needs from the boot loader.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootInfo {
    /// The protocol that booted us.
    pub loader: Loader,
    /// Loader name and version as it reports them (multiboot2: the loader-name tag).
    pub loader_name: FixedStr<64>,
    /// Kernel command line.
    pub cmdline: FixedStr<CMDLINE_MAX>,
    /// Physical memory map.
    pub memory: MemoryMap,
    /// Offset at which all physical memory is mapped (higher-half direct map).
    pub hhdm_offset: u64,
    /// Physical address the kernel image was loaded at.
    pub kernel_phys_base: u64,
    /// Virtual address the kernel image is linked at.
    pub kernel_virt_base: u64,
    /// ACPI RSDP physical address, when the loader found one.
    pub rsdp_phys: Option<u64>,
    /// Boot modules.
    pub modules: FixedVec<BootModule, MAX_MODULES>,
    /// Modules dropped because there were more than [`MAX_MODULES`].
    pub modules_dropped: usize,
    /// CPUs reported by the loader (Limine MP); empty under multiboot2,
    /// where the kernel reads the ACPI MADT itself.
    pub loader_cpus: FixedVec<LoaderCpu, MAX_CPUS>,
    /// The BSP's local APIC id as the loader reports it (Limine MP).
    pub bsp_apic_id: Option<u32>,
    /// The Limine base revision the hand-over follows (Limine only).
    pub limine_revision: Option<LimineRevision>,
}

/// Why a loader's hand-over could not be turned into a [`BootInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootInfoError {
    /// No memory map was provided.
    NoMemoryMap,
    /// The memory map had more entries than the kernel keeps.
    MemoryMapTooLarge,
    /// No usable RAM at all.
    NoUsableMemory,
    /// The loader did not say where the kernel is (Limine executable address).
    NoKernelAddress,
    /// The loader did not give a direct map offset (Limine HHDM).
    NoHhdm,
    /// Limine gave an RSDP address that should lie in the HHDM but lies below it.
    RsdpNotInHhdm,
    /// Limine gave a module address below the HHDM (module addresses are HHDM
    /// pointers in every base revision).
    ModuleNotInHhdm,
    /// Multiboot2: wrong magic value in EAX.
    BadMagic(u32),
    /// Multiboot2: the information structure is malformed.
    Malformed(&'static str),
}

impl BootInfoError {
    /// A one-line explanation.
    pub fn reason(&self) -> &'static str {
        match self {
            BootInfoError::NoMemoryMap => "boot loader gave no memory map",
            BootInfoError::MemoryMapTooLarge => "memory map has too many entries",
            BootInfoError::NoUsableMemory => "memory map has no usable RAM",
            BootInfoError::NoKernelAddress => "boot loader gave no kernel address",
            BootInfoError::NoHhdm => "boot loader gave no higher-half direct map",
            BootInfoError::RsdpNotInHhdm => {
                "Limine RSDP address lies below the higher-half direct map"
            }
            BootInfoError::ModuleNotInHhdm => {
                "Limine module address lies below the higher-half direct map"
            }
            BootInfoError::BadMagic(_) => "multiboot2 magic value wrong",
            BootInfoError::Malformed(what) => what,
        }
    }
}
