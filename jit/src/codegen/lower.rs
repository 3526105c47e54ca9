//! Lowering of one IR function to Cranelift IR.
//!
//! Native ABI of a lowered function (SystemV):
//! `(depth: i32, stack_limit: i64, params...) -> (status: i32[, value])` where a buffer
//! parameter is two i64 values (pointer, length) and bool is i8. `status` is 0 or a trap
//! code; a caller that sees a non-zero status returns it at once. Traps never rely on
//! hardware faults: every check is an explicit branch to a cold trap exit. At entry a
//! function traps `CallDepth` when `depth` exceeds the IR call-depth limit or when less
//! than [`STACK_RESERVE`] bytes of native stack remain above `stack_limit` (`abi::stack_low`).

mod inline_math;

use super::abi::{NS_FUNC, NS_LIB, cl_type, native_sig, stack_low};
use super::analysis::{self, Access, LoopInfo, RedOp, VStmt};
use crate::ir::walk;
use crate::ir::*;
use crate::math::libcalls::Libcall;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self as cl, Block, BlockArg, ExtFuncData, ExternalName, FuncRef, InstBuilder, MemFlagsData,
    Signature, UserExternalName, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use hashbrown::HashMap;

#[path = "outer_vec.rs"]
mod outer_vec;

#[path = "outer_map.rs"]
mod outer_map;

/// What the lowering may do beyond a straight translation.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// T2+: version affine innermost loops (checks hoisted, strength-reduced addressing).
    pub hoist: bool,
    /// T3: unroll fast innermost loops by 4.
    pub unroll: bool,
    /// T3: f32x4 maps and (with `#[reassoc]`) reductions.
    pub vectorize: bool,
    /// T2+: f32 `exp` inline (`mathf`'s sequence) instead of a libcall.
    pub inline_math: bool,
    pub hw_fma: bool,
    pub sse41: bool,
    pub depth_limit: u32,
}

/// f32x4 vectors per statement in one trip of a vectorized loop, and lanes per trip.
const PARTS: usize = 4;
const LANES: usize = 4 * PARTS;

struct FastCtx {
    /// (access key, pointer variable, byte stride per iteration, contiguous)
    ptrs: Vec<(usize, Variable, Value, Option<bool>)>,
    /// Position in `ptrs` by access key.
    by_key: HashMap<usize, usize>,
}

impl FastCtx {
    fn new(ptrs: Vec<(usize, Variable, Value, Option<bool>)>) -> FastCtx {
        let by_key = ptrs.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
        FastCtx { ptrs, by_key }
    }

    /// The strength-reduced pointer of the access with this key, if it has one.
    fn get(&self, key: usize) -> Option<&(usize, Variable, Value, Option<bool>)> {
        self.ptrs.get(*self.by_key.get(&key)?)
    }
}

struct L<'a, 'b> {
    b: FunctionBuilder<'b>,
    m: &'a Module,
    f: &'a Function,
    o: Opts,
    vars: Vec<Variable>,
    bufs: Vec<(Value, Value)>,
    traps: [Option<Block>; 6],
    loops: Vec<(Block, Block)>,
    funcs: HashMap<u32, FuncRef>,
    libs: HashMap<u32, FuncRef>,
    fast: Option<FastCtx>,
    depth: Value,
    /// `depth + 1`, computed once at entry for every call.
    callee_depth: Value,
    /// The lowest stack address the embedder allows (0: unknown), passed to every callee.
    stack_limit: Value,
    /// Locals redirected to other variables (the extra accumulators of an unrolled reduction).
    alias: Vec<(u32, Variable)>,
    /// Inside the inlined body of an expression function (vector loops): its own
    /// expressions never get the caller's `#[reassoc]` contractions.
    inlining: u32,
    /// Scalar parameters specialized to a constant (T3) that the body never reassigns.
    consts: Vec<(u32, Const)>,
    /// In the fast copy of a versioned loop: f32 locals, invariant in the loop, used as a
    /// `pow` base, whose value the entry test proved inline-able, with log2 of it (f64).
    pow_bases: Vec<(u32, Value)>,
}

/// Lowers function `fi` of `m` into `func` (whose signature must be `native_sig`).
/// `spec`: (parameter index, value bits) pairs that become constants.
pub fn lower_function(
    func: &mut cl::Function,
    fctx: &mut FunctionBuilderContext,
    m: &Module,
    fi: usize,
    spec: &[(usize, u64)],
    o: Opts,
    fc: cranelift_codegen::isa::TargetFrontendConfig,
) {
    let f = &m.funcs[fi];
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params: Vec<Value> = b.block_params(entry).to_vec();
    let vars: Vec<Variable> = f
        .locals
        .iter()
        .map(|t| b.declare_var(cl_type(*t)))
        .collect();
    let mut l = L {
        b,
        m,
        f,
        o,
        vars,
        bufs: Vec::new(),
        traps: [None; 6],
        loops: Vec::new(),
        funcs: HashMap::new(),
        libs: HashMap::new(),
        fast: None,
        depth: params[0],
        callee_depth: params[0],
        stack_limit: params[1],
        alias: Vec::new(),
        inlining: 0,
        consts: Vec::new(),
        pow_bases: Vec::new(),
    };
    let mut assigned_anywhere = Vec::new();
    walk::assigned(&f.body, &mut assigned_anywhere);
    // every local starts defined (zero) so the SSA builder never sees an undefined use
    for (i, t) in f.locals.iter().enumerate() {
        let z = l.zero(*t);
        l.b.def_var(l.vars[i], z);
    }
    let mut k = 2;
    for (pi, (p, slot)) in f.params.iter().zip(&f.param_slots).enumerate() {
        match (p, slot) {
            (ParamTy::Scalar(t), ParamSlot::Local(li)) => {
                let v = match spec.iter().find(|(i, _)| *i == pi) {
                    Some((_, bits)) => {
                        let c = Const::from_bits(*t, *bits);
                        if !walk::is_assigned(&assigned_anywhere, *li) {
                            l.consts.push((*li, c));
                        }
                        l.konst(c)
                    }
                    None => params[k],
                };
                l.b.def_var(l.vars[*li as usize], v);
                k += 1;
            }
            _ => {
                l.bufs.push((params[k], params[k + 1]));
                k += 2;
            }
        }
    }
    // call depth: the outermost call is 1; and the native stack: this frame is allocated,
    // the next one (any callee's, or a libcall's) must fit above the embedder's limit
    let over =
        l.b.ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThan, l.depth, o.depth_limit as i64);
    let low = stack_low(&mut l.b, l.stack_limit);
    let stop = l.b.ins().bor(over, low);
    l.trap_if(stop, TrapKind::CallDepth);
    l.callee_depth = l.b.ins().iadd_imm_s(l.depth, 1);
    l.block(&f.body);
    if !l.terminated() {
        if f.ret == Ty::Unit {
            let z = l.b.ins().iconst(types::I32, 0);
            l.b.ins().return_(&[z]);
        } else {
            // unreachable by the verifier's return check; behave like the interpreter
            l.jump_trap(TrapKind::BadArguments);
        }
    }
    l.finish_exits();
    l.b.seal_all_blocks();
    l.b.finalize(fc);
}

impl Const {
    pub fn from_bits(t: Ty, bits: u64) -> Const {
        match t {
            Ty::I32 => Const::I32(bits as u32 as i32),
            Ty::I64 => Const::I64(bits as i64),
            Ty::F32 => Const::F32(f32::from_bits(bits as u32)),
            Ty::F64 => Const::F64(f64::from_bits(bits)),
            _ => Const::Bool(bits & 1 != 0),
        }
    }
}

impl L<'_, '_> {
    fn var_of(&self, l: u32) -> Variable {
        match self.alias.iter().rev().find(|a| a.0 == l) {
            Some(a) => a.1,
            None => self.vars[l as usize],
        }
    }

    fn terminated(&self) -> bool {
        match self.b.current_block() {
            None => true,
            Some(blk) => {
                let func = &self.b.func;
                match func.layout.last_inst(blk) {
                    Some(inst) => func.dfg.insts[inst].opcode().is_terminator(),
                    None => false,
                }
            }
        }
    }

    /// After a terminator: continue emitting into a fresh (unreachable) block.
    fn fresh(&mut self) {
        let blk = self.b.create_block();
        self.b.switch_to_block(blk);
    }

    fn zero(&mut self, t: Ty) -> Value {
        match t {
            Ty::F32 => self.b.ins().f32const(0.0),
            Ty::F64 => self.b.ins().f64const(0.0),
            t => self.b.ins().iconst(cl_type(t), 0),
        }
    }

    /// The value of an f32 expression known at compile time: a literal, or a parameter
    /// specialized to a constant and never reassigned.
    fn const_f32(&self, e: &Expr) -> Option<f32> {
        match &e.kind {
            ExprKind::Const(Const::F32(c)) => Some(*c),
            ExprKind::Local(l) => self.consts.iter().find_map(|(x, c)| match c {
                Const::F32(v) if x == l => Some(*v),
                _ => None,
            }),
            _ => None,
        }
    }

    fn konst(&mut self, c: Const) -> Value {
        match c {
            Const::I32(v) => self.b.ins().iconst(types::I32, v as i64),
            Const::I64(v) => self.b.ins().iconst(types::I64, v),
            Const::F32(v) => self.b.ins().f32const(v),
            Const::F64(v) => self.b.ins().f64const(v),
            Const::Bool(v) => self.b.ins().iconst(types::I8, v as i64),
        }
    }

    fn trap_block(&mut self, kind: TrapKind) -> Block {
        let i = kind.code() as usize;
        if let Some(b) = self.traps[i] {
            return b;
        }
        let blk = self.b.create_block();
        self.b.set_cold_block(blk);
        self.traps[i] = Some(blk);
        blk
    }

    fn trap_if(&mut self, cond: Value, kind: TrapKind) {
        let t = self.trap_block(kind);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, t, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn jump_trap(&mut self, kind: TrapKind) {
        let t = self.trap_block(kind);
        self.b.ins().jump(t, &[]);
    }

    fn ret_vals(&mut self, status: Value) -> Vec<Value> {
        let mut v = alloc::vec![status];
        if self.f.ret != Ty::Unit {
            let z = self.zero(self.f.ret);
            v.push(z);
        }
        v
    }

    fn finish_exits(&mut self) {
        for i in 0..self.traps.len() {
            if let Some(blk) = self.traps[i] {
                self.b.switch_to_block(blk);
                let s = self.b.ins().iconst(types::I32, i as i64);
                let v = self.ret_vals(s);
                self.b.ins().return_(&v);
            }
        }
    }

    fn buf(&mut self, r: BufRef) -> (Value, Value) {
        match r {
            BufRef::Param(i) => self.bufs[i as usize],
            BufRef::Table(t) => {
                let data = &self.m.tables[t as usize].data;
                let (p, n) = (data.ptr() as usize as i64, data.len() as i64);
                let p = self.b.ins().iconst(types::I64, p);
                let n = self.b.ins().iconst(types::I64, n);
                (p, n)
            }
        }
    }

    fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.f.bufs[i as usize].0,
            BufRef::Table(t) => self.m.tables[t as usize].data.elem(),
        }
    }

    /// Index to i64 for the unsigned bounds check: i32 is zero-extended, so a negative
    /// index becomes >= 2^31 > len, exactly as in the interpreter.
    fn idx64(&mut self, v: Value, t: Ty) -> Value {
        if t == Ty::I32 {
            self.b.ins().uextend(types::I64, v)
        } else {
            v
        }
    }

    fn fast_ptr(&mut self, key: usize) -> Option<Value> {
        let var = self.fast.as_ref()?.get(key)?.1;
        Some(self.b.use_var(var))
    }

    fn checked_addr(&mut self, r: BufRef, idx: &Expr) -> Value {
        if let Some(p) = self.fast_ptr(analysis::key(idx)) {
            return p;
        }
        let i = self.expr(idx);
        self.checked_addr_of(r, i, idx.ty)
    }

    fn checked_addr_of(&mut self, r: BufRef, i: Value, t: Ty) -> Value {
        let i = self.idx64(i, t);
        let (p, n) = self.buf(r);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, n);
        self.trap_if(oob, TrapKind::OutOfBounds);
        let sh = self.elem_of(r).shift();
        let off = if sh == 0 {
            i
        } else {
            self.b.ins().ishl_imm_s(i, sh as i64)
        };
        self.b.ins().iadd(p, off)
    }

    fn load_at(&mut self, elem: Elem, addr: Value) -> Value {
        let fl = MemFlagsData::trusted();
        match elem {
            Elem::U8 => self.b.ins().uload8(types::I32, fl, addr, 0),
            Elem::I32 => self.b.ins().load(types::I32, fl, addr, 0),
            Elem::I64 => self.b.ins().load(types::I64, fl, addr, 0),
            Elem::F32 => self.b.ins().load(types::F32, fl, addr, 0),
            Elem::F64 => self.b.ins().load(types::F64, fl, addr, 0),
        }
    }

    fn store_at(&mut self, elem: Elem, addr: Value, v: Value) {
        let fl = MemFlagsData::trusted();
        match elem {
            Elem::U8 => {
                self.b.ins().istore8(fl, v, addr, 0);
            }
            _ => {
                self.b.ins().store(fl, v, addr, 0);
            }
        }
    }

    // ---- statements

    fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            if self.terminated() {
                self.fresh();
            }
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Set(l, e) => {
                let v = self.expr(e);
                let var = self.var_of(*l);
                self.b.def_var(var, v);
            }
            Stmt::Store(r, idx, v) => {
                let elem = self.elem_of(*r);
                if let Some(p) = self.fast_ptr(analysis::key(idx)) {
                    let val = self.expr(v);
                    self.store_at(elem, p, val);
                } else {
                    let i = self.expr(idx);
                    let val = self.expr(v);
                    let addr = self.checked_addr_of(*r, i, idx.ty);
                    self.store_at(elem, addr, val);
                }
            }
            Stmt::If(c, t, e) => {
                let cv = self.expr(c);
                let tb = self.b.create_block();
                let eb = self.b.create_block();
                let join = self.b.create_block();
                self.b.ins().brif(cv, tb, &[], eb, &[]);
                self.b.switch_to_block(tb);
                self.block(t);
                if !self.terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.b.switch_to_block(eb);
                self.block(e);
                if !self.terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.b.switch_to_block(join);
            }
            Stmt::While(c, body) => {
                let head = self.b.create_block();
                let bodyb = self.b.create_block();
                let exit = self.b.create_block();
                self.b.ins().jump(head, &[]);
                self.b.switch_to_block(head);
                let cv = self.expr(c);
                self.b.ins().brif(cv, bodyb, &[], exit, &[]);
                self.b.switch_to_block(bodyb);
                self.loops.push((head, exit));
                self.block(body);
                self.loops.pop();
                if !self.terminated() {
                    self.b.ins().jump(head, &[]);
                }
                self.b.switch_to_block(exit);
            }
            Stmt::For(fl) => self.for_loop(fl),
            Stmt::Break => {
                if let Some(&(_, brk)) = self.loops.last() {
                    self.b.ins().jump(brk, &[]);
                }
            }
            Stmt::Continue => {
                if let Some(&(cont, _)) = self.loops.last() {
                    self.b.ins().jump(cont, &[]);
                }
            }
            Stmt::Return(v) => {
                let z = self.b.ins().iconst(types::I32, 0);
                match v {
                    None => {
                        self.b.ins().return_(&[z]);
                    }
                    Some(e) => {
                        let x = self.expr(e);
                        self.b.ins().return_(&[z, x]);
                    }
                }
            }
            Stmt::Eval(e) => {
                self.expr(e);
            }
        }
    }

    fn for_loop(&mut self, fl: &ForLoop) {
        let ty = fl.start.ty;
        let t = cl_type(ty);
        let start = self.expr(&fl.start);
        let var = self.vars[fl.var as usize];
        self.b.def_var(var, start);
        let end = self.expr(&fl.end);
        let step = match &fl.step {
            None => None,
            Some(se) => {
                let s = self.expr(se);
                let bad = self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, s, 0);
                self.trap_if(bad, TrapKind::BadStep);
                let lim0 = self.b.ins().isub(end, s);
                let under = self.b.ins().icmp(IntCC::SignedGreaterThan, lim0, end);
                let min = self.b.ins().iconst(
                    t,
                    if ty == Ty::I32 {
                        i32::MIN as i64
                    } else {
                        i64::MIN
                    },
                );
                let lim = self.b.ins().select(under, min, lim0);
                Some((s, lim))
            }
        };
        let exit = self.b.create_block();
        let pre = self.b.create_block();
        let enter = self.b.ins().icmp(IntCC::SignedLessThan, start, end);
        self.b.ins().brif(enter, pre, &[], exit, &[]);
        self.b.switch_to_block(pre);

        let innermost = !analysis::has_loop(&fl.body);
        // T3: a column loop around a dot product runs 32/16/4 columns at once (outer_vec.rs)
        if self.o.vectorize
            && !innermost
            && step.is_none()
            && self.fast.is_none()
            && (self.try_outer_vector(fl, start, end, exit)
                // a map nest over k (fft's butterflies) runs 4 k at once (outer_map.rs)
                || self.try_outer_map(fl, start, end, exit))
        {
            self.b.switch_to_block(exit);
            return;
        }
        if self.o.hoist && innermost && ty == Ty::I32 && self.fast.is_none() {
            let mut asg = Vec::new();
            walk::assigned(&fl.body, &mut asg);
            let li = LoopInfo {
                var: fl.var,
                assigned: &asg,
                defs: analysis::single_defs(fl.var, &fl.body, &asg),
            };
            let mut acc = Vec::new();
            analysis::accesses(&li, &fl.body, &mut acc);
            if !acc.is_empty() {
                self.versioned(fl, &li, &acc, start, end, step, exit);
                self.b.switch_to_block(exit);
                return;
            }
        }
        self.plain_loop(fl, end, step, exit, &[]);
        self.b.switch_to_block(exit);
    }

    /// An affine index's loop-variable coefficient (if any) and the sum of its invariant
    /// terms, as i64 values computed before the loop.
    fn affine_i64(
        &mut self,
        coef: Option<analysis::Coef>,
        offs: &[(bool, &Expr)],
    ) -> (Option<Value>, Value) {
        let mut off = self.b.ins().iconst(types::I64, 0);
        for (neg, e) in offs {
            let v = self.expr(e);
            let v = self.b.ins().sextend(types::I64, v);
            off = if *neg {
                self.b.ins().isub(off, v)
            } else {
                self.b.ins().iadd(off, v)
            };
        }
        let coef = coef.map(|c| {
            let m = match c.mul {
                None => self.b.ins().iconst(types::I64, 1),
                Some(e) => {
                    let v = self.expr(e);
                    self.b.ins().sextend(types::I64, v)
                }
            };
            if c.neg { self.b.ins().ineg(m) } else { m }
        });
        (coef, off)
    }

    /// Advances each strength-reduced pointer variable by its stride (one iteration).
    fn bump_pointers(&mut self, bumps: &[(Variable, Value)]) {
        for &(pv, stride) in bumps {
            let p = self.b.use_var(pv);
            let p2 = self.b.ins().iadd(p, stride);
            self.b.def_var(pv, p2);
        }
    }

    /// The iterations a vectorized or unrolled part left (`var` where it stopped): the
    /// plain loop if any remain.
    pub(super) fn remainder_loop(
        &mut self,
        fl: &ForLoop,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
        bumps: &[(Variable, Value)],
    ) {
        let v = self.b.use_var(self.vars[fl.var as usize]);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, v, end);
        let rest = self.b.create_block();
        self.b.ins().brif(more, rest, &[], exit, &[]);
        self.b.switch_to_block(rest);
        self.plain_loop(fl, end, step, exit, bumps);
    }

    /// The loop itself, entered with `var < end` known. `bumps` are (pointer var, stride)
    /// pairs advanced at the latch (strength-reduced addresses).
    fn plain_loop(
        &mut self,
        fl: &ForLoop,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
        bumps: &[(Variable, Value)],
    ) {
        let var = self.vars[fl.var as usize];
        let body = self.b.create_block();
        let latch = self.b.create_block();
        self.b.ins().jump(body, &[]);
        self.b.switch_to_block(body);
        self.loops.push((latch, exit));
        self.block(&fl.body);
        self.loops.pop();
        if !self.terminated() {
            self.b.ins().jump(latch, &[]);
        }
        self.b.switch_to_block(latch);
        self.bump_pointers(bumps);
        let v = self.b.use_var(var);
        match step {
            None => {
                let v1 = self.b.ins().iadd_imm_s(v, 1);
                self.b.def_var(var, v1);
                let c = self.b.ins().icmp(IntCC::SignedLessThan, v1, end);
                self.b.ins().brif(c, body, &[], exit, &[]);
            }
            Some((s, lim)) => {
                let c = self.b.ins().icmp(IntCC::SignedLessThan, v, lim);
                let v1 = self.b.ins().iadd(v, s);
                self.b.def_var(var, v1);
                self.b.ins().brif(c, body, &[], exit, &[]);
            }
        }
    }

    /// Loop versioning: if every affine access is in bounds for the first and the last
    /// iteration (so for all, the index being affine), run a copy of the loop without those
    /// checks and with strength-reduced addresses; otherwise run the fully checked loop.
    #[allow(clippy::too_many_arguments)]
    fn versioned(
        &mut self,
        fl: &ForLoop,
        li: &LoopInfo,
        acc: &[Access],
        start: Value,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
    ) {
        let s64 = self.b.ins().sextend(types::I64, start);
        let e64 = self.b.ins().sextend(types::I64, end);
        let step64 = step.map(|(s, _)| self.b.ins().sextend(types::I64, s));
        let last = match step64 {
            None => self.b.ins().iadd_imm_s(e64, -1),
            Some(st) => {
                let span = self.b.ins().isub(e64, s64);
                let span = self.b.ins().iadd_imm_s(span, -1);
                let n = self.b.ins().udiv(span, st);
                let k = self.b.ins().imul(n, st);
                self.b.ins().iadd(s64, k)
            }
        };
        let mut ok = self.b.ins().iconst(types::I8, 1);
        // per access: (coef i64 or None, offset i64)
        let mut forms: Vec<(Option<Value>, Value)> = Vec::new();
        // accesses of the same buffer at the same index (e.g. `re[b]` read twice and stored)
        // share one pointer and one entry test: one induction variable each would only add
        // latch increments and register pressure (measured on fft's butterfly);
        // grouped by hashing their affine forms (comparing every pair was quadratic)
        let mut first: HashMap<(BufRef, analysis::AffineKey), usize> = HashMap::new();
        let dup: Vec<Option<usize>> = acc
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let k = (a.buf, analysis::affine_key(&a.aff));
                match first.get(&k) {
                    Some(&j) => Some(j),
                    None => {
                        first.insert(k, i);
                        None
                    }
                }
            })
            .collect();
        for (ai, a) in acc.iter().enumerate() {
            if let Some(j) = dup[ai] {
                forms.push(forms[j]);
                continue;
            }
            let (coef, off) = self.affine_i64(a.aff.coef, &a.aff.offs);
            let (_, len) = self.buf(a.buf);
            let points: &[Value] = if coef.is_some() { &[s64, last] } else { &[s64] };
            for &pt in points {
                let idx = match coef {
                    Some(c) => {
                        let ci = self.b.ins().imul(c, pt);
                        self.b.ins().iadd(ci, off)
                    }
                    None => off,
                };
                let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                ok = self.b.ins().band(ok, inb);
            }
            forms.push((coef, off));
        }
        // `pow(b, y)` with b a loop-invariant f32 local: log2 b once, here, and the fast
        // copy (entered only when b is a base `mathf::powf` computes inline) emits 2^(y·L)
        let mut pow_bases: Vec<(u32, Value)> = Vec::new();
        if self.o.inline_math {
            for l in invariant_pow_bases(&fl.body, li) {
                if self.const_f32(&Expr::local(l, Ty::F32)).is_some() {
                    continue;
                }
                let x = self.b.use_var(self.vars[l as usize]);
                let (inline_ok, log2x) = self.pow_base_log2(x);
                ok = self.b.ins().band(ok, inline_ok);
                pow_bases.push((l, log2x));
            }
        }
        let fastb = self.b.create_block();
        let slowb = self.b.create_block();
        self.b.ins().brif(ok, fastb, &[], slowb, &[]);

        // fast version: pointer variables start at the first iteration's address
        self.b.switch_to_block(fastb);
        let mut ptrs: Vec<(usize, Variable, Value, Option<bool>)> = Vec::new();
        let mut bumps = Vec::new();
        for (ai, (a, (coef, off))) in acc.iter().zip(&forms).enumerate() {
            if let Some(j) = dup[ai] {
                let shared = ptrs[j];
                ptrs.push((a.key, shared.1, shared.2, shared.3));
                continue;
            }
            let (p, _) = self.buf(a.buf);
            let sh = self.elem_of(a.buf).shift() as i64;
            let first = match coef {
                Some(c) => {
                    let ci = self.b.ins().imul(*c, s64);
                    self.b.ins().iadd(ci, *off)
                }
                None => *off,
            };
            let byte = self.b.ins().ishl_imm_s(first, sh);
            let addr = self.b.ins().iadd(p, byte);
            let pv = self.b.declare_var(types::I64);
            self.b.def_var(pv, addr);
            let stride = match coef {
                Some(c) => {
                    let cs = match step64 {
                        None => *c,
                        Some(st) => self.b.ins().imul(*c, st),
                    };
                    self.b.ins().ishl_imm_s(cs, sh)
                }
                None => self.b.ins().iconst(types::I64, 0),
            };
            let contiguous = match a.aff.coef {
                Some(c) if c.is_one() => Some(true),
                None => Some(false),
                _ => None,
            };
            ptrs.push((a.key, pv, stride, contiguous));
            if coef.is_some() {
                bumps.push((pv, stride));
            }
        }
        self.fast = Some(FastCtx::new(ptrs));
        self.pow_bases = pow_bases;
        if step.is_none() && self.o.vectorize {
            self.try_vector_loop(fl, li, end, &bumps);
        }
        // unrolling pays when iterations are independent or reductions may use separate
        // accumulators; a float chain that must stay in order (no #[reassoc]) gains nothing,
        // nor does an index advanced under a data-dependent branch (quicksort's partition)
        let serial = !self.f.reassoc && serial_float_chain(fl);
        if step.is_none()
            && self.o.unroll
            && !serial
            && analysis::stmt_count(&fl.body) <= 24
            && !analysis::conditional_index(&fl.body)
            && !analysis::has_break_continue(&fl.body)
        {
            self.unrolled(fl, end, &bumps);
        }
        // the scalar fast loop (or the remainder after vector/unrolled parts)
        self.remainder_loop(fl, end, step, exit, &bumps);
        self.fast = None;
        self.pow_bases.clear();

        // slow version: every check kept
        self.b.switch_to_block(slowb);
        self.plain_loop(fl, end, step, exit, &[]);
    }

    /// Runs whole groups of 4 iterations with the body copied 4 times (T3). In a
    /// `#[reassoc]` function each float reduction (`acc += e`, `acc = fma(x, y, acc)`) gets
    /// one accumulator per copy, which breaks the dependence chain; they are summed after.
    fn unrolled(&mut self, fl: &ForLoop, end: Value, bumps: &[(Variable, Value)]) {
        let var = self.vars[fl.var as usize];
        let reds = if self.f.reassoc {
            scalar_reductions(fl)
        } else {
            Vec::new()
        };
        let mut extra: Vec<(u32, [Variable; 3])> = Vec::new();
        for &(acc, t) in &reds {
            let vs = [0; 3].map(|_| self.b.declare_var(cl_type(t)));
            for v in vs {
                let z = self.zero(t);
                self.b.def_var(v, z);
            }
            extra.push((acc, vs));
        }
        let head = self.b.create_block();
        let body = self.b.create_block();
        let done = self.b.create_block();
        let e64 = self.b.ins().sextend(types::I64, end);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let v = self.b.use_var(var);
        let v64 = self.b.ins().sextend(types::I64, v);
        let v4 = self.b.ins().iadd_imm_s(v64, 4);
        let c = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, v4, e64);
        self.b.ins().brif(c, body, &[], done, &[]);
        self.b.switch_to_block(body);
        for copy in 0..4 {
            let mark = self.alias.len();
            if copy > 0 {
                for (acc, vs) in &extra {
                    self.alias.push((*acc, vs[copy - 1]));
                }
            }
            self.block(&fl.body);
            self.alias.truncate(mark);
            if self.terminated() {
                self.fresh();
            }
            self.bump_pointers(bumps);
            let v = self.b.use_var(var);
            let v1 = self.b.ins().iadd_imm_s(v, 1);
            self.b.def_var(var, v1);
        }
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(done);
        for (acc, vs) in extra {
            let main = self.vars[acc as usize];
            let a = self.b.use_var(main);
            let x = self.b.use_var(vs[0]);
            let y = self.b.use_var(vs[1]);
            let z = self.b.use_var(vs[2]);
            let ax = self.b.ins().fadd(a, x);
            let yz = self.b.ins().fadd(y, z);
            let total = self.b.ins().fadd(ax, yz);
            self.b.def_var(main, total);
        }
    }

    /// f32x4 version of a map/reduction loop, 16 iterations per trip (four vectors per
    /// statement, four accumulators per reduction). Leaves `var` and the pointer variables
    /// at the first iteration not done, for the scalar remainder.
    fn try_vector_loop(
        &mut self,
        fl: &ForLoop,
        li: &LoopInfo,
        end: Value,
        bumps: &[(Variable, Value)],
    ) {
        let fast = self
            .fast
            .as_ref()
            .map(|f| f.ptrs.iter().map(|p| (p.0, p.3)).collect::<HashMap<_, _>>())
            .unwrap_or_default();
        let contiguous = |e: &Expr| fast.get(&analysis::key(e)).copied().flatten();
        let m = self.m;
        let f = self.f;
        let elem_of = |r: BufRef| match r {
            BufRef::Param(i) => f.bufs[i as usize].0,
            BufRef::Table(t) => m.tables[t as usize].data.elem(),
        };
        let Some(vs) = analysis::vectorizable(m, li, &fl.body, f.reassoc, &elem_of, &contiguous)
        else {
            return;
        };
        let uses_fma = vs.iter().any(|v| match v {
            VStmt::Reduce { fma: Some(_), .. } => true,
            VStmt::Reduce { e, .. } | VStmt::Store { e, .. } | VStmt::Temp { e, .. } => has_fma(e),
        });
        if uses_fma && !self.o.hw_fma {
            return;
        }
        let var = self.vars[fl.var as usize];
        let v4 = types::F32X4;
        // accumulators
        let mut accs: Vec<(u32, RedOp, [Variable; PARTS])> = Vec::new();
        for v in &vs {
            if let VStmt::Reduce { acc, op, .. } = v
                && *op != RedOp::OrderedAdd
            {
                let a = self.b.use_var(self.vars[*acc as usize]);
                let splat = self.b.ins().splat(v4, a);
                let z = self.b.ins().f32const(0.0);
                let zv = self.b.ins().splat(v4, z);
                // sums: the old value in lane 0 of the first part, zeros elsewhere;
                // min/max: the old value everywhere (they are idempotent)
                let first = if *op == RedOp::Add {
                    self.b.ins().insertlane(zv, a, 0)
                } else {
                    splat
                };
                let rest = if *op == RedOp::Add { zv } else { splat };
                let vars = [0; PARTS].map(|_| self.b.declare_var(v4));
                self.b.def_var(vars[0], first);
                for v in &vars[1..] {
                    self.b.def_var(*v, rest);
                }
                accs.push((*acc, *op, vars));
            }
        }
        let head = self.b.create_block();
        let body = self.b.create_block();
        let done = self.b.create_block();
        let e64 = self.b.ins().sextend(types::I64, end);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let v = self.b.use_var(var);
        let v64 = self.b.ins().sextend(types::I64, v);
        let v8 = self.b.ins().iadd_imm_s(v64, LANES as i64);
        let mut c = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, v8, e64);
        if has_call(&fl.body) {
            // inlined calls skip their call-depth check: when one could fail, leave every
            // iteration to the scalar loop, which traps where T0 does
            let room = self
                .b
                .ins()
                .iadd_imm_s(self.depth, analysis::MAX_INLINE_DEPTH as i64);
            let ok = self.b.ins().icmp_imm_s(
                IntCC::UnsignedLessThanOrEqual,
                room,
                self.o.depth_limit as i64,
            );
            c = self.b.ins().band(c, ok);
        }
        self.b.ins().brif(c, body, &[], done, &[]);
        self.b.switch_to_block(body);
        for part in 0..PARTS as u32 {
            let mut temps: Vec<(u32, Value)> = Vec::new();
            for vst in &vs {
                match vst {
                    VStmt::Temp { local, e } => {
                        let x = self.vexpr(e, part, &temps);
                        temps.push((*local, x));
                    }
                    VStmt::Store { idx, e, .. } => {
                        let x = self.vexpr(e, part, &temps);
                        let p = self.fast_ptr(analysis::key(idx)).expect("proven access");
                        self.b.ins().store(
                            MemFlagsData::new().with_notrap(),
                            x,
                            p,
                            (part * 16) as i32,
                        );
                    }
                    VStmt::Reduce {
                        acc,
                        e,
                        op: RedOp::OrderedAdd,
                        ..
                    } => {
                        let xv = self.vexpr(e, part, &temps);
                        let var = self.var_of(*acc);
                        let mut sum = self.b.use_var(var);
                        for lane in 0..4u8 {
                            let x = self.b.ins().extractlane(xv, lane);
                            sum = self.b.ins().fadd(sum, x);
                        }
                        self.b.def_var(var, sum);
                    }
                    VStmt::Reduce {
                        acc,
                        e,
                        op: op @ (RedOp::Min | RedOp::Max),
                        ..
                    } => {
                        let av = accs
                            .iter()
                            .find(|a| a.0 == *acc)
                            .map(|a| a.2[part as usize])
                            .expect("acc");
                        let cur = self.b.use_var(av);
                        let xv = self.vexpr(e, part, &temps);
                        let next = if *op == RedOp::Min {
                            self.b.ins().fmin(cur, xv)
                        } else {
                            self.b.ins().fmax(cur, xv)
                        };
                        self.b.def_var(av, next);
                    }
                    VStmt::Reduce { acc, e, fma, .. } => {
                        let av = accs
                            .iter()
                            .find(|a| a.0 == *acc)
                            .map(|a| a.2[part as usize])
                            .expect("acc");
                        let cur = self.b.use_var(av);
                        let next = match fma {
                            Some((x, y)) => {
                                let xv = self.vexpr(x, part, &temps);
                                let yv = self.vexpr(y, part, &temps);
                                self.b.ins().fma(xv, yv, cur)
                            }
                            None => match &e.kind {
                                ExprKind::Binary(BinOp::Mul, x, y) if self.o.hw_fma => {
                                    let xv = self.vexpr(x, part, &temps);
                                    let yv = self.vexpr(y, part, &temps);
                                    self.b.ins().fma(xv, yv, cur)
                                }
                                _ => {
                                    let xv = self.vexpr(e, part, &temps);
                                    self.b.ins().fadd(cur, xv)
                                }
                            },
                        };
                        self.b.def_var(av, next);
                    }
                }
            }
        }
        for &(pv, stride) in bumps {
            let p = self.b.use_var(pv);
            let s8 = self.b.ins().imul_imm_s(stride, LANES as i64);
            let p2 = self.b.ins().iadd(p, s8);
            self.b.def_var(pv, p2);
        }
        let v = self.b.use_var(var);
        let v1 = self.b.ins().iadd_imm_s(v, LANES as i64);
        self.b.def_var(var, v1);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(done);
        // fold the vector accumulators back into the scalar ones
        for (acc, op, vs) in accs {
            let parts: Vec<Value> = vs.iter().map(|v| self.b.use_var(*v)).collect();
            let comb = |b: &mut FunctionBuilder, x: Value, y: Value| match op {
                RedOp::Add | RedOp::OrderedAdd => b.ins().fadd(x, y),
                RedOp::Min => b.ins().fmin(x, y),
                RedOp::Max => b.ins().fmax(x, y),
            };
            let ab = comb(&mut self.b, parts[0], parts[1]);
            let cd = comb(&mut self.b, parts[2], parts[3]);
            let s = comb(&mut self.b, ab, cd);
            let l0 = self.b.ins().extractlane(s, 0);
            let l1 = self.b.ins().extractlane(s, 1);
            let l2 = self.b.ins().extractlane(s, 2);
            let l3 = self.b.ins().extractlane(s, 3);
            let x = comb(&mut self.b, l0, l1);
            let y = comb(&mut self.b, l2, l3);
            let total = comb(&mut self.b, x, y);
            self.b.def_var(self.vars[acc as usize], total);
        }
    }

    fn vexpr(&mut self, e: &Expr, part: u32, temps: &[(u32, Value)]) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.konst(*c);
                self.b.ins().splat(v4, s)
            }
            ExprKind::Local(l) => {
                if let Some((_, v)) = temps.iter().find(|t| t.0 == *l) {
                    *v
                } else {
                    let s = self.b.use_var(self.vars[*l as usize]);
                    self.b.ins().splat(v4, s)
                }
            }
            ExprKind::Load(_, idx) => {
                let k = analysis::key(idx);
                let contiguous = self.fast.as_ref().and_then(|f| f.get(k)).and_then(|p| p.3);
                let p = self.fast_ptr(k).expect("proven access");
                self.lane_load(p, contiguous == Some(true), part)
            }
            ExprKind::Binary(BinOp::Add, a, b) if self.f.reassoc && self.inlining == 0 => {
                match (self.o.hw_fma, mul_add(a, b)) {
                    // `x*y + z` contracted to one fused multiply-add (allowed by #[reassoc])
                    (true, Some((x, y, z))) => {
                        let xv = self.vexpr(x, part, temps);
                        let yv = self.vexpr(y, part, temps);
                        let zv = self.vexpr(z, part, temps);
                        self.b.ins().fma(xv, yv, zv)
                    }
                    _ => {
                        let xv = self.vexpr(a, part, temps);
                        let yv = self.vexpr(b, part, temps);
                        self.b.ins().fadd(xv, yv)
                    }
                }
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = lane_operands(e)
                    .into_iter()
                    .map(|x| self.vexpr(x, part, temps))
                    .collect();
                self.lane_op(e, &xs)
            }
            ExprKind::Call(fi, args) => {
                // an expression function: its body over the argument vectors
                let body = analysis::expr_function(self.m, *fi).expect("checked inlinable");
                let params: Vec<(u32, Value)> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match a {
                        CallArg::Scalar(x) => (i as u32, self.vexpr(x, part, temps)),
                        _ => unreachable!("checked: scalar arguments only"),
                    })
                    .collect();
                self.inlining += 1;
                let v = self.vexpr(body, part, &params);
                self.inlining -= 1;
                v
            }
            _ => unreachable!("vectorizable() admits only the forms handled above"),
        }
    }

    /// The f32x4 of a proven load at pointer `p` for lanes `4*part..4*part+4`: four
    /// consecutive elements when the index advances with the lanes, else the one element
    /// broadcast.
    pub(super) fn lane_load(&mut self, p: Value, contiguous: bool, part: u32) -> Value {
        if contiguous {
            self.b.ins().load(
                types::F32X4,
                MemFlagsData::new().with_notrap(),
                p,
                (part * 16) as i32,
            )
        } else {
            let s = self.b.ins().load(types::F32, MemFlagsData::trusted(), p, 0);
            self.b.ins().splat(types::F32X4, s)
        }
    }

    /// Emits the lane-wise f32 operation `e` (negation, `+ - * /`, `sqrt abs exp sin cos
    /// min max fma`) on its operands' already computed vectors `xs`
    /// ([`lane_operands`] order). Every vectorizer's expression emitter ends here.
    pub(super) fn lane_op(&mut self, e: &Expr, xs: &[Value]) -> Value {
        match &e.kind {
            ExprKind::Unary(_, _) => self.b.ins().fneg(xs[0]),
            ExprKind::Binary(op, _, _) => match op {
                BinOp::Add => self.b.ins().fadd(xs[0], xs[1]),
                BinOp::Sub => self.b.ins().fsub(xs[0], xs[1]),
                BinOp::Mul => self.b.ins().fmul(xs[0], xs[1]),
                _ => self.b.ins().fdiv(xs[0], xs[1]),
            },
            ExprKind::Intrinsic(i, _) => match i {
                Intrinsic::Sqrt => self.b.ins().sqrt(xs[0]),
                Intrinsic::Abs => self.b.ins().fabs(xs[0]),
                Intrinsic::Exp => self.inline_exp(xs[0]),
                Intrinsic::Sin => self.inline_sincos(xs[0], false),
                Intrinsic::Cos => self.inline_sincos(xs[0], true),
                Intrinsic::Min => self.b.ins().fmin(xs[0], xs[1]),
                Intrinsic::Max => self.b.ins().fmax(xs[0], xs[1]),
                _ => self.b.ins().fma(xs[0], xs[1], xs[2]),
            },
            _ => unreachable!("the vectorizers admit only lane-wise operations"),
        }
    }

    // ---- expressions

    fn expr(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Const(c) => self.konst(*c),
            ExprKind::Local(l) => {
                let var = self.var_of(*l);
                self.b.use_var(var)
            }
            ExprKind::Unary(op, a) => {
                let x = self.expr(a);
                match op {
                    UnOp::Neg if e.ty.is_float() => self.b.ins().fneg(x),
                    UnOp::Neg => self.b.ins().ineg(x),
                    UnOp::Not => self.b.ins().bxor_imm_s(x, 1),
                    UnOp::BitNot => self.b.ins().bnot(x),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let t = a.ty;
                let x = self.expr(a);
                let y = self.expr(b);
                self.binary(*op, t, x, y)
            }
            ExprKind::LogicAnd(a, b) | ExprKind::LogicOr(a, b) => {
                let is_and = matches!(e.kind, ExprKind::LogicAnd(..));
                let x = self.expr(a);
                let rhs = self.b.create_block();
                let done = self.b.create_block();
                let r = self.b.append_block_param(done, types::I8);
                if is_and {
                    self.b.ins().brif(x, rhs, &[], done, &[BlockArg::Value(x)]);
                } else {
                    self.b.ins().brif(x, done, &[BlockArg::Value(x)], rhs, &[]);
                }
                self.b.switch_to_block(rhs);
                let y = self.expr(b);
                self.b.ins().jump(done, &[BlockArg::Value(y)]);
                self.b.switch_to_block(done);
                r
            }
            ExprKind::Cast(a) => {
                let x = self.expr(a);
                self.cast(a.ty, e.ty, x)
            }
            ExprKind::Load(r, idx) => {
                let addr = self.checked_addr(*r, idx);
                let elem = self.elem_of(*r);
                self.load_at(elem, addr)
            }
            ExprKind::Len(r) => {
                let (_, n) = self.buf(*r);
                self.b.ins().ireduce(types::I32, n)
            }
            ExprKind::Call(fi, args) => self.call(*fi, args),
            ExprKind::Intrinsic(i, args) => self.intrinsic(*i, args, e.ty),
        }
    }

    fn cast(&mut self, from: Ty, to: Ty, x: Value) -> Value {
        let ins = self.b.ins();
        match (from, to) {
            (a, b) if a == b => x,
            (Ty::I32, Ty::I64) => ins.sextend(types::I64, x),
            (Ty::I64, Ty::I32) => ins.ireduce(types::I32, x),
            (Ty::I32 | Ty::I64, Ty::F32 | Ty::F64) => ins.fcvt_from_sint(cl_type(to), x),
            (Ty::F32 | Ty::F64, Ty::I32 | Ty::I64) => ins.fcvt_to_sint_sat(cl_type(to), x),
            (Ty::F32, Ty::F64) => ins.fpromote(types::F64, x),
            (Ty::F64, Ty::F32) => ins.fdemote(types::F32, x),
            (Ty::Bool, _) => ins.uextend(cl_type(to), x),
            _ => x,
        }
    }

    fn binary(&mut self, op: BinOp, t: Ty, x: Value, y: Value) -> Value {
        if t.is_float() {
            let ins = self.b.ins();
            return match op {
                BinOp::Add => ins.fadd(x, y),
                BinOp::Sub => ins.fsub(x, y),
                BinOp::Mul => ins.fmul(x, y),
                BinOp::Div => ins.fdiv(x, y),
                BinOp::Rem => {
                    let lc = if t == Ty::F32 {
                        Libcall::FmodF32
                    } else {
                        Libcall::FmodF64
                    };
                    return self.libcall(lc, &[x, y]);
                }
                BinOp::Eq => ins.fcmp(FloatCC::Equal, x, y),
                BinOp::Ne => ins.fcmp(FloatCC::NotEqual, x, y),
                BinOp::Lt => ins.fcmp(FloatCC::LessThan, x, y),
                BinOp::Le => ins.fcmp(FloatCC::LessThanOrEqual, x, y),
                BinOp::Gt => ins.fcmp(FloatCC::GreaterThan, x, y),
                BinOp::Ge => ins.fcmp(FloatCC::GreaterThanOrEqual, x, y),
                _ => x,
            };
        }
        match op {
            BinOp::Div | BinOp::Rem => return self.sdivrem(op == BinOp::Div, t, x, y),
            _ => {}
        }
        let ins = self.b.ins();
        match op {
            BinOp::Add => ins.iadd(x, y),
            BinOp::Sub => ins.isub(x, y),
            BinOp::Mul => ins.imul(x, y),
            BinOp::And => ins.band(x, y),
            BinOp::Or => ins.bor(x, y),
            BinOp::Xor => ins.bxor(x, y),
            BinOp::Shl => ins.ishl(x, y),
            BinOp::Shr => ins.sshr(x, y),
            BinOp::UShr => ins.ushr(x, y),
            BinOp::Eq => ins.icmp(IntCC::Equal, x, y),
            BinOp::Ne => ins.icmp(IntCC::NotEqual, x, y),
            BinOp::Lt => ins.icmp(IntCC::SignedLessThan, x, y),
            BinOp::Le => ins.icmp(IntCC::SignedLessThanOrEqual, x, y),
            BinOp::Gt => ins.icmp(IntCC::SignedGreaterThan, x, y),
            BinOp::Ge => ins.icmp(IntCC::SignedGreaterThanOrEqual, x, y),
            BinOp::Div | BinOp::Rem => x,
        }
    }

    /// Signed `/` and `%`: explicit zero check; `MIN / -1` computed as `MIN / 1`.
    fn sdivrem(&mut self, div: bool, t: Ty, x: Value, y: Value) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapKind::DivisionByZero);
        let min = if t == Ty::I32 {
            i32::MIN as i64
        } else {
            i64::MIN
        };
        let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, x, min);
        let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let both = self.b.ins().band(is_min, is_m1);
        let one = self.b.ins().iconst(cl_type(t), 1);
        let y2 = self.b.ins().select(both, one, y);
        if div {
            self.b.ins().sdiv(x, y2)
        } else {
            self.b.ins().srem(x, y2)
        }
    }

    fn udivrem(&mut self, div: bool, x: Value, y: Value) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapKind::DivisionByZero);
        if div {
            self.b.ins().udiv(x, y)
        } else {
            self.b.ins().urem(x, y)
        }
    }

    fn intrinsic(&mut self, i: Intrinsic, args: &[Expr], rt: Ty) -> Value {
        // the operands first, in a small frame: nested intrinsics recurse through here only
        let mut xs = Vec::with_capacity(args.len());
        for a in args {
            xs.push(self.expr(a));
        }
        self.intrinsic_of(i, args, &xs, rt)
    }

    /// An intrinsic applied to its lowered operands `xs` (`args` are their expressions).
    fn intrinsic_of(&mut self, i: Intrinsic, args: &[Expr], xs: &[Value], rt: Ty) -> Value {
        use Intrinsic::*;
        let t = args.last().map(|a| a.ty).unwrap_or(rt);
        let f64_ = t == Ty::F64;
        let pick = |a: Libcall, b: Libcall| if f64_ { b } else { a };
        let sse41 = self.o.sse41;
        match i {
            Select => self.b.ins().select(xs[0], xs[1], xs[2]),
            Sqrt => self.b.ins().sqrt(xs[0]),
            Abs if t.is_float() => self.b.ins().fabs(xs[0]),
            Abs => self.b.ins().iabs(xs[0]),
            Floor if sse41 => self.b.ins().floor(xs[0]),
            Ceil if sse41 => self.b.ins().ceil(xs[0]),
            Trunc if sse41 => self.b.ins().trunc(xs[0]),
            Nearest if sse41 => self.b.ins().nearest(xs[0]),
            Floor => self.libcall(pick(Libcall::FloorF32, Libcall::FloorF64), xs),
            Ceil => self.libcall(pick(Libcall::CeilF32, Libcall::CeilF64), xs),
            Trunc => self.libcall(pick(Libcall::TruncF32, Libcall::TruncF64), xs),
            Nearest => self.libcall(pick(Libcall::NearestF32, Libcall::NearestF64), xs),
            // scalar sin/cos stay calls: inline (both polynomials for the quadrant choice,
            // and a cold libm path) they measured slower than `libm`'s sinf/cosf, also
            // with a register-preserving cold call (rope T2 1.7x slower than T1)
            Exp if !f64_ && self.o.inline_math => self.inline_exp(xs[0]),
            Exp => self.libcall(pick(Libcall::ExpF32, Libcall::ExpF64), xs),
            Ln => self.libcall(pick(Libcall::LnF32, Libcall::LnF64), xs),
            Sin => self.libcall(pick(Libcall::SinF32, Libcall::SinF64), xs),
            Cos => self.libcall(pick(Libcall::CosF32, Libcall::CosF64), xs),
            Tanh => self.libcall(pick(Libcall::TanhF32, Libcall::TanhF64), xs),
            // a known base (a literal, or a parameter T3 specialized on): log2 of it is
            // folded here, by the very function the interpreter runs, and only `2^(y·c)`
            // is emitted
            Pow if !f64_
                && self.o.inline_math
                && self
                    .const_f32(&args[0])
                    .is_some_and(crate::math::mathf::pow_base_inline) =>
            {
                let base = self.const_f32(&args[0]).expect("checked");
                let log2x = self
                    .b
                    .ins()
                    .f64const(crate::math::mathf::log2_f64(base as f64));
                self.inline_pow_log2(xs[1], log2x)
            }
            Pow if !f64_
                && matches!(args[0].kind, ExprKind::Local(l)
                    if self.pow_bases.iter().any(|p| p.0 == l)) =>
            {
                let ExprKind::Local(l) = args[0].kind else {
                    unreachable!("matched above")
                };
                let log2x = self.pow_bases.iter().find(|p| p.0 == l).expect("matched").1;
                self.inline_pow_log2(xs[1], log2x)
            }
            Pow => self.libcall(pick(Libcall::PowF32, Libcall::PowF64), xs),
            Fma if self.o.hw_fma => self.b.ins().fma(xs[0], xs[1], xs[2]),
            Fma => self.libcall(pick(Libcall::FmaF32, Libcall::FmaF64), xs),
            Min if t.is_float() => self.b.ins().fmin(xs[0], xs[1]),
            Max if t.is_float() => self.b.ins().fmax(xs[0], xs[1]),
            Min => self.b.ins().smin(xs[0], xs[1]),
            Max => self.b.ins().smax(xs[0], xs[1]),
            Copysign => self.b.ins().fcopysign(xs[0], xs[1]),
            Rotl => self.b.ins().rotl(xs[0], xs[1]),
            Rotr => self.b.ins().rotr(xs[0], xs[1]),
            Popcnt => self.b.ins().popcnt(xs[0]),
            Clz => self.b.ins().clz(xs[0]),
            Ctz => self.b.ins().ctz(xs[0]),
            Udiv => self.udivrem(true, xs[0], xs[1]),
            Urem => self.udivrem(false, xs[0], xs[1]),
            Ult => self.b.ins().icmp(IntCC::UnsignedLessThan, xs[0], xs[1]),
            Ule => self
                .b
                .ins()
                .icmp(IntCC::UnsignedLessThanOrEqual, xs[0], xs[1]),
            Ugt => self.b.ins().icmp(IntCC::UnsignedGreaterThan, xs[0], xs[1]),
            Uge => self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, xs[0], xs[1]),
        }
    }

    /// Declares the external function (namespace, index) with `sig` in this function;
    /// `colocated`: in the same code unit (a direct call), else resolved by the linker.
    fn import_function(&mut self, ns: u32, index: u32, sig: Signature, colocated: bool) -> FuncRef {
        let sr = self.b.import_signature(sig);
        let name = self
            .b
            .func
            .declare_imported_user_function(UserExternalName::new(ns, index));
        self.b.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature: sr,
            colocated,
            patchable: false,
        })
    }

    fn libcall(&mut self, lc: Libcall, args: &[Value]) -> Value {
        let key = lc as u32;
        let fr = match self.libs.get(&key) {
            Some(fr) => *fr,
            None => {
                let fr = self.import_function(NS_LIB, key, lc.signature(), false);
                self.libs.insert(key, fr);
                fr
            }
        };
        let call = self.b.ins().call(fr, args);
        self.b.inst_results(call)[0]
    }

    fn call(&mut self, fi: u32, args: &[CallArg]) -> Value {
        let callee = &self.m.funcs[fi as usize];
        let mut vals = Vec::with_capacity(args.len() * 2 + 2);
        vals.push(self.callee_depth);
        vals.push(self.stack_limit);
        for a in args {
            match a {
                CallArg::Scalar(e) => {
                    let v = self.expr(e);
                    vals.push(v);
                }
                CallArg::Buf(r) => {
                    let (p, n) = self.buf(*r);
                    vals.push(p);
                    vals.push(n);
                }
                CallArg::Slice(r, lo, hi) => {
                    let l = self.expr(lo);
                    let h = self.expr(hi);
                    let l = self.idx64(l, lo.ty);
                    let h = self.idx64(h, hi.ty);
                    let (p, n) = self.buf(*r);
                    let bad1 = self.b.ins().icmp(IntCC::UnsignedGreaterThan, l, h);
                    let bad2 = self.b.ins().icmp(IntCC::UnsignedGreaterThan, h, n);
                    let bad = self.b.ins().bor(bad1, bad2);
                    self.trap_if(bad, TrapKind::OutOfBounds);
                    let sh = self.elem_of(*r).shift() as i64;
                    let off = self.b.ins().ishl_imm_s(l, sh);
                    let p2 = self.b.ins().iadd(p, off);
                    let n2 = self.b.ins().isub(h, l);
                    vals.push(p2);
                    vals.push(n2);
                }
            }
        }
        let fr = match self.funcs.get(&fi) {
            Some(fr) => *fr,
            None => {
                let fr = self.import_function(NS_FUNC, fi, native_sig(callee), true);
                self.funcs.insert(fi, fr);
                fr
            }
        };
        let call = self.b.ins().call(fr, &vals);
        let res = self.b.inst_results(call).to_vec();
        let status = res[0];
        // propagate a trap from the callee: each call has its own cold exit. One exit
        // shared by every call, with the status as a block parameter, made register
        // allocation quadratic in the number of calls (regalloc2 merges all the statuses,
        // each fixed to a register, into one bundle and rechecks it at every merge:
        // 15 s for 20,000 calls at T1, 0.85 s with an exit per call)
        let fail = self.b.create_block();
        self.b.set_cold_block(fail);
        let cont = self.b.create_block();
        self.b.ins().brif(status, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        let v = self.ret_vals(status);
        self.b.ins().return_(&v);
        self.b.switch_to_block(cont);
        if callee.ret == Ty::Unit {
            status
        } else {
            res[1]
        }
    }
}

/// Float reductions of a loop body that can use separate accumulators: top-level
/// `acc = acc + e`, `acc = e + acc` or `acc = fma(x, y, acc)` on a local declared outside
/// the loop that the body reads nowhere else. Returns (local, type).
fn scalar_reductions(fl: &ForLoop) -> Vec<(u32, Ty)> {
    let mut out: Vec<(u32, Ty)> = Vec::new();
    for s in &fl.body {
        let Stmt::Set(acc, e) = s else { continue };
        if *acc > fl.var || !e.ty.is_float() {
            continue;
        }
        let is_acc = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == *acc);
        let reduction = match &e.kind {
            ExprKind::Binary(BinOp::Add, a, b) => is_acc(a) || is_acc(b),
            ExprKind::Intrinsic(Intrinsic::Fma, xs) => is_acc(&xs[2]),
            _ => false,
        };
        if !reduction {
            continue;
        }
        if out.iter().any(|o| o.0 == *acc) {
            out.retain(|o| o.0 != *acc);
            continue;
        }
        // the accumulator must not be read anywhere else in the body
        let mut uses = 0;
        let mut count = |x: &Expr| {
            x.visit(&mut |n| {
                if matches!(n.kind, ExprKind::Local(l) if l == *acc) {
                    uses += 1;
                }
            })
        };
        walk::visit_body_exprs(&fl.body, &mut count);
        // exactly one read: the one in its own update
        if uses == 1 {
            out.push((*acc, e.ty));
        }
    }
    out
}

/// True when the body updates a float local declared outside the loop from its own value.
fn serial_float_chain(fl: &ForLoop) -> bool {
    let mut found = false;
    let mut asg = Vec::new();
    walk::assigned(&fl.body, &mut asg);
    for s in &fl.body {
        if let Stmt::Set(l, e) = s
            && *l < fl.var
            && e.ty.is_float()
        {
            e.visit(&mut |n| {
                if matches!(n.kind, ExprKind::Local(x) if x == *l) {
                    found = true;
                }
            });
        }
    }
    found
}

/// The f32 locals used as the base of a `pow` in `stmts` that the loop never assigns.
fn invariant_pow_bases(stmts: &[Stmt], li: &LoopInfo) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut seen: hashbrown::HashSet<u32> = hashbrown::HashSet::new();
    walk::visit_body_exprs(stmts, &mut |root| {
        root.visit(&mut |e| {
            if let ExprKind::Intrinsic(Intrinsic::Pow, a) = &e.kind
                && e.ty == Ty::F32
                && let ExprKind::Local(l) = a[0].kind
                && li.invariant(&a[0])
                && seen.insert(l)
            {
                out.push(l);
            }
        })
    });
    out
}

/// `x*y + z` or `z + x*y` as (x, y, z): an addition a `#[reassoc]` function may contract.
pub(super) fn mul_add<'e>(a: &'e Expr, b: &'e Expr) -> Option<(&'e Expr, &'e Expr, &'e Expr)> {
    match (&a.kind, &b.kind) {
        (ExprKind::Binary(BinOp::Mul, x, y), _) => Some((x, y, b)),
        (_, ExprKind::Binary(BinOp::Mul, x, y)) => Some((x, y, a)),
        _ => None,
    }
}

/// The operands of a lane-wise f32 operation (see [`L::lane_op`]).
pub(super) fn lane_operands(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Unary(_, a) => alloc::vec![&**a],
        ExprKind::Binary(_, a, b) => alloc::vec![&**a, &**b],
        ExprKind::Intrinsic(_, a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

fn has_call(stmts: &[Stmt]) -> bool {
    let mut found = false;
    walk::visit_body_exprs(stmts, &mut |e| {
        e.visit(&mut |x| {
            if matches!(x.kind, ExprKind::Call(..)) {
                found = true;
            }
        })
    });
    found
}

fn has_fma(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| {
        if matches!(x.kind, ExprKind::Intrinsic(Intrinsic::Fma, _)) {
            found = true;
        }
    });
    found
}
