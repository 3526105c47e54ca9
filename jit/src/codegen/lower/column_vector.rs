//! The column-nest emitter (T3): the `j` of a recognized column nest
//! (`analysis::column_nest`) run 32 (then 16, then 4) at once in f32x4 lanes, one lane per
//! column, so each lane performs exactly the scalar sequence of operations of its `j`
//! (bit-exact without `#[reassoc]`; with it, `x*y + acc` may be contracted into one
//! `fma`). Loads whose index does not depend on `j` (`a[i*k + p]`) are broadcast, loads
//! contiguous along `j` (`b[p*n + j]`) are f32x4 loads.
//!
//! Every index is affine in `j` (coefficient 0 or 1) and in `p`, so it is in bounds for the
//! whole vector range iff it is at the corners of the (j, p) box: those are tested once
//! before the nest, and if any fails the original loop (every check kept) runs instead,
//! so traps are those of T0. The tests compute in i64 from the sign-extended i32 terms,
//! which is congruent to the kernel's wrapping i32 arithmetic; a value in `0..len` (below
//! 2^31) is therefore the kernel's index itself. The `j` iterations left over after the
//! groups of 4 run through the ordinary lowering (the caller emits them).

use super::FunctionContext;
use super::lanes::{
    LanePointer, LanePointers, NEST_LANES, index_at, lane_operands, lane_pointer, vector_span,
};
use super::loops::{AffineValues, affine_i64, bump_pointers};
use crate::codegen::analysis::{ColumnNest, NestAccess, access_key, mul_add};
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::{FuncInstBuilder, FunctionBuilder, Variable};

/// Vectors per accumulator in each pass over the columns: 32 columns (eight independent
/// fma chains, enough to hide the fma latency; measured 1.2-1.4x faster than 16 on matmul),
/// then at most one group of 16, then groups of 4.
const PASSES: [usize; 3] = [8, 4, 1];

/// The f32x4 variables of the nest's accumulators in a column group: (local, one per part).
type LaneAccumulators = Vec<(u32, Vec<Variable>)>;

/// The emitter of one column nest.
pub(super) struct ColumnVectorizer<'l, 'n, 'b> {
    cx: &'l mut dyn FunctionContext<'b>,
    nest: &'l ColumnNest<'n>,
    /// The function is `#[reassoc]` and the CPU has FMA: `x*y + z` may be contracted.
    contract: bool,
    /// The loads' pointers in the current column group.
    loads: LanePointers,
}

impl<'l, 'n, 'b> ColumnVectorizer<'l, 'n, 'b> {
    /// Emits the entry test and the vector path of `nest`, the outer loop `fl` (entered
    /// with `start < end`, step 1). Returns the block where the original loop must run
    /// when the test fails; the vector path ends where the remaining columns start.
    pub fn emit(
        cx: &'l mut dyn FunctionContext<'b>,
        nest: &'l ColumnNest<'n>,
        fl: &ForLoop,
        start: Value,
        end: Value,
        reassoc: bool,
        hw_fma: bool,
    ) -> Block {
        let mut cv = ColumnVectorizer {
            cx,
            nest,
            contract: reassoc && hw_fma,
            loads: LanePointers::new(),
        };
        cv.emit_nest(fl, start, end)
    }

    fn builder(&mut self) -> &mut FunctionBuilder<'b> {
        self.cx.builder()
    }

    fn ins(&mut self) -> FuncInstBuilder<'_, 'b> {
        self.cx.builder().ins()
    }

    fn emit_nest(&mut self, fl: &ForLoop, start: Value, end: Value) -> Block {
        let nest = self.nest;
        // columns run in vectors
        let span = vector_span(self.builder(), start, end);
        let (s64, jlast) = (span.first, span.last);
        let ps = self.cx.invariant(&nest.inner.start);
        let pe = self.cx.invariant(&nest.inner.end);
        let p0 = self.ins().sextend(types::I64, ps);
        let p1 = self.ins().sextend(types::I64, pe);
        let plast = self.ins().iadd_imm_s(p1, -1);

        let mut ok = self
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThan, span.count, 0);
        // inner-loop loads happen only when the inner loop runs: their test may fail when
        // it is empty; post-loop loads and stores always happen
        let mut inner_ok = self.ins().iconst(types::I8, 1);
        let mut forms: Vec<AffineValues> = Vec::new();
        for a in &nest.loads {
            let form = affine_i64(self.cx, a.inner_coef, &a.offs);
            let (_, len) = self.cx.buffer(a.buf);
            let js: &[Value] = if a.along_outer { &[s64, jlast] } else { &[s64] };
            let pts: &[Value] = if a.inner_coef.is_some() {
                &[p0, plast]
            } else {
                &[p0]
            };
            for &jj in js {
                for &pp in pts {
                    let idx = index_at(self.builder(), a.along_outer, &form, jj, pp);
                    let inb = self.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                    if a.inner {
                        inner_ok = self.ins().band(inner_ok, inb);
                    } else {
                        ok = self.ins().band(ok, inb);
                    }
                }
            }
            forms.push(form);
        }
        let empty = self.ins().icmp(IntCC::SignedGreaterThanOrEqual, p0, p1);
        let inner_ok = self.ins().bor(inner_ok, empty);
        ok = self.ins().band(ok, inner_ok);
        let mut sforms: Vec<AffineValues> = Vec::new();
        for a in &nest.stores {
            let form = affine_i64(self.cx, a.inner_coef, &a.offs);
            let (_, len) = self.cx.buffer(a.buf);
            for jj in [s64, jlast] {
                let idx = index_at(self.builder(), a.along_outer, &form, jj, p0);
                let inb = self.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                ok = self.ins().band(ok, inb);
            }
            sforms.push(form);
        }
        let vecb = self.builder().create_block();
        let slowb = self.builder().create_block();
        self.ins().brif(ok, vecb, &[], slowb, &[]);

        self.builder().switch_to_block(vecb);
        let var = self.cx.local(fl.var);
        for parts in PASSES {
            self.column_blocks(&forms, &sforms, var, span.end, p0, p1, parts);
        }
        slowb
    }

    /// The address of access `a` at column `jj`, inner iteration `pp`.
    fn addr_at(&mut self, a: &NestAccess, form: &AffineValues, jj: Value, pp: Value) -> Value {
        let idx = index_at(self.builder(), a.along_outer, form, jj, pp);
        let (p, _) = self.cx.buffer(a.buf);
        let byte = self.ins().ishl_imm_s(idx, 2);
        self.ins().iadd(p, byte)
    }

    /// Runs groups of `4 * parts` columns while a whole group fits before `vend`.
    #[allow(clippy::too_many_arguments)]
    fn column_blocks(
        &mut self,
        forms: &[AffineValues],
        sforms: &[AffineValues],
        var: Variable,
        vend: Value,
        p0: Value,
        p1: Value,
        parts: usize,
    ) {
        let nest = self.nest;
        let v4 = types::F32X4;
        let width = NEST_LANES * parts as i64;
        let head = self.builder().create_block();
        let body = self.builder().create_block();
        let done = self.builder().create_block();
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(head);
        let jv = self.builder().use_var(var);
        let j64 = self.ins().sextend(types::I64, jv);
        let jw = self.ins().iadd_imm_s(j64, width);
        let fits = self.ins().icmp(IntCC::SignedLessThanOrEqual, jw, vend);
        self.ins().brif(fits, body, &[], done, &[]);

        self.builder().switch_to_block(body);
        // accumulators: one f32x4 per part
        let mut accs: LaneAccumulators = Vec::new();
        for &(acc, init) in &nest.accs {
            let s = self.cx.invariant(init);
            let sv = self.ins().splat(v4, s);
            let vs: Vec<Variable> = (0..parts)
                .map(|_| {
                    let v = self.builder().declare_var(v4);
                    self.builder().def_var(v, sv);
                    v
                })
                .collect();
            accs.push((acc, vs));
        }
        // inner-loop pointers start at (j, p0) and advance by `inner_coef` elements per
        // iteration
        let mut ptrs = LanePointers::new();
        let mut bumps: Vec<(Variable, Value)> = Vec::new();
        for (a, form) in nest.loads.iter().zip(forms) {
            let addr = self.addr_at(a, form, j64, p0);
            let pv = self.builder().declare_var(types::I64);
            self.builder().def_var(pv, addr);
            if let Some(cp) = form.coef {
                let stride = self.ins().ishl_imm_s(cp, 2);
                bumps.push((pv, stride));
            }
            ptrs.insert(
                a.key,
                LanePointer {
                    var: pv,
                    along: a.along_outer,
                },
            );
        }
        self.loads = ptrs;
        let pv = self.builder().declare_var(types::I64);
        self.builder().def_var(pv, p0);
        let phead = self.builder().create_block();
        let pbody = self.builder().create_block();
        let pdone = self.builder().create_block();
        self.ins().jump(phead, &[]);
        self.builder().switch_to_block(phead);
        let pc = self.builder().use_var(pv);
        let more = self.ins().icmp(IntCC::SignedLessThan, pc, p1);
        self.ins().brif(more, pbody, &[], pdone, &[]);

        self.builder().switch_to_block(pbody);
        let mut bcast: Vec<(usize, Value)> = Vec::new();
        for s in &nest.inner.body {
            if let Stmt::Set(l, e) = s {
                self.lane_update(*l, e, &accs, parts, &mut bcast);
            }
        }
        bump_pointers(self.builder(), &bumps);
        let pc = self.builder().use_var(pv);
        let pc1 = self.ins().iadd_imm_s(pc, 1);
        self.builder().def_var(pv, pc1);
        self.ins().jump(phead, &[]);

        self.builder().switch_to_block(pdone);
        let mut bcast: Vec<(usize, Value)> = Vec::new();
        for s in nest.post {
            match s {
                Stmt::Set(l, e) => self.lane_update(*l, e, &accs, parts, &mut bcast),
                Stmt::Store(_, idx, e) => {
                    let k = access_key(idx);
                    let (si, a) = nest
                        .stores
                        .iter()
                        .enumerate()
                        .find(|(_, a)| a.key == k)
                        .expect("recognized store");
                    let addr = self.addr_at(a, &sforms[si], j64, p0);
                    for part in 0..parts {
                        let x = self.lane_expr(e, part, &accs, &mut bcast);
                        self.ins().store(
                            MemFlagsData::new().with_notrap(),
                            x,
                            addr,
                            (part * 16) as i32,
                        );
                    }
                }
                _ => unreachable!("column_nest admits only sets and stores after the inner loop"),
            }
        }
        let j1 = self.ins().iadd_imm_s(jv, width);
        self.builder().def_var(var, j1);
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(done);
    }

    /// `acc = e` in every part (all parts computed before any is redefined).
    fn lane_update(
        &mut self,
        acc: u32,
        e: &Expr,
        accs: &LaneAccumulators,
        parts: usize,
        bcast: &mut Vec<(usize, Value)>,
    ) {
        let vals: Vec<Value> = (0..parts)
            .map(|part| self.lane_expr(e, part, accs, bcast))
            .collect();
        let vs = &accs.iter().find(|a| a.0 == acc).expect("accumulator").1;
        for (v, x) in vs.iter().zip(vals) {
            self.builder().def_var(*v, x);
        }
    }

    /// An f32 expression for the 4 columns of vector `part`; `bcast` keeps the broadcast
    /// loads already made in this block (by access key).
    fn lane_expr(
        &mut self,
        e: &Expr,
        part: usize,
        accs: &LaneAccumulators,
        bcast: &mut Vec<(usize, Value)>,
    ) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.cx.emitter().constant(*c);
                self.ins().splat(v4, s)
            }
            ExprKind::Local(l) => match accs.iter().find(|a| a.0 == *l) {
                Some(a) => self.builder().use_var(a.1[part]),
                None => {
                    let var = self.cx.local(*l);
                    let s = self.builder().use_var(var);
                    self.ins().splat(v4, s)
                }
            },
            ExprKind::Load(_, idx) => {
                let k = access_key(idx);
                let ptr = lane_pointer(&self.loads, k);
                let p = self.builder().use_var(ptr.var);
                if ptr.along {
                    self.cx.emitter().lane_load(Elem::F32, p, true, part as u32)
                } else if let Some((_, v)) = bcast.iter().find(|b| b.0 == k) {
                    *v
                } else {
                    let v = self
                        .cx
                        .emitter()
                        .lane_load(Elem::F32, p, false, part as u32);
                    bcast.push((k, v));
                    v
                }
            }
            ExprKind::Binary(BinOp::Add, a, b) if self.contract => {
                match mul_add(a, b) {
                    // `x*y + z` contracted (allowed by #[reassoc])
                    Some((x, y, z)) => {
                        let xv = self.lane_expr(x, part, accs, bcast);
                        let yv = self.lane_expr(y, part, accs, bcast);
                        let zv = self.lane_expr(z, part, accs, bcast);
                        self.ins().fma(xv, yv, zv)
                    }
                    None => {
                        let xv = self.lane_expr(a, part, accs, bcast);
                        let yv = self.lane_expr(b, part, accs, bcast);
                        self.ins().fadd(xv, yv)
                    }
                }
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = lane_operands(e)
                    .into_iter()
                    .map(|x| self.lane_expr(x, part, accs, bcast))
                    .collect();
                self.cx.emitter().lane_op(e, &xs)
            }
            _ => unreachable!("the analysis admits only the forms handled above"),
        }
    }
}
