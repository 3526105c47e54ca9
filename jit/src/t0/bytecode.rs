//! T0 bytecode: a register machine over a flat slot array, compiled from the typed IR.
//!
//! Each function gets a frame of `nslots` 64-bit slots: its scalar locals first, then
//! constants (written once at frame entry), then temporaries. Buffers are addressed by a
//! per-frame buffer index: buffer parameters first, then the module tables the function uses.

use super::ops::{CastOp, Op, OperandLimits, Slot};
use crate::ir::*;
use crate::math::libcalls::Libcall;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use hashbrown::HashMap;

/// A function compiled to bytecode.
#[derive(Debug, Clone)]
pub struct BcFunc {
    pub code: Vec<Op>,
    pub nslots: u32,
    /// Number of scalar parameters (slots `0..nscalars`) and buffer parameters.
    pub nscalars: u32,
    pub nbufs: u32,
    /// Constants: (slot, bits), written at frame entry.
    pub consts: Vec<(Slot, u64)>,
    /// Module tables pushed as buffers `nbufs..` at frame entry.
    pub tables: Vec<u32>,
}

impl BcFunc {
    /// A listing: the frame, the constants, then one instruction a line.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        // writing to a String cannot fail
        let _ = writeln!(
            out,
            "; {} slots ({} scalar parameters), {} buffer parameters, tables {:?}",
            self.nslots, self.nscalars, self.nbufs, self.tables
        );
        for (slot, bits) in &self.consts {
            let _ = writeln!(out, "; s{slot} = {bits:#x}");
        }
        for (pc, op) in self.code.iter().enumerate() {
            let _ = writeln!(out, "{pc:5}  {op}");
        }
        out
    }
}

struct FuncCompiler<'m> {
    m: &'m Module,
    f: &'m Function,
    code: Vec<Op>,
    consts: Vec<(Slot, u64)>,
    /// The slot of each constant (by bits) in `consts`.
    const_slots: HashMap<u64, Slot>,
    tables: Vec<u32>,
    next: Slot,
    max: Slot,
    /// (continue target patches, break patches) per enclosing loop.
    loops: Vec<(Vec<usize>, Vec<usize>)>,
}

pub fn compile_module(m: &Module) -> Vec<BcFunc> {
    m.funcs.iter().map(|f| compile_func(m, f)).collect()
}

fn compile_func(m: &Module, f: &Function) -> BcFunc {
    let nlocals = f.locals.len() as Slot;
    let mut cx = FuncCompiler {
        m,
        f,
        code: Vec::new(),
        consts: Vec::new(),
        const_slots: HashMap::new(),
        tables: Vec::new(),
        next: nlocals,
        max: nlocals,
        loops: Vec::new(),
    };
    cx.block(&f.body);
    cx.code.push(if f.ret == Ty::Unit {
        Op::RetVoid {}
    } else {
        Op::Trap {
            kind: TrapKind::BadArguments,
        }
    });
    let nscalars = f
        .param_slots
        .iter()
        .filter(|p| matches!(p, ParamSlot::Local(_)))
        .count() as u32;
    BcFunc {
        code: cx.code,
        nslots: cx.max.max(1),
        nscalars,
        nbufs: f.bufs.len() as u32,
        consts: cx.consts,
        tables: cx.tables,
    }
}

impl FuncCompiler<'_> {
    fn temp(&mut self) -> Slot {
        let t = self.next;
        self.next += 1;
        self.max = self.max.max(self.next);
        t
    }
    fn const_slot(&mut self, c: Const) -> Slot {
        let bits = c.bits();
        // constants live in their own slots; reuse one with the same bits
        if let Some(&s) = self.const_slots.get(&bits) {
            return s;
        }
        // allocate above every temporary ever used: take a fresh slot at the high-water mark
        // and keep temporaries from reusing it by raising `next` permanently is not possible
        // mid-expression, so constants get slots from a separate reserved range below.
        let s = self.reserve_const_slot();
        self.consts.push((s, bits));
        self.const_slots.insert(bits, s);
        s
    }
    fn reserve_const_slot(&mut self) -> Slot {
        // Constants take slots from a high range that is renumbered after compilation.
        CONST_BASE + self.consts.len() as Slot
    }
    fn buf(&mut self, r: BufRef) -> Slot {
        match r {
            BufRef::Param(i) => i,
            BufRef::Table(t) => {
                let nb = self.f.bufs.len() as Slot;
                if let Some(p) = self.tables.iter().position(|&x| x == t) {
                    nb + p as Slot
                } else {
                    self.tables.push(t);
                    nb + self.tables.len() as Slot - 1
                }
            }
        }
    }
    fn here(&self) -> usize {
        self.code.len()
    }
    fn patch(&mut self, at: usize, target: usize) {
        if let Some(t) = self.code[at].target_mut() {
            *t = target as Slot;
        }
    }

    fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            let mark = self.next;
            self.stmt(s);
            self.next = mark;
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Set(l, e) => {
                self.expr_into(e, *l);
            }
            Stmt::Store(r, idx, v) => {
                let i = self.index(idx);
                let vs = self.expr(v);
                let b = self.buf(*r);
                let elem = self.elem_of(*r);
                self.code.push(match elem {
                    Elem::U8 | Elem::I8 => Op::StoreU8 { buf: b, i, v: vs },
                    Elem::I32 => Op::StoreI32 { buf: b, i, v: vs },
                    Elem::I64 => Op::StoreI64 { buf: b, i, v: vs },
                    Elem::F16 => Op::StoreF16 { buf: b, i, v: vs },
                    Elem::F32 => Op::StoreF32 { buf: b, i, v: vs },
                    Elem::F64 => Op::StoreF64 { buf: b, i, v: vs },
                });
            }
            Stmt::If(c, t, e) => {
                let j = self.branch_if_false(c);
                self.block(t);
                if e.is_empty() {
                    let end = self.here();
                    self.patch(j, end);
                } else {
                    let j2 = self.here();
                    self.code.push(Op::Jmp { t: 0 });
                    let else_at = self.here();
                    self.patch(j, else_at);
                    self.block(e);
                    let end = self.here();
                    self.patch(j2, end);
                }
            }
            Stmt::While(c, body) => {
                let head = self.here();
                let j = self.branch_if_false(c);
                self.loops.push((Vec::new(), Vec::new()));
                self.block(body);
                self.code.push(Op::Jmp { t: head as Slot });
                let end = self.here();
                self.patch(j, end);
                let (conts, breaks) = self.loops.pop().unwrap_or_default();
                for c in conts {
                    self.patch(c, head);
                }
                for b in breaks {
                    self.patch(b, end);
                }
            }
            Stmt::For(fl) => self.for_loop(fl),
            Stmt::Break => {
                let at = self.here();
                self.code.push(Op::Jmp { t: 0 });
                if let Some(l) = self.loops.last_mut() {
                    l.1.push(at);
                }
            }
            Stmt::Continue => {
                let at = self.here();
                self.code.push(Op::Jmp { t: 0 });
                if let Some(l) = self.loops.last_mut() {
                    l.0.push(at);
                }
            }
            Stmt::Return(None) => self.code.push(Op::RetVoid {}),
            Stmt::Return(Some(e)) => {
                let s = self.expr(e);
                self.code.push(Op::Ret { s });
            }
            Stmt::Eval(e) => {
                let _ = self.expr(e);
            }
        }
    }

    /// Emits a jump taken when `c` is false (target patched later); returns its index.
    /// Integer comparisons become one fused compare-and-branch.
    fn branch_if_false(&mut self, c: &Expr) -> usize {
        if let ExprKind::Binary(op, x, y) = &c.kind {
            let t = x.ty;
            if op.is_cmp() && t.is_int() {
                let a = self.expr(x);
                let b = self.expr(y);
                let wide = t == Ty::I64;
                // jump when the comparison does NOT hold
                let jmp = match (op, wide) {
                    (BinOp::Lt, false) => Op::I32JmpGe { a, b, t: 0 },
                    (BinOp::Lt, true) => Op::I64JmpGe { a, b, t: 0 },
                    (BinOp::Ge, false) => Op::I32JmpLt { a, b, t: 0 },
                    (BinOp::Ge, true) => Op::I64JmpLt { a, b, t: 0 },
                    (BinOp::Le, false) => Op::I32JmpLt { a: b, b: a, t: 0 },
                    (BinOp::Le, true) => Op::I64JmpLt { a: b, b: a, t: 0 },
                    (BinOp::Gt, false) => Op::I32JmpGe { a: b, b: a, t: 0 },
                    (BinOp::Gt, true) => Op::I64JmpGe { a: b, b: a, t: 0 },
                    (BinOp::Eq, false) => Op::I32JmpNe { a, b, t: 0 },
                    (BinOp::Eq, true) => Op::I64JmpNe { a, b, t: 0 },
                    (_, false) => Op::I32JmpEq { a, b, t: 0 },
                    (_, true) => Op::I64JmpEq { a, b, t: 0 },
                };
                let at = self.here();
                self.code.push(jmp);
                return at;
            }
        }
        let cs = self.expr(c);
        let at = self.here();
        self.code.push(Op::JmpIfNot { c: cs, t: 0 });
        at
    }

    fn for_loop(&mut self, fl: &ForLoop) {
        let wide = fl.start.ty == Ty::I64;
        self.expr_into(&fl.start, fl.var);
        self.expr_into(&fl.end, fl.end_local);
        let v = fl.var;
        let end = fl.end_local;
        let lim = fl.step_local; // reused: holds `lim` for stepped loops
        let step = fl.step.as_ref().map(|st| {
            let s = self.temp();
            self.expr_into(st, s);
            self.code.push(if wide {
                Op::I64StepLim { end, step: s, lim }
            } else {
                Op::I32StepLim { end, step: s, lim }
            });
            s
        });
        // the step slot must survive the body: keep `next` above it
        let entry = self.here();
        self.code.push(if wide {
            Op::I64JmpGe { a: v, b: end, t: 0 }
        } else {
            Op::I32JmpGe { a: v, b: end, t: 0 }
        });
        let body = self.here();
        self.loops.push((Vec::new(), Vec::new()));
        self.block(&fl.body);
        let latch = self.here();
        self.code.push(match (step, wide) {
            (None, false) => Op::I32Next1 {
                v,
                end,
                t: body as Slot,
            },
            (None, true) => Op::I64Next1 {
                v,
                end,
                t: body as Slot,
            },
            (Some(s), false) => Op::I32Next {
                v,
                lim,
                step: s,
                t: body as Slot,
            },
            (Some(s), true) => Op::I64Next {
                v,
                lim,
                step: s,
                t: body as Slot,
            },
        });
        let exit = self.here();
        self.patch(entry, exit);
        let (conts, breaks) = self.loops.pop().unwrap_or_default();
        for c in conts {
            self.patch(c, latch);
        }
        for b in breaks {
            self.patch(b, exit);
        }
    }

    fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.f.bufs[i as usize].0,
            BufRef::Table(t) => self.m.tables[t as usize].data.elem(),
        }
    }

    /// Evaluates an index expression. Index slots are read as `u64` by the interpreter:
    /// i32 values are stored zero-extended, so a negative index of either type reads as a
    /// value `>= 2^31 > len` and fails the single unsigned bounds check.
    fn index(&mut self, e: &Expr) -> Slot {
        self.expr(e)
    }

    /// Evaluates `e` into some slot and returns it (locals and constants are not copied).
    fn expr(&mut self, e: &Expr) -> Slot {
        match &e.kind {
            ExprKind::Local(l) => *l,
            ExprKind::Const(c) => self.const_slot(*c),
            _ => {
                let d = self.temp();
                self.expr_into(e, d);
                d
            }
        }
    }

    /// Evaluates `e` into slot `d`; `d` is written only by the last instruction.
    fn expr_into(&mut self, e: &Expr, d: Slot) {
        match &e.kind {
            ExprKind::Local(l) => {
                if *l != d {
                    self.code.push(Op::Mov { d, s: *l });
                }
            }
            ExprKind::Const(c) => {
                let s = self.const_slot(*c);
                self.code.push(Op::Mov { d, s });
            }
            ExprKind::Unary(op, a) => {
                let a = self.expr(a);
                self.code.push(match (op, e.ty) {
                    (UnOp::Neg, Ty::I32) => Op::I32Neg { d, a },
                    (UnOp::Neg, Ty::I64) => Op::I64Neg { d, a },
                    (UnOp::Neg, Ty::F32) => Op::F32Neg { d, a },
                    (UnOp::Neg, _) => Op::F64Neg { d, a },
                    (UnOp::Not, _) => Op::BoolNot { d, a },
                    (UnOp::BitNot, Ty::I32) => Op::I32Not { d, a },
                    (UnOp::BitNot, _) => Op::I64Not { d, a },
                });
            }
            ExprKind::Binary(BinOp::Add, x, z)
                if e.ty == Ty::I32 && matches!(x.kind, ExprKind::Binary(BinOp::Mul, ..)) =>
            {
                let ExprKind::Binary(_, p, q) = &x.kind else {
                    unreachable!("matched above")
                };
                let a = self.expr(p);
                let b = self.expr(q);
                let c = self.expr(z);
                self.code.push(Op::I32MulAdd { d, a, b, c });
            }
            ExprKind::Binary(op, x, y) => {
                let t = x.ty;
                if let (BinOp::Add | BinOp::Sub, Ty::I32, ExprKind::Const(Const::I32(k))) =
                    (op, t, &y.kind)
                {
                    let a = self.expr(x);
                    let imm = if *op == BinOp::Add {
                        *k
                    } else {
                        k.wrapping_neg()
                    };
                    self.code.push(Op::I32AddImm { d, a, imm });
                    return;
                }
                let a = self.expr(x);
                let b = self.expr(y);
                self.code.push(binary_op(*op, t, d, a, b));
            }
            ExprKind::LogicAnd(x, y) | ExprKind::LogicOr(x, y) => {
                let is_and = matches!(e.kind, ExprKind::LogicAnd(..));
                let t = self.temp();
                self.expr_into(x, t);
                let j = self.here();
                self.code.push(if is_and {
                    Op::JmpIfNot { c: t, t: 0 }
                } else {
                    Op::JmpIf { c: t, t: 0 }
                });
                self.expr_into(y, t);
                let end = self.here();
                self.patch(j, end);
                self.code.push(Op::Mov { d, s: t });
            }
            ExprKind::Cast(x) => {
                let from = x.ty;
                let to = e.ty;
                let a = self.expr(x);
                let op = match (from, to) {
                    (f, t) if f == t => {
                        self.code.push(Op::Mov { d, s: a });
                        return;
                    }
                    (Ty::I32, Ty::I64) => CastOp::I32ToI64,
                    (Ty::I64, Ty::I32) => CastOp::I64ToI32,
                    (Ty::I32, Ty::F32) => CastOp::I32ToF32,
                    (Ty::I32, Ty::F64) => CastOp::I32ToF64,
                    (Ty::I64, Ty::F32) => CastOp::I64ToF32,
                    (Ty::I64, Ty::F64) => CastOp::I64ToF64,
                    (Ty::F32, Ty::I32) => CastOp::F32ToI32,
                    (Ty::F32, Ty::I64) => CastOp::F32ToI64,
                    (Ty::F64, Ty::I32) => CastOp::F64ToI32,
                    (Ty::F64, Ty::I64) => CastOp::F64ToI64,
                    (Ty::F32, Ty::F64) => CastOp::F32ToF64,
                    (Ty::F64, Ty::F32) => CastOp::F64ToF32,
                    _ => CastOp::BoolToInt,
                };
                self.code.push(Op::Cast { d, a, op });
            }
            ExprKind::Load(r, idx) => {
                let i = self.index(idx);
                let buf = self.buf(*r);
                self.code.push(match self.elem_of(*r) {
                    Elem::U8 => Op::LoadU8 { d, buf, i },
                    Elem::I8 => Op::LoadI8 { d, buf, i },
                    Elem::I32 => Op::LoadI32 { d, buf, i },
                    Elem::I64 => Op::LoadI64 { d, buf, i },
                    Elem::F16 => Op::LoadF16 { d, buf, i },
                    Elem::F32 => Op::LoadF32 { d, buf, i },
                    Elem::F64 => Op::LoadF64 { d, buf, i },
                });
            }
            ExprKind::Len(r) => {
                let buf = self.buf(*r);
                self.code.push(Op::Len { d, buf });
            }
            ExprKind::Call(fi, args) => {
                let callee = &self.m.funcs[*fi as usize];
                let nscalar = callee
                    .param_slots
                    .iter()
                    .filter(|p| matches!(p, ParamSlot::Local(_)))
                    .count() as Slot;
                // reserve the contiguous argument block first, then fill it
                // (a call without scalar arguments names slot 0, which is always in the frame)
                let base = if nscalar == 0 { 0 } else { self.next };
                for _ in 0..nscalar {
                    self.temp();
                }
                let mut k = 0;
                for a in args {
                    match a {
                        CallArg::Scalar(x) => {
                            self.expr_into(x, base + k);
                            k += 1;
                        }
                        CallArg::Buf(r) => {
                            let buf = self.buf(*r);
                            self.code.push(Op::PushBuf { buf });
                        }
                        CallArg::Slice(r, lo, hi) => {
                            let l = self.expr(lo);
                            let h = self.expr(hi);
                            let buf = self.buf(*r);
                            let shift = self.elem_of(*r).shift();
                            self.code.push(Op::PushSlice {
                                buf,
                                lo: l,
                                hi: h,
                                shift,
                            });
                        }
                    }
                }
                self.code.push(Op::Call {
                    f: *fi,
                    args: base,
                    d,
                });
            }
            ExprKind::Intrinsic(intr, args) => self.intrinsic(*intr, args, e.ty, d),
        }
    }

    fn intrinsic(&mut self, intr: Intrinsic, args: &[Expr], rt: Ty, d: Slot) {
        use Intrinsic::*;
        let t = args.last().map(|a| a.ty).unwrap_or(rt);
        let s: Vec<Slot> = args.iter().map(|a| self.expr(a)).collect();
        let a = s[0];
        let b = s.get(1).copied().unwrap_or(a);
        let f64_ = t == Ty::F64;
        let m1 = |f32c: Libcall, f64c: Libcall| Op::Math1 {
            d,
            a,
            f: if f64_ { f64c } else { f32c },
        };
        let op = match (intr, t) {
            (Select, _) => Op::Select {
                d,
                c: s[0],
                a: s[1],
                b: s[2],
            },
            (Sqrt, Ty::F32) => Op::F32Sqrt { d, a },
            (Sqrt, _) => Op::F64Sqrt { d, a },
            (Abs, Ty::I32) => Op::I32Abs { d, a },
            (Abs, Ty::I64) => Op::I64Abs { d, a },
            (Abs, Ty::F32) => Op::F32Abs { d, a },
            (Abs, _) => Op::F64Abs { d, a },
            (Floor, _) => m1(Libcall::FloorF32, Libcall::FloorF64),
            (Ceil, _) => m1(Libcall::CeilF32, Libcall::CeilF64),
            (Trunc, _) => m1(Libcall::TruncF32, Libcall::TruncF64),
            (Nearest, _) => m1(Libcall::NearestF32, Libcall::NearestF64),
            (Exp, _) => m1(Libcall::ExpF32, Libcall::ExpF64),
            (Ln, _) => m1(Libcall::LnF32, Libcall::LnF64),
            (Sin, _) => m1(Libcall::SinF32, Libcall::SinF64),
            (Cos, _) => m1(Libcall::CosF32, Libcall::CosF64),
            (Tanh, _) => m1(Libcall::TanhF32, Libcall::TanhF64),
            (Pow, _) => Op::Math2 {
                d,
                a,
                b,
                f: if f64_ {
                    Libcall::PowF64
                } else {
                    Libcall::PowF32
                },
            },
            (Fma, Ty::F32) => Op::F32Fma { d, a, b, c: s[2] },
            (Fma, _) => Op::F64Fma { d, a, b, c: s[2] },
            (Min, Ty::I32) => Op::I32Min { d, a, b },
            (Min, Ty::I64) => Op::I64Min { d, a, b },
            (Min, Ty::F32) => Op::F32Min { d, a, b },
            (Min, _) => Op::F64Min { d, a, b },
            (Max, Ty::I32) => Op::I32Max { d, a, b },
            (Max, Ty::I64) => Op::I64Max { d, a, b },
            (Max, Ty::F32) => Op::F32Max { d, a, b },
            (Max, _) => Op::F64Max { d, a, b },
            (Copysign, Ty::F32) => Op::F32Copysign { d, a, b },
            (Copysign, _) => Op::F64Copysign { d, a, b },
            (Rotl, Ty::I32) => Op::I32Rotl { d, a, b },
            (Rotl, _) => Op::I64Rotl { d, a, b },
            (Rotr, Ty::I32) => Op::I32Rotr { d, a, b },
            (Rotr, _) => Op::I64Rotr { d, a, b },
            (Popcnt, Ty::I32) => Op::I32Popcnt { d, a },
            (Popcnt, _) => Op::I64Popcnt { d, a },
            (Clz, Ty::I32) => Op::I32Clz { d, a },
            (Clz, _) => Op::I64Clz { d, a },
            (Ctz, Ty::I32) => Op::I32Ctz { d, a },
            (Ctz, _) => Op::I64Ctz { d, a },
            (Udiv, Ty::I32) => Op::I32Udiv { d, a, b },
            (Udiv, _) => Op::I64Udiv { d, a, b },
            (Urem, Ty::I32) => Op::I32Urem { d, a, b },
            (Urem, _) => Op::I64Urem { d, a, b },
            (Ult, Ty::I32) => Op::I32Ult { d, a, b },
            (Ult, _) => Op::I64Ult { d, a, b },
            (Ule, Ty::I32) => Op::I32Ule { d, a, b },
            (Ule, _) => Op::I64Ule { d, a, b },
            (Ugt, Ty::I32) => Op::I32Ult { d, a: b, b: a },
            (Ugt, _) => Op::I64Ult { d, a: b, b: a },
            (Uge, Ty::I32) => Op::I32Ule { d, a: b, b: a },
            (Uge, _) => Op::I64Ule { d, a: b, b: a },
        };
        self.code.push(op);
    }
}

fn binary_op(op: BinOp, t: Ty, d: Slot, a: Slot, b: Slot) -> Op {
    match (t, op) {
        (Ty::I32, BinOp::Add) => Op::I32Add { d, a, b },
        (Ty::I32, BinOp::Sub) => Op::I32Sub { d, a, b },
        (Ty::I32, BinOp::Mul) => Op::I32Mul { d, a, b },
        (Ty::I32, BinOp::Div) => Op::I32Div { d, a, b },
        (Ty::I32, BinOp::Rem) => Op::I32Rem { d, a, b },
        (Ty::I32, BinOp::And) => Op::I32And { d, a, b },
        (Ty::I32, BinOp::Or) => Op::I32Or { d, a, b },
        (Ty::I32, BinOp::Xor) => Op::I32Xor { d, a, b },
        (Ty::I32, BinOp::Shl) => Op::I32Shl { d, a, b },
        (Ty::I32, BinOp::Shr) => Op::I32Shr { d, a, b },
        (Ty::I32, BinOp::UShr) => Op::I32UShr { d, a, b },
        (Ty::I32, BinOp::Eq) => Op::I32Eq { d, a, b },
        (Ty::I32, BinOp::Ne) => Op::I32Ne { d, a, b },
        (Ty::I32, BinOp::Lt) => Op::I32Lt { d, a, b },
        (Ty::I32, BinOp::Le) => Op::I32Le { d, a, b },
        (Ty::I32, BinOp::Gt) => Op::I32Lt { d, a: b, b: a },
        (Ty::I32, BinOp::Ge) => Op::I32Le { d, a: b, b: a },
        (Ty::I64, BinOp::Add) => Op::I64Add { d, a, b },
        (Ty::I64, BinOp::Sub) => Op::I64Sub { d, a, b },
        (Ty::I64, BinOp::Mul) => Op::I64Mul { d, a, b },
        (Ty::I64, BinOp::Div) => Op::I64Div { d, a, b },
        (Ty::I64, BinOp::Rem) => Op::I64Rem { d, a, b },
        (Ty::I64, BinOp::And) => Op::I64And { d, a, b },
        (Ty::I64, BinOp::Or) => Op::I64Or { d, a, b },
        (Ty::I64, BinOp::Xor) => Op::I64Xor { d, a, b },
        (Ty::I64, BinOp::Shl) => Op::I64Shl { d, a, b },
        (Ty::I64, BinOp::Shr) => Op::I64Shr { d, a, b },
        (Ty::I64, BinOp::UShr) => Op::I64UShr { d, a, b },
        (Ty::I64, BinOp::Eq) => Op::I64Eq { d, a, b },
        (Ty::I64, BinOp::Ne) => Op::I64Ne { d, a, b },
        (Ty::I64, BinOp::Lt) => Op::I64Lt { d, a, b },
        (Ty::I64, BinOp::Le) => Op::I64Le { d, a, b },
        (Ty::I64, BinOp::Gt) => Op::I64Lt { d, a: b, b: a },
        (Ty::I64, BinOp::Ge) => Op::I64Le { d, a: b, b: a },
        (Ty::F32, BinOp::Add) => Op::F32Add { d, a, b },
        (Ty::F32, BinOp::Sub) => Op::F32Sub { d, a, b },
        (Ty::F32, BinOp::Mul) => Op::F32Mul { d, a, b },
        (Ty::F32, BinOp::Div) => Op::F32Div { d, a, b },
        (Ty::F32, BinOp::Rem) => Op::Math2 {
            d,
            a,
            b,
            f: Libcall::FmodF32,
        },
        (Ty::F32, BinOp::Eq) => Op::F32Eq { d, a, b },
        (Ty::F32, BinOp::Ne) => Op::F32Ne { d, a, b },
        (Ty::F32, BinOp::Lt) => Op::F32Lt { d, a, b },
        (Ty::F32, BinOp::Le) => Op::F32Le { d, a, b },
        (Ty::F32, BinOp::Gt) => Op::F32Lt { d, a: b, b: a },
        (Ty::F32, BinOp::Ge) => Op::F32Le { d, a: b, b: a },
        (Ty::F64, BinOp::Add) => Op::F64Add { d, a, b },
        (Ty::F64, BinOp::Sub) => Op::F64Sub { d, a, b },
        (Ty::F64, BinOp::Mul) => Op::F64Mul { d, a, b },
        (Ty::F64, BinOp::Div) => Op::F64Div { d, a, b },
        (Ty::F64, BinOp::Rem) => Op::Math2 {
            d,
            a,
            b,
            f: Libcall::FmodF64,
        },
        (Ty::F64, BinOp::Eq) => Op::F64Eq { d, a, b },
        (Ty::F64, BinOp::Ne) => Op::F64Ne { d, a, b },
        (Ty::F64, BinOp::Lt) => Op::F64Lt { d, a, b },
        (Ty::F64, BinOp::Le) => Op::F64Le { d, a, b },
        (Ty::F64, BinOp::Gt) => Op::F64Lt { d, a: b, b: a },
        (Ty::F64, BinOp::Ge) => Op::F64Le { d, a: b, b: a },
        (_, BinOp::Eq) => Op::BoolEq { d, a, b },
        (_, BinOp::Ne) => Op::BoolNe { d, a, b },
        (_, BinOp::And) => Op::BoolAnd { d, a, b },
        (_, BinOp::Or) => Op::BoolOr { d, a, b },
        _ => Op::BoolXor { d, a, b },
    }
}

/// Constant slots are numbered from here during compilation and renumbered afterwards.
const CONST_BASE: Slot = 1 << 30;

/// Renumbers constant slots to sit right above the temporaries and checks that every
/// operand is inside the frame (the interpreter relies on it).
pub fn finish(mut f: BcFunc) -> BcFunc {
    let base = f.nslots;
    let remap = |s: &mut Slot| {
        if *s >= CONST_BASE {
            *s = *s - CONST_BASE + base;
        }
    };
    for op in f.code.iter_mut() {
        op.for_each_slot(&mut |s| remap(s));
    }
    for (s, _) in f.consts.iter_mut() {
        remap(s);
    }
    f.nslots = base + f.consts.len() as Slot;
    f
}

/// Validates a finished function: every slot operand inside the frame, every jump target
/// inside the code, every buffer operand inside the buffer table, every callee known.
pub fn validate(f: &BcFunc, nfuncs: usize) -> bool {
    let limits = OperandLimits {
        slots: f.nslots,
        code_len: f.code.len() as u32,
        bufs: f.nbufs + f.tables.len() as u32,
        funcs: nfuncs,
    };
    f.code.iter().all(|op| op.operands_valid(&limits))
        // the code must end in an instruction that does not fall through
        && matches!(
            f.code.last(),
            Some(Op::RetVoid {} | Op::Ret { .. } | Op::Trap { .. } | Op::Jmp { .. })
        )
}

/// Compiles every function of a module and validates the result.
pub fn build(m: &Module) -> Vec<BcFunc> {
    let fs: Vec<BcFunc> = compile_module(m).into_iter().map(finish).collect();
    debug_assert!(fs.iter().all(|f| validate(f, m.funcs.len())));
    fs
}
