//! Lowering of one IR function to Cranelift IR (T1–T3), in the native ABI of
//! [`super::abi`]. Traps never rely on hardware faults: every check is an explicit branch
//! to a cold exit that returns the trap code. At entry a function traps `CallDepth` when
//! the IR call depth exceeds its limit or when less than `abi::STACK_RESERVE` bytes of
//! native stack remain above the embedder's stack limit (`abi::stack_low`).
//!
//! [`super::analysis`] decides, this module emits. [`FunctionLowering`] owns the
//! function being built and lowers statements and expressions ([`scalar`]) and loops
//! ([`loops`]: versioning, strength reduction, unrolling). The vector emitters get only
//! what [`FunctionContext`] offers (the builder, local variables, buffers, loop-invariant
//! scalar values): the inner vectorizer ([`vector_loop`]) and the two nest vectorizers
//! ([`column_vector`], [`map_vector`]). [`Emitter`] is the narrowest view, the builder and
//! the imported libcalls, which the shared lane operations ([`lanes`]) and the inline math
//! ([`inline_math`]) need.

mod column_vector;
mod half;
mod inline_math;
mod lanes;
mod loops;
mod map_vector;
mod scalar;
mod vector_loop;

use super::abi::{NS_LIB, cl_type, import_function, stack_low, table_address};
use crate::ir::walk;
use crate::ir::*;
use crate::math::libcalls::Libcall;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, Block, FuncRef, InstBuilder, MemFlagsData, Value, types};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FuncInstBuilder, FunctionBuilder, FunctionBuilderContext, Variable};
use hashbrown::HashMap;

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

/// A strength-reduced address in the unchecked copy of a versioned loop: the pointer
/// variable of one access (by key, see `analysis::access_key`), and whether consecutive
/// iterations access consecutive elements (`Some(true)`), the same element
/// (`Some(false)`), or neither (`None`).
#[derive(Clone, Copy, Debug)]
pub(super) struct StridedPointer {
    pub key: usize,
    pub var: Variable,
    pub contiguous: Option<bool>,
}

/// The strength-reduced pointers of a versioned loop's unchecked copy, found by key.
pub(super) struct ProvenPointers {
    pointers: Vec<StridedPointer>,
    /// Position in `pointers` by access key.
    by_key: HashMap<usize, usize>,
}

impl ProvenPointers {
    pub fn new(pointers: Vec<StridedPointer>) -> ProvenPointers {
        let by_key = pointers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.key, i))
            .collect();
        ProvenPointers { pointers, by_key }
    }

    /// The pointer of the access with this key, if it was proven.
    pub fn get(&self, key: usize) -> Option<&StridedPointer> {
        self.pointers.get(*self.by_key.get(&key)?)
    }
}

/// Where `continue` and `break` jump in the innermost enclosing loop.
#[derive(Clone, Copy)]
struct LoopExits {
    continue_to: Block,
    break_to: Block,
}

/// The builder and the libcalls imported so far: what every emitter needs.
pub(super) struct Emitter<'e, 'b> {
    pub builder: &'e mut FunctionBuilder<'b>,
    libcalls: &'e mut HashMap<u32, FuncRef>,
}

impl<'b> Emitter<'_, 'b> {
    pub fn ins(&mut self) -> FuncInstBuilder<'_, 'b> {
        self.builder.ins()
    }

    /// A constant of the IR.
    pub fn constant(&mut self, c: Const) -> Value {
        match c {
            Const::I32(v) => self.ins().iconst(types::I32, v as i64),
            Const::I64(v) => self.ins().iconst(types::I64, v),
            Const::F32(v) => self.ins().f32const(v),
            Const::F64(v) => self.ins().f64const(v),
            Const::Bool(v) => self.ins().iconst(types::I8, v as i64),
        }
    }

    /// Calls one of the math routines (imported on first use).
    pub fn libcall(&mut self, lc: Libcall, args: &[Value]) -> Value {
        let key = lc as u32;
        let fr = match self.libcalls.get(&key) {
            Some(fr) => *fr,
            None => {
                let fr = import_function(self.builder, NS_LIB, key, lc.signature(), false);
                self.libcalls.insert(key, fr);
                fr
            }
        };
        let call = self.ins().call(fr, args);
        self.builder.inst_results(call)[0]
    }
}

/// What the vector emitters may use of the function being lowered.
pub(super) trait FunctionContext<'b> {
    fn emitter(&mut self) -> Emitter<'_, 'b>;
    fn builder(&mut self) -> &mut FunctionBuilder<'b>;
    /// The variable of scalar local `l`.
    fn local(&self, l: u32) -> Variable;
    /// A buffer's (pointer, length).
    fn buffer(&mut self, r: BufRef) -> (Value, Value);
    /// A buffer's element type.
    fn elem(&self, r: BufRef) -> Elem;
    /// Evaluates an expression the analysis proved trap-free and call-free (a
    /// loop-invariant bound, index term or initial value), here, in the current block.
    fn invariant(&mut self, e: &Expr) -> Value;
}

/// One function being lowered.
pub(super) struct FunctionLowering<'a, 'b> {
    builder: FunctionBuilder<'b>,
    module: &'a Module,
    func: &'a Function,
    opts: Opts,
    /// One variable per scalar local.
    vars: Vec<Variable>,
    /// Buffer parameters: (pointer, length).
    bufs: Vec<(Value, Value)>,
    /// The cold exit returning each trap code (indexed by code), made on first use.
    trap_exits: [Option<Block>; 6],
    loop_exits: Vec<LoopExits>,
    /// Functions of the unit called so far.
    callees: HashMap<u32, FuncRef>,
    /// Math routines called so far.
    libcalls: HashMap<u32, FuncRef>,
    /// In the unchecked copy of a versioned loop: the proven accesses' pointers.
    proven: Option<ProvenPointers>,
    /// The call depth (the native ABI's first parameter).
    depth: Value,
    /// `depth + 1`, computed once at entry for every call.
    callee_depth: Value,
    /// The lowest stack address the embedder allows (0: unknown), passed to every callee.
    stack_limit: Value,
    /// Locals redirected to other variables (the extra accumulators of an unrolled reduction).
    alias: Vec<(u32, Variable)>,
    /// Scalar parameters specialized to a constant (T3) that the body never reassigns.
    consts: Vec<(u32, Const)>,
    /// In the fast copy of a versioned loop: f32 locals, invariant in the loop, used as a
    /// `pow` base, whose value the entry test proved inline-able, with log2 of it (f64).
    pow_bases: Vec<(u32, Value)>,
}

/// Lowers function `fi` of `m` into `func` (whose signature must be `abi::native_sig`).
/// `spec`: (parameter index, value bits) pairs that become constants.
pub fn lower_function(
    func: &mut cl::Function,
    fctx: &mut FunctionBuilderContext,
    m: &Module,
    fi: usize,
    spec: &[(usize, u64)],
    opts: Opts,
    frontend: TargetFrontendConfig,
) {
    let f = &m.funcs[fi];
    let mut builder = FunctionBuilder::new(func, fctx);
    let entry = builder.create_block();
    builder.append_block_params_for_function_params(entry);
    builder.switch_to_block(entry);
    let params: Vec<Value> = builder.block_params(entry).to_vec();
    let vars: Vec<Variable> = f
        .locals
        .iter()
        .map(|t| builder.declare_var(cl_type(*t)))
        .collect();
    let mut lowering = FunctionLowering {
        builder,
        module: m,
        func: f,
        opts,
        vars,
        bufs: Vec::new(),
        trap_exits: [None; 6],
        loop_exits: Vec::new(),
        callees: HashMap::new(),
        libcalls: HashMap::new(),
        proven: None,
        depth: params[0],
        callee_depth: params[0],
        stack_limit: params[1],
        alias: Vec::new(),
        consts: Vec::new(),
        pow_bases: Vec::new(),
    };
    let mut assigned_anywhere = Vec::new();
    walk::assigned(&f.body, &mut assigned_anywhere);
    // every local starts defined (zero) so the SSA builder never sees an undefined use
    for (i, t) in f.locals.iter().enumerate() {
        let z = lowering.zero(*t);
        lowering.builder.def_var(lowering.vars[i], z);
    }
    let mut k = 2;
    for (pi, (p, slot)) in f.params.iter().zip(&f.param_slots).enumerate() {
        match (p, slot) {
            (ParamTy::Scalar(t), ParamSlot::Local(local)) => {
                let v = match spec.iter().find(|(i, _)| *i == pi) {
                    Some((_, bits)) => {
                        let c = Const::from_bits(*t, *bits);
                        if !walk::is_assigned(&assigned_anywhere, *local) {
                            lowering.consts.push((*local, c));
                        }
                        lowering.emitter().constant(c)
                    }
                    None => params[k],
                };
                lowering.builder.def_var(lowering.vars[*local as usize], v);
                k += 1;
            }
            _ => {
                lowering.bufs.push((params[k], params[k + 1]));
                k += 2;
            }
        }
    }
    // call depth: the outermost call is 1; and the native stack: this frame is allocated,
    // the next one (any callee's, or a libcall's) must fit above the embedder's limit
    let depth = lowering.depth;
    let over =
        lowering
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThan, depth, opts.depth_limit as i64);
    let low = stack_low(&mut lowering.builder, lowering.stack_limit);
    let stop = lowering.ins().bor(over, low);
    lowering.trap_if(stop, TrapKind::CallDepth);
    lowering.callee_depth = lowering.ins().iadd_imm_s(depth, 1);
    lowering.block(&f.body);
    if !lowering.terminated() {
        if f.ret == Ty::Unit {
            let z = lowering.ins().iconst(types::I32, 0);
            lowering.ins().return_(&[z]);
        } else {
            // unreachable by the verifier's return check; behave like the interpreter
            lowering.jump_trap(TrapKind::BadArguments);
        }
    }
    lowering.finish_exits();
    lowering.builder.seal_all_blocks();
    lowering.builder.finalize(frontend);
}

impl<'b> FunctionContext<'b> for FunctionLowering<'_, 'b> {
    fn emitter(&mut self) -> Emitter<'_, 'b> {
        Emitter {
            builder: &mut self.builder,
            libcalls: &mut self.libcalls,
        }
    }

    fn builder(&mut self) -> &mut FunctionBuilder<'b> {
        &mut self.builder
    }

    fn local(&self, l: u32) -> Variable {
        match self.alias.iter().rev().find(|a| a.0 == l) {
            Some(a) => a.1,
            None => self.vars[l as usize],
        }
    }

    fn elem(&self, r: BufRef) -> Elem {
        self.elem_of(r)
    }

    fn buffer(&mut self, r: BufRef) -> (Value, Value) {
        match r {
            BufRef::Param(i) => self.bufs[i as usize],
            BufRef::Table(t) => {
                let n = self.module.tables[t as usize].data.len() as i64;
                let p = table_address(&mut self.builder, t);
                let n = self.ins().iconst(types::I64, n);
                (p, n)
            }
        }
    }

    fn invariant(&mut self, e: &Expr) -> Value {
        self.expr(e)
    }
}

impl<'b> FunctionLowering<'_, 'b> {
    fn ins(&mut self) -> FuncInstBuilder<'_, 'b> {
        self.builder.ins()
    }

    fn terminated(&self) -> bool {
        match self.builder.current_block() {
            None => true,
            Some(blk) => {
                let func = &self.builder.func;
                match func.layout.last_inst(blk) {
                    Some(inst) => func.dfg.insts[inst].opcode().is_terminator(),
                    None => false,
                }
            }
        }
    }

    /// After a terminator: continue emitting into a fresh (unreachable) block.
    fn fresh(&mut self) {
        let blk = self.builder.create_block();
        self.builder.switch_to_block(blk);
    }

    fn zero(&mut self, t: Ty) -> Value {
        match t {
            Ty::F32 => self.ins().f32const(0.0),
            Ty::F64 => self.ins().f64const(0.0),
            t => self.ins().iconst(cl_type(t), 0),
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

    fn trap_block(&mut self, kind: TrapKind) -> Block {
        let i = kind.code() as usize;
        if let Some(b) = self.trap_exits[i] {
            return b;
        }
        let blk = self.builder.create_block();
        self.builder.set_cold_block(blk);
        self.trap_exits[i] = Some(blk);
        blk
    }

    fn trap_if(&mut self, cond: Value, kind: TrapKind) {
        let t = self.trap_block(kind);
        let cont = self.builder.create_block();
        self.ins().brif(cond, t, &[], cont, &[]);
        self.builder.switch_to_block(cont);
    }

    fn jump_trap(&mut self, kind: TrapKind) {
        let t = self.trap_block(kind);
        self.ins().jump(t, &[]);
    }

    /// The return values for `status`: the status, and a zero result if the function has one.
    fn ret_vals(&mut self, status: Value) -> Vec<Value> {
        let mut v = alloc::vec![status];
        if self.func.ret != Ty::Unit {
            let z = self.zero(self.func.ret);
            v.push(z);
        }
        v
    }

    /// Fills the trap exits made while lowering.
    fn finish_exits(&mut self) {
        for i in 0..self.trap_exits.len() {
            if let Some(blk) = self.trap_exits[i] {
                self.builder.switch_to_block(blk);
                let s = self.ins().iconst(types::I32, i as i64);
                let v = self.ret_vals(s);
                self.ins().return_(&v);
            }
        }
    }

    fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.func.bufs[i as usize].0,
            BufRef::Table(t) => self.module.tables[t as usize].data.elem(),
        }
    }

    /// Index to i64 for the unsigned bounds check: i32 is zero-extended, so a negative
    /// index becomes >= 2^31 > len, exactly as in the interpreter.
    fn idx64(&mut self, v: Value, t: Ty) -> Value {
        if t == Ty::I32 {
            self.ins().uextend(types::I64, v)
        } else {
            v
        }
    }

    /// The pointer of a proven access (in the unchecked copy of a versioned loop).
    fn proven_ptr(&mut self, key: usize) -> Option<Value> {
        let var = self.proven.as_ref()?.get(key)?.var;
        Some(self.builder.use_var(var))
    }

    fn checked_addr(&mut self, r: BufRef, idx: &Expr) -> Value {
        if let Some(p) = self.proven_ptr(super::analysis::access_key(idx)) {
            return p;
        }
        let i = self.expr(idx);
        self.checked_addr_of(r, i, idx.ty)
    }

    fn checked_addr_of(&mut self, r: BufRef, i: Value, t: Ty) -> Value {
        let i = self.idx64(i, t);
        let (p, n) = self.buffer(r);
        let oob = self.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, n);
        self.trap_if(oob, TrapKind::OutOfBounds);
        let sh = self.elem_of(r).shift();
        let off = if sh == 0 {
            i
        } else {
            self.ins().ishl_imm_s(i, sh as i64)
        };
        self.ins().iadd(p, off)
    }

    fn load_at(&mut self, elem: Elem, addr: Value) -> Value {
        let fl = MemFlagsData::trusted();
        match elem {
            Elem::U8 => self.ins().uload8(types::I32, fl, addr, 0),
            Elem::I8 => self.ins().sload8(types::I32, fl, addr, 0),
            Elem::F16 => {
                let bits = self.ins().uload16(types::I32, fl, addr, 0);
                self.emitter().f16_widen(bits)
            }
            Elem::I32 => self.ins().load(types::I32, fl, addr, 0),
            Elem::I64 => self.ins().load(types::I64, fl, addr, 0),
            Elem::F32 => self.ins().load(types::F32, fl, addr, 0),
            Elem::F64 => self.ins().load(types::F64, fl, addr, 0),
        }
    }

    fn store_at(&mut self, elem: Elem, addr: Value, v: Value) {
        let fl = MemFlagsData::trusted();
        match elem {
            Elem::U8 | Elem::I8 => {
                self.ins().istore8(fl, v, addr, 0);
            }
            Elem::F16 => {
                let bits = self.emitter().f16_narrow(v);
                self.ins().istore16(fl, bits, addr, 0);
            }
            _ => {
                self.ins().store(fl, v, addr, 0);
            }
        }
    }
}
