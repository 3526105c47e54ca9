//! Affine indices: which buffer indices of a loop body are `coef * var + invariant terms`
//! in the loop variable, so that bounds can be checked at the first and the last iteration
//! (loop versioning) and addresses strength-reduced to pointers bumped at the latch.

use crate::ir::walk::{is_assigned, times_assigned};
use crate::ir::*;
use alloc::vec::Vec;

/// An index `coef * var + sum(offs)` (coef absent: no var term).
#[derive(Clone, Debug)]
pub struct Affine<'a> {
    /// `None`: the index does not depend on the loop variable.
    pub coef: Option<Coef<'a>>,
    /// The loop-invariant terms.
    pub offs: Vec<Term<'a>>,
}

/// A loop-invariant term of an affine index, added or subtracted.
#[derive(Clone, Copy, Debug)]
pub struct Term<'a> {
    pub negated: bool,
    pub expr: &'a Expr,
}

/// The loop variable's coefficient in an affine index: `±1` or `±mul`.
#[derive(Clone, Copy, Debug)]
pub struct Coef<'a> {
    pub neg: bool,
    /// `None` means 1.
    pub mul: Option<&'a Expr>,
}

impl Coef<'_> {
    pub fn is_one(&self) -> bool {
        !self.neg && self.mul.is_none()
    }
}

/// Most loop-invariant terms an affine index may have (each costs the loop's entry test
/// an addition).
pub const MAX_OFFS: usize = 8;

/// How many index helpers (`let a = s + k;`) the affine analysis expands one after another:
/// bounds its recursion whatever the length of a chain of such definitions.
pub const MAX_DEF_EXPANSION: u32 = 8;

/// What the affine analysis knows of one loop.
pub struct LoopInfo<'a> {
    /// The loop variable.
    pub var: u32,
    /// The locals the loop body assigns, sorted (see `ir::walk::assigned`).
    pub assigned: &'a [u32],
    /// Body-local `let`s that are affine in the loop variable (assigned once, at the top
    /// level of the body): their uses in an index are expanded to the defining expression.
    pub defs: Vec<(u32, &'a Expr)>,
}

/// Top-level `let`s of a loop body assigned exactly once, sorted by local (the order
/// they are declared in).
pub fn single_defs<'a>(var: u32, body: &'a [Stmt], assigned: &[u32]) -> Vec<(u32, &'a Expr)> {
    let mut defs: Vec<(u32, &Expr)> = body
        .iter()
        .filter_map(|s| match s {
            Stmt::Set(l, e) if *l > var && e.ty == Ty::I32 && times_assigned(assigned, *l) == 1 => {
                Some((*l, e))
            }
            _ => None,
        })
        .collect();
    defs.sort_unstable_by_key(|d| d.0);
    defs
}

impl<'a> LoopInfo<'a> {
    /// True for a trap-free, side-effect-free i32/i64 expression that does not change
    /// while the loop runs (so it can be evaluated once at loop entry).
    pub fn invariant(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Len(_) => true,
            ExprKind::Local(l) => *l != self.var && !is_assigned(self.assigned, *l),
            ExprKind::Unary(UnOp::Neg | UnOp::BitNot, a) => self.invariant(a),
            ExprKind::Binary(op, a, b) => {
                matches!(
                    op,
                    BinOp::Add
                        | BinOp::Sub
                        | BinOp::Mul
                        | BinOp::And
                        | BinOp::Or
                        | BinOp::Xor
                        | BinOp::Shl
                        | BinOp::Shr
                        | BinOp::UShr
                ) && e.ty.is_int()
                    && self.invariant(a)
                    && self.invariant(b)
            }
            ExprKind::Cast(a) => e.ty.is_int() && a.ty.is_int() && self.invariant(a),
            _ => false,
        }
    }

    /// The defining expression of body-local index helper `l`, if it is one.
    pub fn def_of(&self, l: u32) -> Option<&(u32, &'a Expr)> {
        let i = self.defs.binary_search_by_key(&l, |d| d.0).ok()?;
        self.defs.get(i)
    }

    /// Decomposes an i32 index into affine form, if it has one (with at most
    /// [`MAX_OFFS`] invariant terms, expanded through at most [`MAX_DEF_EXPANSION`]
    /// index helpers along any path).
    pub fn affine(&self, e: &'a Expr) -> Option<Affine<'a>> {
        if e.ty != Ty::I32 {
            return None;
        }
        self.decompose(e, false, MAX_DEF_EXPANSION)
    }

    /// `e` (negated when `neg`) as an affine form; `fuel`: how many more helper
    /// definitions may be expanded on this path.
    fn decompose(&self, e: &'a Expr, neg: bool, fuel: u32) -> Option<Affine<'a>> {
        if self.invariant(e) {
            return Some(Affine {
                coef: None,
                offs: alloc::vec![Term {
                    negated: neg,
                    expr: e
                }],
            });
        }
        match &e.kind {
            ExprKind::Local(l) if *l == self.var => Some(Affine {
                coef: Some(Coef { neg, mul: None }),
                offs: Vec::new(),
            }),
            ExprKind::Local(l) => {
                let (_, def) = self.def_of(*l)?;
                self.decompose(def, neg, fuel.checked_sub(1)?)
            }
            ExprKind::Unary(UnOp::Neg, a) => self.decompose(a, !neg, fuel),
            ExprKind::Binary(BinOp::Add | BinOp::Sub, a, b) => {
                let sub = matches!(e.kind, ExprKind::Binary(BinOp::Sub, ..));
                let x = self.decompose(a, neg, fuel)?;
                let y = self.decompose(b, neg ^ sub, fuel)?;
                if (x.coef.is_some() && y.coef.is_some()) || x.offs.len() + y.offs.len() > MAX_OFFS
                {
                    return None;
                }
                let mut offs = x.offs;
                offs.extend(y.offs);
                Some(Affine {
                    coef: x.coef.or(y.coef),
                    offs,
                })
            }
            ExprKind::Binary(BinOp::Mul, a, b) => {
                let is_var = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == self.var);
                if is_var(a) && self.invariant(b) {
                    Some(Affine {
                        coef: Some(Coef { neg, mul: Some(b) }),
                        offs: Vec::new(),
                    })
                } else if is_var(b) && self.invariant(a) {
                    Some(Affine {
                        coef: Some(Coef { neg, mul: Some(a) }),
                        offs: Vec::new(),
                    })
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// One term of an affine form, as [`AffineKey`] compares it: a local (by index and type),
/// a constant (by type and bits), or any other expression node (by address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TermKey {
    Local(u32, Ty),
    Const(Ty, u64),
    Node(usize),
}

impl TermKey {
    fn of(e: &Expr) -> TermKey {
        match &e.kind {
            ExprKind::Local(l) => TermKey::Local(*l, e.ty),
            ExprKind::Const(c) => TermKey::Const(e.ty, c.bits()),
            _ => TermKey::Node(access_key(e)),
        }
    }
}

/// A hashable form of an affine index. Two indices with equal keys are the same index at
/// every iteration: same coefficient and offsets term by term, and as the terms are
/// loop-invariant, the same expression node, the same local or the same constant has the
/// same value (a conservative, syntactic test). Hashing groups a loop's accesses in one
/// pass instead of comparing every pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AffineKey {
    coef: Option<(bool, Option<TermKey>)>,
    offs: Vec<(bool, TermKey)>,
}

/// The key of an affine index (see [`AffineKey`]).
pub fn affine_key(coef: Option<Coef<'_>>, offs: &[Term<'_>]) -> AffineKey {
    AffineKey {
        coef: coef.map(|c| (c.neg, c.mul.map(TermKey::of))),
        offs: offs
            .iter()
            .map(|t| (t.negated, TermKey::of(t.expr)))
            .collect(),
    }
}

/// A buffer access found in a loop body: its index node's address ([`access_key`])
/// identifies it during lowering.
pub struct Access<'a> {
    pub key: usize,
    pub buf: BufRef,
    pub index: Affine<'a>,
}

/// The key of the access whose index expression is `index`: the node's address, which
/// stays put while the lowering walks the same tree.
pub fn access_key(index: &Expr) -> usize {
    index as *const Expr as usize
}

/// Collects every buffer access with an affine i32 index in `stmts` (no nested loops expected).
pub fn accesses<'a>(li: &LoopInfo<'a>, stmts: &'a [Stmt], out: &mut Vec<Access<'a>>) {
    fn in_expr<'a>(li: &LoopInfo<'a>, e: &'a Expr, out: &mut Vec<Access<'a>>) {
        match &e.kind {
            ExprKind::Load(r, idx) => {
                if let Some(index) = li.affine(idx) {
                    out.push(Access {
                        key: access_key(idx),
                        buf: *r,
                        index,
                    });
                }
                in_expr(li, idx, out);
            }
            ExprKind::Const(_) | ExprKind::Local(_) | ExprKind::Len(_) => {}
            ExprKind::Unary(_, a) | ExprKind::Cast(a) => in_expr(li, a, out),
            ExprKind::Binary(_, a, b) | ExprKind::LogicAnd(a, b) | ExprKind::LogicOr(a, b) => {
                in_expr(li, a, out);
                in_expr(li, b, out);
            }
            ExprKind::Call(_, args) => {
                for a in args {
                    match a {
                        CallArg::Scalar(x) => in_expr(li, x, out),
                        CallArg::Buf(_) => {}
                        CallArg::Slice(_, lo, hi) => {
                            in_expr(li, lo, out);
                            in_expr(li, hi, out);
                        }
                    }
                }
            }
            ExprKind::Intrinsic(_, args) => {
                for a in args {
                    in_expr(li, a, out);
                }
            }
        }
    }
    for s in stmts {
        match s {
            Stmt::Set(_, e) | Stmt::Eval(e) | Stmt::Return(Some(e)) => in_expr(li, e, out),
            Stmt::Store(r, idx, v) => {
                if let Some(index) = li.affine(idx) {
                    out.push(Access {
                        key: access_key(idx),
                        buf: *r,
                        index,
                    });
                }
                in_expr(li, idx, out);
                in_expr(li, v, out);
            }
            Stmt::If(c, a, b) => {
                in_expr(li, c, out);
                accesses(li, a, out);
                accesses(li, b, out);
            }
            Stmt::While(c, b) => {
                in_expr(li, c, out);
                accesses(li, b, out);
            }
            Stmt::For(fl) => {
                in_expr(li, &fl.start, out);
                in_expr(li, &fl.end, out);
                if let Some(s) = &fl.step {
                    in_expr(li, s, out);
                }
                accesses(li, &fl.body, out);
            }
            _ => {}
        }
    }
}
