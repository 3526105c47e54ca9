//! Host executable memory on mmap with W^X: each block is its own mapping, mapped
//! read+write, filled, then flipped to read+execute with `mprotect`. No page is ever
//! writable and executable at once.

use super::exec_memory::{CodeBlock, ExecMemError, ExecMemory, PoolStats};

const PAGE: usize = 4096;

/// A live mapping: its address, the length its block was reserved with, and whether it
/// was flipped to read+execute.
struct Mapping {
    addr: usize,
    len: usize,
    executable: bool,
}

/// An mmap-backed pool with a byte budget.
pub struct HostExecMemory {
    capacity: usize,
    used: usize,
    released: usize,
    live: Vec<Mapping>,
}

impl HostExecMemory {
    /// A pool that refuses allocations beyond `capacity` bytes (page-rounded).
    pub fn new(capacity: usize) -> HostExecMemory {
        HostExecMemory {
            capacity,
            used: 0,
            released: 0,
            live: Vec::new(),
        }
    }

    /// The live mapping `block` names (same address and length), if any.
    fn mapping(&self, block: &CodeBlock) -> Option<usize> {
        self.live
            .iter()
            .position(|m| m.addr == block.exec_addr() && m.len == block.len())
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

// SAFETY: every block is a private anonymous mapping of its own (rule 1); `write` copies
// only into a live, still read+write mapping, within the length the block was reserved
// with (rule 2); `finalize` flips exactly that mapping to read+execute with `mprotect`,
// after the bytes were stored, and nothing here writes to it again before `release`
// unmaps it (rule 3); `finalize` and `release` act only on mappings found in `live`
// (rule 4).
unsafe impl ExecMemory for HostExecMemory {
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
        self.live.push(Mapping {
            addr: p as usize,
            len,
            executable: false,
        });
        Ok(CodeBlock::new(p as usize, len))
    }

    fn write(
        &mut self,
        block: &CodeBlock,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), ExecMemError> {
        let m = self
            .mapping(block)
            .map(|i| &self.live[i])
            .filter(|m| !m.executable)
            .ok_or(ExecMemError::UnknownBlock)?;
        if offset
            .checked_add(bytes.len())
            .is_none_or(|end| end > m.len)
        {
            return Err(ExecMemError::OutOfBlock {
                offset,
                len: bytes.len(),
                block_len: m.len,
            });
        }
        // SAFETY: the mapping is live and read+write, and [offset, offset + len) lies
        // within the `m.len <= mapped size` bytes reserved for it; `bytes` is a separate
        // Rust slice, so the ranges do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (m.addr as *mut u8).add(offset),
                bytes.len(),
            )
        };
        Ok(())
    }

    fn finalize(&mut self, block: &CodeBlock) -> Result<(), ExecMemError> {
        let i = self.mapping(block).ok_or(ExecMemError::UnknownBlock)?;
        let m = &mut self.live[i];
        // SAFETY: the mapping was created by `allocate` with exactly this (rounded) size.
        let r = unsafe {
            libc::mprotect(
                m.addr as *mut libc::c_void,
                round(m.len),
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if r != 0 {
            return Err(ExecMemError::Protect("mprotect(R+X) failed"));
        }
        m.executable = true;
        Ok(())
    }

    fn release(&mut self, block: CodeBlock) {
        let Some(i) = self.mapping(&block) else {
            return;
        };
        let m = self.live.swap_remove(i);
        // SAFETY: the caller guarantees no CPU runs this code any more; the mapping is
        // ours (found in `live`, removed from it now) and has this (rounded) size.
        unsafe {
            libc::munmap(m.addr as *mut libc::c_void, round(m.len));
        }
        self.used = self.used.saturating_sub(round(m.len));
        self.released += 1;
    }

    fn stats(&self) -> PoolStats {
        PoolStats {
            capacity: self.capacity,
            used: self.used,
            blocks: self.live.len(),
            released: self.released,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mov eax, 42; ret`
    const RET42: [u8; 6] = [0xb8, 42, 0, 0, 0, 0xc3];

    #[test]
    fn written_code_runs_after_finalize() {
        let mut mem = HostExecMemory::new(1 << 20);
        let block = mem.allocate(RET42.len()).expect("allocate");
        mem.write(&block, 0, &RET42).expect("write");
        mem.finalize(&block).expect("finalize");
        // SAFETY: the block holds exactly RET42 (a complete function of this type), is
        // executable after `finalize`, and stays mapped until `release` below.
        let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(block.exec_addr()) };
        assert_eq!(f(), 42);
        mem.release(block);
        assert_eq!(mem.stats().blocks, 0);
    }

    #[test]
    fn writes_outside_the_block_are_refused() {
        let mut mem = HostExecMemory::new(1 << 20);
        let block = mem.allocate(8).expect("allocate");
        // the mapping is a whole page, but the block is 8 bytes: the check uses the block
        assert_eq!(
            mem.write(&block, 4, &[0; 5]),
            Err(ExecMemError::OutOfBlock {
                offset: 4,
                len: 5,
                block_len: 8
            })
        );
        assert!(matches!(
            mem.write(&block, usize::MAX, &[0; 2]),
            Err(ExecMemError::OutOfBlock { .. })
        ));
        assert_eq!(mem.write(&block, 0, &[0xc3; 8]), Ok(()));
        mem.release(block);
    }

    #[test]
    fn handles_of_other_blocks_are_refused() {
        let mut mem = HostExecMemory::new(1 << 20);
        let block = mem.allocate(64).expect("allocate");
        // a handle the memory never made, or one claiming more than the block has
        let forged = CodeBlock::new(block.exec_addr() + 4096, 64);
        let longer = CodeBlock::new(block.exec_addr(), 4096);
        assert_eq!(mem.write(&forged, 0, &[0]), Err(ExecMemError::UnknownBlock));
        assert_eq!(mem.write(&longer, 0, &[0]), Err(ExecMemError::UnknownBlock));
        assert_eq!(mem.finalize(&forged), Err(ExecMemError::UnknownBlock));
        mem.release(forged);
        assert_eq!(mem.stats().blocks, 1);
        assert_eq!(mem.stats().released, 0);
        // finalized code is never written again
        mem.finalize(&block).expect("finalize");
        assert_eq!(mem.write(&block, 0, &[0]), Err(ExecMemError::UnknownBlock));
        mem.release(block);
        assert_eq!(mem.stats().released, 1);
    }
}
