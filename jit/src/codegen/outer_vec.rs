//! T3 outer-loop vectorization: a `for j` loop whose body is a dot-product-like nest
//!
//! ```text
//! for j in a..b {
//!     let acc = <j-invariant>;            // f32 accumulators (one or more)
//!     for p in c..d { acc = acc + e; }    // only accumulator updates, bounds j-invariant
//!     buf[idx + j] = acc;                 // stores contiguous along j
//! }
//! ```
//!
//! runs 32 (then 16, then 4) consecutive `j` at once in f32x4 lanes: one lane per column,
//! so each lane performs exactly the scalar sequence of operations of its `j` (bit-exact
//! without `#[reassoc]`; with it, `x*y + acc` may be contracted into one `fma`). Loads
//! whose index does not depend on `j` (`a[i*k + p]`) are broadcast, loads contiguous along
//! `j` (`b[p*n + j]`) are f32x4 loads. Every index is affine in `j` (coefficient 0 or 1)
//! and in `p`, so it is in bounds for the whole vector range iff it is at the corners of
//! the (j, p) box: those are tested once before the nest, and if any fails the original
//! loop (every check kept) runs instead, so traps are those of T0. The tests compute in
//! i64 from the sign-extended i32 terms, which is congruent to the kernel's wrapping i32
//! arithmetic; a value in `0..len` (below 2^31) is therefore the kernel's index itself.
//! The `j` iterations left over after the groups of 4 run through the ordinary lowering.

use super::{FastCtx, L};
use crate::codegen::analysis::{self, LoopInfo};
use crate::ir::walk;
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::Variable;

/// Columns per f32x4 vector.
const LANES: i64 = 4;
/// Vectors per accumulator in each pass over the columns: 32 columns (eight independent
/// fma chains, enough to hide the fma latency; measured 1.2-1.4x faster than 16 on matmul),
/// then at most one group of 16, then groups of 4.
const PASSES: [usize; 3] = [8, 4, 1];

/// A buffer access of the nest: index `p*cp + j*[along_j] + sum(offs)`.
pub(super) struct NAccess<'a> {
    pub(super) key: usize,
    pub(super) buf: BufRef,
    /// Read inside the inner loop (else after it).
    pub(super) inner: bool,
    pub(super) along_j: bool,
    /// Coefficient of the inner loop variable (`None`: no `p` term, or a post-loop access).
    pub(super) cp: Option<analysis::Coef<'a>>,
    /// Terms invariant in both `j` and `p`, with their signs (true: subtracted).
    pub(super) offs: Vec<(bool, &'a Expr)>,
}

/// The recognized nest.
struct Nest<'a> {
    /// Accumulators and their initial values.
    accs: Vec<(u32, &'a Expr)>,
    inner: &'a ForLoop,
    /// After the inner loop: accumulator updates and stores.
    post: &'a [Stmt],
    loads: Vec<NAccess<'a>>,
    stores: Vec<NAccess<'a>>,
}

pub(super) struct Ctx<'a, 'b> {
    pub(super) f: &'b Function,
    pub(super) m: &'b Module,
    pub(super) hw_fma: bool,
    pub(super) var: u32,
    pub(super) outer_asg: &'b [u32],
    pub(super) li_j: &'b LoopInfo<'a>,
    pub(super) accs: &'b [u32],
}

impl<'a> Ctx<'a, '_> {
    fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.f.bufs[i as usize].0,
            BufRef::Table(t) => self.m.tables[t as usize].data.elem(),
        }
    }

    /// True for an f32 value computable lane by lane (`li_p`: inside the inner loop);
    /// collects the loads.
    fn lane_ok(
        &self,
        e: &'a Expr,
        li_p: Option<&LoopInfo<'a>>,
        loads: &mut Vec<NAccess<'a>>,
    ) -> bool {
        if e.ty != Ty::F32 {
            return false;
        }
        match &e.kind {
            ExprKind::Const(_) => true,
            ExprKind::Local(l) => {
                self.accs.contains(l) || (*l != self.var && !self.outer_asg.contains(l))
            }
            ExprKind::Load(r, idx) => {
                if self.elem_of(*r) != Elem::F32 {
                    return false;
                }
                match self.classify(idx, li_p) {
                    Some((along_j, cp, offs)) => {
                        loads.push(NAccess {
                            key: analysis::key(idx),
                            buf: *r,
                            inner: li_p.is_some(),
                            along_j,
                            cp,
                            offs,
                        });
                        true
                    }
                    None => false,
                }
            }
            ExprKind::Unary(UnOp::Neg, a) => self.lane_ok(a, li_p, loads),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                self.lane_ok(a, li_p, loads) && self.lane_ok(b, li_p, loads)
            }
            ExprKind::Intrinsic(Intrinsic::Sqrt | Intrinsic::Abs, a) => {
                self.lane_ok(&a[0], li_p, loads)
            }
            ExprKind::Intrinsic(Intrinsic::Min | Intrinsic::Max, a) => {
                self.lane_ok(&a[0], li_p, loads) && self.lane_ok(&a[1], li_p, loads)
            }
            // a vector fma needs the instruction (the scalar tiers call libm without it)
            ExprKind::Intrinsic(Intrinsic::Fma, a) => {
                self.hw_fma && a.iter().all(|x| self.lane_ok(x, li_p, loads))
            }
            _ => false,
        }
    }

    /// Splits an index into `p*cp + j*[along_j] + offs`, offs invariant in both loops.
    #[allow(clippy::type_complexity)]
    pub(super) fn classify(
        &self,
        idx: &'a Expr,
        li_p: Option<&LoopInfo<'a>>,
    ) -> Option<(bool, Option<analysis::Coef<'a>>, Vec<(bool, &'a Expr)>)> {
        let (cp, outer) = match li_p {
            Some(li_p) => {
                let a = li_p.affine(idx)?;
                if let Some(c) = a.coef
                    && let Some(mul) = c.mul
                    && !self.li_j.invariant(mul)
                {
                    return None;
                }
                (a.coef, a.offs)
            }
            None => (None, alloc::vec![(false, idx)]),
        };
        let mut along_j = false;
        let mut offs = Vec::new();
        for (neg, e) in outer {
            let a = self.li_j.affine(e)?;
            if let Some(c) = a.coef {
                if along_j || c.mul.is_some() || c.neg != neg {
                    return None;
                }
                along_j = true;
            }
            offs.extend(a.offs.into_iter().map(|(n, x)| (n ^ neg, x)));
        }
        Some((along_j, cp, offs))
    }
}

/// Recognizes the nest (see the module documentation).
/// `outer_asg`, `inner_asg`: the locals assigned in the body of `fl` and in the body of
/// its first nested `for` (see [`assigned_sets`]).
fn nest_of<'a>(
    f: &Function,
    m: &Module,
    fl: &'a ForLoop,
    outer_asg: &'a [u32],
    inner_asg: &'a [u32],
    hw_fma: bool,
) -> Option<Nest<'a>> {
    if fl.step.is_some() || fl.start.ty != Ty::I32 {
        return None;
    }
    let li_j = LoopInfo {
        var: fl.var,
        assigned: outer_asg,
        defs: Vec::new(),
    };
    // accumulators: top-level f32 `let`s before the inner loop, declared in the body
    let mut accs: Vec<(u32, &'a Expr)> = Vec::new();
    let mut at = 0;
    for s in &fl.body {
        let Stmt::Set(l, e) = s else { break };
        if *l <= fl.var || !column_invariant(e, fl.var, outer_asg) || accs.iter().any(|a| a.0 == *l)
        {
            return None;
        }
        accs.push((*l, e));
        at += 1;
    }
    let Some(Stmt::For(inner)) = fl.body.get(at) else {
        return None;
    };
    if inner.step.is_some()
        || inner.start.ty != Ty::I32
        || !li_j.invariant(&inner.start)
        || !li_j.invariant(&inner.end)
    {
        return None;
    }
    let acc_ids: Vec<u32> = accs.iter().map(|a| a.0).collect();
    let cx = Ctx {
        f,
        m,
        hw_fma,
        var: fl.var,
        outer_asg,
        li_j: &li_j,
        accs: &acc_ids,
    };
    let li_p = LoopInfo {
        var: inner.var,
        assigned: inner_asg,
        defs: Vec::new(),
    };
    let mut loads = Vec::new();
    for s in &inner.body {
        match s {
            Stmt::Set(l, e) if acc_ids.contains(l) && cx.lane_ok(e, Some(&li_p), &mut loads) => {}
            _ => return None,
        }
    }
    let post = &fl.body[at + 1..];
    let mut stores: Vec<NAccess<'a>> = Vec::new();
    for s in post {
        match s {
            Stmt::Set(l, e) if acc_ids.contains(l) && cx.lane_ok(e, None, &mut loads) => {}
            Stmt::Store(r, idx, e)
                if cx.elem_of(*r) == Elem::F32
                    && !stores.iter().any(|x| x.buf == *r)
                    && cx.lane_ok(e, None, &mut loads) =>
            {
                match cx.classify(idx, None) {
                    Some((true, _, offs)) => stores.push(NAccess {
                        key: analysis::key(idx),
                        buf: *r,
                        inner: false,
                        along_j: true,
                        cp: None,
                        offs,
                    }),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    // a stored buffer must not be read in the nest: the vector order of the accesses
    // differs from the scalar one across columns
    if stores.is_empty() || loads.iter().any(|l| stores.iter().any(|s| s.buf == l.buf)) {
        return None;
    }
    Some(Nest {
        accs,
        inner,
        post,
        loads,
        stores,
    })
}

/// True for a trap-free f32 expression of constants and locals the loop body does not
/// assign (an accumulator's initial value, computed once per column group).
fn column_invariant(e: &Expr, var: u32, outer_asg: &[u32]) -> bool {
    e.ty == Ty::F32
        && match &e.kind {
            ExprKind::Const(_) => true,
            ExprKind::Local(x) => *x != var && !outer_asg.contains(x),
            ExprKind::Unary(UnOp::Neg, a) => column_invariant(a, var, outer_asg),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                column_invariant(a, var, outer_asg) && column_invariant(b, var, outer_asg)
            }
            _ => false,
        }
}

/// The locals assigned in the body of `fl` and in the body of its first nested `for`.
pub(super) fn assigned_sets(fl: &ForLoop) -> (Vec<u32>, Vec<u32>) {
    let mut outer = Vec::new();
    walk::assigned(&fl.body, &mut outer);
    let mut inner = Vec::new();
    if let Some(Stmt::For(il)) = fl.body.iter().find(|s| matches!(s, Stmt::For(_))) {
        walk::assigned(&il.body, &mut inner);
    }
    (outer, inner)
}

/// Per-access values computed once at nest entry.
pub(super) struct Form {
    /// `p` coefficient (i64), if any.
    pub(super) cp: Option<Value>,
    /// Sum of the invariant terms (i64).
    pub(super) off: Value,
}

impl L<'_, '_> {
    /// Tries the outer-loop vectorization of `fl` (entered with `start < end`, step 1).
    /// Returns false, having emitted nothing, when the loop is not such a nest.
    pub(super) fn try_outer_vector(
        &mut self,
        fl: &ForLoop,
        start: Value,
        end: Value,
        exit: Block,
    ) -> bool {
        let (outer_asg, inner_asg) = assigned_sets(fl);
        let Some(nest) = nest_of(self.f, self.m, fl, &outer_asg, &inner_asg, self.o.hw_fma) else {
            return false;
        };
        // columns run in vectors
        let (s64, vcnt, vend, jlast) = self.vector_span(start, end);
        let ps = self.expr(&nest.inner.start);
        let pe = self.expr(&nest.inner.end);
        let p0 = self.b.ins().sextend(types::I64, ps);
        let p1 = self.b.ins().sextend(types::I64, pe);
        let plast = self.b.ins().iadd_imm_s(p1, -1);

        let mut ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, vcnt, 0);
        // inner-loop loads happen only when the inner loop runs: their test may fail when
        // it is empty; post-loop loads and stores always happen
        let mut inner_ok = self.b.ins().iconst(types::I8, 1);
        let mut forms: Vec<Form> = Vec::new();
        for a in &nest.loads {
            let form = self.form(a);
            let (_, len) = self.buf(a.buf);
            let js: &[Value] = if a.along_j { &[s64, jlast] } else { &[s64] };
            let pts: &[Value] = if a.cp.is_some() { &[p0, plast] } else { &[p0] };
            for &jj in js {
                for &pp in pts {
                    let idx = self.index_at(a, &form, jj, pp);
                    let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                    if a.inner {
                        inner_ok = self.b.ins().band(inner_ok, inb);
                    } else {
                        ok = self.b.ins().band(ok, inb);
                    }
                }
            }
            forms.push(form);
        }
        let empty = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, p0, p1);
        let inner_ok = self.b.ins().bor(inner_ok, empty);
        ok = self.b.ins().band(ok, inner_ok);
        let mut sforms: Vec<Form> = Vec::new();
        for a in &nest.stores {
            let form = self.form(a);
            let (_, len) = self.buf(a.buf);
            for jj in [s64, jlast] {
                let idx = self.index_at(a, &form, jj, p0);
                let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                ok = self.b.ins().band(ok, inb);
            }
            sforms.push(form);
        }
        let vecb = self.b.create_block();
        let slowb = self.b.create_block();
        self.b.ins().brif(ok, vecb, &[], slowb, &[]);

        self.b.switch_to_block(vecb);
        let var = self.vars[fl.var as usize];
        for parts in PASSES {
            self.column_blocks(&nest, &forms, &sforms, var, vend, p0, p1, parts);
        }
        self.finish_outer(fl, end, exit, slowb);
        true
    }

    /// The outer loop's iterations that vector groups cover, from `start` (i64, start
    /// sign-extended): (start, count, end of the vector range, its last iteration); the
    /// count is the largest multiple of 4 below `end - start`.
    pub(super) fn vector_span(&mut self, start: Value, end: Value) -> (Value, Value, Value, Value) {
        let s64 = self.b.ins().sextend(types::I64, start);
        let e64 = self.b.ins().sextend(types::I64, end);
        let cnt = self.b.ins().isub(e64, s64);
        let vcnt = self.b.ins().band_imm_s(cnt, !(LANES - 1));
        let vend = self.b.ins().iadd(s64, vcnt);
        let last = self.b.ins().iadd_imm_s(vend, -1);
        (s64, vcnt, vend, last)
    }

    /// After the vector groups: the remaining (fewer than 4) outer iterations through the
    /// ordinary lowering; and in `slowb` (the entry test failed) the original loop with
    /// every check kept.
    pub(super) fn finish_outer(&mut self, fl: &ForLoop, end: Value, exit: Block, slowb: Block) {
        self.remainder_loop(fl, end, None, exit, &[]);
        self.b.switch_to_block(slowb);
        self.plain_loop(fl, end, None, exit, &[]);
    }

    pub(super) fn form(&mut self, a: &NAccess) -> Form {
        let (cp, off) = self.affine_i64(a.cp, &a.offs);
        Form { cp, off }
    }

    /// The exact (i64) index of an access at column `jj`, inner iteration `pp`.
    pub(super) fn index_at(&mut self, a: &NAccess, form: &Form, jj: Value, pp: Value) -> Value {
        let mut idx = form.off;
        if a.along_j {
            idx = self.b.ins().iadd(idx, jj);
        }
        if let Some(cp) = form.cp {
            let t = self.b.ins().imul(cp, pp);
            idx = self.b.ins().iadd(idx, t);
        }
        idx
    }

    fn addr_at(&mut self, a: &NAccess, form: &Form, jj: Value, pp: Value) -> Value {
        let idx = self.index_at(a, form, jj, pp);
        let (p, _) = self.buf(a.buf);
        let byte = self.b.ins().ishl_imm_s(idx, 2);
        self.b.ins().iadd(p, byte)
    }

    /// Runs groups of `4 * parts` columns while a whole group fits before `vend`.
    #[allow(clippy::too_many_arguments)]
    fn column_blocks(
        &mut self,
        nest: &Nest,
        forms: &[Form],
        sforms: &[Form],
        var: Variable,
        vend: Value,
        p0: Value,
        p1: Value,
        parts: usize,
    ) {
        let v4 = types::F32X4;
        let width = LANES * parts as i64;
        let head = self.b.create_block();
        let body = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let jv = self.b.use_var(var);
        let j64 = self.b.ins().sextend(types::I64, jv);
        let jw = self.b.ins().iadd_imm_s(j64, width);
        let fits = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, jw, vend);
        self.b.ins().brif(fits, body, &[], done, &[]);

        self.b.switch_to_block(body);
        // accumulators: one f32x4 per part
        let mut accs: Vec<(u32, Vec<Variable>)> = Vec::new();
        for &(acc, init) in &nest.accs {
            let s = self.expr(init);
            let sv = self.b.ins().splat(v4, s);
            let vs: Vec<Variable> = (0..parts)
                .map(|_| {
                    let v = self.b.declare_var(v4);
                    self.b.def_var(v, sv);
                    v
                })
                .collect();
            accs.push((acc, vs));
        }
        // inner-loop pointers start at (j, p0) and advance by `cp` elements per iteration
        let mut ptrs: Vec<(usize, Variable, Value, Option<bool>)> = Vec::new();
        let mut bumps: Vec<(Variable, Value)> = Vec::new();
        for (a, form) in nest.loads.iter().zip(forms) {
            let addr = self.addr_at(a, form, j64, p0);
            let pv = self.b.declare_var(types::I64);
            self.b.def_var(pv, addr);
            let stride = match form.cp {
                Some(cp) => {
                    let s = self.b.ins().ishl_imm_s(cp, 2);
                    bumps.push((pv, s));
                    s
                }
                None => self.b.ins().iconst(types::I64, 0),
            };
            ptrs.push((a.key, pv, stride, Some(a.along_j)));
        }
        let saved = self.fast.replace(FastCtx::new(ptrs));
        let pv = self.b.declare_var(types::I64);
        self.b.def_var(pv, p0);
        let phead = self.b.create_block();
        let pbody = self.b.create_block();
        let pdone = self.b.create_block();
        self.b.ins().jump(phead, &[]);
        self.b.switch_to_block(phead);
        let pc = self.b.use_var(pv);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, pc, p1);
        self.b.ins().brif(more, pbody, &[], pdone, &[]);

        self.b.switch_to_block(pbody);
        let mut bcast: Vec<(usize, Value)> = Vec::new();
        for s in &nest.inner.body {
            if let Stmt::Set(l, e) = s {
                self.lane_update(*l, e, &accs, parts, &mut bcast);
            }
        }
        self.bump_pointers(&bumps);
        let pc = self.b.use_var(pv);
        let pc1 = self.b.ins().iadd_imm_s(pc, 1);
        self.b.def_var(pv, pc1);
        self.b.ins().jump(phead, &[]);

        self.b.switch_to_block(pdone);
        let mut bcast: Vec<(usize, Value)> = Vec::new();
        for s in nest.post {
            match s {
                Stmt::Set(l, e) => self.lane_update(*l, e, &accs, parts, &mut bcast),
                Stmt::Store(_, idx, e) => {
                    let k = analysis::key(idx);
                    let (si, a) = nest
                        .stores
                        .iter()
                        .enumerate()
                        .find(|(_, a)| a.key == k)
                        .expect("recognized store");
                    let addr = self.addr_at(a, &sforms[si], j64, p0);
                    for part in 0..parts {
                        let x = self.lane_expr(e, part, &accs, &mut bcast);
                        self.b.ins().store(
                            MemFlagsData::new().with_notrap(),
                            x,
                            addr,
                            (part * 16) as i32,
                        );
                    }
                }
                _ => unreachable!("nest_of admits only sets and stores after the inner loop"),
            }
        }
        self.fast = saved;
        let j1 = self.b.ins().iadd_imm_s(jv, width);
        self.b.def_var(var, j1);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(done);
    }

    /// `acc = e` in every part (all parts computed before any is redefined).
    fn lane_update(
        &mut self,
        acc: u32,
        e: &Expr,
        accs: &[(u32, Vec<Variable>)],
        parts: usize,
        bcast: &mut Vec<(usize, Value)>,
    ) {
        let vals: Vec<Value> = (0..parts)
            .map(|part| self.lane_expr(e, part, accs, bcast))
            .collect();
        let vs = &accs.iter().find(|a| a.0 == acc).expect("accumulator").1;
        for (v, x) in vs.iter().zip(vals) {
            self.b.def_var(*v, x);
        }
    }

    /// An f32 expression for the 4 columns of vector `part` (see `Ctx::lane_ok`).
    fn lane_expr(
        &mut self,
        e: &Expr,
        part: usize,
        accs: &[(u32, Vec<Variable>)],
        bcast: &mut Vec<(usize, Value)>,
    ) -> Value {
        let v4 = types::F32X4;
        match &e.kind {
            ExprKind::Const(c) => {
                let s = self.konst(*c);
                self.b.ins().splat(v4, s)
            }
            ExprKind::Local(l) => match accs.iter().find(|a| a.0 == *l) {
                Some(a) => self.b.use_var(a.1[part]),
                None => {
                    let s = self.b.use_var(self.vars[*l as usize]);
                    self.b.ins().splat(v4, s)
                }
            },
            ExprKind::Load(_, idx) => {
                let k = analysis::key(idx);
                let (pv, along_j) = self
                    .fast
                    .as_ref()
                    .and_then(|f| f.get(k))
                    .map(|p| (p.1, p.3 == Some(true)))
                    .expect("recognized load");
                let p = self.b.use_var(pv);
                if along_j {
                    self.lane_load(p, true, part as u32)
                } else if let Some((_, v)) = bcast.iter().find(|b| b.0 == k) {
                    *v
                } else {
                    let v = self.lane_load(p, false, part as u32);
                    bcast.push((k, v));
                    v
                }
            }
            ExprKind::Binary(BinOp::Add, a, b) if self.f.reassoc && self.o.hw_fma => {
                match super::mul_add(a, b) {
                    // `x*y + z` contracted (allowed by #[reassoc])
                    Some((x, y, z)) => {
                        let xv = self.lane_expr(x, part, accs, bcast);
                        let yv = self.lane_expr(y, part, accs, bcast);
                        let zv = self.lane_expr(z, part, accs, bcast);
                        self.b.ins().fma(xv, yv, zv)
                    }
                    None => {
                        let xv = self.lane_expr(a, part, accs, bcast);
                        let yv = self.lane_expr(b, part, accs, bcast);
                        self.b.ins().fadd(xv, yv)
                    }
                }
            }
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Intrinsic(..) => {
                let xs: Vec<Value> = super::lane_operands(e)
                    .into_iter()
                    .map(|x| self.lane_expr(x, part, accs, bcast))
                    .collect();
                self.lane_op(e, &xs)
            }
            _ => unreachable!("lane_ok admits only the forms handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::codegen::CpuFeatures;
    use crate::codegen::tests::clif;
    use crate::ir::Tier;

    const MATMUL: &str = include_str!("../../../ir-modules/matmul.bfir");

    const SRC: &str = r#"
fn matmul_exact(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc += a[i * k + p] * b[p * n + j]; }
            c[i * n + j] = acc;
        }
    }
}
/// reads the stored buffer: must not be vectorized across columns
#[reassoc]
fn self_read(b: &[f32], c: &mut [f32], n: i32, k: i32) {
    for j in 0..n {
        let acc: f32 = 0.0;
        for p in 0..k { acc += c[p] * b[p * n + j]; }
        c[j] = acc;
    }
}
/// stride-2 columns: not contiguous along j
#[reassoc]
fn strided(b: &[f32], c: &mut [f32], n: i32, k: i32) {
    for j in 0..n {
        let acc: f32 = 0.0;
        for p in 0..k { acc += b[p * n + 2 * j]; }
        c[j] = acc;
    }
}
/// triangular: the inner bound depends on the column
#[reassoc]
fn tri(b: &[f32], c: &mut [f32], n: i32) {
    for j in 0..n {
        let acc: f32 = 0.0;
        for p in 0..j { acc += b[p * n + j]; }
        c[j] = acc;
    }
}
/// a statement other than an accumulator update in the inner loop
#[reassoc]
fn side(b: &[f32], c: &mut [f32], d: &mut [f32], n: i32, k: i32) {
    for j in 0..n {
        let acc: f32 = 0.0;
        for p in 0..k { acc += b[p * n + j]; d[p] = acc; }
        c[j] = acc;
    }
}
"#;

    fn count(s: &str, pat: &str) -> usize {
        s.matches(pat).count()
    }

    #[test]
    fn t3_vectorizes_matmul_over_columns() {
        let t3 = clif(MATMUL, "matmul", Tier::T3, CpuFeatures::all());
        // passes of 8, 4 and 1 vectors: per p one broadcast of a and that many column
        // vectors of b into as many fma chains; as many vector stores of c
        assert_eq!(count(&t3, "load.f32x4"), 13, "{t3}");
        assert_eq!(count(&t3, "= fma v"), 13, "{t3}");
        assert!(count(&t3, "splat.f32x4") >= 2, "{t3}");
        assert_eq!(count(&t3, "store.f32x4"), 13, "{t3}");
        // T2 has no vectors at all
        let t2 = clif(MATMUL, "matmul", Tier::T2, CpuFeatures::all());
        assert!(!t2.contains("f32x4"), "{t2}");
        // without FMA hardware: vector mul + add
        let t3b = clif(MATMUL, "matmul", Tier::T3, CpuFeatures::baseline());
        assert!(t3b.contains("load.f32x4") && !t3b.contains("fma"), "{t3b}");
    }

    #[test]
    fn t3_exact_matmul_is_vectorized_without_contraction() {
        let t3 = clif(SRC, "matmul_exact", Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 5, "{t3}");
        assert!(!t3.contains("fma"), "{t3}");
    }

    #[test]
    fn t3_rejects_nests_that_are_not_lane_wise() {
        for name in ["self_read", "strided", "tri", "side"] {
            let t3 = clif(SRC, name, Tier::T3, CpuFeatures::all());
            assert!(!t3.contains("f32x4"), "{name}: {t3}");
        }
    }
}
