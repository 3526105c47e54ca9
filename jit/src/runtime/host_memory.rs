//! Host executable memory on mmap with W^X: each block is mapped read+write, filled, then
//! flipped to read+execute with mprotect. No page is ever writable and executable at once.

use super::exec_memory::{CodeBlock, ExecMemError, ExecMemory, PoolStats};

const PAGE: usize = 4096;

/// An mmap-backed pool with a byte budget.
pub struct HostExecMemory {
    capacity: usize,
    used: usize,
    blocks: usize,
    released: usize,
}

impl HostExecMemory {
    /// A pool that refuses allocations beyond `capacity` bytes (page-rounded).
    pub fn new(capacity: usize) -> HostExecMemory {
        HostExecMemory {
            capacity,
            used: 0,
            blocks: 0,
            released: 0,
        }
    }
}

impl Default for HostExecMemory {
    fn default() -> Self {
        Self::new(256 << 20)
    }
}

fn round(len: usize) -> usize {
    len.max(1).div_ceil(PAGE) * PAGE
}

impl ExecMemory for HostExecMemory {
    fn allocate(&mut self, len: usize) -> Result<CodeBlock, ExecMemError> {
        let size = round(len);
        let free = self.capacity.saturating_sub(self.used);
        if size > free {
            return Err(ExecMemError::Exhausted {
                requested: len,
                free,
            });
        }
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing has no
        // effect on existing memory.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(ExecMemError::Exhausted {
                requested: len,
                free,
            });
        }
        self.used += size;
        self.blocks += 1;
        Ok(CodeBlock {
            write_ptr: p as *mut u8,
            exec_addr: p as usize,
            len,
        })
    }

    fn finalize(&mut self, block: &CodeBlock) -> Result<(), ExecMemError> {
        // SAFETY: the block is a mapping this pool created with exactly this (rounded) size.
        let r = unsafe {
            libc::mprotect(
                block.write_ptr as *mut libc::c_void,
                round(block.len),
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if r != 0 {
            return Err(ExecMemError::Protect("mprotect(R+X) failed"));
        }
        Ok(())
    }

    fn release(&mut self, block: CodeBlock) {
        // SAFETY: the caller guarantees no CPU runs this code any more; the mapping is ours.
        unsafe {
            libc::munmap(block.write_ptr as *mut libc::c_void, round(block.len));
        }
        self.used = self.used.saturating_sub(round(block.len));
        self.blocks = self.blocks.saturating_sub(1);
        self.released += 1;
    }

    fn stats(&self) -> PoolStats {
        PoolStats {
            capacity: self.capacity,
            used: self.used,
            blocks: self.blocks,
            released: self.released,
        }
    }
}
