//! The entry trampoline of a unit:
//! `extern "C" fn(args: *const u64, ret: *mut u64, stack_limit: usize) -> u32`
//! ([`super::abi::EntryFn`]). It checks the native stack (the entry function's frame must
//! fit, as every function checks for its callees), unpacks the raw argument words, checks
//! a specialized unit's guard (the stable arguments compared bit for bit with the values
//! the code was specialized for; a mismatch returns [`GUARD_MISS`]), calls the entry
//! function at depth 1 and stores its result.

use super::abi::{GUARD_MISS, NS_FUNC, NS_SPEC, cl_type, import_function, native_sig, stack_low};
use crate::ir::{Function as IrFunction, ParamTy, TrapKind, Ty};
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Function, InstBuilder, MemFlagsData, types};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

/// Builds the trampoline of function `fi` (IR `f`) into `func`, whose signature must be
/// [`super::abi::entry_sig`]. `spec`: the (parameter index, value bits) the unit's root is
/// specialized on (empty: no guard, the root is the general `NS_FUNC` version).
pub(super) fn build(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    f: &IrFunction,
    fi: usize,
    spec: &[(usize, u64)],
    frontend: TargetFrontendConfig,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let args = b.block_params(entry)[0];
    let retp = b.block_params(entry)[1];
    let stack_limit = b.block_params(entry)[2];
    // the entry function's frame must fit: the same test every function makes
    let low = stack_low(&mut b, stack_limit);
    let deep = b.create_block();
    let go = b.create_block();
    b.set_cold_block(deep);
    b.ins().brif(low, deep, &[], go, &[]);
    b.switch_to_block(deep);
    let code = b
        .ins()
        .iconst(types::I32, TrapKind::CallDepth.code() as i64);
    b.ins().return_(&[code]);
    b.switch_to_block(go);
    let fl = MemFlagsData::trusted();
    let mut vals = Vec::new();
    vals.push(b.ins().iconst(types::I32, 1));
    vals.push(stack_limit);
    let mut k = 0i32;
    let mut guards = Vec::new();
    for (pi, p) in f.params.iter().enumerate() {
        match p {
            ParamTy::Scalar(t) => {
                let v = b.ins().load(cl_type(*t), fl, args, k * 8);
                if let Some((_, bits)) = spec.iter().find(|(i, _)| *i == pi) {
                    // floats are compared bit for bit (through an integer load):
                    // the code was specialized on exactly those bits
                    let (raw, c) = match t {
                        Ty::I64 => (v, b.ins().iconst(types::I64, *bits as i64)),
                        Ty::I32 => (v, b.ins().iconst(types::I32, *bits as u32 as i32 as i64)),
                        Ty::F64 => (
                            b.ins().load(types::I64, fl, args, k * 8),
                            b.ins().iconst(types::I64, *bits as i64),
                        ),
                        Ty::F32 => (
                            b.ins().load(types::I32, fl, args, k * 8),
                            b.ins().iconst(types::I32, *bits as u32 as i32 as i64),
                        ),
                        _ => (v, b.ins().iconst(types::I8, (*bits & 0xff) as i64)),
                    };
                    let ne = b.ins().icmp(IntCC::NotEqual, raw, c);
                    guards.push(ne);
                }
                vals.push(v);
                k += 1;
            }
            ParamTy::Buf { .. } => {
                vals.push(b.ins().load(types::I64, fl, args, k * 8));
                vals.push(b.ins().load(types::I64, fl, args, (k + 1) * 8));
                k += 2;
            }
        }
    }
    if !guards.is_empty() {
        let mut miss = guards[0];
        for g in &guards[1..] {
            miss = b.ins().bor(miss, *g);
        }
        let missb = b.create_block();
        let go = b.create_block();
        b.set_cold_block(missb);
        b.ins().brif(miss, missb, &[], go, &[]);
        b.switch_to_block(missb);
        let gm = b.ins().iconst(types::I32, GUARD_MISS as i32 as i64);
        b.ins().return_(&[gm]);
        b.switch_to_block(go);
    }
    let (ns, idx) = if spec.is_empty() {
        (NS_FUNC, fi as u32)
    } else {
        (NS_SPEC, 0)
    };
    let fr = import_function(&mut b, ns, idx, native_sig(f), true);
    let call = b.ins().call(fr, &vals);
    let res = b.inst_results(call).to_vec();
    if f.ret != Ty::Unit {
        b.ins().store(fl, res[1], retp, 0);
    }
    b.ins().return_(&[res[0]]);
    b.seal_all_blocks();
    b.finalize(frontend);
}
