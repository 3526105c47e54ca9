//! Loop analyses for T2/T3: which locals a loop body assigns, which buffer indices are
//! affine in the loop variable (for bounds-check hoisting by loop versioning and strength
//! reduction), and whether an innermost loop is an f32 map/reduction that can be vectorized.

use crate::ir::walk::{collect_assigned, is_assigned, times_assigned};
use crate::ir::*;
use alloc::vec::Vec;
use hashbrown::HashSet;

pub fn has_loop(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::While(..) | Stmt::For(_) => true,
        Stmt::If(_, a, b) => has_loop(a) || has_loop(b),
        _ => false,
    })
}

pub fn has_break_continue(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Break | Stmt::Continue => true,
        Stmt::If(_, a, b) => has_break_continue(a) || has_break_continue(b),
        _ => false,
    })
}

/// True when a local assigned inside an `if` of `stmts` is also the index of a store
/// (like quicksort's `i` in `if a[j] < pivot { swap(a[i], a[j]); i += 1; }`): each
/// iteration's writes then depend on the previous iterations' branches, a chain that
/// unrolled copies only lengthen (measured: quicksort T3 4.5 k vs T2 4.9 k calls/s
/// unrolled, 4.9 k not). Conditional state that only reads tables (regex_dfa) still
/// gains from unrolling, so loads do not count.
pub fn conditional_index(stmts: &[Stmt]) -> bool {
    fn store_uses(stmts: &[Stmt], cond: &[u32]) -> bool {
        stmts.iter().any(|s| match s {
            Stmt::Store(_, i, _) => {
                let mut found = false;
                i.visit(&mut |e| {
                    if matches!(e.kind, ExprKind::Local(l) if is_assigned(cond, l)) {
                        found = true;
                    }
                });
                found
            }
            Stmt::If(_, a, b) => store_uses(a, cond) || store_uses(b, cond),
            _ => false,
        })
    }
    // the locals assigned inside the `if`s of `stmts`
    let mut cond = Vec::new();
    for s in stmts {
        if let Stmt::If(_, a, b) = s {
            collect_assigned(a, &mut cond);
            collect_assigned(b, &mut cond);
        }
    }
    cond.sort_unstable();
    !cond.is_empty() && store_uses(stmts, &cond)
}

pub fn stmt_count(stmts: &[Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::If(_, a, b) => 1 + stmt_count(a) + stmt_count(b),
            Stmt::While(_, b) => 1 + stmt_count(b),
            Stmt::For(fl) => 1 + stmt_count(&fl.body),
            _ => 1,
        })
        .sum()
}

/// An index `sign * coef * var + sum(offs)` (coef absent: no var term).
#[derive(Clone, Debug)]
pub struct Affine<'a> {
    /// `None`: the index does not depend on the loop variable.
    pub coef: Option<Coef<'a>>,
    pub offs: Vec<(bool, &'a Expr)>,
}

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

pub struct LoopInfo<'a> {
    pub var: u32,
    /// Sorted (see [`assigned`]).
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
        self.aff(e, false, MAX_DEF_EXPANSION)
    }

    /// `fuel`: how many more helper definitions may be expanded on this path.
    fn aff(&self, e: &'a Expr, neg: bool, fuel: u32) -> Option<Affine<'a>> {
        if self.invariant(e) {
            return Some(Affine {
                coef: None,
                offs: alloc::vec![(neg, e)],
            });
        }
        match &e.kind {
            ExprKind::Local(l) if *l == self.var => Some(Affine {
                coef: Some(Coef { neg, mul: None }),
                offs: Vec::new(),
            }),
            ExprKind::Local(l) => {
                let (_, def) = self.def_of(*l)?;
                self.aff(def, neg, fuel.checked_sub(1)?)
            }
            ExprKind::Unary(UnOp::Neg, a) => self.aff(a, !neg, fuel),
            ExprKind::Binary(BinOp::Add | BinOp::Sub, a, b) => {
                let sub = matches!(e.kind, ExprKind::Binary(BinOp::Sub, ..));
                let x = self.aff(a, neg, fuel)?;
                let y = self.aff(b, neg ^ sub, fuel)?;
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
            _ => TermKey::Node(key(e)),
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

pub fn affine_key(a: &Affine<'_>) -> AffineKey {
    AffineKey {
        coef: a.coef.map(|c| (c.neg, c.mul.map(TermKey::of))),
        offs: a.offs.iter().map(|(n, e)| (*n, TermKey::of(e))).collect(),
    }
}

/// A buffer access found in a loop body: the node's address identifies it during lowering.
pub struct Access<'a> {
    pub key: usize,
    pub buf: BufRef,
    pub aff: Affine<'a>,
}

pub fn key(e: &Expr) -> usize {
    e as *const Expr as usize
}

/// Collects every buffer access with an affine i32 index in `stmts` (no nested loops expected).
pub fn accesses<'a>(li: &LoopInfo<'a>, stmts: &'a [Stmt], out: &mut Vec<Access<'a>>) {
    fn in_expr<'a>(li: &LoopInfo<'a>, e: &'a Expr, out: &mut Vec<Access<'a>>) {
        match &e.kind {
            ExprKind::Load(r, idx) => {
                if let Some(aff) = li.affine(idx) {
                    out.push(Access {
                        key: key(idx),
                        buf: *r,
                        aff,
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
                if let Some(aff) = li.affine(idx) {
                    out.push(Access {
                        key: key(idx),
                        buf: *r,
                        aff,
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

/// The shape of a vectorizable innermost loop body.
pub enum VStmt<'a> {
    /// `acc = acc + e` / `acc = e + acc` (fma: `acc = fma(x, y, acc)`), `acc = max(acc, e)`,
    /// `acc = min(acc, e)`.
    Reduce {
        op: RedOp,
        acc: u32,
        e: &'a Expr,
        fma: Option<(&'a Expr, &'a Expr)>,
    },
    /// `buf[i + d] = e`.
    Store { idx: &'a Expr, e: &'a Expr },
    /// `let t = e` of a body-local f32 temporary.
    Temp { local: u32, e: &'a Expr },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedOp {
    /// A sum that may be reordered (`#[reassoc]`): one partial sum per lane.
    Add,
    /// A sum that must stay in order: the lanes are added to the scalar one after another,
    /// exactly as the scalar loop would.
    OrderedAdd,
    Min,
    Max,
}

/// How deep calls to expression functions may be inlined into a vector loop.
pub const MAX_INLINE_DEPTH: u32 = 3;

/// The returned expression of a function whose whole body is `return e;` and whose
/// parameters are all `f32` (parameter `i` is local `i`): such a call can be computed
/// lane-wise in a vector loop by substituting the argument vectors.
pub fn expr_function(m: &Module, fi: u32) -> Option<&Expr> {
    let f = &m.funcs[fi as usize];
    if f.ret != Ty::F32
        || !f.bufs.is_empty()
        || f.params.iter().any(|p| *p != ParamTy::Scalar(Ty::F32))
    {
        return None;
    }
    match f.body.as_slice() {
        [Stmt::Return(Some(e))] => Some(e),
        _ => None,
    }
}

/// Whether the body `e` of an expression function (with `params` parameters) is made of
/// lane-wise operations only. Fused multiply-adds are left out: the loop decides about
/// hardware FMA from the caller's expressions alone.
fn inline_body_ok(m: &Module, e: &Expr, params: usize, depth: u32) -> bool {
    if e.ty != Ty::F32 {
        return false;
    }
    let rec = |x: &Expr| inline_body_ok(m, x, params, depth);
    match &e.kind {
        ExprKind::Const(_) => true,
        ExprKind::Local(l) => (*l as usize) < params,
        ExprKind::Call(g, args) => call_inlinable(m, *g, args, depth + 1, &rec),
        _ => lanewise_op(e, &rec).unwrap_or(false),
    }
}

/// The f32 operations a vector lane computes exactly like the scalar code (negation,
/// `+ - * /`, `sqrt abs exp sin cos min max`): `Some(whether every operand passes rec)`;
/// `None` for any other kind of expression.
fn lanewise_op(e: &Expr, rec: &dyn Fn(&Expr) -> bool) -> Option<bool> {
    Some(match &e.kind {
        ExprKind::Unary(UnOp::Neg, a) => rec(a),
        ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
            rec(a) && rec(b)
        }
        ExprKind::Intrinsic(
            Intrinsic::Sqrt | Intrinsic::Abs | Intrinsic::Exp | Intrinsic::Sin | Intrinsic::Cos,
            a,
        ) => rec(&a[0]),
        ExprKind::Intrinsic(Intrinsic::Min | Intrinsic::Max, a) => rec(&a[0]) && rec(&a[1]),
        _ => return None,
    })
}

/// A call that a vector loop computes inline: an expression function with lane-wise body,
/// whose scalar arguments pass `arg_ok`.
fn call_inlinable(
    m: &Module,
    fi: u32,
    args: &[CallArg],
    depth: u32,
    arg_ok: &dyn Fn(&Expr) -> bool,
) -> bool {
    depth <= MAX_INLINE_DEPTH
        && expr_function(m, fi).is_some_and(|body| inline_body_ok(m, body, args.len(), depth))
        && args
            .iter()
            .all(|a| matches!(a, CallArg::Scalar(x) if arg_ok(x)))
}

/// Decides whether an innermost step-1 loop can run 4 (x2) iterations at a time in f32x4.
/// `proven` says whether an access (by key) was proven in bounds and is contiguous (coef 1)
/// or invariant. Reductions need `reassoc`; maps are lane-wise exact and need nothing.
pub fn vectorizable<'a>(
    m: &Module,
    li: &LoopInfo<'a>,
    body: &'a [Stmt],
    reassoc: bool,
    elem_of: &dyn Fn(BufRef) -> Elem,
    contiguous: &dyn Fn(&Expr) -> Option<bool>,
) -> Option<Vec<VStmt<'a>>> {
    let mut out = Vec::new();
    let mut temps: HashSet<u32> = HashSet::new();
    let mut accs: HashSet<u32> = HashSet::new();
    let mut stores: Vec<(BufRef, &Expr)> = Vec::new();
    for s in body {
        match s {
            // an i32 index helper (`let a = s + k;`): its uses in indices became pointers,
            // and vexpr_ok rejects any other use, so the vector loop does not need it
            Stmt::Set(l, _) if li.def_of(*l).is_some() => {}
            Stmt::Set(l, e) if *l > li.var && e.ty == Ty::F32 => {
                if !temps.insert(*l) {
                    return None;
                }
                out.push(VStmt::Temp { local: *l, e });
            }
            Stmt::Set(acc, e) if *acc < li.var && e.ty == Ty::F32 => {
                let is_acc = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == *acc);
                let red = |e, op, fma| VStmt::Reduce {
                    acc: *acc,
                    e,
                    op,
                    fma,
                };
                let v = match &e.kind {
                    // sums need #[reassoc]
                    ExprKind::Binary(BinOp::Add, a, b) if reassoc && is_acc(a) => {
                        red(b, RedOp::Add, None)
                    }
                    ExprKind::Binary(BinOp::Add, a, b) if reassoc && is_acc(b) => {
                        red(a, RedOp::Add, None)
                    }
                    ExprKind::Intrinsic(Intrinsic::Fma, args) if reassoc && is_acc(&args[2]) => {
                        red(e, RedOp::Add, Some((&args[0], &args[1])))
                    }
                    // without #[reassoc] the lanes are summed in iteration order
                    // (IEEE addition is commutative, so `e + acc` is `acc + e`)
                    ExprKind::Binary(BinOp::Add, a, b) if is_acc(a) => {
                        red(b, RedOp::OrderedAdd, None)
                    }
                    ExprKind::Binary(BinOp::Add, a, b) if is_acc(b) => {
                        red(a, RedOp::OrderedAdd, None)
                    }
                    // IEEE minimum/maximum are associative and commutative: exact in any order
                    ExprKind::Intrinsic(i @ (Intrinsic::Min | Intrinsic::Max), args)
                        if is_acc(&args[0]) || is_acc(&args[1]) =>
                    {
                        let other = if is_acc(&args[0]) { &args[1] } else { &args[0] };
                        red(
                            other,
                            if *i == Intrinsic::Min {
                                RedOp::Min
                            } else {
                                RedOp::Max
                            },
                            None,
                        )
                    }
                    _ => return None,
                };
                if !accs.insert(*acc) {
                    return None;
                }
                out.push(v);
            }
            Stmt::Store(r, idx, e) if elem_of(*r) == Elem::F32 && e.ty == Ty::F32 => {
                if contiguous(idx) != Some(true) || stores.iter().any(|(b, _)| b == r) {
                    return None;
                }
                stores.push((*r, idx));
                out.push(VStmt::Store { idx, e });
            }
            _ => return None,
        }
    }
    // every expression must be lane-wise computable from what is defined before it;
    // accumulators appear only in their own update
    let mut defined: HashSet<u32> = HashSet::new();
    for v in &out {
        let (e, extra) = match v {
            VStmt::Reduce {
                fma: Some((x, y)), ..
            } => (*x, Some(*y)),
            VStmt::Reduce { e, .. } | VStmt::Store { e, .. } | VStmt::Temp { e, .. } => (*e, None),
        };
        for x in core::iter::once(e).chain(extra) {
            if !vexpr_ok(
                m, li, x, &defined, &temps, &accs, &stores, elem_of, contiguous,
            ) {
                return None;
            }
        }
        if let VStmt::Temp { local, .. } = v {
            defined.insert(*local);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn same_index(a: &Expr, b: &Expr) -> bool {
    match (&a.kind, &b.kind) {
        (ExprKind::Const(x), ExprKind::Const(y)) => x == y,
        (ExprKind::Local(x), ExprKind::Local(y)) => x == y,
        (ExprKind::Len(x), ExprKind::Len(y)) => x == y,
        (ExprKind::Unary(o1, x), ExprKind::Unary(o2, y)) => o1 == o2 && same_index(x, y),
        (ExprKind::Cast(x), ExprKind::Cast(y)) => a.ty == b.ty && same_index(x, y),
        (ExprKind::Binary(o1, x1, y1), ExprKind::Binary(o2, x2, y2)) => {
            o1 == o2 && same_index(x1, x2) && same_index(y1, y2)
        }
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn vexpr_ok(
    m: &Module,
    li: &LoopInfo,
    e: &Expr,
    defined: &HashSet<u32>,
    temps: &HashSet<u32>,
    accs: &HashSet<u32>,
    stores: &[(BufRef, &Expr)],
    elem_of: &dyn Fn(BufRef) -> Elem,
    contiguous: &dyn Fn(&Expr) -> Option<bool>,
) -> bool {
    if e.ty != Ty::F32 {
        return false;
    }
    let rec = |x: &Expr| vexpr_ok(m, li, x, defined, temps, accs, stores, elem_of, contiguous);
    match &e.kind {
        ExprKind::Const(_) => true,
        ExprKind::Local(l) => {
            defined.contains(l)
                || (!temps.contains(l)
                    && !accs.contains(l)
                    && !is_assigned(li.assigned, *l)
                    && *l != li.var)
        }
        ExprKind::Load(r, idx) => {
            if elem_of(*r) != Elem::F32 {
                return false;
            }
            let Some(_) = contiguous(idx) else {
                return false;
            };
            // a buffer stored in the loop may only be read at the very index it is stored at
            stores
                .iter()
                .all(|(b, sidx)| b != r || same_index(sidx, idx))
        }
        ExprKind::Intrinsic(Intrinsic::Fma, a) => rec(&a[0]) && rec(&a[1]) && rec(&a[2]),
        ExprKind::Call(fi, args) => call_inlinable(m, *fi, args, 1, &rec),
        _ => lanewise_op(e, &rec).unwrap_or(false),
    }
}
