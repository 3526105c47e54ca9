//! Recognizes a *column nest*: a `for j` loop whose body is a dot-product-like nest
//!
//! ```text
//! for j in a..b {
//!     let acc = <j-invariant>;            // f32 accumulators (one or more)
//!     for p in c..d { acc = acc + e; }    // only accumulator updates, bounds j-invariant
//!     buf[idx + j] = acc;                 // stores contiguous along j
//! }
//! ```
//!
//! whose columns `j` can run in f32x4 lanes, one lane per column, each lane performing
//! exactly the scalar sequence of operations of its `j` (the lowering:
//! `lower::column_vector`). Every value is computed lane by lane ([`NestScan::lane_ok`]);
//! every index is affine in `j` (coefficient 0 or 1) and in `p`; a stored buffer is never
//! read in the nest (the vector order of the accesses differs from the scalar one across
//! columns).

use super::affine::LoopInfo;
use super::nest::{NestAccess, NestLocals, NestScan};
use crate::ir::*;
use alloc::vec::Vec;

/// A recognized column nest.
pub struct ColumnNest<'a> {
    /// Accumulators and their initial values.
    pub accs: Vec<(u32, &'a Expr)>,
    pub inner: &'a ForLoop,
    /// After the inner loop: accumulator updates and stores.
    pub post: &'a [Stmt],
    pub loads: Vec<NestAccess<'a>>,
    pub stores: Vec<NestAccess<'a>>,
}

impl<'a> NestScan<'a, '_> {
    /// True for an f32 value computable lane by lane (`li_inner`: inside the inner loop);
    /// collects the loads.
    fn lane_ok(
        &self,
        e: &'a Expr,
        li_inner: Option<&LoopInfo<'a>>,
        loads: &mut Vec<NestAccess<'a>>,
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
                match self.split_index(idx, li_inner) {
                    Some(split) => {
                        loads.push(split.access(super::access_key(idx), *r, li_inner.is_some()));
                        true
                    }
                    None => false,
                }
            }
            ExprKind::Unary(UnOp::Neg, a) => self.lane_ok(a, li_inner, loads),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                self.lane_ok(a, li_inner, loads) && self.lane_ok(b, li_inner, loads)
            }
            ExprKind::Intrinsic(Intrinsic::Sqrt | Intrinsic::Abs, a) => {
                self.lane_ok(&a[0], li_inner, loads)
            }
            ExprKind::Intrinsic(Intrinsic::Min | Intrinsic::Max, a) => {
                self.lane_ok(&a[0], li_inner, loads) && self.lane_ok(&a[1], li_inner, loads)
            }
            // a vector fma needs the instruction (the scalar tiers call libm without it)
            ExprKind::Intrinsic(Intrinsic::Fma, a) => {
                self.hw_fma && a.iter().all(|x| self.lane_ok(x, li_inner, loads))
            }
            _ => false,
        }
    }
}

/// Recognizes a column nest in `fl` (see the module documentation); `locals` are the
/// nest's assigned locals ([`NestLocals::of`]).
pub fn column_nest<'a>(
    f: &Function,
    m: &Module,
    fl: &'a ForLoop,
    locals: &'a NestLocals,
    hw_fma: bool,
) -> Option<ColumnNest<'a>> {
    let outer_asg = &locals.outer[..];
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
    let scan = NestScan {
        f,
        m,
        hw_fma,
        var: fl.var,
        outer_asg,
        li_outer: &li_j,
        accs: &acc_ids,
    };
    let li_p = LoopInfo {
        var: inner.var,
        assigned: &locals.inner,
        defs: Vec::new(),
    };
    let mut loads = Vec::new();
    for s in &inner.body {
        match s {
            Stmt::Set(l, e) if acc_ids.contains(l) && scan.lane_ok(e, Some(&li_p), &mut loads) => {}
            _ => return None,
        }
    }
    let post = &fl.body[at + 1..];
    let mut stores: Vec<NestAccess<'a>> = Vec::new();
    for s in post {
        match s {
            Stmt::Set(l, e) if acc_ids.contains(l) && scan.lane_ok(e, None, &mut loads) => {}
            Stmt::Store(r, idx, e)
                if scan.elem_of(*r) == Elem::F32
                    && !stores.iter().any(|x| x.buf == *r)
                    && scan.lane_ok(e, None, &mut loads) =>
            {
                match scan.split_index(idx, None) {
                    Some(split) if split.along_outer => {
                        stores.push(split.access(super::access_key(idx), *r, false))
                    }
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
    Some(ColumnNest {
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
