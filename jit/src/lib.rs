//! BareFlow's JIT: the kernel IR, the T0 interpreter and the Cranelift tiers.
//!
//! `no_std + alloc`; the `std` feature adds host conveniences (mmap executable memory,
//! a monotonic clock, CPU feature detection, `Engine::host`).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod ast;
mod bytecode;
mod codegen;
mod cpu;
mod diag;
mod engine;
mod events;
#[cfg(feature = "std")]
mod host_mem;
mod interp;
mod ir;
mod lexer;
mod libcalls;
mod mem;
mod parser;
mod sync;
mod types;
mod values;
mod verify;

pub use cpu::CpuFeatures;
pub use diag::Diagnostic;
pub use engine::{CompileError, CompileStats, Engine, EngineConfig, FuncId, LoadError, MAX_FUNCS, ModuleId};
pub use events::{Clock, Event, NullClock, NullSink, TraceSink};
#[cfg(feature = "std")]
pub use events::StdClock;
#[cfg(feature = "std")]
pub use host_mem::HostExecMemory;
pub use ir::Module;
pub use mem::{CodeBlock, ExecMemError, ExecMemory, PoolStats};
pub use types::{Elem, ParamTy, Ty};
pub use values::{Arg, Tier, Trap, TrapKind, Value};

use alloc::string::{String, ToString};

/// Parses and verifies a module. `file` names it in diagnostics; the module's name is the
/// file stem (`matmul` for `ir-modules/matmul.bfir`).
pub fn parse_module(file: &str, src: &str) -> Result<Module, Diagnostic> {
    let name = module_name(file);
    let to_diag = |e: diag::PosError| Diagnostic { file: file.to_string(), line: e.pos.line, col: e.pos.col, reason: e.reason };
    let toks = lexer::tokenize(src).map_err(to_diag)?;
    let ast = parser::Parser::new(toks).module().map_err(to_diag)?;
    verify::check_module(&name, file, ast).map_err(to_diag)
}

fn module_name(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base.strip_suffix(".bfir").unwrap_or(base);
    stem.to_string()
}
