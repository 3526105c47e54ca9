//! Facts about one loop that decide how it is lowered: its shape (nested loops, `break`,
//! size), whether unrolling can pay, its float reductions, its `pow` bases.

use super::affine::LoopInfo;
use crate::ir::walk::{assigned, collect_assigned, is_assigned, visit_body_exprs};
use crate::ir::*;
use alloc::vec::Vec;

/// Most statements (nested ones included) in a loop body T3 unrolls.
const MAX_UNROLLED_STMTS: usize = 24;

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

/// Whether unrolling the innermost step-1 loop `fl` by 4 can pay: iterations that are
/// independent, or reductions that may use separate accumulators (`reassoc`). A float
/// chain that must stay in order gains nothing, nor does an index advanced under a
/// data-dependent branch (quicksort's partition); `break`/`continue` and large bodies are
/// left alone.
pub fn worth_unrolling(fl: &ForLoop, reassoc: bool) -> bool {
    let serial = !reassoc && serial_float_chain(fl);
    !serial
        && !conditional_index(&fl.body)
        && !has_break_continue(&fl.body)
        && stmt_count(&fl.body) <= MAX_UNROLLED_STMTS
}

/// Float reductions of a loop body that can use separate accumulators: top-level
/// `acc = acc + e`, `acc = e + acc` or `acc = fma(x, y, acc)` on a local declared outside
/// the loop that the body reads nowhere else. Returns (local, type).
pub fn scalar_reductions(fl: &ForLoop) -> Vec<(u32, Ty)> {
    let mut out: Vec<(u32, Ty)> = Vec::new();
    for s in &fl.body {
        let Stmt::Set(acc, e) = s else { continue };
        if *acc > fl.var || !e.ty.is_float() {
            continue;
        }
        let is_acc = |x: &Expr| matches!(x.kind, ExprKind::Local(l) if l == *acc);
        let reduction = match &e.kind {
            ExprKind::Binary(BinOp::Add, a, b) => is_acc(a) || is_acc(b),
            ExprKind::Intrinsic(Intrinsic::Fma, xs) => is_acc(&xs[2]),
            _ => false,
        };
        if !reduction {
            continue;
        }
        if out.iter().any(|o| o.0 == *acc) {
            out.retain(|o| o.0 != *acc);
            continue;
        }
        // the accumulator must not be read anywhere else in the body
        let mut uses = 0;
        let mut count = |x: &Expr| {
            x.visit(&mut |n| {
                if matches!(n.kind, ExprKind::Local(l) if l == *acc) {
                    uses += 1;
                }
            })
        };
        visit_body_exprs(&fl.body, &mut count);
        // exactly one read: the one in its own update
        if uses == 1 {
            out.push((*acc, e.ty));
        }
    }
    out
}

/// True when the body updates a float local declared outside the loop from its own value.
fn serial_float_chain(fl: &ForLoop) -> bool {
    let mut found = false;
    let mut asg = Vec::new();
    assigned(&fl.body, &mut asg);
    for s in &fl.body {
        if let Stmt::Set(l, e) = s
            && *l < fl.var
            && e.ty.is_float()
        {
            e.visit(&mut |n| {
                if matches!(n.kind, ExprKind::Local(x) if x == *l) {
                    found = true;
                }
            });
        }
    }
    found
}

/// The f32 locals used as the base of a `pow` in `stmts` that the loop never assigns.
pub fn invariant_pow_bases(stmts: &[Stmt], li: &LoopInfo) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut seen: hashbrown::HashSet<u32> = hashbrown::HashSet::new();
    visit_body_exprs(stmts, &mut |root| {
        root.visit(&mut |e| {
            if let ExprKind::Intrinsic(Intrinsic::Pow, a) = &e.kind
                && e.ty == Ty::F32
                && let ExprKind::Local(l) = a[0].kind
                && li.invariant(&a[0])
                && seen.insert(l)
            {
                out.push(l);
            }
        })
    });
    out
}

/// True when `stmts` call a function anywhere.
pub fn has_call(stmts: &[Stmt]) -> bool {
    let mut found = false;
    visit_body_exprs(stmts, &mut |e| {
        e.visit(&mut |x| {
            if matches!(x.kind, ExprKind::Call(..)) {
                found = true;
            }
        })
    });
    found
}

/// True when `e` contains a fused multiply-add.
pub fn has_fma(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| {
        if matches!(x.kind, ExprKind::Intrinsic(Intrinsic::Fma, _)) {
            found = true;
        }
    });
    found
}
