//! The cranelift-jit comparison column.
//!
//! The column is meant to time the kernel's own T2 Cranelift IR compiled and linked by
//! the upstream `cranelift-jit` + `cranelift-module` instead of the `jit` crate's linker.
//! That needs the `jit` crate to hand out the Cranelift IR it builds, which it does not
//! do yet. The hook this module needs (std only, in `jit`):
//!
//! ```text
//! pub struct ClifUnit {
//!     pub isa: Arc<dyn cranelift_codegen::isa::TargetIsa>,   // flags/features used for the tier
//!     pub functions: Vec<(UserExternalName, cranelift_codegen::ir::Function)>,
//!     pub entry: usize,                      // index of the EntryFn trampoline in `functions`
//!     pub libcalls: Vec<(UserExternalName, &'static str, usize)>,   // name, symbol, address
//! }
//! impl Engine {
//!     pub fn cranelift_ir(&self, f: FuncId, tier: Tier) -> Result<ClifUnit, CompileError>;
//!     pub fn marshal(&self, f: FuncId, args: &mut [Arg]) -> Result<Vec<u64>, Trap>;
//! }
//! ```
//!
//! With it, the variant declares every function in a `JITModule` (libcalls through
//! `JITBuilder::symbol`), finalizes, and calls the trampoline with the marshalled
//! arguments (`extern "C" fn(*const u64, *mut u64) -> u32`, status 0 = ok). Until then
//! the column reports why it is unavailable instead of timing anything.

/// Why the cranelift-jit variant cannot run.
pub fn unavailable_reason() -> String {
    "jit exposes no hook to obtain a kernel's Cranelift IR (see benches/src/cranelift.rs)"
        .to_string()
}
