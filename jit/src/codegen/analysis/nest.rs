//! What the two nest recognizers share ([`super::column_nest`], [`super::map_nest`]): a
//! two-level loop nest whose inner-loop iterations run for several outer iterations at
//! once, one per f32x4 lane. Every access of such a nest must have an index affine in both
//! loop variables, split here into its parts.

use super::affine::{Coef, LoopInfo, Term};
use crate::ir::walk::assigned;
use crate::ir::*;
use alloc::vec::Vec;

/// A buffer access of a nest: index `p * inner_coef + j * [along_outer] + sum(offs)`,
/// with `j` the outer and `p` the inner loop variable.
pub struct NestAccess<'a> {
    /// The access's key ([`super::access_key`] of its index).
    pub key: usize,
    pub buf: BufRef,
    /// Made inside the inner loop (else after it).
    pub inner: bool,
    /// The index advances with `j` (coefficient 1); else it does not depend on `j`.
    pub along_outer: bool,
    /// Coefficient of the inner loop variable (`None`: no `p` term, or a post-loop access).
    pub inner_coef: Option<Coef<'a>>,
    /// Terms invariant in both loops.
    pub offs: Vec<Term<'a>>,
}

/// An index split over the two loops of a nest (see [`NestAccess`]).
pub struct IndexSplit<'a> {
    pub along_outer: bool,
    pub inner_coef: Option<Coef<'a>>,
    pub offs: Vec<Term<'a>>,
}

impl<'a> IndexSplit<'a> {
    /// The access of `buf` at this index.
    pub fn access(self, key: usize, buf: BufRef, inner: bool) -> NestAccess<'a> {
        NestAccess {
            key,
            buf,
            inner,
            along_outer: self.along_outer,
            inner_coef: self.inner_coef,
            offs: self.offs,
        }
    }
}

/// The locals a nest assigns: in the body of the outer loop, and in the body of its first
/// nested `for`.
pub struct NestLocals {
    pub outer: Vec<u32>,
    pub inner: Vec<u32>,
}

impl NestLocals {
    pub fn of(fl: &ForLoop) -> NestLocals {
        let mut outer = Vec::new();
        assigned(&fl.body, &mut outer);
        let mut inner = Vec::new();
        if let Some(Stmt::For(il)) = fl.body.iter().find(|s| matches!(s, Stmt::For(_))) {
            assigned(&il.body, &mut inner);
        }
        NestLocals { outer, inner }
    }
}

/// What both recognizers know while they walk a nest.
pub(super) struct NestScan<'a, 'b> {
    pub f: &'b Function,
    pub m: &'b Module,
    pub hw_fma: bool,
    /// The outer loop variable.
    pub var: u32,
    /// The locals the outer loop's body assigns.
    pub outer_asg: &'b [u32],
    /// The outer loop's affine view.
    pub li_outer: &'b LoopInfo<'a>,
    /// Accumulators of a column nest (empty for a map nest).
    pub accs: &'b [u32],
}

impl<'a> NestScan<'a, '_> {
    pub fn elem_of(&self, r: BufRef) -> Elem {
        match r {
            BufRef::Param(i) => self.f.bufs[i as usize].0,
            BufRef::Table(t) => self.m.tables[t as usize].data.elem(),
        }
    }

    /// Splits an index into `p*inner_coef + j*[along_outer] + offs`, offs invariant in
    /// both loops (`li_inner`: the inner loop's view, `None` for an access after it).
    pub fn split_index(
        &self,
        idx: &'a Expr,
        li_inner: Option<&LoopInfo<'a>>,
    ) -> Option<IndexSplit<'a>> {
        let (inner_coef, outer) = match li_inner {
            Some(li_inner) => {
                let a = li_inner.affine(idx)?;
                if let Some(c) = a.coef
                    && let Some(mul) = c.mul
                    && !self.li_outer.invariant(mul)
                {
                    return None;
                }
                (a.coef, a.offs)
            }
            None => (
                None,
                alloc::vec![Term {
                    negated: false,
                    expr: idx
                }],
            ),
        };
        let mut along_outer = false;
        let mut offs = Vec::new();
        for t in outer {
            let a = self.li_outer.affine(t.expr)?;
            if let Some(c) = a.coef {
                if along_outer || c.mul.is_some() || c.neg != t.negated {
                    return None;
                }
                along_outer = true;
            }
            offs.extend(a.offs.into_iter().map(|x| Term {
                negated: x.negated ^ t.negated,
                expr: x.expr,
            }));
        }
        Some(IndexSplit {
            along_outer,
            inner_coef,
            offs,
        })
    }
}
