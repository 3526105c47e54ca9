//! The inner vectorizer's emitter (T3): an innermost step-1 loop the analysis admitted
//! (`analysis::vector_loop`) runs 16 iterations per trip in f32x4 lanes, four vectors per
//! statement and four accumulators per reduction. It runs in the unchecked copy of a
//! versioned loop, so every access is a proven pointer; it leaves `var` and the pointer
//! variables at the first iteration not done, for the scalar remainder. An i8 dot
//! product takes its 16 iterations as one i8x16 load per operand, widened to i16 and
//! multiplied and pairwise added into an i32x4 accumulator (x64 `pmaddwd`).

use super::lanes::lane_operands;
use super::{FunctionContext, Opts, ProvenPointers};
use crate::codegen::analysis::{self, ReduceOp, VectorStmt, access_key, mul_add};
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::{FuncInstBuilder, FunctionBuilder, Variable};

/// f32x4 vectors per statement in one trip of a vectorized loop, and lanes per trip.
const PARTS: usize = 4;
const LANES: usize = 4 * PARTS;

/// The emitter of one vector loop.
pub(super) struct VectorLoop<'l, 'b> {
    cx: &'l mut dyn FunctionContext<'b>,
    module: &'l Module,
    /// The function is `#[reassoc]`.
    reassoc: bool,
    opts: Opts,
    /// The call depth of the function (inlined calls need room below the limit).
    depth: Value,
    /// The proven accesses of the loop.
    pointers: &'l ProvenPointers,
    /// Inside the inlined body of an expression function: its own expressions never get
    /// the caller's `#[reassoc]` contractions.
    inlining: u32,
}

impl<'l, 'b> VectorLoop<'l, 'b> {
    pub fn new(
        cx: &'l mut dyn FunctionContext<'b>,
        module: &'l Module,
        reassoc: bool,
        opts: Opts,
        depth: Value,
        pointers: &'l ProvenPointers,
    ) -> Self {
        VectorLoop {
            cx,
            module,
            reassoc,
            opts,
            depth,
            pointers,
            inlining: 0,
        }
    }

    fn builder(&mut self) -> &mut FunctionBuilder<'b> {
        self.cx.builder()
    }

    fn ins(&mut self) -> FuncInstBuilder<'_, 'b> {
        self.cx.builder().ins()
    }

    fn use_local(&mut self, l: u32) -> Value {
        let var = self.cx.local(l);
        self.builder().use_var(var)
    }

    /// The current address of a proven access, and whether it is contiguous.
    fn pointer(&mut self, key: usize) -> (Value, Option<bool>) {
        let p = *self.pointers.get(key).expect("proven access");
        (self.builder().use_var(p.var), p.contiguous)
    }

    /// Emits the vector trips of the loop over `var` (up to `end`) whose body is
    /// `loop_body`, in the form `plan`; `bumps` are the proven pointers' (variable, stride)
    /// pairs.
    pub fn emit(
        &mut self,
        plan: &[VectorStmt],
        loop_body: &[Stmt],
        var: Variable,
        end: Value,
        bumps: &[(Variable, Value)],
    ) {
        let v4 = types::F32X4;
        // accumulators
        let mut accs: Vec<(u32, ReduceOp, [Variable; PARTS])> = Vec::new();
        for v in plan {
            if let VectorStmt::Reduce { acc, op, .. } = v
                && *op != ReduceOp::OrderedAdd
            {
                let a = self.use_local(*acc);
                let splat = self.ins().splat(v4, a);
                let z = self.ins().f32const(0.0);
                let zv = self.ins().splat(v4, z);
                // sums: the old value in lane 0 of the first part, zeros elsewhere;
                // min/max: the old value everywhere (they are idempotent)
                let first = if *op == ReduceOp::Add {
                    self.ins().insertlane(zv, a, 0)
                } else {
                    splat
                };
                let rest = if *op == ReduceOp::Add { zv } else { splat };
                let vars = [0; PARTS].map(|_| self.builder().declare_var(v4));
                self.builder().def_var(vars[0], first);
                for v in &vars[1..] {
                    self.builder().def_var(*v, rest);
                }
                accs.push((*acc, *op, vars));
            }
        }
        // i8 dot accumulators: the old value in lane 0, zeros elsewhere
        let mut int_accs: Vec<(u32, Variable)> = Vec::new();
        for v in plan {
            if let VectorStmt::I8Dot { acc, .. } = v {
                let a = self.use_local(*acc);
                let z = self.ins().iconst(types::I32, 0);
                let zv = self.ins().splat(types::I32X4, z);
                let first = self.ins().insertlane(zv, a, 0);
                let var = self.builder().declare_var(types::I32X4);
                self.builder().def_var(var, first);
                int_accs.push((*acc, var));
            }
        }
        let head = self.builder().create_block();
        let body = self.builder().create_block();
        let done = self.builder().create_block();
        let e64 = self.ins().sextend(types::I64, end);
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(head);
        let v = self.builder().use_var(var);
        let v64 = self.ins().sextend(types::I64, v);
        let v8 = self.ins().iadd_imm_s(v64, LANES as i64);
        let mut c = self.ins().icmp(IntCC::SignedLessThanOrEqual, v8, e64);
        if analysis::has_call(loop_body) {
            // inlined calls skip their call-depth check: when one could fail, leave every
            // iteration to the scalar loop, which traps where T0 does
            let depth = self.depth;
            let room = self
                .ins()
                .iadd_imm_s(depth, analysis::MAX_INLINE_DEPTH as i64);
            let limit = self.opts.depth_limit as i64;
            let ok = self
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, room, limit);
            c = self.ins().band(c, ok);
        }
        self.ins().brif(c, body, &[], done, &[]);
        self.builder().switch_to_block(body);
        for vst in plan {
            if let VectorStmt::I8Dot { acc, a, b } = vst {
                let var = int_accs.iter().find(|x| x.0 == *acc).expect("acc").1;
                let dot = self.i8_dot16(a, b);
                let cur = self.builder().use_var(var);
                let next = self.ins().iadd(cur, dot);
                self.builder().def_var(var, next);
            }
        }
        for part in 0..PARTS as u32 {
            let mut temps: Vec<(u32, Value)> = Vec::new();
            for vst in plan {
                match vst {
                    VectorStmt::I8Dot { .. } => {}
                    VectorStmt::Temp { local, e } => {
                        let x = self.vector_expr(e, part, &temps);
                        temps.push((*local, x));
                    }
                    VectorStmt::Store { idx, e, .. } => {
                        let x = self.vector_expr(e, part, &temps);
                        let p = self.pointer(access_key(idx)).0;
                        self.ins().store(
                            MemFlagsData::new().with_notrap(),
                            x,
                            p,
                            (part * 16) as i32,
                        );
                    }
                    VectorStmt::Reduce {
                        acc,
                        e,
                        op: ReduceOp::OrderedAdd,
                        ..
                    } => {
                        let xv = self.vector_expr(e, part, &temps);
                        let var = self.cx.local(*acc);
                        let mut sum = self.builder().use_var(var);
                        for lane in 0..4u8 {
                            let x = self.ins().extractlane(xv, lane);
                            sum = self.ins().fadd(sum, x);
                        }
                        self.builder().def_var(var, sum);
                    }
                    VectorStmt::Reduce {
                        acc,
                        e,
                        op: op @ (ReduceOp::Min | ReduceOp::Max),
                        ..
                    } => {
                        let av = accs
                            .iter()
                            .find(|a| a.0 == *acc)
                            .map(|a| a.2[part as usize])
                            .expect("acc");
                        let cur = self.builder().use_var(av);
                        let xv = self.vector_expr(e, part, &temps);
                        let next = if *op == ReduceOp::Min {
                            self.ins().fmin(cur, xv)
                        } else {
                            self.ins().fmax(cur, xv)
                        };
                        self.builder().def_var(av, next);
                    }
                    VectorStmt::Reduce { acc, e, fma, .. } => {
                        let av = accs
                            .iter()
                            .find(|a| a.0 == *acc)
                            .map(|a| a.2[part as usize])
                            .expect("acc");
                        let cur = self.builder().use_var(av);
                        let next = match fma {
                            Some((x, y)) => {
                                let xv = self.vector_expr(x, part, &temps);
                                let yv = self.vector_expr(y, part, &temps);
                                self.ins().fma(xv, yv, cur)
                            }
                            None => match &e.kind {
                                ExprKind::Binary(BinOp::Mul, x, y) if self.opts.hw_fma => {
                                    let xv = self.vector_expr(x, part, &temps);
                                    let yv = self.vector_expr(y, part, &temps);
                                    self.ins().fma(xv, yv, cur)
                                }
                                _ => {
                                    let xv = self.vector_expr(e, part, &temps);
                                    self.ins().fadd(cur, xv)
                                }
                            },
                        };
                        self.builder().def_var(av, next);
                    }
                }
            }
        }
        for &(pv, stride) in bumps {
            let p = self.builder().use_var(pv);
            let s8 = self.ins().imul_imm_s(stride, LANES as i64);
            let p2 = self.ins().iadd(p, s8);
            self.builder().def_var(pv, p2);
        }
        let v = self.builder().use_var(var);
        let v1 = self.ins().iadd_imm_s(v, LANES as i64);
        self.builder().def_var(var, v1);
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(done);
        // fold the vector accumulators back into the scalar ones
        for (acc, var) in int_accs {
            let v = self.builder().use_var(var);
            let mut total = self.ins().extractlane(v, 0);
            for lane in 1..4u8 {
                let x = self.ins().extractlane(v, lane);
                total = self.ins().iadd(total, x);
            }
            let main = self.cx.local(acc);
            self.builder().def_var(main, total);
        }
        for (acc, op, vs) in accs {
            let parts: Vec<Value> = vs.iter().map(|v| self.builder().use_var(*v)).collect();
            let comb = |b: &mut FunctionBuilder, x: Value, y: Value| match op {
                ReduceOp::Add | ReduceOp::OrderedAdd => b.ins().fadd(x, y),
                ReduceOp::Min => b.ins().fmin(x, y),
                ReduceOp::Max => b.ins().fmax(x, y),
            };
            let ab = comb(self.cx.builder(), parts[0], parts[1]);
            let cd = comb(self.cx.builder(), parts[2], parts[3]);
            let s = comb(self.cx.builder(), ab, cd);
            let l0 = self.ins().extractlane(s, 0);
            let l1 = self.ins().extractlane(s, 1);
            let l2 = self.ins().extractlane(s, 2);
            let l3 = self.ins().extractlane(s, 3);
            let x = comb(self.cx.builder(), l0, l1);
            let y = comb(self.cx.builder(), l2, l3);
            let total = comb(self.cx.builder(), x, y);
            let main = self.cx.local(acc);
            self.builder().def_var(main, total);
        }
    }

    /// The 16 products `a[i + k] * b[i + k]` of a trip of an i8 dot, summed into four
    /// i32 lanes: each operand's i8x16 is sign-extended to two i16x8 halves, and each pair
    /// of halves multiplied and added pairwise into i32x4 (the tree x64 lowers to one
    /// `pmaddwd`).
    fn i8_dot16(&mut self, a: &Expr, b: &Expr) -> Value {
        let mut halves: Vec<[Value; 2]> = Vec::new();
        for x in [a, b] {
            let ExprKind::Load(_, idx) = &x.kind else {
                unreachable!("i8_dot_term returns loads")
            };
            let p = self.pointer(access_key(idx)).0;
            let fl = MemFlagsData::new().with_notrap();
            let bytes = self.ins().load(types::I8X16, fl, p, 0);
            let lo = self.ins().swiden_low(bytes);
            let hi = self.ins().swiden_high(bytes);
            halves.push([lo, hi]);
        }
        let lo = self.pairwise_dot(halves[0][0], halves[1][0]);
        let hi = self.pairwise_dot(halves[0][1], halves[1][1]);
        self.ins().iadd(lo, hi)
    }

    /// `[x0*y0 + x1*y1, x2*y2 + x3*y3, ...]`: i16x8 by i16x8 into i32x4, exactly.
    fn pairwise_dot(&mut self, x: Value, y: Value) -> Value {
        let (xl, yl) = (self.ins().swiden_low(x), self.ins().swiden_low(y));
        let (xh, yh) = (self.ins().swiden_high(x), self.ins().swiden_high(y));
        let low = self.ins().imul(xl, yl);
        let high = self.ins().imul(xh, yh);
        self.ins().iadd_pairwise(low, high)
    }

    /// An f32 expression for lanes `4*part..4*part+4` of the trip; `temps` are the vectors
    /// of the body's temporaries computed so far (or, in an inlined expression function,
    /// of its parameters).
    fn vector_expr(&mut self, e: &Expr, part: u32, temps: &[(u32, Value)]) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.cx.emitter().constant(*c);
                self.ins().splat(v4, s)
            }
            ExprKind::Local(l) => {
                if let Some((_, v)) = temps.iter().find(|t| t.0 == *l) {
                    *v
                } else {
                    let s = self.use_local(*l);
                    self.ins().splat(v4, s)
                }
            }
            ExprKind::Load(r, idx) => {
                let k = access_key(idx);
                let (p, contiguous) = self.pointer(k);
                let elem = self.cx.elem(*r);
                self.cx
                    .emitter()
                    .lane_load(elem, p, contiguous == Some(true), part)
            }
            ExprKind::Binary(BinOp::Add, a, b) if self.reassoc && self.inlining == 0 => {
                match (self.opts.hw_fma, mul_add(a, b)) {
                    // `x*y + z` contracted to one fused multiply-add (allowed by #[reassoc])
                    (true, Some((x, y, z))) => {
                        let xv = self.vector_expr(x, part, temps);
                        let yv = self.vector_expr(y, part, temps);
                        let zv = self.vector_expr(z, part, temps);
                        self.ins().fma(xv, yv, zv)
                    }
                    _ => {
                        let xv = self.vector_expr(a, part, temps);
                        let yv = self.vector_expr(b, part, temps);
                        self.ins().fadd(xv, yv)
                    }
                }
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = lane_operands(e)
                    .into_iter()
                    .map(|x| self.vector_expr(x, part, temps))
                    .collect();
                self.cx.emitter().lane_op(e, &xs)
            }
            ExprKind::Call(fi, args) => {
                // an expression function: its body over the argument vectors
                let body = analysis::expr_function(self.module, *fi).expect("checked inlinable");
                let params: Vec<(u32, Value)> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match a {
                        CallArg::Scalar(x) => (i as u32, self.vector_expr(x, part, temps)),
                        _ => unreachable!("checked: scalar arguments only"),
                    })
                    .collect();
                self.inlining += 1;
                let v = self.vector_expr(body, part, &params);
                self.inlining -= 1;
                v
            }
            _ => unreachable!("vectorizable() admits only the forms handled above"),
        }
    }
}
