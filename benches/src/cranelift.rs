//! The cranelift-jit comparison column: a kernel's own T2 Cranelift IR
//! ([`jit::Engine::cranelift_ir`]) compiled and linked by the upstream `cranelift-jit` +
//! `cranelift-module` instead of `jit`'s own linker.
//!
//! Every function of the unit is declared in a fresh `JITModule` (the entry trampoline
//! exported, the rest local), the unit's user names are renamed to the module's function
//! ids, `jit`'s math routines are declared as imports and resolved to the very same
//! addresses through a symbol lookup function, and the module is finalized. A call
//! marshals the arguments with [`jit::Engine::raw_args`] and calls the trampoline
//! (`extern "C" fn(*const u64, *mut u64) -> u32`) directly.

use std::collections::HashMap;

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use jit::cranelift_codegen::ir::UserExternalName;
use jit::{Arg, Engine, FuncId, StackLimit, ThreadStackLimit, Tier, Trap, Value};

/// The tier whose IR the column compiles.
pub const TIER: Tier = Tier::T2;

/// Most raw argument words a kernel takes (the engine's own limit).
const MAX_RAW: usize = 64;

type EntryFn = unsafe extern "C" fn(*const u64, *mut u64, usize) -> u32;

/// One kernel compiled by cranelift-jit.
pub struct CraneliftJitCode {
    /// Owns the code; freed on drop.
    module: Option<JITModule>,
    entry: EntryFn,
    func: FuncId,
}

impl CraneliftJitCode {
    /// Compiles function `f`'s T2 IR with cranelift-jit.
    pub fn compile(engine: &Engine, f: FuncId) -> Result<CraneliftJitCode, String> {
        let unit = engine
            .cranelift_ir(f, TIER)
            .map_err(|e| format!("cranelift_ir: {e}"))?;
        let mut symbols: HashMap<String, usize> = HashMap::new();
        for l in &unit.libcalls {
            symbols.insert(l.symbol.to_string(), l.address);
        }
        for t in &unit.tables {
            symbols.insert(t.symbol.clone(), t.address);
        }
        let backend: Vec<_> = unit
            .backend_libcalls
            .iter()
            .map(|(lc, sym, addr)| {
                symbols.insert(sym.to_string(), *addr);
                (*lc, *sym)
            })
            .collect();
        let default_names = cranelift_module::default_libcall_names();
        let mut builder = JITBuilder::with_isa(
            unit.isa.clone(),
            Box::new(move |lc| match backend.iter().find(|(l, _)| *l == lc) {
                Some((_, sym)) => sym.to_string(),
                None => default_names(lc),
            }),
        );
        builder.symbol_lookup_fn(Box::new(move |name| {
            symbols.get(name).map(|a| *a as *const u8)
        }));
        let mut module = JITModule::new(builder);

        // declare everything, then rename the unit's references to the module's names
        // (namespace 0: functions, 1: data objects)
        let mut ids: HashMap<UserExternalName, UserExternalName> = HashMap::new();
        let mut defs = Vec::new();
        for cf in &unit.functions {
            let linkage = if cf.exported {
                Linkage::Export
            } else {
                Linkage::Local
            };
            let id = module
                .declare_function(&cf.symbol, linkage, &cf.func.signature)
                .map_err(|e| format!("declare {}: {e}", cf.symbol))?;
            ids.insert(cf.name.clone(), UserExternalName::new(0, id.as_u32()));
            defs.push(id);
        }
        for l in &unit.libcalls {
            let id = module
                .declare_function(l.symbol, Linkage::Import, &l.signature)
                .map_err(|e| format!("declare {}: {e}", l.symbol))?;
            ids.insert(l.name.clone(), UserExternalName::new(0, id.as_u32()));
        }
        for t in &unit.tables {
            let id = module
                .declare_data(&t.symbol, Linkage::Import, false, false)
                .map_err(|e| format!("declare {}: {e}", t.symbol))?;
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
                let target = ids
                    .get(&n)
                    .ok_or_else(|| format!("{}: reference to unknown {n:?}", cf.symbol))?;
                func.params.reset_user_func_name(r, target.clone());
            }
            ctx.func = func;
            module
                .define_function(*id, &mut ctx)
                .map_err(|e| format!("define {}: {e:?}", cf.symbol))?;
            module.clear_context(&mut ctx);
        }
        module
            .finalize_definitions()
            .map_err(|e| format!("finalize: {e}"))?;
        let addr = module.get_finalized_function(defs[unit.entry]);
        // SAFETY: `addr` is the finalized entry trampoline, generated by `jit` with the
        // `extern "C" fn(*const u64, *mut u64) -> u32` (SystemV) signature; it stays
        // executable while `module` lives, which owns it until `self` drops.
        let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(addr) };
        Ok(CraneliftJitCode {
            module: Some(module),
            entry,
            func: f,
        })
    }

    /// One call on `args`: marshalled like `Engine::call_at`, traps decoded like T2's.
    pub fn call(&self, engine: &Engine, args: &mut [Arg]) -> Result<Value, Trap> {
        let mut raw = [0u64; MAX_RAW];
        let n = engine.raw_args(self.func, args, &mut raw)?;
        let mut ret = 0u64;
        let limit = ThreadStackLimit.stack_limit();
        // SAFETY: `entry` is live code with the EntryFn ABI (see `compile`); `raw` was
        // checked against the function's signature by `raw_args`, and the buffers it points
        // to are borrowed by `args` for the whole call.
        let status = unsafe { (self.entry)(raw[..n].as_ptr(), &mut ret, limit) };
        engine.decode_result(self.func, TIER, status, ret)
    }
}

impl Drop for CraneliftJitCode {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the only pointer into the module's code is `self.entry`, which dies
            // with `self`; no call can be running (`&mut self`).
            unsafe { m.free_memory() };
        }
    }
}
