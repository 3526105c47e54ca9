//! Memory: the kernel's own page tables, physical frames, the heap and the
//! executable pool.
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
//! | `0xffff_e000_0000_0000`  | device registers (local APIC), uncached       |
//! | `0xffff_ffff_8000_0000`+ | the kernel image: text RX, rodata R, data RW  |

pub mod exec_pool;
pub mod heap;
pub mod paging;

/// Start of the pool's writable (non-executable) view.
pub const POOL_RW_BASE: u64 = 0xffff_c800_0000_0000;
/// Start of the pool's executable (read-only) view.
pub const POOL_RX_BASE: u64 = 0xffff_d000_0000_0000;
/// Start of the stack region.
pub const STACKS_BASE: u64 = 0xffff_d800_0000_0000;
/// Start of the device-register window.
pub const MMIO_BASE: u64 = 0xffff_e000_0000_0000;

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;
