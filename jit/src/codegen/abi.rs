//! The calling conventions of compiled code and the names a unit's functions use.
//!
//! * Native ABI of a lowered function (SystemV):
//!   `(depth: i32, stack_limit: i64, params...) -> (status: i32[, value])`, where a buffer
//!   parameter is two i64 values (pointer, length) and `bool` is i8. `status` is 0 or a
//!   trap code ([`crate::ir::TrapKind`]); a caller that sees a non-zero status returns it at
//!   once. At entry a function traps `CallDepth` when `depth` exceeds the IR call-depth
//!   limit or when less than [`STACK_RESERVE`] bytes of native stack remain above
//!   `stack_limit` (0: unchecked).
//! * Entry trampoline ([`EntryFn`]):
//!   `extern "C" fn(args: *const u64, ret: *mut u64, stack_limit: usize) -> u32`.
//!   `args` holds the raw arguments (scalars as bits; buffers as pointer, length);
//!   `stack_limit` is the lowest stack address the code may use (0: unknown, see
//!   `runtime::stack_limit`); the return value is 0, a trap code, or [`GUARD_MISS`].
//! * Names: every function of a unit is a `UserExternalName` (namespace, index):
//!   [`NS_FUNC`] for the module's functions (index = function index), [`NS_LIB`] for
//!   `math::libcalls` (index = `Libcall` index), [`NS_SPEC`] for the specialized root
//!   and [`NS_TRAMP`] for the trampoline; [`NS_TABLE`] names the module's tables (data,
//!   index = table index).

use crate::ir::{Function, ParamTy, Ty};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::Imm64;
use cranelift_codegen::ir::{
    AbiParam, ExtFuncData, ExternalName, FuncRef, GlobalValueData, InstBuilder, Signature, Type,
    UserExternalName, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

/// Status a specialized entry returns when its guard fails (the caller runs T2 instead).
pub const GUARD_MISS: u32 = 0xFFFF_FFFF;

/// Entry trampoline ABI (see the module documentation).
pub type EntryFn = unsafe extern "C" fn(*const u64, *mut u64, usize) -> u32;

/// Bytes of stack every compiled function keeps free above the embedder's limit when it
/// is entered: room for the frame of any function it calls ([`MAX_FRAME`], checked for
/// every compiled function) plus the deepest libcall ([`LIBCALL_STACK`]).
pub const STACK_RESERVE: usize = MAX_FRAME + LIBCALL_STACK;

/// Largest native frame a compiled function may have (return address, saved frame pointer,
/// callee-saved registers, spill slots, outgoing arguments). Read back from Cranelift after
/// each compilation; a function with a larger frame is not compiled at that tier (it stays
/// at the tier below), so the entry check with [`STACK_RESERVE`] always covers its callee.
pub const MAX_FRAME: usize = 24 * 1024;

/// Stack the math routines compiled code calls may use (`libcalls`, `mathf`, `libm`):
/// measured at 592 bytes in a debug build, every routine with large arguments too
/// (`examples/stack_use.rs`); 8 KiB leaves a wide margin.
pub const LIBCALL_STACK: usize = 8 * 1024;

/// Namespace of the module's functions.
pub const NS_FUNC: u32 = 0;
/// Namespace of the math libcalls.
pub const NS_LIB: u32 = 1;
/// Namespace of the specialized root (calls inside the unit go to the general version).
pub const NS_SPEC: u32 = 2;
/// Namespace of the entry trampoline.
pub const NS_TRAMP: u32 = 3;
/// Namespace of the module's read-only tables (`const` arrays): their addresses are
/// relocations (`Abs8`), resolved by the linker, so the code bytes do not depend on where
/// the tables live.
pub const NS_TABLE: u32 = 4;

/// The address of table `index` of the module, as an `Abs8` relocation the linker fills.
pub fn table_address(builder: &mut FunctionBuilder, index: u32) -> Value {
    let name = builder
        .func
        .params
        .ensure_user_func_name(UserExternalName::new(NS_TABLE, index));
    let gv = builder.func.create_global_value(GlobalValueData::Symbol {
        name: ExternalName::user(name),
        offset: Imm64::new(0),
        colocated: false,
        tls: false,
    });
    builder.ins().symbol_value(types::I64, gv)
}

/// The Cranelift type of an IR scalar type (`bool` and unit are i8).
pub fn cl_type(t: Ty) -> Type {
    match t {
        Ty::I32 => types::I32,
        Ty::I64 => types::I64,
        Ty::F32 => types::F32,
        Ty::F64 => types::F64,
        Ty::Bool | Ty::Unit => types::I8,
    }
}

/// The native signature of a lowered function.
pub fn native_sig(f: &Function) -> Signature {
    let mut s = Signature::new(CallConv::SystemV);
    s.params.push(AbiParam::new(types::I32));
    s.params.push(AbiParam::new(types::I64));
    for p in &f.params {
        match p {
            ParamTy::Scalar(t) => s.params.push(AbiParam::new(cl_type(*t))),
            ParamTy::Buf { .. } => {
                s.params.push(AbiParam::new(types::I64));
                s.params.push(AbiParam::new(types::I64));
            }
        }
    }
    s.returns.push(AbiParam::new(types::I32));
    if f.ret != Ty::Unit {
        s.returns.push(AbiParam::new(cl_type(f.ret)));
    }
    s
}

/// The signature of the entry trampoline ([`EntryFn`]).
pub fn entry_sig() -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Declares the external function (namespace, index) with `sig` in the function being
/// built; `colocated`: in the same code unit (a direct call), else resolved by the linker.
pub fn import_function(
    builder: &mut FunctionBuilder,
    ns: u32,
    index: u32,
    sig: Signature,
    colocated: bool,
) -> FuncRef {
    let sr = builder.import_signature(sig);
    let name = builder
        .func
        .declare_imported_user_function(UserExternalName::new(ns, index));
    builder.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: sr,
        colocated,
        patchable: false,
    })
}

/// Whether less than [`STACK_RESERVE`] bytes of stack remain above `stack_limit` (an i8
/// condition). A limit of 0 never trips: the stack pointer is far above the reserve.
pub fn stack_low(b: &mut FunctionBuilder, stack_limit: Value) -> Value {
    let sp = b.ins().get_stack_pointer(types::I64);
    let floor = b.ins().iadd_imm_s(stack_limit, STACK_RESERVE as i64);
    b.ins().icmp(IntCC::UnsignedGreaterThan, floor, sp)
}
