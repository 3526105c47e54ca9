//! Executable memory: the boundary trait the embedder implements (host: mmap with
//! `mprotect`, [`super::host_memory`]; kernel: its doubly mapped pool).
//!
//! `jit` never writes through a pointer it got from the embedder: it hands the bytes to
//! [`ExecMemory::write`], which checks the block and the range. It does jump to the code
//! it wrote, at the address the embedder gave, so the trait is `unsafe` to implement: an
//! implementation promises that what runs there is exactly what was written.

use core::fmt;

/// A reserved block of executable memory: an opaque handle made by the [`ExecMemory`]
/// that reserved it. It names where the block's code runs and how long it is; it grants
/// no access by itself (every access goes through the memory, which checks the handle).
#[derive(Debug, PartialEq, Eq)]
pub struct CodeBlock {
    exec_addr: usize,
    len: usize,
}

impl CodeBlock {
    /// The handle of a block of `len` bytes whose code runs at `exec_addr`. Only an
    /// [`ExecMemory`] implementation makes handles, for blocks it reserved.
    pub fn new(exec_addr: usize, len: usize) -> CodeBlock {
        CodeBlock { exec_addr, len }
    }

    /// Where the block's first byte is executed.
    pub fn exec_addr(&self) -> usize {
        self.exec_addr
    }

    /// The block's length in bytes (as requested from [`ExecMemory::allocate`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a block of no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Pool usage figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes the memory can hand out in all.
    pub capacity: usize,
    /// Bytes held by live blocks (rounded up to the memory's allocation unit).
    pub used: usize,
    /// Live blocks (allocated and not yet released).
    pub blocks: usize,
    /// Blocks released so far.
    pub released: usize,
}

/// Why executable memory refused a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecMemError {
    /// Not enough room for `requested` bytes.
    Exhausted {
        /// Bytes asked for.
        requested: usize,
        /// Bytes free at the time.
        free: usize,
    },
    /// The page protection could not be changed.
    Protect(&'static str),
    /// The handle names no block of this memory that is still writable (never reserved
    /// here, already finalized, or released).
    UnknownBlock,
    /// `len` bytes at `offset` do not fit in a block of `block_len` bytes.
    OutOfBlock {
        /// Byte offset of the write in the block.
        offset: usize,
        /// Bytes to write.
        len: usize,
        /// Size of the block in bytes.
        block_len: usize,
    },
}

#[cfg(feature = "std")]
impl std::error::Error for ExecMemError {}

impl fmt::Display for ExecMemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecMemError::Exhausted { requested, free } => {
                write!(
                    f,
                    "executable pool exhausted: {requested} bytes requested, {free} free"
                )
            }
            ExecMemError::Protect(why) => write!(f, "cannot change page protection: {why}"),
            ExecMemError::UnknownBlock => f.write_str("no writable code block with this handle"),
            ExecMemError::OutOfBlock {
                offset,
                len,
                block_len,
            } => write!(
                f,
                "{len} bytes at offset {offset} do not fit in a code block of {block_len} bytes"
            ),
        }
    }
}

/// Executable memory provided by the embedder.
///
/// The engine reserves a block, writes a unit's machine code into it, finalizes it,
/// publishes its entry and, once no CPU can run it any more (when the engine is dropped),
/// releases it.
///
/// # Safety
///
/// The engine jumps to code at the addresses this memory reports, so an implementation
/// must guarantee, for every block it hands out:
///
/// 1. `allocate(len)` returns a handle to `len` bytes at `exec_addr` that belong to that
///    block alone (no other block, and nothing outside the memory, overlaps them) until
///    the block is released.
/// 2. `write(block, offset, bytes)` stores `bytes` at `exec_addr + offset` (through
///    whatever mapping the memory uses) and returns an error, writing nothing, when the
///    handle is not a live, unfinalized block of this memory or the range does not fit in
///    the block. It never writes outside the block.
/// 3. After `finalize(block)` returns `Ok`, executing at any address of the block runs
///    the bytes written, as visible to instruction fetch on every CPU (together with
///    [`CodeSync`] where the CPUs need it), and those bytes stay unchanged until
///    `release`. No page is writable and executable at once (W^X).
/// 4. `finalize` and `release` do nothing harmful for a handle that names no live block of
///    this memory (they return an error or ignore it); `release` frees only the block's
///    own bytes.
pub unsafe trait ExecMemory: Send {
    /// Reserves `len` bytes; they run at the returned block's `exec_addr` once written
    /// and finalized (the kernel maps the same frames twice; the host mmap uses one
    /// address).
    fn allocate(&mut self, len: usize) -> Result<CodeBlock, ExecMemError>;
    /// Copies `bytes` into the block at `offset`, checked (see the contract above).
    fn write(&mut self, block: &CodeBlock, offset: usize, bytes: &[u8])
    -> Result<(), ExecMemError>;
    /// The bytes are written: make the block executable, never writable+executable at once.
    fn finalize(&mut self, block: &CodeBlock) -> Result<(), ExecMemError>;
    /// The code is unreachable and no CPU can be running it any more.
    fn release(&mut self, block: CodeBlock);
    /// Current usage figures.
    fn stats(&self) -> PoolStats;
}

/// Cross-modifying-code hook of the embedder: `before_enter` runs on the calling CPU
/// after it loaded a compiled entry and before it jumps there. Code is published by
/// another CPU, so the caller must execute a serializing instruction before it runs
/// code it has not synchronized with yet (Intel SDM, cross-modifying code); the
/// embedder tracks per CPU which code generation it last serialized for, so the
/// common case is one atomic load. Not called for T0 (the interpreter).
pub trait CodeSync: Send + Sync {
    /// Serializes the calling CPU if code was published since it last did.
    fn before_enter(&self);
}
