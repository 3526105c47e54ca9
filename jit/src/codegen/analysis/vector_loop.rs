//! The inner vectorizer's decision: whether an innermost loop is an f32 map or reduction
//! whose iterations can run in f32x4 lanes, each lane computing exactly what the scalar
//! loop computes (maps, min/max, in-order sums), or, under `#[reassoc]`, partial sums
//! and contractions. f32 expressions may read `f16` buffers (widened lane-wise); an i32
//! accumulator may sum products of two `i8` loads (the Q8 group dot), in any order since
//! wrapping integer addition is associative.

use super::affine::LoopInfo;
use super::loops::has_fma;
use crate::ir::walk::is_assigned;
use crate::ir::*;
use alloc::vec::Vec;
use hashbrown::HashSet;

/// The shape of a vectorizable innermost loop body.
pub enum VectorStmt<'a> {
    /// `acc = acc + e` / `acc = e + acc` (fma: `acc = fma(x, y, acc)`), `acc = max(acc, e)`,
    /// `acc = min(acc, e)`.
    Reduce {
        op: ReduceOp,
        acc: u32,
        e: &'a Expr,
        fma: Option<(&'a Expr, &'a Expr)>,
    },
    /// `buf[i + d] = e`.
    Store { idx: &'a Expr, e: &'a Expr },
    /// `let t = e` of a body-local f32 temporary.
    Temp { local: u32, e: &'a Expr },
    /// `acc = acc + a[i + d] * b[i + e]` for an i32 `acc` and contiguous loads `a`, `b`
    /// of `i8` buffers.
    I8Dot { acc: u32, a: &'a Expr, b: &'a Expr },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
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

/// The vector form of the innermost step-1 loop `body` (see [`vectorizable`]), or `None`
/// when it cannot run in f32x4 lanes, or would need fused multiply-adds the CPU lacks
/// (`hw_fma`: a vector fma has no libcall fallback).
#[allow(clippy::too_many_arguments)]
pub fn vector_loop<'a>(
    m: &Module,
    li: &LoopInfo<'a>,
    body: &'a [Stmt],
    reassoc: bool,
    hw_fma: bool,
    elem_of: &dyn Fn(BufRef) -> Elem,
    contiguous: &dyn Fn(&Expr) -> Option<bool>,
) -> Option<Vec<VectorStmt<'a>>> {
    let vs = vectorizable(m, li, body, reassoc, elem_of, contiguous)?;
    let uses_fma = vs.iter().any(|v| match v {
        VectorStmt::Reduce { fma: Some(_), .. } => true,
        VectorStmt::Reduce { e, .. } | VectorStmt::Store { e, .. } | VectorStmt::Temp { e, .. } => {
            has_fma(e)
        }
        VectorStmt::I8Dot { .. } => false,
    });
    (!uses_fma || hw_fma).then_some(vs)
}

/// Decides whether an innermost step-1 loop can run 16 iterations at a time in f32x4
/// (four vectors per statement); returns its statements in vector form.
/// `proven` says whether an access (by key) was proven in bounds and is contiguous (coef 1)
/// or invariant. Reductions need `reassoc`; maps are lane-wise exact and need nothing.
fn vectorizable<'a>(
    m: &Module,
    li: &LoopInfo<'a>,
    body: &'a [Stmt],
    reassoc: bool,
    elem_of: &dyn Fn(BufRef) -> Elem,
    contiguous: &dyn Fn(&Expr) -> Option<bool>,
) -> Option<Vec<VectorStmt<'a>>> {
    let mut out = Vec::new();
    let mut temps: HashSet<u32> = HashSet::new();
    let mut accs: HashSet<u32> = HashSet::new();
    let mut stores: Vec<(BufRef, &Expr)> = Vec::new();
    for s in body {
        match s {
            // an i32 index helper (`let a = s + k;`): its uses in indices became pointers,
            // and vector_expr_ok rejects any other use, so the vector loop does not need it
            Stmt::Set(l, _) if li.def_of(*l).is_some() => {}
            Stmt::Set(l, e) if *l > li.var && e.ty == Ty::F32 => {
                if !temps.insert(*l) {
                    return None;
                }
                out.push(VectorStmt::Temp { local: *l, e });
            }
            Stmt::Set(acc, e) if *acc < li.var && e.ty == Ty::F32 => {
                let is_acc = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == *acc);
                let red = |e, op, fma| VectorStmt::Reduce {
                    acc: *acc,
                    e,
                    op,
                    fma,
                };
                let v = match &e.kind {
                    // sums need #[reassoc]
                    ExprKind::Binary(BinOp::Add, a, b) if reassoc && is_acc(a) => {
                        red(b, ReduceOp::Add, None)
                    }
                    ExprKind::Binary(BinOp::Add, a, b) if reassoc && is_acc(b) => {
                        red(a, ReduceOp::Add, None)
                    }
                    ExprKind::Intrinsic(Intrinsic::Fma, args) if reassoc && is_acc(&args[2]) => {
                        red(e, ReduceOp::Add, Some((&args[0], &args[1])))
                    }
                    // without #[reassoc] the lanes are summed in iteration order
                    // (IEEE addition is commutative, so `e + acc` is `acc + e`)
                    ExprKind::Binary(BinOp::Add, a, b) if is_acc(a) => {
                        red(b, ReduceOp::OrderedAdd, None)
                    }
                    ExprKind::Binary(BinOp::Add, a, b) if is_acc(b) => {
                        red(a, ReduceOp::OrderedAdd, None)
                    }
                    // IEEE minimum/maximum are associative and commutative: exact in any order
                    ExprKind::Intrinsic(i @ (Intrinsic::Min | Intrinsic::Max), args)
                        if is_acc(&args[0]) || is_acc(&args[1]) =>
                    {
                        let other = if is_acc(&args[0]) { &args[1] } else { &args[0] };
                        red(
                            other,
                            if *i == Intrinsic::Min {
                                ReduceOp::Min
                            } else {
                                ReduceOp::Max
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
            Stmt::Set(acc, e) if *acc < li.var && e.ty == Ty::I32 => {
                let (a, b) = i8_dot_term(e, *acc, elem_of, contiguous)?;
                if !accs.insert(*acc) {
                    return None;
                }
                out.push(VectorStmt::I8Dot { acc: *acc, a, b });
            }
            Stmt::Store(r, idx, e) if elem_of(*r) == Elem::F32 && e.ty == Ty::F32 => {
                if contiguous(idx) != Some(true) || stores.iter().any(|(b, _)| b == r) {
                    return None;
                }
                stores.push((*r, idx));
                out.push(VectorStmt::Store { idx, e });
            }
            _ => return None,
        }
    }
    // every expression must be lane-wise computable from what is defined before it;
    // accumulators appear only in their own update
    let mut defined: HashSet<u32> = HashSet::new();
    for v in &out {
        let (e, extra) = match v {
            VectorStmt::Reduce {
                fma: Some((x, y)), ..
            } => (*x, Some(*y)),
            VectorStmt::Reduce { e, .. }
            | VectorStmt::Store { e, .. }
            | VectorStmt::Temp { e, .. } => (*e, None),
            // two i8 loads, checked by i8_dot_term (no store of the loop writes i8)
            VectorStmt::I8Dot { .. } => continue,
        };
        for x in core::iter::once(e).chain(extra) {
            if !vector_expr_ok(
                m, li, x, &defined, &temps, &accs, &stores, elem_of, contiguous,
            ) {
                return None;
            }
        }
        if let VectorStmt::Temp { local, .. } = v {
            defined.insert(*local);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The two `i8` loads of `acc + x * y` (or `x * y + acc`; either factor may be cast to
/// `i32`, a no-op), when both are contiguous.
fn i8_dot_term<'a>(
    e: &'a Expr,
    acc: u32,
    elem_of: &dyn Fn(BufRef) -> Elem,
    contiguous: &dyn Fn(&Expr) -> Option<bool>,
) -> Option<(&'a Expr, &'a Expr)> {
    let is_acc = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == acc);
    let ExprKind::Binary(BinOp::Add, l, r) = &e.kind else {
        return None;
    };
    let product = match (is_acc(l), is_acc(r)) {
        (true, false) => r,
        (false, true) => l,
        _ => return None,
    };
    let ExprKind::Binary(BinOp::Mul, x, y) = &product.kind else {
        return None;
    };
    let i8_load = |x: &'a Expr| -> Option<&'a Expr> {
        let x = match &x.kind {
            ExprKind::Cast(inner) if inner.ty == Ty::I32 => inner,
            _ => x,
        };
        match &x.kind {
            ExprKind::Load(b, idx) if elem_of(*b) == Elem::I8 && contiguous(idx) == Some(true) => {
                Some(x)
            }
            _ => None,
        }
    };
    Some((i8_load(x)?, i8_load(y)?))
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
fn vector_expr_ok(
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
    let rec =
        |x: &Expr| vector_expr_ok(m, li, x, defined, temps, accs, stores, elem_of, contiguous);
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
            // f16 elements load as f32 (widened lane-wise, exactly as the scalar load)
            if !matches!(elem_of(*r), Elem::F32 | Elem::F16) {
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

/// `x*y + z` or `z + x*y` as (x, y, z): an addition a `#[reassoc]` function may contract.
pub fn mul_add<'e>(a: &'e Expr, b: &'e Expr) -> Option<(&'e Expr, &'e Expr, &'e Expr)> {
    match (&a.kind, &b.kind) {
        (ExprKind::Binary(BinOp::Mul, x, y), _) => Some((x, y, b)),
        (_, ExprKind::Binary(BinOp::Mul, x, y)) => Some((x, y, a)),
        _ => None,
    }
}
