//! The executable pool: where JIT-compiled code lives.
//!
//! One set of frames is mapped twice: a writable, non-executable view and a
//! read-only, executable view (W^X: no page is ever writable and executable
//! through the same mapping). Code is written through [`CodeRegion::write`]
//! (writable view) and run through [`CodeRegion::exec_addr`] (executable
//! view). The allocation logic (first fit, coalescing, statistics) is
//! `bareflow_boot_model::pool`.
//!
//! Every store into the pool (code writes, the `int3` refill on free, the
//! W^X probes) happens under the pool's lock, so a probe that writes back the
//! byte it just read can never undo a concurrent write.

use super::vm::{self, VmError};
use super::{POOL_RW_BASE, POOL_RX_BASE, Protection};
use crate::fault::{self, FaultInfo};
use alloc::vec::Vec;
use bareflow_boot_model::pool::{PoolAllocator, PoolError, PoolStats};
use spin::{Mutex, Once};

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

/// The executable view of the pool, as a code range the fault-recovery
/// service can be told about (`fault::register_recoverable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecRange {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// What storing to one byte of live pool code through each view did.
#[derive(Debug, Clone, Copy)]
pub struct WxProbe {
    /// The byte (stored back unchanged).
    pub byte: u8,
    /// Its address in the writable view.
    pub write_addr: u64,
    /// The store through the executable view: must fault (read-only view).
    pub exec_view: Result<(), FaultInfo>,
    /// The store through the writable view: must succeed.
    pub write_view: Result<(), FaultInfo>,
}

/// Why a probe was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeError {
    /// The address is not inside a live block of the executable view.
    NotLiveCode(u64),
}

/// The pool's own check (the machine self-test reports it).
#[derive(Debug, Clone, Copy)]
pub struct SelfCheck {
    /// Size of the region it allocated.
    pub region_len: u64,
    /// What the function it wrote returned for (40, 2); 42 is right.
    pub result: u32,
    /// Stores through both views of that region.
    pub probe: WxProbe,
    /// Bytes in use before, while the region was held, and after its free.
    pub used: [u64; 3],
}

/// Fill byte for unused pool memory: `int3`, so a stray jump traps.
const FILL: u8 = 0xcc;

/// `lea eax, [rdi + rsi]; ret`: `extern "C" fn(u32, u32) -> u32`, the sum.
const ADD_CODE: [u8; 4] = [0x8d, 0x04, 0x37, 0xc3];

static POOL: Once<ExecPool> = Once::new();

/// Maps a pool of `bytes` (rounded up to pages).
pub(crate) fn init(bytes: u64) -> Result<&'static ExecPool, VmError> {
    let pages = bytes.div_ceil(4096);
    let mut frames = Vec::with_capacity(pages as usize);
    vm::take_frames(pages, |f| frames.push(f))?;
    // SAFETY: the frames were just taken (nobody else maps them) and the two
    // views are ranges reserved for the pool alone; one view is writable, the
    // other executable, never both.
    unsafe {
        vm::map_frames(POOL_RW_BASE, &frames, Protection::ReadWrite)?;
        vm::map_frames(POOL_RX_BASE, &frames, Protection::ReadExecute)?;
    }
    let bytes = pages * 4096;
    // SAFETY: the writable view was just mapped over `bytes` fresh frames.
    unsafe { core::ptr::write_bytes(POOL_RW_BASE as *mut u8, FILL, bytes as usize) };
    Ok(POOL.call_once(|| ExecPool {
        alloc: Mutex::new(PoolAllocator::new(bytes)),
        bytes,
    }))
}

/// The pool, once the platform set it up.
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

    /// Returns a region to the pool, refilled with `int3`. The caller
    /// guarantees no CPU still runs code in it (the publication protocol in
    /// [`crate::jit_memory`]).
    pub fn free(&self, region: CodeRegion) {
        let mut a = self.alloc.lock();
        // SAFETY: the region is owned (and now given up), so the range of the
        // writable view is ours to refill; the lock excludes other stores.
        unsafe {
            core::ptr::write_bytes(
                (POOL_RW_BASE + region.offset) as *mut u8,
                FILL,
                region.len as usize,
            )
        };
        // A CodeRegion always names a live allocation.
        let _ = a.free(region.offset);
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

    /// Whether `addr` lies in the executable view.
    pub fn in_exec_view(&self, addr: u64) -> bool {
        (POOL_RX_BASE..POOL_RX_BASE + self.bytes).contains(&addr)
    }

    /// The executable view as a code range for the fault-recovery service.
    pub fn exec_range(&self) -> ExecRange {
        ExecRange {
            start: POOL_RX_BASE,
            end: POOL_RX_BASE + self.bytes,
        }
    }

    /// Stores the byte at `exec_addr` (inside a live block) back through the
    /// executable view, which must fault, and through the writable view,
    /// which must not: a check of W^X on the real page tables. The byte does
    /// not change either way.
    pub fn probe_wx(&self, exec_addr: u64) -> Result<WxProbe, ProbeError> {
        let a = self.alloc.lock();
        let offset = exec_addr.wrapping_sub(POOL_RX_BASE);
        if !self.in_exec_view(exec_addr) || a.live_containing(offset).is_none() {
            return Err(ProbeError::NotLiveCode(exec_addr));
        }
        let write_addr = POOL_RW_BASE + offset;
        // SAFETY: `offset` lies inside a live block of the pool, mapped
        // readable through the writable view.
        let byte = unsafe { core::ptr::read_volatile(write_addr as *const u8) };
        // SAFETY: both stores write the byte already there, inside a live
        // block of the pool, while the pool's lock excludes every other store
        // to the pool: the code cannot change. The executable view is
        // read-only, so that store faults (and is caught) unless W^X is
        // broken, in which case it rewrites the same byte.
        let (exec_view, write_view) = unsafe {
            (
                fault::probe_write(exec_addr, byte),
                fault::probe_write(write_addr, byte),
            )
        };
        drop(a);
        Ok(WxProbe {
            byte,
            write_addr,
            exec_view,
            write_view,
        })
    }

    /// Makes the executable view's pages over `[exec_addr, exec_addr + len)`
    /// executable again or not (read-only, no execute), for the calling CPU
    /// only (its TLB is flushed; other CPUs may keep the old rights until
    /// their next flush). The pages never become writable. Used to inject a
    /// CPU exception into JIT code.
    pub fn set_executable_local(
        &self,
        exec_addr: u64,
        len: u64,
        executable: bool,
    ) -> Result<(), VmError> {
        let end = exec_addr
            .checked_add(len.max(1))
            .ok_or(VmError::OutOfRange)?;
        if !self.in_exec_view(exec_addr) || end > POOL_RX_BASE + self.bytes {
            return Err(VmError::OutOfRange);
        }
        let first = exec_addr & !0xfff;
        let pages = (end - 1 - first) / 4096 + 1;
        let prot = if executable {
            Protection::ReadExecute
        } else {
            Protection::ReadOnly
        };
        // SAFETY: the pages are the pool's executable view, which only ever
        // holds code; switching them between read+execute and read-only
        // keeps W^X (never writable), and code that faults there is either
        // recovered (guarded calls) or reported.
        unsafe { vm::protect_local(first, pages, prot) }
    }

    /// Writes a 4-byte function through the writable view of a fresh region,
    /// runs it through the executable view, probes both views, frees the
    /// region, and reports what happened.
    pub fn self_check(&self) -> Result<SelfCheck, PoolError> {
        let before = self.stats().used;
        let mut region = self.alloc(ADD_CODE.len() as u64, 16)?;
        region.write(0, &ADD_CODE)?;
        region.finish_writes();
        // SAFETY: the region holds exactly ADD_CODE, a complete function with
        // the C ABI signature (u32, u32) -> u32, written through the writable
        // view and serialized; the executable view maps it executable.
        let add: extern "C" fn(u32, u32) -> u32 =
            unsafe { core::mem::transmute(region.exec_addr() as usize) };
        let result = add(40, 2);
        let probe = self
            .probe_wx(region.exec_addr())
            .expect("a region just allocated is live code");
        let during = self.stats().used;
        let region_len = region.len();
        self.free(region);
        Ok(SelfCheck {
            region_len,
            result,
            probe,
            used: [before, during, self.stats().used],
        })
    }
}

impl CodeRegion {
    /// Copies `bytes` to `offset` within the region through the writable view.
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), PoolError> {
        offset
            .checked_add(bytes.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or(PoolError::OutOfSpace {
                requested: offset.saturating_add(bytes.len() as u64),
                largest_free: self.len,
            })?;
        let pool = get().expect("a CodeRegion comes from the pool");
        let _stores = pool.alloc.lock();
        // SAFETY: [offset, offset+len) lies inside this owned region of the
        // writable view (checked above), which only its owner writes, under
        // the pool's lock.
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
        crate::arch::serialize_instructions();
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

    /// Whether the region is empty (never: the pool hands out at least 16
    /// bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
