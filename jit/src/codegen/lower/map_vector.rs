//! The map-nest emitter (T3): for a recognized map nest (`analysis::map_nest`), eight (two
//! f32x4 vectors per step, when the lane test below allows 8), then four consecutive `k`
//! run at once, one per lane: the temporaries before the inner loop become
//! vectors (`k as f32` is the converted i32x4 `[k, k+1, k+2, k+3]`, `sin`/`cos`/`exp` the
//! lane-wise inline `mathf` sequences), the inner loop runs scalar over `s` and does each
//! statement for all lanes with f32x4 loads and stores. Each lane performs
//! exactly the scalar operation sequence of its `k` (nothing is contracted into fma, even
//! with `#[reassoc]`), so the results are bit-identical to T0. The `k` left over after the
//! groups of 4 run through the ordinary lowering.
//!
//! ## Legality
//!
//! Every access is in the inner loop; its index is `C*s + k + o` (coefficient exactly 1 in
//! `k`; `C` and `o` invariant), or `C*s + o` for a buffer the nest never stores (a
//! broadcast). The vector path runs only if a test at the nest's entry proves, else the
//! original loop runs with every check (so traps and the stores before them are T0's):
//!
//! - *Bounds*: every index is in `0..len` at the corners of the box (first and last `k` of
//!   the vector range, first and last `s`, the last being `c + ((d-1-c)/st)*st`). The
//!   indices are affine, so they are in bounds over the whole box. The tests compute in i64
//!   from the sign-extended i32 terms, congruent to the kernel's wrapping i32 arithmetic,
//!   so an i64 value in `0..len` is the kernel's index itself. An empty inner loop makes
//!   no access; a step `<= 0` takes the checked loop, which traps `BadStep` as T0 does.
//! - *No dependence between lanes*: the vector path changes the order of the iterations
//!   `(k, s)` only inside one group of L = 4 or 8 `k` (groups run in order, within one `k`
//!   the `s` run in order): `(k1, s1)` with `k1 < k2` may now run after `(k2, s2)` when
//!   `s1 > s2`, and the lanes of one `s` are interleaved statement by statement. That is
//!   harmless if two different `k` of a group never touch the same element of a stored
//!   buffer. For two accesses X, Y of such a buffer (X = Y included) with offsets
//!   `oX`, `oY` and the same coefficient `C` (tested), the elements `C*s1 + k1 + oX` and
//!   `C*s2 + k2 + oY` coincide iff `D*t + d = k2 - k1`, with `D = C*st` (elements per `s`
//!   step), `t` the difference of the two iteration numbers and `d = oX - oY`. For
//!   `1 <= |k2 - k1| <= L - 1` that is impossible when
//!   `d == 0 || |d| >= L` (covers `t = 0`) and, if the inner loop runs more than once,
//!   `D == 0 || |D| >= |d| + L` (then `|D*t + d| >= L` for every `t != 0`, or `D*t + d = d`).
//!   The test for L = 4 guards the vector path, the one for L = 8 the two-vector steps.
//!   In fft, `re[a]` and `re[b]` differ by `d = half` and `D = span = 2*half`: both hold iff
//!   `half >= L`; the early stages (`half < 4`) have no vector group anyway.
//! - Read-only buffers may be read at any such index: the order of reads does not matter.

use super::FunctionContext;
use super::lanes::{
    LanePointer, LanePointers, NEST_LANES, index_at, lane_operands, lane_pointer, vector_span,
};
use super::loops::{AffineValues, affine_i64, bump_pointers};
use crate::codegen::analysis::{MapNest, access_key};
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::{FuncInstBuilder, FunctionBuilder, Variable};

/// The values of an access group computed at the nest's entry.
struct GroupValues {
    form: AffineValues,
    /// Coefficient of `s` (i64, 0 when the index has no `s` term).
    coef: Value,
}

/// The emitter of one map nest.
pub(super) struct MapVectorizer<'l, 'n, 'b> {
    cx: &'l mut dyn FunctionContext<'b>,
    nest: &'l MapNest<'n>,
}

impl<'l, 'n, 'b> MapVectorizer<'l, 'n, 'b> {
    /// Emits the entry test and the vector path of `nest`, the outer loop `fl` (entered
    /// with `start < end`, step 1). Returns the block where the original loop must run
    /// when the test fails; the vector path ends where the remaining `k` start.
    pub fn emit(
        cx: &'l mut dyn FunctionContext<'b>,
        nest: &'l MapNest<'n>,
        fl: &ForLoop,
        start: Value,
        end: Value,
    ) -> Block {
        MapVectorizer { cx, nest }.emit_nest(fl, start, end)
    }

    fn builder(&mut self) -> &mut FunctionBuilder<'b> {
        self.cx.builder()
    }

    fn ins(&mut self) -> FuncInstBuilder<'_, 'b> {
        self.cx.builder().ins()
    }

    fn emit_nest(&mut self, fl: &ForLoop, start: Value, end: Value) -> Block {
        let nest = self.nest;
        // k runs in vectors
        let range = vector_span(self.builder(), start, end);
        let (s64, klast) = (range.first, range.last);
        // the inner loop's range, evaluated once (k-invariant and trap-free)
        let ps = self.cx.invariant(&nest.inner.start);
        let pe = self.cx.invariant(&nest.inner.end);
        let p0 = self.ins().sextend(types::I64, ps);
        let p1 = self.ins().sextend(types::I64, pe);
        let st = match &nest.inner.step {
            Some(e) => {
                let v = self.cx.invariant(e);
                self.ins().sextend(types::I64, v)
            }
            None => self.ins().iconst(types::I64, 1),
        };
        let step_ok = self.ins().icmp_imm_s(IntCC::SignedGreaterThan, st, 0);
        let one = self.ins().iconst(types::I64, 1);
        let st1 = self.ins().select(step_ok, st, one);
        // the last s: p0 + ((p1 - 1 - p0) / st) * st (meaningless, and unused, when empty)
        let span = self.ins().isub(p1, p0);
        let span = self.ins().iadd_imm_s(span, -1);
        let nst = self.ins().sdiv(span, st1);
        let off = self.ins().imul(nst, st1);
        let plast = self.ins().iadd(p0, off);
        let empty = self.ins().icmp(IntCC::SignedGreaterThanOrEqual, p0, p1);
        let next = self.ins().iadd(p0, st1);
        let once = self.ins().icmp(IntCC::SignedGreaterThanOrEqual, next, p1);

        // one group per distinct (buffer, index); bounds at the corners of the box
        let mut groups: Vec<GroupValues> = Vec::new();
        let mut inb_all = self.ins().iconst(types::I8, 1);
        for g in &nest.groups {
            let a = &nest.accesses[g.rep];
            let form = affine_i64(self.cx, a.inner_coef, &a.offs);
            let (_, len) = self.cx.buffer(a.buf);
            let ks: &[Value] = if a.along_outer { &[s64, klast] } else { &[s64] };
            let pts: &[Value] = if form.coef.is_some() {
                &[p0, plast]
            } else {
                &[p0]
            };
            for &kk in ks {
                for &pp in pts {
                    let idx = index_at(self.builder(), a.along_outer, &form, kk, pp);
                    let inb = self.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                    inb_all = self.ins().band(inb_all, inb);
                }
            }
            let coef = match form.coef {
                Some(c) => c,
                None => self.ins().iconst(types::I64, 0),
            };
            groups.push(GroupValues { form, coef });
        }
        // lanes never share an element of a stored buffer (see the module documentation),
        // for groups of 4 and of 8 k
        let mut dep_ok = self.ins().iconst(types::I8, 1);
        let mut dep_ok8 = self.ins().iconst(types::I8, 1);
        for x in 0..groups.len() {
            let bx = nest.accesses[nest.groups[x].rep].buf;
            let stored = nest
                .accesses
                .iter()
                .zip(&nest.is_store)
                .any(|(a, s)| *s && a.buf == bx);
            if !stored {
                continue;
            }
            for y in x..groups.len() {
                if nest.accesses[nest.groups[y].rep].buf != bx {
                    continue;
                }
                let (coef_x, coef_y) = (groups[x].coef, groups[y].coef);
                let same_c = self.ins().icmp(IntCC::Equal, coef_x, coef_y);
                let d = self
                    .ins()
                    .isub(groups[x].form.offset, groups[y].form.offset);
                let ad = self.ins().iabs(d);
                let d0 = self.ins().icmp_imm_s(IntCC::Equal, d, 0);
                let dd = self.ins().imul(coef_x, st1);
                let add = self.ins().iabs(dd);
                let dd0 = self.ins().icmp_imm_s(IntCC::Equal, dd, 0);
                let iter_any = self.ins().bor(dd0, once);
                for (lanes, acc) in [(NEST_LANES, &mut dep_ok), (2 * NEST_LANES, &mut dep_ok8)] {
                    let far = self
                        .ins()
                        .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, ad, lanes);
                    let lane_ok = self.ins().bor(d0, far);
                    let need = self.ins().iadd_imm_s(ad, lanes);
                    let step_far = self.ins().icmp(IntCC::SignedGreaterThanOrEqual, add, need);
                    let iter_ok = self.ins().bor(step_far, iter_any);
                    let ok = self.ins().band(same_c, lane_ok);
                    let ok = self.ins().band(ok, iter_ok);
                    *acc = self.ins().band(*acc, ok);
                }
            }
        }
        let proven = self.ins().band(inb_all, dep_ok);
        let proven = self.ins().bor(proven, empty);
        let has_vec = self
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThan, range.count, 0);
        let ok = self.ins().band(has_vec, step_ok);
        let ok = self.ins().band(ok, proven);
        let vecb = self.builder().create_block();
        let slowb = self.builder().create_block();
        self.ins().brif(ok, vecb, &[], slowb, &[]);

        self.builder().switch_to_block(vecb);
        // two vectors (8 k) per step while the lanes allow it, then single vectors
        let wide = self.builder().create_block();
        let narrow = self.builder().create_block();
        self.ins().brif(dep_ok8, wide, &[], narrow, &[]);
        self.builder().switch_to_block(wide);
        self.map_blocks(fl, &groups, range.end, p0, p1, st1, 2);
        self.ins().jump(narrow, &[]);
        self.builder().switch_to_block(narrow);
        self.map_blocks(fl, &groups, range.end, p0, p1, st1, 1);
        slowb
    }

    /// Runs groups of `4 * parts` k (one f32x4 per part) while a whole group fits before
    /// `vend`.
    #[allow(clippy::too_many_arguments)]
    fn map_blocks(
        &mut self,
        fl: &ForLoop,
        groups: &[GroupValues],
        vend: Value,
        p0: Value,
        p1: Value,
        st: Value,
        parts: usize,
    ) {
        let nest = self.nest;
        let v4 = types::F32X4;
        let width = NEST_LANES * parts as i64;
        let var = self.cx.local(fl.var);
        let temps: Vec<(u32, Vec<Variable>)> = nest
            .temps
            .iter()
            .map(|l| {
                (
                    *l,
                    (0..parts).map(|_| self.builder().declare_var(v4)).collect(),
                )
            })
            .collect();
        // bytes per s step, per group
        let strides: Vec<Value> = groups
            .iter()
            .map(|g| {
                let cs = self.ins().imul(g.coef, st);
                self.ins().ishl_imm_s(cs, 2)
            })
            .collect();
        let head = self.builder().create_block();
        let body = self.builder().create_block();
        let done = self.builder().create_block();
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(head);
        let kv = self.builder().use_var(var);
        let k64 = self.ins().sextend(types::I64, kv);
        let kw = self.ins().iadd_imm_s(k64, width);
        let fits = self.ins().icmp(IntCC::SignedLessThanOrEqual, kw, vend);
        self.ins().brif(fits, body, &[], done, &[]);

        self.builder().switch_to_block(body);
        let mut ptrs = LanePointers::new();
        let no_ptrs = LanePointers::new();
        let mut lanes = MapLanes {
            temps: &temps,
            ptrs: &no_ptrs,
            kvar: var,
        };
        for s in nest.pre {
            if let Stmt::Set(l, e) = s {
                self.map_set(*l, e, &lanes, parts);
            }
        }
        // pointers start at (k, p0) and advance by `C*st` elements per s step
        let mut bumps: Vec<(Variable, Value)> = Vec::new();
        for ((g, values), stride) in nest.groups.iter().zip(groups).zip(&strides) {
            let a = &nest.accesses[g.rep];
            let idx = index_at(self.builder(), a.along_outer, &values.form, k64, p0);
            let (p, _) = self.cx.buffer(a.buf);
            let byte = self.ins().ishl_imm_s(idx, 2);
            let addr = self.ins().iadd(p, byte);
            let pv = self.builder().declare_var(types::I64);
            self.builder().def_var(pv, addr);
            for k in &g.keys {
                ptrs.insert(
                    *k,
                    LanePointer {
                        var: pv,
                        along: a.along_outer,
                    },
                );
            }
            bumps.push((pv, *stride));
        }
        lanes.ptrs = &ptrs;
        let sv = self.builder().declare_var(types::I64);
        self.builder().def_var(sv, p0);
        let shead = self.builder().create_block();
        let sbody = self.builder().create_block();
        let sdone = self.builder().create_block();
        self.ins().jump(shead, &[]);
        self.builder().switch_to_block(shead);
        let sc = self.builder().use_var(sv);
        let more = self.ins().icmp(IntCC::SignedLessThan, sc, p1);
        self.ins().brif(more, sbody, &[], sdone, &[]);

        self.builder().switch_to_block(sbody);
        for s in &nest.inner.body {
            match s {
                Stmt::Set(l, e) if e.ty == Ty::F32 => self.map_set(*l, e, &lanes, parts),
                Stmt::Set(..) => {} // index helpers: their uses became pointers
                Stmt::Store(_, idx, e) => {
                    let pv = lane_pointer(lanes.ptrs, access_key(idx)).var;
                    for part in 0..parts {
                        let x = self.map_expr(e, &lanes, part);
                        let p = self.builder().use_var(pv);
                        self.ins().store(
                            MemFlagsData::new().with_notrap(),
                            x,
                            p,
                            (part * 16) as i32,
                        );
                    }
                }
                _ => unreachable!("map_nest admits only sets and stores in the inner loop"),
            }
        }
        bump_pointers(self.builder(), &bumps);
        let sc = self.builder().use_var(sv);
        let sc1 = self.ins().iadd(sc, st);
        self.builder().def_var(sv, sc1);
        self.ins().jump(shead, &[]);

        self.builder().switch_to_block(sdone);
        let k1 = self.ins().iadd_imm_s(kv, width);
        self.builder().def_var(var, k1);
        self.ins().jump(head, &[]);
        self.builder().switch_to_block(done);
    }

    /// `l = e` in every part (all parts computed before any is redefined).
    fn map_set(&mut self, l: u32, e: &Expr, lanes: &MapLanes, parts: usize) {
        let xs: Vec<Value> = (0..parts).map(|p| self.map_expr(e, lanes, p)).collect();
        for (v, x) in lanes.temp(l).iter().zip(xs) {
            self.builder().def_var(*v, x);
        }
    }

    /// An f32 expression for the four lanes `k+4*part..k+4*part+4`.
    fn map_expr(&mut self, e: &Expr, lanes: &MapLanes, part: usize) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.cx.emitter().constant(*c);
                self.ins().splat(v4, s)
            }
            ExprKind::Local(l) => match lanes.temps.iter().find(|t| t.0 == *l) {
                Some(t) => self.builder().use_var(t.1[part]),
                None => {
                    let var = self.cx.local(*l);
                    let s = self.builder().use_var(var);
                    self.ins().splat(v4, s)
                }
            },
            ExprKind::Cast(_) => {
                // [k, k+1, k+2, k+3] (+ 4*part) as f32: the scalar conversion's rounding
                let k = self.builder().use_var(lanes.kvar);
                let k = self.ins().iadd_imm_s(k, NEST_LANES * part as i64);
                let mut ks = self.ins().splat(types::I32X4, k);
                for lane in 1..NEST_LANES as u8 {
                    let kl = self.ins().iadd_imm_s(k, lane as i64);
                    ks = self.ins().insertlane(ks, kl, lane);
                }
                self.ins().fcvt_from_sint(v4, ks)
            }
            ExprKind::Load(_, idx) => {
                let ptr = lane_pointer(lanes.ptrs, access_key(idx));
                let p = self.builder().use_var(ptr.var);
                self.cx
                    .emitter()
                    .lane_load(Elem::F32, p, ptr.along, part as u32)
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = lane_operands(e)
                    .into_iter()
                    .map(|x| self.map_expr(x, lanes, part))
                    .collect();
                self.cx.emitter().lane_op(e, &xs)
            }
            _ => unreachable!("the analysis admits only the forms handled above"),
        }
    }
}

/// The vector path's view of the nest while lowering its expressions.
struct MapLanes<'c> {
    /// f32 locals of the nest and their f32x4 variables (one per part).
    temps: &'c [(u32, Vec<Variable>)],
    /// The accesses' pointers in the current group of `k`.
    ptrs: &'c LanePointers,
    /// The outer loop's variable.
    kvar: Variable,
}

impl MapLanes<'_> {
    fn temp(&self, l: u32) -> &[Variable] {
        &self
            .temps
            .iter()
            .find(|t| t.0 == l)
            .expect("recognized temporary")
            .1
    }
}
