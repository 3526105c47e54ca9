//! T3 outer-loop vectorization of a *map* nest: a `for k` loop whose body computes f32
//! temporaries from `k` and then runs an inner loop of element-wise updates, like fft's
//! butterfly stage
//!
//! ```text
//! for k in a..b {
//!     let angle = step_angle * (k as f32);     // f32 temporaries: constants, invariant
//!     let wr = cos(angle);                     // locals, `k as f32`, + - * /, sqrt, abs,
//!     let wi = sin(angle);                     // min, max, fma, exp, sin, cos
//!     for s in c..d step st {                  // c, d, st invariant in k
//!         let a = s + k;                       // i32 index helpers, affine in s and k
//!         let b = a + half;
//!         let xr = re[b] * wr - im[b] * wi;    // f32 temporaries
//!         re[b] = re[a] - xr;                  // f32 stores
//!         re[a] += xr;
//!     }
//! }
//! ```
//!
//! Eight (two f32x4 vectors per step, when the lane test below allows 8), then four
//! consecutive `k` run at once, one per lane: the temporaries before the inner loop become
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

use super::L;
use super::outer_vec::{Ctx, Form, NAccess, assigned_sets};
use crate::codegen::analysis::{self, Affine, LoopInfo};
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::Variable;
use hashbrown::HashMap;

/// `k` per f32x4 vector.
const LANES: i64 = 4;

/// The recognized nest.
struct MapNest<'a> {
    /// The f32 temporaries before the inner loop.
    pre: &'a [Stmt],
    inner: &'a ForLoop,
    /// The buffer accesses (all inside the inner loop).
    accs: Vec<NAccess<'a>>,
    /// Per access: a store.
    is_store: Vec<bool>,
    /// f32 locals the nest assigns (one f32x4 variable each on the vector path).
    temps: Vec<u32>,
}

/// What the recognizer needs while walking f32 expressions.
struct Walk<'a, 'b> {
    cx: Ctx<'a, 'b>,
    /// The inner loop's affine view (`None` before the inner loop: no loads there).
    li_s: Option<&'b LoopInfo<'a>>,
}

impl<'a> Walk<'a, '_> {
    fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.cx.f.bufs[i as usize].0,
            BufRef::Table(t) => self.cx.m.tables[t as usize].data.elem(),
        }
    }

    /// True for an f32 expression computable lane by lane; collects the loads.
    fn lane_ok(&self, e: &'a Expr, accs: &mut Vec<NAccess<'a>>, is_store: &mut Vec<bool>) -> bool {
        if e.ty != Ty::F32 {
            return false;
        }
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Local(_) => true,
            // `k as f32`
            ExprKind::Cast(a) => {
                a.ty == Ty::I32 && matches!(a.kind, ExprKind::Local(l) if l == self.cx.var)
            }
            ExprKind::Load(r, idx) => {
                if self.elem_of(*r) != Elem::F32 {
                    return false;
                }
                let Some(li_s) = self.li_s else {
                    return false;
                };
                match self.cx.classify(idx, Some(li_s)) {
                    Some((along_j, cp, offs)) => {
                        accs.push(NAccess {
                            key: analysis::key(idx),
                            buf: *r,
                            inner: true,
                            along_j,
                            cp,
                            offs,
                        });
                        is_store.push(false);
                        true
                    }
                    None => false,
                }
            }
            ExprKind::Unary(UnOp::Neg, a) => self.lane_ok(a, accs, is_store),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                self.lane_ok(a, accs, is_store) && self.lane_ok(b, accs, is_store)
            }
            ExprKind::Intrinsic(
                Intrinsic::Sqrt | Intrinsic::Abs | Intrinsic::Exp | Intrinsic::Sin | Intrinsic::Cos,
                a,
            ) => self.lane_ok(&a[0], accs, is_store),
            ExprKind::Intrinsic(Intrinsic::Min | Intrinsic::Max, a) => {
                self.lane_ok(&a[0], accs, is_store) && self.lane_ok(&a[1], accs, is_store)
            }
            // a vector fma needs the instruction (the scalar tiers call libm without it)
            ExprKind::Intrinsic(Intrinsic::Fma, a) => {
                self.cx.hw_fma && a.iter().all(|x| self.lane_ok(x, accs, is_store))
            }
            _ => false,
        }
    }
}

/// Recognizes the nest (see the module documentation).
fn map_nest<'a>(
    f: &Function,
    m: &Module,
    fl: &'a ForLoop,
    outer_asg: &'a [u32],
    inner_asg: &'a [u32],
    hw_fma: bool,
) -> Option<MapNest<'a>> {
    if fl.step.is_some() || fl.start.ty != Ty::I32 {
        return None;
    }
    let li_k = LoopInfo {
        var: fl.var,
        assigned: outer_asg,
        defs: Vec::new(),
    };
    let cx = || Ctx {
        f,
        m,
        hw_fma,
        var: fl.var,
        outer_asg,
        li_j: &li_k,
        accs: &[],
    };
    let mut temps: Vec<u32> = Vec::new();
    let mut accs: Vec<NAccess<'a>> = Vec::new();
    let mut is_store: Vec<bool> = Vec::new();
    // f32 temporaries declared in the body, then the inner loop, then nothing
    let pre_walk = Walk {
        cx: cx(),
        li_s: None,
    };
    let mut at = 0;
    for s in &fl.body {
        let Stmt::Set(l, e) = s else { break };
        if *l <= fl.var || !pre_walk.lane_ok(e, &mut accs, &mut is_store) {
            return None;
        }
        if !temps.contains(l) {
            temps.push(*l);
        }
        at += 1;
    }
    let Some(Stmt::For(inner)) = fl.body.get(at) else {
        return None;
    };
    if at + 1 != fl.body.len()
        || inner.start.ty != Ty::I32
        || !li_k.invariant(&inner.start)
        || !li_k.invariant(&inner.end)
        || inner.step.as_ref().is_some_and(|st| !li_k.invariant(st))
    {
        return None;
    }
    let li_s = LoopInfo {
        var: inner.var,
        assigned: inner_asg,
        defs: analysis::single_defs(inner.var, &inner.body, inner_asg),
    };
    let walk = Walk {
        cx: cx(),
        li_s: Some(&li_s),
    };
    let mut stored: Vec<BufRef> = Vec::new();
    for s in &inner.body {
        match s {
            // an i32 index helper (`let a = s + k;`): trap-free, and only indices use it
            // (f32 expressions cannot read an i32 local), which became pointers
            Stmt::Set(l, e)
                if e.ty == Ty::I32
                    && li_s.defs.iter().any(|d| d.0 == *l)
                    && li_s.affine(e).is_some() => {}
            Stmt::Set(l, e) if *l > fl.var && e.ty == Ty::F32 => {
                if !walk.lane_ok(e, &mut accs, &mut is_store) {
                    return None;
                }
                if !temps.contains(l) {
                    temps.push(*l);
                }
            }
            Stmt::Store(r, idx, e) if walk.elem_of(*r) == Elem::F32 && e.ty == Ty::F32 => {
                if !walk.lane_ok(e, &mut accs, &mut is_store) {
                    return None;
                }
                let (along_j, cp, offs) = walk.cx.classify(idx, Some(&li_s))?;
                accs.push(NAccess {
                    key: analysis::key(idx),
                    buf: *r,
                    inner: true,
                    along_j,
                    cp,
                    offs,
                });
                is_store.push(true);
                stored.push(*r);
            }
            _ => return None,
        }
    }
    // a stored buffer is accessed only along k (the lane test below needs `C*s + k + o`)
    if stored.is_empty() || accs.iter().any(|a| stored.contains(&a.buf) && !a.along_j) {
        return None;
    }
    Some(MapNest {
        pre: &fl.body[..at],
        inner,
        accs,
        is_store,
        temps,
    })
}

/// Accesses at the same index of the same buffer share one pointer and one set of tests.
struct Group {
    /// The first access of the group (for its form).
    rep: usize,
    form: Form,
    /// Coefficient of `s` (i64, 0 when the index has no `s` term).
    c: Value,
    /// The keys of its accesses.
    keys: Vec<usize>,
}

impl L<'_, '_> {
    /// Tries the outer-loop vectorization of the map nest `fl` (entered with
    /// `start < end`, step 1). Returns false, having emitted nothing, when the loop is not
    /// such a nest.
    pub(super) fn try_outer_map(
        &mut self,
        fl: &ForLoop,
        start: Value,
        end: Value,
        exit: Block,
    ) -> bool {
        let (outer_asg, inner_asg) = assigned_sets(fl);
        let Some(nest) = map_nest(self.f, self.m, fl, &outer_asg, &inner_asg, self.o.hw_fma) else {
            return false;
        };
        // k runs in vectors
        let (s64, vcnt, vend, klast) = self.vector_span(start, end);
        // the inner loop's range, evaluated once (k-invariant and trap-free)
        let ps = self.expr(&nest.inner.start);
        let pe = self.expr(&nest.inner.end);
        let p0 = self.b.ins().sextend(types::I64, ps);
        let p1 = self.b.ins().sextend(types::I64, pe);
        let st = match &nest.inner.step {
            Some(e) => {
                let v = self.expr(e);
                self.b.ins().sextend(types::I64, v)
            }
            None => self.b.ins().iconst(types::I64, 1),
        };
        let step_ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, st, 0);
        let one = self.b.ins().iconst(types::I64, 1);
        let st1 = self.b.ins().select(step_ok, st, one);
        // the last s: p0 + ((p1 - 1 - p0) / st) * st (meaningless, and unused, when empty)
        let span = self.b.ins().isub(p1, p0);
        let span = self.b.ins().iadd_imm_s(span, -1);
        let nst = self.b.ins().sdiv(span, st1);
        let off = self.b.ins().imul(nst, st1);
        let plast = self.b.ins().iadd(p0, off);
        let empty = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, p0, p1);
        let next = self.b.ins().iadd(p0, st1);
        let once = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, next, p1);

        // one group per distinct (buffer, index); bounds at the corners of the box
        let mut groups: Vec<Group> = Vec::new();
        // one group per (buffer, along j, affine form), found by hashing (see AffineKey)
        let mut group_of: HashMap<(BufRef, bool, analysis::AffineKey), usize> = HashMap::new();
        let mut inb_all = self.b.ins().iconst(types::I8, 1);
        for (ai, a) in nest.accs.iter().enumerate() {
            let aff = Affine {
                coef: a.cp,
                offs: a.offs.clone(),
            };
            let gk = (a.buf, a.along_j, analysis::affine_key(&aff));
            if let Some(&g) = group_of.get(&gk) {
                groups[g].keys.push(a.key);
                continue;
            }
            group_of.insert(gk, groups.len());
            let form = self.form(a);
            let (_, len) = self.buf(a.buf);
            let ks: &[Value] = if a.along_j { &[s64, klast] } else { &[s64] };
            let pts: &[Value] = if form.cp.is_some() {
                &[p0, plast]
            } else {
                &[p0]
            };
            for &kk in ks {
                for &pp in pts {
                    let idx = self.index_at(a, &form, kk, pp);
                    let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                    inb_all = self.b.ins().band(inb_all, inb);
                }
            }
            let c = match form.cp {
                Some(c) => c,
                None => self.b.ins().iconst(types::I64, 0),
            };
            groups.push(Group {
                rep: ai,
                form,
                c,
                keys: alloc::vec![a.key],
            });
        }
        // lanes never share an element of a stored buffer (see the module documentation),
        // for groups of 4 and of 8 k
        let mut dep_ok = self.b.ins().iconst(types::I8, 1);
        let mut dep_ok8 = self.b.ins().iconst(types::I8, 1);
        for x in 0..groups.len() {
            let bx = nest.accs[groups[x].rep].buf;
            let stored = nest
                .accs
                .iter()
                .zip(&nest.is_store)
                .any(|(a, s)| *s && a.buf == bx);
            if !stored {
                continue;
            }
            for y in x..groups.len() {
                if nest.accs[groups[y].rep].buf != bx {
                    continue;
                }
                let (cx, cy) = (groups[x].c, groups[y].c);
                let same_c = self.b.ins().icmp(IntCC::Equal, cx, cy);
                let d = self.b.ins().isub(groups[x].form.off, groups[y].form.off);
                let ad = self.b.ins().iabs(d);
                let d0 = self.b.ins().icmp_imm_s(IntCC::Equal, d, 0);
                let dd = self.b.ins().imul(cx, st1);
                let add = self.b.ins().iabs(dd);
                let dd0 = self.b.ins().icmp_imm_s(IntCC::Equal, dd, 0);
                let iter_any = self.b.ins().bor(dd0, once);
                for (lanes, acc) in [(LANES, &mut dep_ok), (2 * LANES, &mut dep_ok8)] {
                    let far = self
                        .b
                        .ins()
                        .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, ad, lanes);
                    let lane_ok = self.b.ins().bor(d0, far);
                    let need = self.b.ins().iadd_imm_s(ad, lanes);
                    let step_far = self
                        .b
                        .ins()
                        .icmp(IntCC::SignedGreaterThanOrEqual, add, need);
                    let iter_ok = self.b.ins().bor(step_far, iter_any);
                    let ok = self.b.ins().band(same_c, lane_ok);
                    let ok = self.b.ins().band(ok, iter_ok);
                    *acc = self.b.ins().band(*acc, ok);
                }
            }
        }
        let proven = self.b.ins().band(inb_all, dep_ok);
        let proven = self.b.ins().bor(proven, empty);
        let has_vec = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, vcnt, 0);
        let ok = self.b.ins().band(has_vec, step_ok);
        let ok = self.b.ins().band(ok, proven);
        let vecb = self.b.create_block();
        let slowb = self.b.create_block();
        self.b.ins().brif(ok, vecb, &[], slowb, &[]);

        self.b.switch_to_block(vecb);
        // two vectors (8 k) per step while the lanes allow it, then single vectors
        let wide = self.b.create_block();
        let narrow = self.b.create_block();
        self.b.ins().brif(dep_ok8, wide, &[], narrow, &[]);
        self.b.switch_to_block(wide);
        self.map_blocks(fl, &nest, &groups, vend, p0, p1, st1, 2);
        self.b.ins().jump(narrow, &[]);
        self.b.switch_to_block(narrow);
        self.map_blocks(fl, &nest, &groups, vend, p0, p1, st1, 1);
        self.finish_outer(fl, end, exit, slowb);
        true
    }

    /// Runs groups of `4 * parts` k (one f32x4 per part) while a whole group fits before
    /// `vend`.
    #[allow(clippy::too_many_arguments)]
    fn map_blocks(
        &mut self,
        fl: &ForLoop,
        nest: &MapNest,
        groups: &[Group],
        vend: Value,
        p0: Value,
        p1: Value,
        st: Value,
        parts: usize,
    ) {
        let v4 = types::F32X4;
        let width = LANES * parts as i64;
        let var = self.vars[fl.var as usize];
        let temps: Vec<(u32, Vec<Variable>)> = nest
            .temps
            .iter()
            .map(|l| (*l, (0..parts).map(|_| self.b.declare_var(v4)).collect()))
            .collect();
        // bytes per s step, per group
        let strides: Vec<Value> = groups
            .iter()
            .map(|g| {
                let cs = self.b.ins().imul(g.c, st);
                self.b.ins().ishl_imm_s(cs, 2)
            })
            .collect();
        let head = self.b.create_block();
        let body = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let kv = self.b.use_var(var);
        let k64 = self.b.ins().sextend(types::I64, kv);
        let kw = self.b.ins().iadd_imm_s(k64, width);
        let fits = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, kw, vend);
        self.b.ins().brif(fits, body, &[], done, &[]);

        self.b.switch_to_block(body);
        let mut ptrs: Vec<(usize, Variable, bool)> = Vec::new();
        let mut cx = MapCx {
            temps: &temps,
            ptrs: &[],
            kvar: var,
        };
        for s in nest.pre {
            if let Stmt::Set(l, e) = s {
                self.map_set(*l, e, &cx, parts);
            }
        }
        // pointers start at (k, p0) and advance by `C*st` elements per s step
        let mut bumps: Vec<(Variable, Value)> = Vec::new();
        for (g, stride) in groups.iter().zip(&strides) {
            let a = &nest.accs[g.rep];
            let idx = self.index_at(a, &g.form, k64, p0);
            let (p, _) = self.buf(a.buf);
            let byte = self.b.ins().ishl_imm_s(idx, 2);
            let addr = self.b.ins().iadd(p, byte);
            let pv = self.b.declare_var(types::I64);
            self.b.def_var(pv, addr);
            for k in &g.keys {
                ptrs.push((*k, pv, a.along_j));
            }
            bumps.push((pv, *stride));
        }
        cx.ptrs = &ptrs;
        let sv = self.b.declare_var(types::I64);
        self.b.def_var(sv, p0);
        let shead = self.b.create_block();
        let sbody = self.b.create_block();
        let sdone = self.b.create_block();
        self.b.ins().jump(shead, &[]);
        self.b.switch_to_block(shead);
        let sc = self.b.use_var(sv);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, sc, p1);
        self.b.ins().brif(more, sbody, &[], sdone, &[]);

        self.b.switch_to_block(sbody);
        for s in &nest.inner.body {
            match s {
                Stmt::Set(l, e) if e.ty == Ty::F32 => self.map_set(*l, e, &cx, parts),
                Stmt::Set(..) => {} // index helpers: their uses became pointers
                Stmt::Store(_, idx, e) => {
                    let (pv, _) = cx.ptr(analysis::key(idx));
                    for part in 0..parts {
                        let x = self.map_expr(e, &cx, part);
                        let p = self.b.use_var(pv);
                        self.b.ins().store(
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
        self.bump_pointers(&bumps);
        let sc = self.b.use_var(sv);
        let sc1 = self.b.ins().iadd(sc, st);
        self.b.def_var(sv, sc1);
        self.b.ins().jump(shead, &[]);

        self.b.switch_to_block(sdone);
        let k1 = self.b.ins().iadd_imm_s(kv, width);
        self.b.def_var(var, k1);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(done);
    }

    /// `l = e` in every part (all parts computed before any is redefined).
    fn map_set(&mut self, l: u32, e: &Expr, cx: &MapCx, parts: usize) {
        let xs: Vec<Value> = (0..parts).map(|p| self.map_expr(e, cx, p)).collect();
        for (v, x) in cx.temp(l).iter().zip(xs) {
            self.b.def_var(*v, x);
        }
    }

    /// An f32 expression for the four lanes `k+4*part..k+4*part+4` (see `Walk::lane_ok`).
    fn map_expr(&mut self, e: &Expr, cx: &MapCx, part: usize) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.konst(*c);
                self.b.ins().splat(v4, s)
            }
            ExprKind::Local(l) => match cx.temps.iter().find(|t| t.0 == *l) {
                Some(t) => self.b.use_var(t.1[part]),
                None => {
                    let var = self.var_of(*l);
                    let s = self.b.use_var(var);
                    self.b.ins().splat(v4, s)
                }
            },
            ExprKind::Cast(_) => {
                // [k, k+1, k+2, k+3] (+ 4*part) as f32: the scalar conversion's rounding
                let k = self.b.use_var(cx.kvar);
                let k = self.b.ins().iadd_imm_s(k, LANES * part as i64);
                let mut lanes = self.b.ins().splat(types::I32X4, k);
                for lane in 1..LANES as u8 {
                    let kl = self.b.ins().iadd_imm_s(k, lane as i64);
                    lanes = self.b.ins().insertlane(lanes, kl, lane);
                }
                self.b.ins().fcvt_from_sint(v4, lanes)
            }
            ExprKind::Load(_, idx) => {
                let (pv, along) = cx.ptr(analysis::key(idx));
                let p = self.b.use_var(pv);
                self.lane_load(p, along, part as u32)
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = super::lane_operands(e)
                    .into_iter()
                    .map(|x| self.map_expr(x, cx, part))
                    .collect();
                self.lane_op(e, &xs)
            }
            _ => unreachable!("lane_ok admits only the forms handled above"),
        }
    }
}

/// The vector path's view of the nest while lowering its expressions.
struct MapCx<'c> {
    /// f32 locals of the nest and their f32x4 variables (one per part).
    temps: &'c [(u32, Vec<Variable>)],
    /// (access key, pointer variable, contiguous along k).
    ptrs: &'c [(usize, Variable, bool)],
    kvar: Variable,
}

impl MapCx<'_> {
    fn temp(&self, l: u32) -> &[Variable] {
        &self
            .temps
            .iter()
            .find(|t| t.0 == l)
            .expect("recognized temporary")
            .1
    }

    fn ptr(&self, key: usize) -> (Variable, bool) {
        self.ptrs
            .iter()
            .find(|p| p.0 == key)
            .map(|p| (p.1, p.2))
            .expect("recognized access")
    }
}

#[cfg(test)]
mod tests {
    use crate::codegen::CpuFeatures;
    use crate::codegen::tests::clif;
    use crate::ir::Tier;

    const FFT: &str = include_str!("../../../ir-modules/fft.bfir");

    const SRC: &str = r#"
/// lanes 2 apart write each other's elements: the entry test sends it to the checked loop
fn overlap(x: &mut [f32], n: i32) {
    for k in 0..n {
        let w = k as f32;
        for s in 0..8 step 4 {
            x[s + k + 2] = x[s + k] * w;
        }
    }
}
/// a k-invariant store: every lane writes the same element
fn same_elem(x: &mut [f32], n: i32) {
    for k in 0..n {
        let w = k as f32;
        for s in 0..4 { x[s] = w; }
    }
}
/// an i32 local other than an affine index helper
fn int_state(x: &mut [f32], n: i32) {
    for k in 0..n {
        let w = k as f32;
        for s in 0..4 { let q = s * s; x[q + k] = w; }
    }
}
"#;

    fn count(s: &str, pat: &str) -> usize {
        s.matches(pat).count()
    }

    #[test]
    fn t3_vectorizes_fft_butterflies_over_k() {
        let t3 = clif(FFT, "fft", Tier::T3, CpuFeatures::all());
        // re[a], re[b], im[a], im[b]: one vector load and one vector store each
        assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
        assert!(count(&t3, "store notrap") >= 4, "{t3}");
        // the twiddles: k as f32 in lanes, inline vector sin and cos
        assert!(t3.contains("fcvt_from_sint.f32x4"), "{t3}");
        assert!(count(&t3, "bitcast.i32x4") >= 2, "{t3}");
        // bit-exact: nothing contracted
        assert!(!t3.contains("fma"), "{t3}");
        let t2 = clif(FFT, "fft", Tier::T2, CpuFeatures::all());
        assert!(!t2.contains("f32x4"), "{t2}");
    }

    #[test]
    fn t3_overlap_test_is_emitted_and_non_lane_wise_nests_are_rejected() {
        // the lane-distance test (|d| >= 4) is a runtime condition: the nest is vectorized
        let t3 = clif(SRC, "overlap", Tier::T3, CpuFeatures::all());
        assert!(t3.contains("load.f32x4"), "{t3}");
        assert!(t3.contains("fcvt_from_sint.f32x4"), "{t3}");
        // (same_elem's inner loop alone may still be vectorized over s)
        for name in ["same_elem", "int_state"] {
            let t3 = clif(SRC, name, Tier::T3, CpuFeatures::all());
            assert!(!t3.contains("fcvt_from_sint.f32x4"), "{name}: {t3}");
        }
    }
}
