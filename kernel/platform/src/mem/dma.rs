//! Memory that devices read and write (DMA), and device register windows:
//! the `virtio-drivers` HAL ([`KernelHal`]).
//!
//! - **DMA memory** (virtqueues) comes from the heap: the heap is one
//!   physically contiguous run of RAM in the direct map, so every heap block
//!   is physically contiguous and its physical address is its virtual
//!   address minus the direct-map offset. Freed blocks go back to the heap.
//! - **Shared buffers** (the data of a request, its header and status byte)
//!   are given to the device at their own physical address when they are
//!   physically contiguous (anything on the heap; small buffers on a CPU
//!   stack or in the kernel image, checked page by page). Anything else is
//!   copied through a heap block (a bounce buffer) and copied back when the
//!   device wrote it.
//! - **Register windows** (PCI BARs) are mapped uncached in the device
//!   window with [`map_window`] before the transport asks for them.

use super::vm::{self, VmError};
use alloc::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use alloc::vec::Vec;
use core::ptr::NonNull;
use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Mapped register windows: (physical start, length, virtual start).
static WINDOWS: Mutex<Vec<(u64, u64, u64)>> = Mutex::new(Vec::new());

/// Maps `len` bytes of device registers at `phys` (uncached) for the HAL to
/// hand out; a window already mapped is reused.
pub(crate) fn map_window(phys: u64, len: u64) -> Result<u64, VmError> {
    if let Some(v) = find_window(phys, len) {
        return Ok(v);
    }
    let virt = vm::map_mmio(phys, len)?;
    WINDOWS.lock().push((phys, len, virt));
    Ok(virt)
}

fn find_window(phys: u64, len: u64) -> Option<u64> {
    let end = phys.checked_add(len)?;
    WINDOWS
        .lock()
        .iter()
        .find(|&&(p, l, _)| p <= phys && end <= p + l)
        .map(|&(p, _, v)| v + (phys - p))
}

fn pages_layout(pages: usize) -> Option<Layout> {
    let bytes = pages.checked_mul(PAGE_SIZE)?;
    Layout::from_size_align(bytes.max(PAGE_SIZE), PAGE_SIZE).ok()
}

fn bounce_layout(len: usize) -> Layout {
    // `len` is the size of a live buffer, so it fits a layout.
    Layout::from_size_align(len.max(1), 64).unwrap_or(Layout::new::<u64>())
}

/// The platform's implementation of the `virtio-drivers` HAL (see the
/// module docs).
pub(crate) struct KernelHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned heap memory that nothing
// else uses until `dma_dealloc` (the heap hands it out once), with the
// physical address the device must use (heap = contiguous direct-map RAM);
// `mmio_phys_to_virt` returns the uncached mapping of exactly the requested
// registers; `share` returns a physical address covering the whole buffer
// (its own, or a bounce buffer's that `unshare` copies back and frees).
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let failed = (0, NonNull::dangling());
        let Some(layout) = pages_layout(pages) else {
            return failed;
        };
        // SAFETY: the layout has a non-zero size.
        let Some(virt) = NonNull::new(unsafe { alloc_zeroed(layout) }) else {
            return failed;
        };
        match vm::phys_range(virt.as_ptr() as u64, layout.size() as u64) {
            Some(phys) => (phys, virt),
            None => {
                // Unreachable while the heap lives in the direct map; give
                // the block back rather than hand out a wrong address.
                // SAFETY: allocated just above with this layout.
                unsafe { dealloc(virt.as_ptr(), layout) };
                failed
            }
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        match pages_layout(pages) {
            Some(layout) => {
                // SAFETY: the caller passes what `dma_alloc` returned for
                // `pages`, so this is the block and layout it allocated.
                unsafe { dealloc(vaddr.as_ptr(), layout) };
                0
            }
            None => -1,
        }
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // The drivers map every memory BAR of a device before creating its
        // transport, which only asks for ranges inside its BARs.
        let virt = map_window(paddr, size as u64).unwrap_or_else(|e| {
            panic!(
                "cannot map device registers at {paddr:#x} (+{size:#x}): {}",
                e.reason()
            )
        });
        NonNull::new(virt as *mut u8).expect("the device window is never at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        let len = buffer.len();
        if let Some(phys) = vm::phys_range(virt, len as u64) {
            return phys;
        }
        let layout = bounce_layout(len);
        // SAFETY: the layout has a non-zero size.
        let bounce = unsafe { alloc(layout) };
        assert!(
            !bounce.is_null(),
            "out of heap for a {len}-byte DMA bounce buffer"
        );
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the caller guarantees `buffer` is valid and not
            // accessed elsewhere during this call; `bounce` holds `len` bytes.
            unsafe { core::ptr::copy_nonoverlapping(virt as *const u8, bounce, len) };
        }
        vm::phys_range(bounce as u64, len as u64).expect("heap memory is in the direct map")
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        let len = buffer.len();
        if vm::phys_range(virt, len as u64) == Some(paddr) {
            return;
        }
        let bounce = vm::phys_to_virt(paddr) as *mut u8;
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: `share` filled `paddr` from a bounce block of `len`
            // bytes (the buffer was not contiguous), which the device has
            // finished with; the caller guarantees `buffer` is valid.
            unsafe { core::ptr::copy_nonoverlapping(bounce, virt as *mut u8, len) };
        }
        // SAFETY: `bounce` is the block `share` allocated with this layout.
        unsafe { dealloc(bounce, bounce_layout(len)) };
    }
}
