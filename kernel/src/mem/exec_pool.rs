//! The executable pool: where JIT-compiled code lives.
//!
//! One set of frames is mapped twice: a writable, non-executable view and a
//! read-only, executable view (W^X: no page is ever writable and executable
//! through the same mapping). Code is written through [`CodeRegion::write`]
//! (writable view) and run through [`CodeRegion::exec_addr`] (executable
//! view). The allocation logic (first fit, coalescing, statistics) is
//! `bareflow_boot_model::pool`.

use super::paging::{self, VmError};
use super::{POOL_RW_BASE, POOL_RX_BASE};
use alloc::vec::Vec;
use bareflow_boot_model::pool::{PoolAllocator, PoolError, PoolStats};
use spin::{Mutex, Once};
use x86_64::structures::paging::PageTableFlags as F;

/// The pool.
pub struct ExecPool {
    alloc: Mutex<PoolAllocator>,
    bytes: u64,
}

/// A block of the pool owned by its holder.
#[derive(Debug)]
pub struct CodeRegion {
    offset: u64,
    len: u64,
}

/// Fill byte for unused pool memory: `int3`, so a stray jump traps.
const FILL: u8 = 0xcc;

static POOL: Once<ExecPool> = Once::new();

/// Maps a pool of `bytes` (rounded up to pages).
pub fn init(bytes: u64) -> Result<&'static ExecPool, VmError> {
    let pages = bytes.div_ceil(4096);
    let mut frames = Vec::with_capacity(pages as usize);
    paging::take_frames(pages, |f| frames.push(f))?;
    paging::map_frames(
        POOL_RW_BASE,
        &frames,
        F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
    )?;
    paging::map_frames(POOL_RX_BASE, &frames, F::PRESENT)?;
    let bytes = pages * 4096;
    // SAFETY: the writable view was just mapped over `bytes` fresh frames.
    unsafe { core::ptr::write_bytes(POOL_RW_BASE as *mut u8, FILL, bytes as usize) };
    Ok(POOL.call_once(|| ExecPool {
        alloc: Mutex::new(PoolAllocator::new(bytes)),
        bytes,
    }))
}

/// The pool, once `init` ran.
pub fn get() -> Option<&'static ExecPool> {
    POOL.get()
}

impl ExecPool {
    /// Reserves `len` bytes aligned to `align` (at least 16).
    pub fn alloc(&self, len: u64, align: u64) -> Result<CodeRegion, PoolError> {
        let mut a = self.alloc.lock();
        let offset = a.alloc(len, align)?;
        let len = a.size_of(offset).unwrap_or(len);
        Ok(CodeRegion { offset, len })
    }

    /// Returns a region to the pool. The caller guarantees no CPU still runs
    /// code in it (see the publication invariant in DESIGN.md).
    pub fn free(&self, region: CodeRegion) {
        // SAFETY: the region is owned, so the range is ours to refill.
        unsafe {
            core::ptr::write_bytes(
                (POOL_RW_BASE + region.offset) as *mut u8,
                FILL,
                region.len as usize,
            )
        };
        // A CodeRegion always names a live allocation.
        let _ = self.alloc.lock().free(region.offset);
    }

    /// Allocation counters.
    pub fn stats(&self) -> PoolStats {
        self.alloc.lock().stats()
    }

    /// Pool size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Base of the executable view.
    pub fn exec_base(&self) -> u64 {
        POOL_RX_BASE
    }

    /// Base of the writable view.
    pub fn write_base(&self) -> u64 {
        POOL_RW_BASE
    }
}

impl CodeRegion {
    /// Copies `bytes` to `offset` within the region through the writable view.
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), PoolError> {
        let end = offset
            .checked_add(bytes.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or(PoolError::OutOfSpace {
                requested: offset.saturating_add(bytes.len() as u64),
                largest_free: self.len,
            })?;
        let _ = end;
        // SAFETY: [offset, offset+len) lies inside this owned region of the
        // writable view, which nothing else writes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (POOL_RW_BASE + self.offset + offset) as *mut u8,
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Makes written code safe to run on this CPU: a serializing
    /// instruction, needed because it was written through another mapping.
    pub fn finish_writes(&self) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        // CPUID serializes the instruction stream.
        core::arch::x86_64::__cpuid(0);
    }

    /// Address of the region in the executable view (where code runs).
    pub fn exec_addr(&self) -> u64 {
        POOL_RX_BASE + self.offset
    }

    /// Address of the region in the writable view.
    pub fn write_addr(&self) -> u64 {
        POOL_RW_BASE + self.offset
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }
}
