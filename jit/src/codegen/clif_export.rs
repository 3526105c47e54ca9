//! The Cranelift IR of a compiled unit, for host-side comparisons (`std` only).
//!
//! [`Engine::cranelift_ir`](crate::Engine::cranelift_ir) hands out exactly the Cranelift
//! functions `jit` compiles for a tier (before Cranelift's own passes), so that another
//! linker, such as `cranelift-jit` + `cranelift-module`, can compile and run the same code.
//!
//! Naming: every function of the unit has a [`UserExternalName`] (`namespace`, `index`)
//! under which the other functions of the unit call it, and a unique symbol. Calls to
//! `jit`'s math routines use [`ClifLibcall::name`]; the routines' addresses are given, so
//! the other linker resolves them to the very same code (results stay bit-identical).
//! Cranelift's backend may also emit its own libcalls (`ceil`/`floor`/`trunc`/`nearest`
//! without SSE4.1, `fma` without FMA): [`ClifUnit::backend_libcalls`] lists them.
//!
//! Calling convention: the entry trampoline (`functions[entry]`) is
//! `extern "C" fn(args: *const u64, ret: *mut u64, stack_limit: usize) -> u32`; `args` are
//! the words [`Engine::raw_args`](crate::Engine::raw_args) produces, `stack_limit` the
//! lowest stack address the code may use (0: unchecked; on the host
//! [`ThreadStackLimit`](crate::ThreadStackLimit) gives it), and
//! [`Engine::decode_result`](crate::Engine::decode_result) turns the status (0 or a trap
//! code) and the result bits stored at `ret` into the call's outcome.

use super::UnitIr;
use super::abi::{NS_FUNC, NS_LIB, NS_TABLE, NS_TRAMP};
use super::link::cranelift_libcall;
use crate::math::libcalls::Libcall;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cranelift_codegen::ir::{Function, LibCall, Signature, UserExternalName};
use cranelift_codegen::isa::TargetIsa;

/// One function of a unit.
#[derive(Clone)]
pub struct ClifFunction {
    /// How the unit's functions refer to it (their `UserExternalName` imports).
    pub name: UserExternalName,
    /// A symbol unique within the unit.
    pub symbol: String,
    /// True for the entry trampoline (the only function called from outside the unit).
    pub exported: bool,
    /// The function, ready for `Context::compile` / `Module::define_function`.
    pub func: Function,
}

/// One of `jit`'s math routines the unit calls.
#[derive(Clone, Debug)]
pub struct ClifLibcall {
    /// How the unit's functions refer to it.
    pub name: UserExternalName,
    /// Its symbol name.
    pub symbol: &'static str,
    /// Its address in this process.
    pub address: usize,
    /// Its signature (`extern "C"`, float arguments and result).
    pub signature: Signature,
}

/// One of the module's read-only tables the unit reads (a data symbol).
#[derive(Clone, Debug)]
pub struct ClifTable {
    /// How the unit's functions refer to it.
    pub name: UserExternalName,
    /// A symbol name for it.
    pub symbol: String,
    /// Its address in this process (the loaded module's table data).
    pub address: usize,
}

/// The Cranelift IR of one function at one tier, with everything needed to link it.
pub struct ClifUnit {
    /// The ISA (flags and CPU features) the tier compiles with.
    pub isa: Arc<dyn TargetIsa>,
    /// The trampoline, the function itself, and every function it can reach.
    pub functions: Vec<ClifFunction>,
    /// Index of the entry trampoline in `functions`.
    pub entry: usize,
    /// `jit` routines referenced by the functions.
    pub libcalls: Vec<ClifLibcall>,
    /// Cranelift backend libcalls `jit`'s linker resolves: (libcall, symbol, address).
    pub backend_libcalls: Vec<(LibCall, &'static str, usize)>,
    /// The module's tables the functions read (their addresses are `Abs8` relocations).
    pub tables: Vec<ClifTable>,
}

impl ClifUnit {
    /// Turns the unit IR of `func_name` into a [`ClifUnit`]; `table_addresses` are the
    /// addresses of the module's tables.
    pub(crate) fn new(
        func_name: &str,
        ir: UnitIr,
        isa: Arc<dyn TargetIsa>,
        table_addresses: &[usize],
    ) -> ClifUnit {
        let mut functions = Vec::with_capacity(ir.funcs.len());
        let mut libcalls: Vec<ClifLibcall> = Vec::new();
        let mut tables: Vec<ClifTable> = Vec::new();
        for (ns, index, func) in ir.funcs {
            for n in func.params.user_named_funcs().values() {
                if n.namespace == NS_TABLE && !tables.iter().any(|t| t.name == *n) {
                    if let Some(&address) = table_addresses.get(n.index as usize) {
                        tables.push(ClifTable {
                            name: n.clone(),
                            symbol: format!("bf_table{}_{func_name}", n.index),
                            address,
                        });
                    }
                    continue;
                }
                if n.namespace != NS_LIB || libcalls.iter().any(|l| l.name == *n) {
                    continue;
                }
                if let Some(lc) = Libcall::from_index(n.index) {
                    libcalls.push(ClifLibcall {
                        name: n.clone(),
                        symbol: lc.symbol(),
                        address: lc.address(),
                        signature: lc.signature(),
                    });
                }
            }
            let symbol = if ns == NS_TRAMP {
                format!("bf_entry_{func_name}")
            } else if ns == NS_FUNC {
                format!("bf_fn{index}_{func_name}")
            } else {
                format!("bf_ns{ns}_{index}_{func_name}")
            };
            functions.push(ClifFunction {
                name: UserExternalName::new(ns, index),
                symbol,
                exported: ns == NS_TRAMP,
                func,
            });
        }
        let backend_libcalls = [
            LibCall::CeilF32,
            LibCall::CeilF64,
            LibCall::FloorF32,
            LibCall::FloorF64,
            LibCall::TruncF32,
            LibCall::TruncF64,
            LibCall::NearestF32,
            LibCall::NearestF64,
            LibCall::FmaF32,
            LibCall::FmaF64,
        ]
        .into_iter()
        .filter_map(|lc| cranelift_libcall(lc).map(|l| (lc, l.symbol(), l.address())))
        .collect();
        ClifUnit {
            isa,
            functions,
            entry: 0,
            libcalls,
            backend_libcalls,
            tables,
        }
    }
}
