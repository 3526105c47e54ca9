//! The executable pool as the JIT's executable memory (`jit::ExecMemory`, an `unsafe`
//! trait: the engine runs the code it writes there), and the cross-modifying-code rule
//! (`jit::CodeSync`).
//!
//! Publication protocol (ARCHITECTURE.md, "Publication"), as implemented here:
//!
//! 1. The compiler CPU writes a block through the pool's writable, non-executable view
//!    (`write` copies into the block's region there, checked by [`CodeRegion::write`];
//!    the block's `exec_addr` is in the read-only executable view of the same frames).
//! 2. `finalize` (still before the engine's Release store of the entry pointer) makes
//!    the writes globally visible (`SeqCst` fence) and bumps the global code
//!    [`GENERATION`].
//! 3. A calling CPU loads the entry pointer (Acquire) and, through
//!    [`KernelCodeSync::before_enter`], compares [`GENERATION`] with the generation it
//!    last serialized for; when they differ it executes a serializing instruction
//!    (`cpuid`) before jumping. Because the bump
//!    happens before the Release store, a CPU that sees the new entry also sees the new
//!    generation: no CPU runs new code without serializing first (Intel SDM,
//!    cross-modifying code).
//! 4. Replaced code is not reused while any CPU may still run it: the engine keeps every
//!    block it published until it is dropped, and `release` is only called from
//!    `Engine::drop`, when no call can be in flight. Blocks are therefore never recycled
//!    under a running caller; the pool's `int3` refill happens only after that point.

use crate::cpu::{self, MAX_CPUS};
use crate::mem::exec_pool::{self, CodeRegion};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use jit::{CodeBlock, CodeSync, ExecMemError, ExecMemory, PoolStats};
use spin::Mutex;

/// Incremented after every finalized block, before it can be published.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// Per CPU: the generation it last serialized for (0 = never).
static SEEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Serializing instructions executed because of new code (all CPUs).
static SERIALIZATIONS: AtomicU64 = AtomicU64::new(0);

/// Blocks handed out by every [`KernelPool`] (exec address, length), so the
/// runtime's self-tests and the exception path can find JIT code regions.
static BLOCKS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// Serializes the calling CPU's instruction stream.
pub fn serialize() {
    cpu::serialize_instructions();
}

/// How many serializations new code caused so far.
pub fn serializations() -> u64 {
    SERIALIZATIONS.load(Ordering::Relaxed)
}

/// The hook the engine calls before entering compiled code (see the module docs).
pub struct KernelCodeSync;

impl CodeSync for KernelCodeSync {
    fn before_enter(&self) {
        let g = GENERATION.load(Ordering::Acquire);
        let seen = &SEEN[cpu::current_index() as usize % MAX_CPUS];
        if seen.load(Ordering::Relaxed) != g {
            serialize();
            seen.store(g, Ordering::Relaxed);
            SERIALIZATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A block handed out by a [`KernelPool`]: its region, and whether it was finalized
/// (written for the last time).
struct LiveBlock {
    exec_addr: u64,
    region: CodeRegion,
    finalized: bool,
}

/// One engine's view of the kernel's executable pool.
pub struct KernelPool {
    live: Vec<LiveBlock>,
    released: usize,
    /// Most bytes this view may hold (the global pool's size when unlimited).
    budget: usize,
    used: usize,
}

impl Default for KernelPool {
    fn default() -> Self {
        Self::new()
    }
}

impl KernelPool {
    /// An empty view; blocks come from the global pool.
    pub fn new() -> KernelPool {
        KernelPool::with_budget(usize::MAX)
    }

    /// A view that refuses to hold more than `budget` bytes (the pool-full test).
    pub fn with_budget(budget: usize) -> KernelPool {
        KernelPool {
            live: Vec::new(),
            released: 0,
            budget,
            used: 0,
        }
    }
}

/// Every live JIT block, as (exec address, length).
pub fn blocks() -> Vec<(u64, u64)> {
    BLOCKS.lock().clone()
}

impl KernelPool {
    /// The live block `block` names.
    fn live_block(&mut self, block: &CodeBlock) -> Option<&mut LiveBlock> {
        self.live
            .iter_mut()
            .find(|b| b.exec_addr == block.exec_addr() as u64)
    }
}

// SAFETY: (1) every block is a region of the global pool that the pool's allocator hands
// out once until it is freed; (2) `write` copies only through `CodeRegion::write`, which
// checks the range against the region, into a live block not yet finalized; (3) the
// executable view maps the same frames read-only and is always mapped, `finalize` fences
// the writes and bumps GENERATION, and `KernelCodeSync` serializes each CPU before it runs
// new code (see the module documentation); finalized blocks are never written again;
// (4) `finalize` and `release` look the block up in `live` and refuse or ignore others.
unsafe impl ExecMemory for KernelPool {
    fn allocate(&mut self, len: usize) -> Result<CodeBlock, ExecMemError> {
        let pool =
            exec_pool::get().ok_or(ExecMemError::Protect("executable pool not initialized"))?;
        if self.used.saturating_add(len) > self.budget {
            return Err(ExecMemError::Exhausted {
                requested: len,
                free: self.budget - self.used,
            });
        }
        let region = pool.alloc(len.max(1) as u64, 16).map_err(|e| {
            let free = pool.stats().largest_free as usize;
            match e {
                bareflow_boot_model::pool::PoolError::OutOfSpace { largest_free, .. } => {
                    ExecMemError::Exhausted {
                        requested: len,
                        free: largest_free as usize,
                    }
                }
                _ => ExecMemError::Exhausted {
                    requested: len,
                    free,
                },
            }
        })?;
        let block = CodeBlock::new(region.exec_addr() as usize, len);
        self.used += region.len() as usize;
        BLOCKS.lock().push((region.exec_addr(), region.len()));
        self.live.push(LiveBlock {
            exec_addr: region.exec_addr(),
            region,
            finalized: false,
        });
        Ok(block)
    }

    fn write(
        &mut self,
        block: &CodeBlock,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), ExecMemError> {
        let live = self
            .live_block(block)
            .filter(|b| !b.finalized)
            .ok_or(ExecMemError::UnknownBlock)?;
        let block_len = live.region.len() as usize;
        live.region
            .write(offset as u64, bytes)
            .map_err(|_| ExecMemError::OutOfBlock {
                offset,
                len: bytes.len(),
                block_len,
            })
    }

    fn finalize(&mut self, block: &CodeBlock) -> Result<(), ExecMemError> {
        self.live_block(block)
            .ok_or(ExecMemError::UnknownBlock)?
            .finalized = true;
        // The executable view is read-only and always mapped: nothing to flip. Make the
        // bytes visible to every CPU, then announce new code (see step 2 above).
        core::sync::atomic::fence(Ordering::SeqCst);
        GENERATION.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn release(&mut self, block: CodeBlock) {
        let addr = block.exec_addr() as u64;
        if let Some(i) = self.live.iter().position(|b| b.exec_addr == addr) {
            let region = self.live.swap_remove(i).region;
            self.used = self.used.saturating_sub(region.len() as usize);
            BLOCKS.lock().retain(|(a, _)| *a != addr);
            if let Some(pool) = exec_pool::get() {
                pool.free(region);
            }
            self.released += 1;
        }
    }

    fn stats(&self) -> PoolStats {
        let s = exec_pool::get().map(|p| p.stats()).unwrap_or_default();
        PoolStats {
            capacity: (s.capacity as usize).min(self.budget),
            used: s.used as usize,
            blocks: self.live.len(),
            released: self.released,
        }
    }
}
