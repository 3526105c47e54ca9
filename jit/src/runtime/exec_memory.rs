//! Executable memory: the trait the embedder implements (host: mmap, kernel: its pool).

use core::fmt;

/// A reserved block: code is written at `write_ptr` and runs at `exec_addr`.
#[derive(Debug)]
pub struct CodeBlock {
    pub write_ptr: *mut u8,
    pub exec_addr: usize,
    pub len: usize,
}

// SAFETY: a CodeBlock is a plain description of memory owned by an ExecMemory; moving it
// between threads moves no access rights beyond those the ExecMemory hands out.
unsafe impl Send for CodeBlock {}
// SAFETY: as above; the block is only written before `finalize`, by the compiling thread.
unsafe impl Sync for CodeBlock {}

/// Pool usage figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub capacity: usize,
    pub used: usize,
    pub blocks: usize,
    pub released: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecMemError {
    Exhausted { requested: usize, free: usize },
    Protect(&'static str),
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
        }
    }
}

/// Executable memory provided by the embedder.
pub trait ExecMemory: Send {
    /// Reserve `len` bytes: code is written at `write_ptr` and will run at `exec_addr`
    /// (the kernel maps the same frames twice; the host mmap uses one address).
    fn allocate(&mut self, len: usize) -> Result<CodeBlock, ExecMemError>;
    /// The bytes are written: make the block executable, never writable+executable at once.
    fn finalize(&mut self, block: &CodeBlock) -> Result<(), ExecMemError>;
    /// The code is unreachable and no CPU can be running it any more.
    fn release(&mut self, block: CodeBlock);
    fn stats(&self) -> PoolStats;
}

/// Cross-modifying-code hook of the embedder: `before_enter` runs on the calling CPU
/// after it loaded a compiled entry and before it jumps there. Code is published by
/// another CPU, so the caller must execute a serializing instruction before it runs
/// code it has not synchronized with yet (Intel SDM, cross-modifying code); the
/// embedder tracks per CPU which code generation it last serialized for, so the
/// common case is one atomic load. Not called for T0 (the interpreter).
pub trait CodeSync: Send + Sync {
    fn before_enter(&self);
}
