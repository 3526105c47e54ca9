//! T1–T3: the typed IR to machine code, through Cranelift.
//!
//! A compilation unit is the requested function plus every function it can reach through
//! calls (each unit has private copies, so a unit never depends on another unit's code),
//! and an entry trampoline with the uniform [`EntryFn`] ABI ([`abi`]). For a specialized
//! T3 unit the trampoline first compares the stable arguments with the values the code was
//! specialized for and returns [`GUARD_MISS`] on a mismatch ([`trampoline`]).
//!
//! The pipeline of one function: [`analysis`] decides (which loops are versioned,
//! unrolled, vectorized, which nests run in vector lanes), [`lower`] emits the Cranelift
//! IR, Cranelift compiles it, and [`link`] lays the unit's functions out in one image and
//! resolves their relocations for the address the runtime places it at. Code generation
//! never touches executable memory: the runtime places the image (`runtime::code`).

#![deny(unsafe_code)]

mod abi;
mod analysis;
#[cfg(feature = "std")]
mod clif_export;
mod cpu_features;
mod isa;
mod link;
mod lower;
mod trampoline;

#[cfg(test)]
mod tests;

pub use abi::{EntryFn, GUARD_MISS, LIBCALL_STACK, MAX_FRAME, STACK_RESERVE};
#[cfg(feature = "std")]
pub use clif_export::{ClifFunction, ClifLibcall, ClifTable, ClifUnit};
pub use cpu_features::CpuFeatures;
pub use link::CodeUnit;

use crate::ir::walk::callees;
use crate::ir::{Module, Tier};
use abi::{NS_FUNC, NS_SPEC, NS_TRAMP};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_frontend::FunctionBuilderContext;
use link::Piece;
use lower::Opts;

/// Why a unit could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// Cranelift rejected the function, or the linker met a relocation it cannot resolve.
    Codegen(String),
    /// The request cannot be compiled at all (T0, an unknown function).
    Unsupported(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Codegen(s) => write!(f, "code generation failed: {s}"),
            CompileError::Unsupported(s) => write!(f, "unsupported: {s}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CompileError {}

/// The Cranelift IR of one compilation unit (see [`CodeGen::unit_ir`]).
#[cfg(feature = "std")]
pub struct UnitIr {
    /// (namespace, index, function); the first is the entry trampoline.
    pub funcs: Vec<(u32, u32, Function)>,
}

/// The code generator: one ISA per optimization level, one reused Cranelift context.
pub struct CodeGen {
    features: CpuFeatures,
    depth_limit: u32,
    isa_none: OwnedTargetIsa,
    isa_speed: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

/// Stack one call of a compiled function takes: return address and saved frame pointer,
/// then what the prologue allocates below the frame pointer (callee-saved registers, spill
/// slots and stack slots, outgoing arguments). Unknown layout: counted as over budget.
fn native_frame_bytes(layout: Option<&cranelift_codegen::MachBufferFrameLayout>) -> usize {
    layout.map_or(usize::MAX, |l| 16 + l.frame_to_fp_offset as usize)
}

impl CodeGen {
    pub fn new(features: CpuFeatures, depth_limit: u32) -> Result<CodeGen, CompileError> {
        Ok(CodeGen {
            features,
            depth_limit: depth_limit.max(1),
            isa_none: isa::make_isa(features, "none")?,
            isa_speed: isa::make_isa(features, "speed")?,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    /// What the lowering may do at `tier`.
    fn opts(&self, tier: Tier) -> Opts {
        Opts {
            hoist: tier >= Tier::T2,
            unroll: tier >= Tier::T3,
            vectorize: tier >= Tier::T3,
            inline_math: tier >= Tier::T2,
            hw_fma: self.features.has_hw_fma(),
            sse41: self.features.sse41,
            depth_limit: self.depth_limit,
        }
    }

    fn isa(&self, tier: Tier) -> Arc<dyn TargetIsa> {
        if tier == Tier::T1 {
            self.isa_none.clone()
        } else {
            self.isa_speed.clone()
        }
    }

    /// Compiles function `fi` of `m` (and its callees) at `tier` into a unit ready to be
    /// placed. `spec` (T3 only): (parameter index, value bits) to specialize on, behind a
    /// guard.
    pub fn compile(
        &mut self,
        m: &Module,
        fi: usize,
        tier: Tier,
        spec: &[(usize, u64)],
    ) -> Result<CodeUnit, CompileError> {
        if tier == Tier::T0 {
            return Err(CompileError::Unsupported("T0 is interpreted".into()));
        }
        let spec = if tier == Tier::T3 { spec } else { &[] };
        let opts = self.opts(tier);
        let isa = self.isa(tier);
        let mut pieces = Vec::new();
        // trampoline first, then the entry function, then the callees
        self.trampoline_ir(m, fi, spec, &*isa);
        pieces.push(self.finish(NS_TRAMP, 0, &*isa)?);
        let (entry_ns, entry_idx) = if spec.is_empty() {
            (NS_FUNC, fi as u32)
        } else {
            (NS_SPEC, 0)
        };
        pieces.push(self.function(m, fi, entry_ns, entry_idx, spec, opts, &*isa)?);
        for c in callees(m, fi) {
            if spec.is_empty() && c == fi {
                continue;
            }
            pieces.push(self.function(m, c, NS_FUNC, c as u32, &[], opts, &*isa)?);
        }
        let tables = m.tables.iter().map(|t| t.data.ptr() as usize).collect();
        Ok(CodeUnit::new(pieces, tables))
    }

    /// The Cranelift IR of the unit [`CodeGen::compile`] would build for (`fi`, `tier`),
    /// unspecialized, before Cranelift's own passes: the trampoline first, then the entry
    /// function, then its callees; each as (namespace, index, function). Also returns the
    /// ISA the tier compiles with.
    #[cfg(feature = "std")]
    pub fn unit_ir(
        &mut self,
        m: &Module,
        fi: usize,
        tier: Tier,
    ) -> Result<(UnitIr, Arc<dyn TargetIsa>), CompileError> {
        if tier == Tier::T0 {
            return Err(CompileError::Unsupported("T0 is interpreted".into()));
        }
        let opts = self.opts(tier);
        let isa = self.isa(tier);
        let mut funcs = Vec::new();
        self.trampoline_ir(m, fi, &[], &*isa);
        funcs.push((NS_TRAMP, 0, self.ctx.func.clone()));
        self.function_ir(m, fi, NS_FUNC, fi as u32, &[], opts, &*isa);
        funcs.push((NS_FUNC, fi as u32, self.ctx.func.clone()));
        for c in callees(m, fi) {
            if c == fi {
                continue;
            }
            self.function_ir(m, c, NS_FUNC, c as u32, &[], opts, &*isa);
            funcs.push((NS_FUNC, c as u32, self.ctx.func.clone()));
        }
        self.ctx.clear();
        Ok((UnitIr { funcs }, isa))
    }

    #[allow(clippy::too_many_arguments)]
    fn function(
        &mut self,
        m: &Module,
        fi: usize,
        ns: u32,
        index: u32,
        spec: &[(usize, u64)],
        opts: Opts,
        isa: &dyn TargetIsa,
    ) -> Result<Piece, CompileError> {
        self.function_ir(m, fi, ns, index, spec, opts, isa);
        self.finish(ns, index, isa)
    }

    /// Lowers function `fi` into `self.ctx.func`.
    #[allow(clippy::too_many_arguments)]
    fn function_ir(
        &mut self,
        m: &Module,
        fi: usize,
        ns: u32,
        index: u32,
        spec: &[(usize, u64)],
        opts: Opts,
        isa: &dyn TargetIsa,
    ) {
        self.ctx.clear();
        self.ctx.func = Function::with_name_signature(
            UserFuncName::user(ns, index),
            abi::native_sig(&m.funcs[fi]),
        );
        lower::lower_function(
            &mut self.ctx.func,
            &mut self.fctx,
            m,
            fi,
            spec,
            opts,
            isa.frontend_config(),
        );
    }

    /// Builds the entry trampoline of `fi` into `self.ctx.func`.
    fn trampoline_ir(&mut self, m: &Module, fi: usize, spec: &[(usize, u64)], isa: &dyn TargetIsa) {
        self.ctx.clear();
        self.ctx.func =
            Function::with_name_signature(UserFuncName::user(NS_TRAMP, 0), abi::entry_sig());
        trampoline::build(
            &mut self.ctx.func,
            &mut self.fctx,
            &m.funcs[fi],
            fi,
            spec,
            isa.frontend_config(),
        );
    }

    /// Compiles `self.ctx.func` to machine code with its relocations.
    fn finish(&mut self, ns: u32, index: u32, isa: &dyn TargetIsa) -> Result<Piece, CompileError> {
        let name = format!("{}", self.ctx.func.name);
        let names = self
            .ctx
            .func
            .params
            .user_named_funcs()
            .values()
            .map(|n| (n.namespace, n.index))
            .collect();
        let code = self
            .ctx
            .compile(isa, &mut ControlPlane::default())
            .map_err(|e| CompileError::Codegen(format!("{name}: {:?}", e.inner)))?;
        // every function checks at entry that STACK_RESERVE bytes remain for its callee's
        // frame: a function whose frame does not fit that budget is not compiled
        let frame = native_frame_bytes(code.buffer.frame_layout());
        if frame > MAX_FRAME {
            return Err(CompileError::Unsupported(format!(
                "{name}: a native frame of {frame} bytes exceeds the {MAX_FRAME}-byte budget"
            )));
        }
        Ok(Piece {
            ns,
            index,
            code: code.code_buffer().to_vec(),
            relocs: code.buffer.relocs().to_vec(),
            names,
        })
    }
}
