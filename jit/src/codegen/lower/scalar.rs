//! Statements and expressions: the straight translation every tier starts from, with
//! every bounds, division and call-depth check kept as an explicit branch.

use super::{FunctionContext, FunctionLowering, LoopExits};
use crate::codegen::abi::{NS_FUNC, cl_type, import_function, native_sig};
use crate::codegen::analysis::access_key;
use crate::ir::*;
use crate::math::libcalls::Libcall;
use crate::math::mathf;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value, types};

impl FunctionLowering<'_, '_> {
    pub(super) fn block(&mut self, stmts: &[Stmt]) {
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
                let var = self.local(*l);
                self.builder.def_var(var, v);
            }
            Stmt::Store(r, idx, v) => {
                let elem = self.elem_of(*r);
                if let Some(p) = self.proven_ptr(access_key(idx)) {
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
                let tb = self.builder.create_block();
                let eb = self.builder.create_block();
                let join = self.builder.create_block();
                self.ins().brif(cv, tb, &[], eb, &[]);
                self.builder.switch_to_block(tb);
                self.block(t);
                if !self.terminated() {
                    self.ins().jump(join, &[]);
                }
                self.builder.switch_to_block(eb);
                self.block(e);
                if !self.terminated() {
                    self.ins().jump(join, &[]);
                }
                self.builder.switch_to_block(join);
            }
            Stmt::While(c, body) => {
                let head = self.builder.create_block();
                let bodyb = self.builder.create_block();
                let exit = self.builder.create_block();
                self.ins().jump(head, &[]);
                self.builder.switch_to_block(head);
                let cv = self.expr(c);
                self.ins().brif(cv, bodyb, &[], exit, &[]);
                self.builder.switch_to_block(bodyb);
                self.loop_exits.push(LoopExits {
                    continue_to: head,
                    break_to: exit,
                });
                self.block(body);
                self.loop_exits.pop();
                if !self.terminated() {
                    self.ins().jump(head, &[]);
                }
                self.builder.switch_to_block(exit);
            }
            Stmt::For(fl) => self.for_loop(fl),
            Stmt::Break => {
                if let Some(exits) = self.loop_exits.last().copied() {
                    self.ins().jump(exits.break_to, &[]);
                }
            }
            Stmt::Continue => {
                if let Some(exits) = self.loop_exits.last().copied() {
                    self.ins().jump(exits.continue_to, &[]);
                }
            }
            Stmt::Return(v) => {
                let z = self.ins().iconst(types::I32, 0);
                match v {
                    None => {
                        self.ins().return_(&[z]);
                    }
                    Some(e) => {
                        let x = self.expr(e);
                        self.ins().return_(&[z, x]);
                    }
                }
            }
            Stmt::Eval(e) => {
                self.expr(e);
            }
        }
    }

    pub(super) fn expr(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Const(c) => self.emitter().constant(*c),
            ExprKind::Local(l) => {
                let var = self.local(*l);
                self.builder.use_var(var)
            }
            ExprKind::Unary(op, a) => {
                let x = self.expr(a);
                match op {
                    UnOp::Neg if e.ty.is_float() => self.ins().fneg(x),
                    UnOp::Neg => self.ins().ineg(x),
                    UnOp::Not => self.ins().bxor_imm_s(x, 1),
                    UnOp::BitNot => self.ins().bnot(x),
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
                let rhs = self.builder.create_block();
                let done = self.builder.create_block();
                let r = self.builder.append_block_param(done, types::I8);
                if is_and {
                    self.ins().brif(x, rhs, &[], done, &[BlockArg::Value(x)]);
                } else {
                    self.ins().brif(x, done, &[BlockArg::Value(x)], rhs, &[]);
                }
                self.builder.switch_to_block(rhs);
                let y = self.expr(b);
                self.ins().jump(done, &[BlockArg::Value(y)]);
                self.builder.switch_to_block(done);
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
                let (_, n) = self.buffer(*r);
                self.ins().ireduce(types::I32, n)
            }
            ExprKind::Call(fi, args) => self.call(*fi, args),
            ExprKind::Intrinsic(i, args) => self.intrinsic(*i, args, e.ty),
        }
    }

    fn cast(&mut self, from: Ty, to: Ty, x: Value) -> Value {
        let ins = self.ins();
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
            let ins = self.ins();
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
                    return self.emitter().libcall(lc, &[x, y]);
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
        let ins = self.ins();
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
        let zero = self.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapKind::DivisionByZero);
        let min = if t == Ty::I32 {
            i32::MIN as i64
        } else {
            i64::MIN
        };
        let is_min = self.ins().icmp_imm_s(IntCC::Equal, x, min);
        let is_m1 = self.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let both = self.ins().band(is_min, is_m1);
        let one = self.ins().iconst(cl_type(t), 1);
        let y2 = self.ins().select(both, one, y);
        if div {
            self.ins().sdiv(x, y2)
        } else {
            self.ins().srem(x, y2)
        }
    }

    fn udivrem(&mut self, div: bool, x: Value, y: Value) -> Value {
        let zero = self.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapKind::DivisionByZero);
        if div {
            self.ins().udiv(x, y)
        } else {
            self.ins().urem(x, y)
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
        let sse41 = self.opts.sse41;
        match i {
            Select => self.ins().select(xs[0], xs[1], xs[2]),
            Sqrt => self.ins().sqrt(xs[0]),
            Abs if t.is_float() => self.ins().fabs(xs[0]),
            Abs => self.ins().iabs(xs[0]),
            Floor if sse41 => self.ins().floor(xs[0]),
            Ceil if sse41 => self.ins().ceil(xs[0]),
            Trunc if sse41 => self.ins().trunc(xs[0]),
            Nearest if sse41 => self.ins().nearest(xs[0]),
            Floor => self
                .emitter()
                .libcall(pick(Libcall::FloorF32, Libcall::FloorF64), xs),
            Ceil => self
                .emitter()
                .libcall(pick(Libcall::CeilF32, Libcall::CeilF64), xs),
            Trunc => self
                .emitter()
                .libcall(pick(Libcall::TruncF32, Libcall::TruncF64), xs),
            Nearest => self
                .emitter()
                .libcall(pick(Libcall::NearestF32, Libcall::NearestF64), xs),
            // scalar sin/cos stay calls: inline (both polynomials for the quadrant choice,
            // and a cold libm path) they measured slower than `libm`'s sinf/cosf, also
            // with a register-preserving cold call (rope T2 1.7x slower than T1)
            Exp if !f64_ && self.opts.inline_math => self.emitter().inline_exp(xs[0]),
            Exp => self
                .emitter()
                .libcall(pick(Libcall::ExpF32, Libcall::ExpF64), xs),
            Ln => self
                .emitter()
                .libcall(pick(Libcall::LnF32, Libcall::LnF64), xs),
            Sin => self
                .emitter()
                .libcall(pick(Libcall::SinF32, Libcall::SinF64), xs),
            Cos => self
                .emitter()
                .libcall(pick(Libcall::CosF32, Libcall::CosF64), xs),
            Tanh => self
                .emitter()
                .libcall(pick(Libcall::TanhF32, Libcall::TanhF64), xs),
            // a known base (a literal, or a parameter T3 specialized on): log2 of it is
            // folded here, by the very function the interpreter runs, and only `2^(y·c)`
            // is emitted
            Pow if !f64_
                && self.opts.inline_math
                && self.const_f32(&args[0]).is_some_and(mathf::pow_base_inline) =>
            {
                let base = self.const_f32(&args[0]).expect("checked");
                let log2x = self.ins().f64const(mathf::log2_f64(base as f64));
                self.emitter().inline_pow_log2(xs[1], log2x)
            }
            Pow if !f64_
                && matches!(args[0].kind, ExprKind::Local(l)
                    if self.pow_bases.iter().any(|p| p.0 == l)) =>
            {
                let ExprKind::Local(l) = args[0].kind else {
                    unreachable!("matched above")
                };
                let log2x = self.pow_bases.iter().find(|p| p.0 == l).expect("matched").1;
                self.emitter().inline_pow_log2(xs[1], log2x)
            }
            Pow => self
                .emitter()
                .libcall(pick(Libcall::PowF32, Libcall::PowF64), xs),
            Fma if self.opts.hw_fma => self.ins().fma(xs[0], xs[1], xs[2]),
            Fma => self
                .emitter()
                .libcall(pick(Libcall::FmaF32, Libcall::FmaF64), xs),
            Min if t.is_float() => self.ins().fmin(xs[0], xs[1]),
            Max if t.is_float() => self.ins().fmax(xs[0], xs[1]),
            Min => self.ins().smin(xs[0], xs[1]),
            Max => self.ins().smax(xs[0], xs[1]),
            Copysign => self.ins().fcopysign(xs[0], xs[1]),
            Rotl => self.ins().rotl(xs[0], xs[1]),
            Rotr => self.ins().rotr(xs[0], xs[1]),
            Popcnt => self.ins().popcnt(xs[0]),
            Clz => self.ins().clz(xs[0]),
            Ctz => self.ins().ctz(xs[0]),
            Udiv => self.udivrem(true, xs[0], xs[1]),
            Urem => self.udivrem(false, xs[0], xs[1]),
            Ult => self.ins().icmp(IntCC::UnsignedLessThan, xs[0], xs[1]),
            Ule => self
                .ins()
                .icmp(IntCC::UnsignedLessThanOrEqual, xs[0], xs[1]),
            Ugt => self.ins().icmp(IntCC::UnsignedGreaterThan, xs[0], xs[1]),
            Uge => self
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, xs[0], xs[1]),
        }
    }

    fn call(&mut self, fi: u32, args: &[CallArg]) -> Value {
        let callee = &self.module.funcs[fi as usize];
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
                    let (p, n) = self.buffer(*r);
                    vals.push(p);
                    vals.push(n);
                }
                CallArg::Slice(r, lo, hi) => {
                    let l = self.expr(lo);
                    let h = self.expr(hi);
                    let l = self.idx64(l, lo.ty);
                    let h = self.idx64(h, hi.ty);
                    let (p, n) = self.buffer(*r);
                    let bad1 = self.ins().icmp(IntCC::UnsignedGreaterThan, l, h);
                    let bad2 = self.ins().icmp(IntCC::UnsignedGreaterThan, h, n);
                    let bad = self.ins().bor(bad1, bad2);
                    self.trap_if(bad, TrapKind::OutOfBounds);
                    let sh = self.elem_of(*r).shift() as i64;
                    let off = self.ins().ishl_imm_s(l, sh);
                    let p2 = self.ins().iadd(p, off);
                    let n2 = self.ins().isub(h, l);
                    vals.push(p2);
                    vals.push(n2);
                }
            }
        }
        let fr = match self.callees.get(&fi) {
            Some(fr) => *fr,
            None => {
                let fr = import_function(&mut self.builder, NS_FUNC, fi, native_sig(callee), true);
                self.callees.insert(fi, fr);
                fr
            }
        };
        let call = self.ins().call(fr, &vals);
        let res = self.builder.inst_results(call).to_vec();
        let status = res[0];
        // propagate a trap from the callee: each call has its own cold exit. One exit
        // shared by every call, with the status as a block parameter, made register
        // allocation quadratic in the number of calls (regalloc2 merges all the statuses,
        // each fixed to a register, into one bundle and rechecks it at every merge:
        // 15 s for 20,000 calls at T1, 0.85 s with an exit per call)
        let fail = self.builder.create_block();
        self.builder.set_cold_block(fail);
        let cont = self.builder.create_block();
        self.ins().brif(status, fail, &[], cont, &[]);
        self.builder.switch_to_block(fail);
        let v = self.ret_vals(status);
        self.ins().return_(&v);
        self.builder.switch_to_block(cont);
        if callee.ret == Ty::Unit {
            status
        } else {
            res[1]
        }
    }
}
