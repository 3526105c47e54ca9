//! Memory: the kernel's address space and physical frames (`vm.rs`), the heap,
//! and the executable pool.
//!
//! Virtual layout (4-level paging):
//!
//! | range start              | what                                          |
//! |--------------------------|-----------------------------------------------|
//! | `hhdm_offset`            | all physical memory, 2 MiB pages, RW, NX; the |
//! |                          | heap is one contiguous run of RAM in it       |
//! | `0xffff_c800_0000_0000`  | executable pool, writable view, RW, NX        |
//! | `0xffff_d000_0000_0000`  | executable pool, executable view, R, X        |
//! | `0xffff_d800_0000_0000`  | CPU stacks, each below an unmapped guard page |
//! | `0xffff_e000_0000_0000`  | device registers (local APIC), uncached; its  |
//! |                          | last page is never mapped ([`probe_unmapped`])|
//! | `0xffff_ffff_8000_0000`+ | the kernel image: text RX, rodata R, data RW  |

pub(crate) mod dma;
pub mod exec_pool;
pub(crate) mod heap;
pub(crate) mod vm;

pub use bareflow_boot_model::frames::FrameStats;
pub use vm::VmError;

use crate::fault::{self, FaultInfo};

/// Start of the pool's writable (non-executable) view.
pub(crate) const POOL_RW_BASE: u64 = 0xffff_c800_0000_0000;
/// Start of the pool's executable (read-only) view.
pub(crate) const POOL_RX_BASE: u64 = 0xffff_d000_0000_0000;
/// Start of the stack region.
pub(crate) const STACKS_BASE: u64 = 0xffff_d800_0000_0000;
/// Start of the device-register window.
pub(crate) const MMIO_BASE: u64 = 0xffff_e000_0000_0000;
/// Size of the device-register window (one PML4 slot).
pub(crate) const MMIO_WINDOW: u64 = 1 << 39;
/// A page that is never mapped: the last of the device window.
pub(crate) const UNMAPPED_PAGE: u64 = MMIO_BASE + MMIO_WINDOW - 4096;

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;

/// The access a mapping grants. No variant is writable and executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Read and write, never execute (data, stacks, the direct map).
    ReadWrite,
    /// Read only.
    ReadOnly,
    /// Read and execute (code).
    ReadExecute,
    /// Device registers: read and write, uncached, never execute.
    Device,
}

/// Heap size in bytes.
pub fn heap_size() -> u64 {
    heap::size()
}

/// Heap bytes currently allocated.
pub fn heap_used() -> u64 {
    heap::used()
}

/// Physical frame counters (`None` before the platform set up paging).
pub fn frame_stats() -> Option<FrameStats> {
    vm::frame_stats()
}

/// Stores to a page that is never mapped; the page fault is caught and
/// returned (`Ok` would mean the page was mapped after all). Checks the
/// fault-recovery path of probing stores.
pub fn probe_unmapped() -> Result<(), FaultInfo> {
    // SAFETY: nothing is ever mapped at UNMAPPED_PAGE (`vm::map_mmio` stops
    // before it), so the store can only fault.
    unsafe { fault::probe_write(UNMAPPED_PAGE, 1) }
}

/// The address [`probe_unmapped`] stores to.
pub fn unmapped_address() -> u64 {
    UNMAPPED_PAGE
}
