//! T1–T3: lowering the typed IR to Cranelift IR, compiling, and linking into executable memory.
//!
//! A compilation unit is the requested function plus every function it can reach through
//! calls (each unit has private copies, so a unit never depends on another unit's code),
//! and an entry trampoline with the uniform `EntryFn` ABI. For a specialized T3 unit the
//! trampoline first compares the stable arguments with the values the code was specialized
//! for and returns `GUARD_MISS` on a mismatch.

mod analysis;
pub(crate) use analysis::worth_specializing;
mod link;
mod lower;

use crate::cpu::CpuFeatures;
use crate::engine::CompileError;
use crate::ir::{CallArg, Expr, ExprKind, Module, Stmt};
use crate::mem::{CodeBlock, ExecMemory};
use crate::stack::MAX_FRAME;
use crate::types::{ParamTy, Ty};
use crate::values::Tier;
use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AbiParam, ExtFuncData, ExternalName, Function, InstBuilder, MemFlagsData, Signature,
    UserExternalName, UserFuncName, types,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedMachReloc};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
#[cfg(feature = "std")]
pub(crate) use link::cranelift_libcall;
pub use lower::Opts;
#[cfg(feature = "std")]
pub use lower::{NS_FUNC, NS_LIB};

/// Status a specialized entry returns when its guard fails (the caller runs T2 instead).
pub const GUARD_MISS: u32 = 0xFFFF_FFFF;

/// Entry trampoline ABI:
/// `extern "C" fn(args: *const u64, ret: *mut u64, stack_limit: usize) -> u32`.
/// `args` holds the raw arguments (scalars as bits; buffers as pointer, length);
/// `stack_limit` is the lowest stack address the code may use (0: unknown, see
/// [`crate::StackLimit`]); the return value is 0, a trap code, or `GUARD_MISS`.
pub type EntryFn = unsafe extern "C" fn(*const u64, *mut u64, usize) -> u32;

/// Linked, executable code for one function at one tier.
pub struct Compiled {
    pub block: CodeBlock,
    pub entry: usize,
    pub code_bytes: usize,
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

/// The Cranelift IR of one compilation unit (see [`CodeGen::unit_ir`]).
#[cfg(feature = "std")]
pub struct UnitIr {
    /// (namespace, index, function); the first is the entry trampoline.
    pub funcs: Vec<(u32, u32, Function)>,
}

/// Namespace of the specialized root (calls inside the unit go to the general version).
const NS_SPEC: u32 = 2;
pub const NS_TRAMP: u32 = 3;

/// One compiled function of a unit, before linking.
pub(crate) struct Piece {
    pub ns: u32,
    pub index: u32,
    pub code: Vec<u8>,
    pub relocs: Vec<FinalizedMachReloc>,
    /// The function's user name table: reference index -> (namespace, index).
    pub names: Vec<(u32, u32)>,
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

fn make_isa(features: CpuFeatures, opt: &str) -> Result<OwnedTargetIsa, CompileError> {
    let e = |x: &dyn core::fmt::Display| CompileError::Codegen(x.to_string());
    let mut flags = settings::builder();
    flags.set("opt_level", opt).map_err(|x| e(&x))?;
    flags
        .set(
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )
        .map_err(|x| e(&x))?;
    flags.set("is_pic", "false").map_err(|x| e(&x))?;
    flags.set("enable_probestack", "false").map_err(|x| e(&x))?;
    flags.set("unwind_info", "false").map_err(|x| e(&x))?;
    flags
        .set("preserve_frame_pointers", "true")
        .map_err(|x| e(&x))?;
    let mut isa = cranelift_codegen::isa::lookup_by_name("x86_64").map_err(|x| e(&x))?;
    let set = |isa: &mut cranelift_codegen::isa::Builder,
               name: &str,
               on: bool|
     -> Result<(), CompileError> {
        isa.set(name, if on { "true" } else { "false" })
            .map_err(|x| e(&x))
    };
    set(&mut isa, "has_sse3", features.sse3)?;
    set(&mut isa, "has_ssse3", features.ssse3)?;
    set(&mut isa, "has_sse41", features.sse41)?;
    set(&mut isa, "has_sse42", features.sse42)?;
    set(&mut isa, "has_popcnt", features.popcnt)?;
    set(&mut isa, "has_lzcnt", features.lzcnt)?;
    set(&mut isa, "has_bmi1", features.bmi1)?;
    set(&mut isa, "has_bmi2", features.bmi2)?;
    set(&mut isa, "has_avx", features.avx)?;
    set(&mut isa, "has_avx2", features.avx2)?;
    set(&mut isa, "has_fma", features.fma)?;
    isa.finish(settings::Flags::new(flags)).map_err(|x| e(&x))
}

/// Stack one call of a compiled function takes: return address and saved frame pointer,
/// then what the prologue allocates below the frame pointer (callee-saved registers, spill
/// slots and stack slots, outgoing arguments). Unknown layout: counted as over budget.
fn native_frame_bytes(layout: Option<&cranelift_codegen::MachBufferFrameLayout>) -> usize {
    layout.map_or(usize::MAX, |l| 16 + l.frame_to_fp_offset as usize)
}

/// Functions reachable through calls from `root`'s body (transitively), root excluded
/// unless it is itself called.
fn callees(m: &Module, root: usize) -> Vec<usize> {
    fn scan(stmts: &[Stmt], out: &mut Vec<usize>) {
        fn ex(e: &Expr, out: &mut Vec<usize>) {
            e.visit(&mut |x| {
                if let ExprKind::Call(f, args) = &x.kind {
                    out.push(*f as usize);
                    for a in args {
                        if let CallArg::Slice(_, lo, hi) = a {
                            ex(lo, out);
                            ex(hi, out);
                        }
                    }
                }
            });
        }
        for s in stmts {
            match s {
                Stmt::Set(_, e) | Stmt::Eval(e) | Stmt::Return(Some(e)) => ex(e, out),
                Stmt::Store(_, i, v) => {
                    ex(i, out);
                    ex(v, out);
                }
                Stmt::If(c, a, b) => {
                    ex(c, out);
                    scan(a, out);
                    scan(b, out);
                }
                Stmt::While(c, b) => {
                    ex(c, out);
                    scan(b, out);
                }
                Stmt::For(fl) => {
                    ex(&fl.start, out);
                    ex(&fl.end, out);
                    if let Some(s) = &fl.step {
                        ex(s, out);
                    }
                    scan(&fl.body, out);
                }
                _ => {}
            }
        }
    }
    let mut seen = alloc::vec![false; m.funcs.len()];
    let mut work = Vec::new();
    scan(&m.funcs[root].body, &mut work);
    while let Some(f) = work.pop() {
        if !core::mem::replace(&mut seen[f], true) {
            scan(&m.funcs[f].body, &mut work);
        }
    }
    (0..m.funcs.len()).filter(|&f| seen[f]).collect()
}

impl CodeGen {
    pub fn new(features: CpuFeatures, depth_limit: u32) -> Result<CodeGen, CompileError> {
        Ok(CodeGen {
            features,
            depth_limit: depth_limit.max(1),
            isa_none: make_isa(features, "none")?,
            isa_speed: make_isa(features, "speed")?,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

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

    fn isa(&self, tier: Tier) -> Arc<dyn cranelift_codegen::isa::TargetIsa> {
        if tier == Tier::T1 {
            self.isa_none.clone()
        } else {
            self.isa_speed.clone()
        }
    }

    /// Compiles function `fi` of `m` (and its callees) at `tier`, links it into `mem`.
    /// `spec` (T3 only): (parameter index, value bits) to specialize on, behind a guard.
    pub fn compile(
        &mut self,
        m: &Module,
        fi: usize,
        tier: Tier,
        spec: &[(usize, u64)],
        mem: &mut dyn ExecMemory,
    ) -> Result<Compiled, CompileError> {
        if tier == Tier::T0 {
            return Err(CompileError::Unsupported("T0 is interpreted".into()));
        }
        let spec = if tier == Tier::T3 { spec } else { &[] };
        let opts = self.opts(tier);
        let isa = self.isa(tier);
        let mut pieces = Vec::new();
        // trampoline first, then the entry function, then the callees
        pieces.push(self.trampoline(m, fi, spec, &*isa)?);
        let (entry_ns, entry_idx) = if spec.is_empty() {
            (lower::NS_FUNC, fi as u32)
        } else {
            (NS_SPEC, 0)
        };
        pieces.push(self.function(m, fi, entry_ns, entry_idx, spec, opts, &*isa)?);
        for c in callees(m, fi) {
            if spec.is_empty() && c == fi {
                continue;
            }
            pieces.push(self.function(m, c, lower::NS_FUNC, c as u32, &[], opts, &*isa)?);
        }
        link::link(&pieces, mem)
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
    ) -> Result<(UnitIr, Arc<dyn cranelift_codegen::isa::TargetIsa>), CompileError> {
        if tier == Tier::T0 {
            return Err(CompileError::Unsupported("T0 is interpreted".into()));
        }
        let opts = self.opts(tier);
        let isa = self.isa(tier);
        let mut funcs = Vec::new();
        self.trampoline_ir(m, fi, &[], &*isa);
        funcs.push((NS_TRAMP, 0, self.ctx.func.clone()));
        self.function_ir(m, fi, lower::NS_FUNC, fi as u32, &[], opts, &*isa);
        funcs.push((lower::NS_FUNC, fi as u32, self.ctx.func.clone()));
        for c in callees(m, fi) {
            if c == fi {
                continue;
            }
            self.function_ir(m, c, lower::NS_FUNC, c as u32, &[], opts, &*isa);
            funcs.push((lower::NS_FUNC, c as u32, self.ctx.func.clone()));
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
        isa: &dyn cranelift_codegen::isa::TargetIsa,
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
        isa: &dyn cranelift_codegen::isa::TargetIsa,
    ) {
        self.ctx.clear();
        self.ctx.func = Function::with_name_signature(
            UserFuncName::user(ns, index),
            lower::native_sig(&m.funcs[fi]),
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

    fn finish(
        &mut self,
        ns: u32,
        index: u32,
        isa: &dyn cranelift_codegen::isa::TargetIsa,
    ) -> Result<Piece, CompileError> {
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

    /// `extern "C" fn(args: *const u64, ret: *mut u64, stack_limit: usize) -> u32`: checks
    /// the native stack, unpacks the raw arguments, checks the specialization guard, calls
    /// the entry at depth 1, stores the result.
    fn trampoline(
        &mut self,
        m: &Module,
        fi: usize,
        spec: &[(usize, u64)],
        isa: &dyn cranelift_codegen::isa::TargetIsa,
    ) -> Result<Piece, CompileError> {
        self.trampoline_ir(m, fi, spec, isa);
        self.finish(NS_TRAMP, 0, isa)
    }

    /// Builds the entry trampoline into `self.ctx.func`.
    fn trampoline_ir(
        &mut self,
        m: &Module,
        fi: usize,
        spec: &[(usize, u64)],
        isa: &dyn cranelift_codegen::isa::TargetIsa,
    ) {
        let f = &m.funcs[fi];
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(types::I32));
        self.ctx.clear();
        self.ctx.func = Function::with_name_signature(UserFuncName::user(NS_TRAMP, 0), sig);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let args = b.block_params(entry)[0];
            let retp = b.block_params(entry)[1];
            let stack_limit = b.block_params(entry)[2];
            // the entry function's frame must fit: the same test every function makes
            let low = lower::stack_low(&mut b, stack_limit);
            let deep = b.create_block();
            let go = b.create_block();
            b.set_cold_block(deep);
            b.ins().brif(low, deep, &[], go, &[]);
            b.switch_to_block(deep);
            let code = b
                .ins()
                .iconst(types::I32, crate::values::TrapKind::CallDepth.code() as i64);
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
                        let v = b.ins().load(lower::clty(*t), fl, args, k * 8);
                        if let Some((_, bits)) = spec.iter().find(|(i, _)| *i == pi) {
                            // floats are compared bit for bit (through an integer load):
                            // the code was specialized on exactly those bits
                            let (raw, c) = match t {
                                Ty::I64 => (v, b.ins().iconst(types::I64, *bits as i64)),
                                Ty::I32 => {
                                    (v, b.ins().iconst(types::I32, *bits as u32 as i32 as i64))
                                }
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
                (lower::NS_FUNC, fi as u32)
            } else {
                (NS_SPEC, 0)
            };
            let sr = b.import_signature(lower::native_sig(f));
            let name = b
                .func
                .declare_imported_user_function(UserExternalName::new(ns, idx));
            let fr = b.import_function(ExtFuncData {
                name: ExternalName::user(name),
                signature: sr,
                colocated: true,
                patchable: false,
            });
            let call = b.ins().call(fr, &vals);
            let res = b.inst_results(call).to_vec();
            if f.ret != Ty::Unit {
                b.ins().store(fl, res[1], retp, 0);
            }
            b.ins().return_(&[res[0]]);
            b.seal_all_blocks();
            b.finalize(isa.frontend_config());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// The Cranelift IR of a function as lowered for `tier` (before Cranelift's own passes).
    pub(super) fn clif(src: &str, name: &str, tier: Tier, features: CpuFeatures) -> String {
        clif_spec(src, name, tier, features, &[])
    }

    /// [`clif`] with the function specialized on (parameter index, value bits) pairs.
    fn clif_spec(
        src: &str,
        name: &str,
        tier: Tier,
        features: CpuFeatures,
        spec: &[(usize, u64)],
    ) -> String {
        let m = crate::parse_module("t.bfir", src).expect("parse");
        let fi = m
            .funcs
            .iter()
            .position(|f| f.name == name)
            .expect("function");
        let mut cg = CodeGen::new(features, 512).expect("codegen");
        let opts = cg.opts(tier);
        let isa = cg.isa(tier);
        cg.ctx.clear();
        cg.ctx.func = Function::with_name_signature(
            UserFuncName::user(0, 0),
            lower::native_sig(&m.funcs[fi]),
        );
        lower::lower_function(
            &mut cg.ctx.func,
            &mut cg.fctx,
            &m,
            fi,
            spec,
            opts,
            isa.frontend_config(),
        );
        format!("{}", cg.ctx.func.display())
    }

    const SRC: &str = r#"
#[reassoc]
fn dot(a: &[f32], b: &[f32], n: i32) -> f32 {
    let acc: f32 = 0.0;
    for i in 0..n { acc += a[i] * b[i]; }
    return acc;
}
fn dot_exact(a: &[f32], b: &[f32], n: i32) -> f32 {
    let acc: f32 = 0.0;
    for i in 0..n { acc += a[i] * b[i]; }
    return acc;
}
fn axpy(x: &[f32], y: &mut [f32], s: f32, n: i32) {
    for i in 0..n { y[i] = s * x[i] + y[i]; }
}
fn vmax(a: &[f32], n: i32) -> f32 {
    let m = a[0];
    for i in 0..n { m = max(m, a[i]); }
    return m;
}
fn prefix(a: &mut [f32], n: i32) {
    for i in 1..n { a[i] = a[i - 1] + a[i]; }
}
fn hist(d: &[i32], h: &mut [i32], n: i32) {
    for i in 0..n { h[d[i]] += 1; }
}
fn softmax_sum(x: &mut [f32], n: i32, m: f32) -> f32 {
    let s: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - m); x[i] = e; s += e; }
    return s;
}
fn sig(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
fn silu(x: &mut [f32], n: i32) {
    for i in 0..n { x[i] = sig(x[i]); }
}
fn waves(x: &mut [f32], n: i32) {
    for i in 0..n { x[i] = sin(x[i]) + cos(x[i]); }
}
fn decay(x: &mut [f32], n: i32, base: f32) {
    for i in 0..n { x[i] = pow(10000.0, x[i]) + pow(base, x[i]); }
}
fn exp64(x: &mut [f64], n: i32) {
    for i in 0..n { x[i] = exp(x[i]); }
}
fn butterfly(re: &mut [f32], im: &mut [f32], n: i32, half: i32, k: i32) {
    for s in 0..n step 2 * half {
        let a = s + k;
        let b = a + half;
        let xr = re[b] * 0.5 - im[b];
        re[b] = re[a] - xr;
        im[b] = im[a] + re[b];
        re[a] += xr;
    }
}
"#;

    fn count(s: &str, pat: &str) -> usize {
        s.matches(pat).count()
    }

    #[test]
    fn t1_keeps_every_check_t2_versions_loops() {
        let t1 = clif(SRC, "dot", Tier::T1, CpuFeatures::all());
        let t2 = clif(SRC, "dot", Tier::T2, CpuFeatures::all());
        // T1: one bounds check per access in the only loop copy
        assert_eq!(count(&t1, "icmp uge"), 2, "{t1}");
        // T2: the checked copy keeps its 2 checks, the fast copy has none; the entry test
        // compares first and last index of both accesses (4 unsigned compares)
        assert_eq!(count(&t2, "icmp uge"), 2, "{t2}");
        assert_eq!(count(&t2, "icmp ult"), 4, "{t2}");
        assert!(!t2.contains("f32x4"), "{t2}");
    }

    #[test]
    fn t3_vectorizes_reassoc_reduction_with_fma() {
        let t3 = clif(SRC, "dot", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
        assert!(count(&t3, "= fma ") >= 2, "{t3}");
        // without FMA hardware: vector mul+add instead
        let t3b = clif(SRC, "dot", Tier::T3, CpuFeatures::baseline());
        assert!(t3b.contains("load.f32x4") && !t3b.contains("fma"), "{t3b}");
    }

    #[test]
    fn t3_never_reassociates_without_the_attribute() {
        // the products are computed four at a time, but the four lanes are added to the
        // one scalar sum in iteration order: no partial sums, no FMA
        let t3 = clif(SRC, "dot_exact", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
        assert_eq!(count(&t3, "extractlane"), 4 * 4, "{t3}");
        assert!(!t3.contains("fma"), "{t3}");
    }

    #[test]
    fn f32_exp_is_a_libcall_at_t1_inline_from_t2() {
        let t1 = clif(SRC, "softmax_sum", Tier::T1, CpuFeatures::all());
        assert!(count(&t1, " = call ") >= 1, "{t1}");
        let t2 = clif(SRC, "softmax_sum", Tier::T2, CpuFeatures::all());
        assert_eq!(count(&t2, " = call "), 0, "{t2}");
        assert!(t2.contains("bitcast.i32"), "{t2}");
        // scalar sin/cos and f64 exp keep their calls
        assert!(
            count(
                &clif(SRC, "waves", Tier::T2, CpuFeatures::all()),
                " = call "
            ) >= 2
        );
        assert!(
            count(
                &clif(SRC, "exp64", Tier::T2, CpuFeatures::all()),
                " = call "
            ) >= 2
        );
    }

    #[test]
    fn pow_with_a_known_base_is_inline() {
        // T1: two calls; T2: the literal base is folded everywhere, the parameter base only
        // in the versioned fast copy (see the next test): one call left, in the checked copy
        let t1 = clif(SRC, "decay", Tier::T1, CpuFeatures::all());
        assert_eq!(count(&t1, " = call "), 2, "{t1}");
        let t2 = clif(SRC, "decay", Tier::T2, CpuFeatures::all());
        assert_eq!(count(&t2, " = call "), 1, "{t2}");
        assert!(t2.contains("fdemote"), "{t2}");
        // specialized on base = 2.0 (parameter 2): no call left in the fast loop
        let spec = [(2usize, 2.0f32.to_bits() as u64)];
        let t3 = clif_spec(SRC, "decay", Tier::T3, CpuFeatures::all(), &spec);
        assert!(count(&t3, "fdemote") >= 4, "{t3}");
    }

    #[test]
    fn loops_with_a_conditionally_advanced_store_index_are_not_unrolled() {
        let inner_body = |src: &str, name: &str| {
            let m = crate::parse_module("t.bfir", src).expect("parse");
            let f = m.funcs.iter().find(|f| f.name == name).expect("function");
            fn innermost(stmts: &[Stmt]) -> Option<&[Stmt]> {
                stmts.iter().find_map(|s| match s {
                    Stmt::For(fl) => innermost(&fl.body).or(Some(&fl.body[..])),
                    Stmt::While(_, b) => innermost(b),
                    Stmt::If(_, a, b) => innermost(a).or_else(|| innermost(b)),
                    _ => None,
                })
            }
            analysis::conditional_index(innermost(&f.body).expect("a loop"))
        };
        let qs = include_str!("../../../ir-modules/quicksort.bfir");
        let dfa = include_str!("../../../ir-modules/regex_dfa.bfir");
        let primes = include_str!("../../../ir-modules/primes.bfir");
        assert!(inner_body(qs, "quicksort"));
        assert!(!inner_body(dfa, "regex_dfa"), "table reads only");
        assert!(!inner_body(primes, "primes"));
    }

    #[test]
    fn pow_with_a_loop_invariant_base_hoists_log2_into_the_entry_test() {
        // T1: calls; T2: log2 of `base` once before the loop (one fdiv), the fast copy
        // inline, the checked copy keeps its calls
        let t1 = clif(SRC, "decay", Tier::T1, CpuFeatures::all());
        assert_eq!(count(&t1, "fdiv"), 0, "{t1}");
        let t2 = clif(SRC, "decay", Tier::T2, CpuFeatures::all());
        assert_eq!(count(&t2, " fdiv "), 1, "{t2}");
        assert!(count(&t2, "fdemote") >= 2, "{t2}");
        assert_eq!(count(&t2, " = call "), 1, "{t2}");
    }

    #[test]
    fn t3_vectorizes_transcendental_maps_and_inlines_expression_functions() {
        for f in ["softmax_sum", "silu", "waves"] {
            let t3 = clif(SRC, f, Tier::T3, CpuFeatures::all());
            assert!(count(&t3, "load.f32x4") >= 4, "{f}\n{t3}");
            assert!(t3.contains("bitcast.i32x4"), "{f}\n{t3}");
        }
        // silu's vector loop has no call to sig (the scalar remainder still has)
        let t3 = clif(SRC, "silu", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "bitcast.i32x4") >= 4, "{t3}");
    }

    #[test]
    fn t3_vectorizes_exact_maps_but_not_dependences() {
        let t3 = clif(SRC, "axpy", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 4 && !t3.contains("fma"), "{t3}");
        let p = clif(SRC, "prefix", Tier::T3, CpuFeatures::all());
        assert!(!p.contains("f32x4"), "{p}");
    }

    #[test]
    fn t3_vectorizes_exact_max_reductions_without_reassoc() {
        let t3 = clif(SRC, "vmax", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 4 && t3.contains("fmax"), "{t3}");
    }

    #[test]
    fn data_dependent_index_stays_checked() {
        let t2 = clif(SRC, "hist", Tier::T2, CpuFeatures::all());
        // both evaluations of d[i] are hoisted and share one entry test (2 compares: first
        // and last iteration); h[d[i]] is checked in each copy (load + store)
        assert_eq!(count(&t2, "icmp ult"), 2, "{t2}");
        assert!(count(&t2, "icmp uge") >= 3, "{t2}");
    }

    #[test]
    fn same_buffer_same_index_shares_one_pointer_and_one_entry_test() {
        let t2 = clif(SRC, "butterfly", Tier::T2, CpuFeatures::all());
        // 4 distinct (buffer, index) pairs: re[b], im[b], re[a], im[a] (9 syntactic
        // accesses); each is tested at the first and the last iteration
        assert_eq!(count(&t2, "icmp ult"), 8, "{t2}");
        // the checked copy keeps one check per syntactic access
        assert_eq!(count(&t2, "icmp uge"), 9, "{t2}");
    }

    #[test]
    fn specialization_turns_args_into_constants() {
        let s = clif_spec(SRC, "axpy", Tier::T3, CpuFeatures::all(), &[(3, 1000)]);
        assert!(s.contains("iconst.i32 1000"), "{s}");
    }
}
