//! `Engine::cranelift_ir`: the exported Cranelift IR verifies, and compiled and linked by
//! cranelift-jit + cranelift-module it computes exactly what the engine's own T2 code does.

use std::collections::HashMap;

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use jit::cranelift_codegen::ir::UserExternalName;
use jit::{
    Arg, CpuFeatures, Engine, EngineConfig, FuncId, StackLimit, ThreadStackLimit, Tier, TrapKind,
    Value,
};

const SRC: &str = r#"
fn fib(n: i32) -> i32 {
    if n < 2 { return n; }
    return fib(n - 1) + fib(n - 2);
}
fn softmax(x: &mut [f32], n: i32) {
    let mx = x[0];
    for i in 1..n { mx = max(mx, x[i]); }
    let sum: f32 = 0.0;
    for i in 0..n {
        let e = exp(x[i] - mx);
        x[i] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for i in 0..n { x[i] *= inv; }
}
fn scaled_sum(a: &[f64], k: i64) -> f64 {
    let s: f64 = 0.0;
    for i in 0..len(a) { s += a[i] * (k as f64) + pow(a[i], 2.0); }
    return s + (fib(10) as f64);
}
"#;

type EntryFn = unsafe extern "C" fn(*const u64, *mut u64, usize) -> u32;

/// Links the unit of `f` at `tier` with cranelift-jit; returns the module and its entry.
fn link(engine: &Engine, f: FuncId, tier: Tier) -> (JITModule, EntryFn) {
    let unit = engine.cranelift_ir(f, tier).expect("cranelift_ir");
    assert_eq!(unit.entry, 0);
    assert!(unit.functions[unit.entry].exported);
    for cf in &unit.functions {
        jit::cranelift_codegen::verify_function(&cf.func, unit.isa.flags())
            .unwrap_or_else(|e| panic!("{} does not verify: {e}", cf.symbol));
    }
    let symbols: HashMap<String, usize> = unit
        .libcalls
        .iter()
        .map(|l| (l.symbol.to_string(), l.address))
        .chain(
            unit.backend_libcalls
                .iter()
                .map(|(_, s, a)| (s.to_string(), *a)),
        )
        .chain(unit.tables.iter().map(|t| (t.symbol.clone(), t.address)))
        .collect();
    let mut builder =
        JITBuilder::with_isa(unit.isa.clone(), cranelift_module::default_libcall_names());
    builder.symbol_lookup_fn(Box::new(move |n| symbols.get(n).map(|a| *a as *const u8)));
    let mut module = JITModule::new(builder);
    let mut ids = HashMap::new();
    let mut defs = Vec::new();
    for cf in &unit.functions {
        let linkage = if cf.exported {
            Linkage::Export
        } else {
            Linkage::Local
        };
        let id = module
            .declare_function(&cf.symbol, linkage, &cf.func.signature)
            .expect("declare");
        ids.insert(cf.name.clone(), UserExternalName::new(0, id.as_u32()));
        defs.push(id);
    }
    for l in &unit.libcalls {
        let id = module
            .declare_function(l.symbol, Linkage::Import, &l.signature)
            .expect("declare libcall");
        ids.insert(l.name.clone(), UserExternalName::new(0, id.as_u32()));
    }
    // tables are data objects (namespace 1), resolved by the symbol lookup
    for t in &unit.tables {
        let id = module
            .declare_data(&t.symbol, Linkage::Import, false, false)
            .expect("declare table");
        ids.insert(t.name.clone(), UserExternalName::new(1, id.as_u32()));
    }
    let mut ctx = module.make_context();
    for (cf, id) in unit.functions.iter().zip(&defs) {
        let mut func = cf.func.clone();
        let refs: Vec<_> = func
            .params
            .user_named_funcs()
            .iter()
            .map(|(r, n)| (r, n.clone()))
            .collect();
        for (r, n) in refs {
            func.params.reset_user_func_name(r, ids[&n].clone());
        }
        ctx.func = func;
        module.define_function(*id, &mut ctx).expect("define");
        module.clear_context(&mut ctx);
    }
    module.finalize_definitions().expect("finalize");
    let addr = module.get_finalized_function(defs[unit.entry]);
    // SAFETY: the finalized entry trampoline has the EntryFn ABI; the caller keeps `module`
    // alive while it calls the pointer.
    let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(addr) };
    (module, entry)
}

fn call(engine: &Engine, f: FuncId, entry: EntryFn, args: &mut [Arg]) -> Result<Value, TrapKind> {
    let mut raw = [0u64; 64];
    let n = engine.raw_args(f, args, &mut raw).map_err(|t| t.kind)?;
    let mut ret = 0u64;
    let limit = ThreadStackLimit.stack_limit();
    // SAFETY: `raw` was checked against the signature; buffers stay borrowed by `args`.
    let status = unsafe { entry(raw[..n].as_ptr(), &mut ret, limit) };
    engine
        .decode_result(f, Tier::T2, status, ret)
        .map_err(|t| t.kind)
}

fn engine(features: CpuFeatures) -> (Engine, jit::ModuleId) {
    let e = Engine::host(EngineConfig {
        features,
        ..EngineConfig::default()
    });
    let m = e
        .load(jit::parse_module("t.bfir", SRC).expect("parse"))
        .expect("load");
    (e, m)
}

fn same(a: &Result<Value, jit::Trap>, b: &Result<Value, TrapKind>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x.bits_eq(y),
        (Err(t), Err(k)) => t.kind == *k,
        _ => false,
    }
}

#[test]
fn exported_t2_ir_runs_under_cranelift_jit_like_t2() {
    for features in [CpuFeatures::detect_host(), CpuFeatures::baseline()] {
        let (e, m) = engine(features);

        let fib = e.func(m, "fib").unwrap();
        let (_m1, entry) = link(&e, fib, Tier::T2);
        for n in [-3, 0, 1, 2, 10, 20] {
            let want = e.call_at(fib, Tier::T2, &mut [Arg::I32(n)]);
            let got = call(&e, fib, entry, &mut [Arg::I32(n)]);
            assert!(same(&want, &got), "fib({n}): {want:?} vs {got:?}");
        }
        assert!(matches!(
            call(&e, fib, entry, &mut [Arg::I32(2000)]),
            Err(TrapKind::CallDepth)
        ));

        let sm = e.func(m, "softmax").unwrap();
        let (_m2, entry) = link(&e, sm, Tier::T2);
        let input: Vec<f32> = (0..37)
            .map(|i| ((i * 7 % 11) as f32) * 0.37 - 1.5)
            .collect();
        for n in [1, 5, 37, 38] {
            let mut a = input.clone();
            let mut b = input.clone();
            let want = e.call_at(sm, Tier::T2, &mut [Arg::F32sMut(&mut a), Arg::I32(n)]);
            let got = call(&e, sm, entry, &mut [Arg::F32sMut(&mut b), Arg::I32(n)]);
            assert!(same(&want, &got), "softmax n={n}: {want:?} vs {got:?}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "softmax n={n}");
        }

        let ss = e.func(m, "scaled_sum").unwrap();
        let (_m3, entry) = link(&e, ss, Tier::T2);
        let data: Vec<f64> = (0..100).map(|i| (i as f64).sin() * 3.0).collect();
        for k in [0i64, 3, -7] {
            let want = e.call_at(ss, Tier::T2, &mut [Arg::F64s(&data), Arg::I64(k)]);
            let got = call(&e, ss, entry, &mut [Arg::F64s(&data), Arg::I64(k)]);
            assert!(same(&want, &got), "scaled_sum k={k}: {want:?} vs {got:?}");
            assert!(matches!(got, Ok(Value::F64(_))));
        }
        // wrong arguments are refused before any code runs
        assert!(matches!(
            call(&e, ss, entry, &mut [Arg::I64(1)]),
            Err(TrapKind::BadArguments)
        ));
    }
}

#[test]
fn t0_has_no_cranelift_ir() {
    let (e, m) = engine(CpuFeatures::baseline());
    let fib = e.func(m, "fib").unwrap();
    assert!(e.cranelift_ir(fib, Tier::T0).is_err());
    let unit = e.cranelift_ir(fib, Tier::T1).expect("T1 unit");
    // trampoline + fib (recursive: one copy)
    assert_eq!(unit.functions.len(), 2);
    assert!(unit.libcalls.is_empty());
}
