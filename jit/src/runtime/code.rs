//! Code the engine published: a compiled unit placed in executable memory, and the one
//! way a call enters it.

use super::exec_memory::{CodeBlock, ExecMemError, ExecMemory};
use crate::codegen::{CodeUnit, CompileError, EntryFn};
use core::fmt;

/// Why a tier could not be built: the code generator failed, or the executable memory
/// refused the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Cranelift (or the lowering before it) rejected the function.
    Compile(CompileError),
    /// The executable memory had no room or could not write or protect the block.
    Pool(ExecMemError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Compile(e) => write!(f, "{e}"),
            BuildError::Pool(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BuildError {}

impl From<CompileError> for BuildError {
    fn from(e: CompileError) -> BuildError {
        BuildError::Compile(e)
    }
}

/// Linked, executable code for one function at one tier.
pub(crate) struct Compiled {
    pub block: CodeBlock,
    pub entry: usize,
    pub code_bytes: usize,
    /// [`CodeUnit::code_hash`] of the placed unit.
    pub code_hash: u64,
}

/// Places `unit` in `mem`: reserves a block, links the image for the block's executable
/// address, copies it in and makes it executable (W^X: written first, flipped by the
/// embedder's `finalize`). On any error the block is released again.
pub(crate) fn place(unit: &CodeUnit, mem: &mut dyn ExecMemory) -> Result<Compiled, BuildError> {
    let size = unit.size();
    let block = mem.allocate(size).map_err(BuildError::Pool)?;
    let base = block.exec_addr();
    let image = match unit.image_at(base) {
        Ok(image) => image,
        Err(e) => {
            mem.release(block);
            return Err(BuildError::Compile(e));
        }
    };
    if let Err(e) = mem.write(&block, 0, &image) {
        mem.release(block);
        return Err(BuildError::Pool(e));
    }
    if let Err(e) = mem.finalize(&block) {
        mem.release(block);
        return Err(BuildError::Pool(e));
    }
    Ok(Compiled {
        entry: base + unit.entry_offset(),
        code_bytes: size,
        code_hash: unit.code_hash(),
        block,
    })
}

impl Compiled {
    /// Runs the entry trampoline on the calling thread, whose stack ends at `stack_limit`
    /// (0: unknown). Returns (status, result bits).
    pub fn invoke(&self, raw: &[u64], stack_limit: usize) -> (u32, u64) {
        let mut ret = 0u64;
        // SAFETY: `entry` is the address of a finalized trampoline with the EntryFn ABI,
        // generated for this function's signature; the engine marshalled `raw` against that
        // signature, and the buffers it points to are borrowed for the whole call.
        let status = unsafe {
            let f: EntryFn = core::mem::transmute::<usize, EntryFn>(self.entry);
            f(raw.as_ptr(), &mut ret, stack_limit)
        };
        (status, ret)
    }

    pub fn into_block(self) -> CodeBlock {
        self.block
    }
}
