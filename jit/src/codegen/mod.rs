//! T1–T3: lowering the typed IR to Cranelift IR, compiling, and linking into executable memory.

use crate::cpu::CpuFeatures;
use crate::engine::CompileError;
use crate::ir::Module;
use crate::mem::{CodeBlock, ExecMemory};
use crate::values::Tier;

/// Status a specialized entry returns when its guard fails (the caller runs T2 instead).
pub const GUARD_MISS: u32 = 0xFFFF_FFFF;

/// Entry trampoline ABI: `extern "C" fn(args: *const u64, ret: *mut u64) -> u32`.
/// `args` holds the raw arguments (scalars as bits; buffers as pointer, length); the return
/// value is 0, a trap code, or `GUARD_MISS`.
pub type EntryFn = unsafe extern "C" fn(*const u64, *mut u64) -> u32;

/// Linked, executable code for one function at one tier.
pub struct Compiled {
    pub block: CodeBlock,
    pub entry: usize,
    pub code_bytes: usize,
}

impl Compiled {
    /// Runs the entry trampoline. Returns (status, result bits).
    pub fn invoke(&self, raw: &[u64]) -> (u32, u64) {
        let mut ret = 0u64;
        // SAFETY: `entry` is the address of a finalized trampoline with the EntryFn ABI,
        // generated for this function's signature; the engine marshalled `raw` against that
        // signature, and the buffers it points to are borrowed for the whole call.
        let status = unsafe {
            let f: EntryFn = core::mem::transmute::<usize, EntryFn>(self.entry);
            f(raw.as_ptr(), &mut ret)
        };
        (status, ret)
    }

    pub fn into_block(self) -> CodeBlock {
        self.block
    }
}

/// The code generator: one Cranelift context, reused for every compilation.
pub struct CodeGen {
    features: CpuFeatures,
    depth_limit: u32,
}

impl CodeGen {
    pub fn new(features: CpuFeatures, depth_limit: u32) -> Result<CodeGen, CompileError> {
        Ok(CodeGen { features, depth_limit })
    }

    pub fn compile(
        &mut self,
        _m: &Module,
        _f: usize,
        tier: Tier,
        _spec: &[(usize, u64)],
        _mem: &mut dyn ExecMemory,
    ) -> Result<Compiled, CompileError> {
        let _ = (self.features, self.depth_limit);
        Err(CompileError::Unsupported(alloc::format!("{tier} is not implemented yet")))
    }
}
