//! The kernel heap: `linked_list_allocator` over one physically contiguous
//! run of RAM, used through the direct map (2 MiB pages, RW, NX): no extra
//! page tables, few TLB entries.

use super::MIB;
use super::vm::{self, VmError};
use core::sync::atomic::{AtomicU64, Ordering};
use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

static SIZE: AtomicU64 = AtomicU64::new(0);
static BASE: AtomicU64 = AtomicU64::new(0);

/// Frames kept back from the heap for page tables, stacks and later needs.
const RESERVE: u64 = 16 * MIB;
/// Heap size the kernel aims for at least (the JIT needs it).
pub(crate) const MIN_TARGET: u64 = 64 * MIB;
/// Largest heap sized automatically.
const MAX_AUTO: u64 = 4096 * MIB;

/// How much of the free memory an automatic heap takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeapShare {
    /// Half of it, at least [`MIN_TARGET`], at most 4 GiB.
    Half,
    /// All of it but the pool and the reserve (the llama mode: the model
    /// lives on the heap).
    Most,
}

/// Chooses the heap size: `requested` bytes if non-zero, else `share` of the
/// `free` memory; never more than `room`, the longest contiguous run whose
/// allocation still leaves the pool's frames and [`RESERVE`] (see
/// [`keep_after_heap`]).
pub(crate) fn choose_size(free: u64, room: u64, requested: u64, share: HeapShare) -> u64 {
    let want = match (requested, share) {
        (0, HeapShare::Half) => (free / 2).clamp(MIN_TARGET, MAX_AUTO),
        (0, HeapShare::Most) => room,
        (r, _) => r,
    };
    want.min(room) & !0xfff
}

/// Bytes that must stay free once the heap is taken: the executable pool's
/// and the reserve.
pub(crate) fn keep_after_heap(pool: u64) -> u64 {
    pool + RESERVE
}

/// Takes `bytes` of contiguous RAM and hands it to the allocator.
pub(crate) fn init(bytes: u64) -> Result<(), VmError> {
    let pages = bytes / 4096;
    let phys = vm::take_contiguous(pages)?;
    let base = vm::phys_to_virt(phys);
    // SAFETY: the frames [phys, phys + pages*4096) were just taken from the
    // frame allocator (nobody else owns them) and the direct map maps them
    // writable at `base`; `init` runs once.
    unsafe { HEAP.lock().init(base as *mut u8, (pages * 4096) as usize) };
    BASE.store(base, Ordering::SeqCst);
    SIZE.store(pages * 4096, Ordering::SeqCst);
    Ok(())
}

/// Virtual address of the heap's first byte.
pub(crate) fn base() -> u64 {
    BASE.load(Ordering::Relaxed)
}

/// Heap size in bytes.
pub(crate) fn size() -> u64 {
    SIZE.load(Ordering::Relaxed)
}

/// Bytes currently allocated.
pub(crate) fn used() -> u64 {
    HEAP.lock().used() as u64
}
