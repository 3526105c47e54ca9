//! The kernel heap: `linked_list_allocator` over its own mapped range.

use super::paging::{self, VmError};
use super::{HEAP_BASE, MIB};
use core::sync::atomic::{AtomicU64, Ordering};
use linked_list_allocator::LockedHeap;
use x86_64::structures::paging::PageTableFlags as F;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

static SIZE: AtomicU64 = AtomicU64::new(0);

/// Frames kept back from the heap for page tables, stacks and later needs.
const RESERVE: u64 = 16 * MIB;
/// Heap size the kernel aims for at least (the JIT needs it).
pub const MIN_TARGET: u64 = 64 * MIB;
/// Largest heap sized automatically.
const MAX_AUTO: u64 = 4096 * MIB;

/// Chooses the heap size: `requested` bytes if non-zero, else half of the
/// free memory but at least [`MIN_TARGET`] and at most 4 GiB; never more
/// than what is free minus `pool` and a reserve.
pub fn choose_size(free: u64, pool: u64, requested: u64) -> u64 {
    let room = free.saturating_sub(pool + RESERVE);
    let want = if requested != 0 {
        requested
    } else {
        (free / 2).clamp(MIN_TARGET, MAX_AUTO)
    };
    want.min(room) & !0xfff
}

/// Maps `bytes` of heap and hands it to the allocator.
pub fn init(bytes: u64) -> Result<(), VmError> {
    let pages = bytes / 4096;
    paging::map_fresh(
        HEAP_BASE,
        pages,
        F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
        |_| {},
    )?;
    // SAFETY: [HEAP_BASE, HEAP_BASE + pages*4096) was just mapped writable,
    // belongs to nobody else, and `init` runs once.
    unsafe {
        HEAP.lock()
            .init(HEAP_BASE as *mut u8, (pages * 4096) as usize)
    };
    SIZE.store(pages * 4096, Ordering::SeqCst);
    Ok(())
}

/// Heap size in bytes.
pub fn size() -> u64 {
    SIZE.load(Ordering::Relaxed)
}

/// Bytes currently allocated.
pub fn used() -> u64 {
    HEAP.lock().used() as u64
}
