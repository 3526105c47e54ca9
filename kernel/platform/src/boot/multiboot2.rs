//! Multiboot2 entry: the 32-bit stub (`arch::entry`) has switched to long
//! mode with temporary tables that map the low 4 GiB at the direct-map
//! offset used here.

use crate::arch::entry::{self, KERNEL_VMA};
use bareflow_boot_model::bootinfo::BootInfo;
use bareflow_boot_model::multiboot2::{BOOTLOADER_MAGIC, KernelPlacement, total_size};

/// Direct-map offset under multiboot2 (the same Limine uses by default).
const HHDM_OFFSET: u64 = 0xffff_8000_0000_0000;

/// Largest information structure accepted.
const MAX_MBI: usize = 1 << 20;

/// Called by the multiboot2 entry stub on the boot stack with SSE enabled.
#[unsafe(no_mangle)]
extern "C" fn mb2_rust_entry() -> ! {
    crate::init::early();
    let (magic, info) = entry::multiboot2_registers();
    if magic != BOOTLOADER_MAGIC {
        panic!("multiboot2 entry with wrong magic {magic:#x}: not started by a multiboot2 loader");
    }
    // SAFETY: a multiboot2 loader passed `info`, a 32-bit physical address of
    // an 8-aligned structure; the temporary tables map the low 4 GiB at
    // HHDM_OFFSET. Its length is checked before the slice is formed.
    let mbi = unsafe {
        let header = &*((HHDM_OFFSET + info) as *const [u8; 8]);
        let total = total_size(header) as usize;
        if !(16..=MAX_MBI).contains(&total) {
            panic!("multiboot2 information structure has implausible size {total}");
        }
        core::slice::from_raw_parts((HHDM_OFFSET + info) as *const u8, total)
    };
    let image = entry::kernel_image();
    let placement = KernelPlacement {
        phys_start: image.start - KERNEL_VMA,
        phys_end: image.end - KERNEL_VMA,
        virt_base: image.start,
        hhdm_offset: HHDM_OFFSET,
    };
    match BootInfo::from_multiboot2(magic, info, mbi, placement) {
        Ok(info) => crate::init::machine(info),
        Err(e) => panic!("multiboot2 hand-over unusable: {}", e.reason()),
    }
}
