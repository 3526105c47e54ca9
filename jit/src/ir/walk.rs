//! Traversals of the typed IR shared by the analyses, the lowering and the tier policy.

use super::module::{CallArg, Expr, ExprKind, Module, Stmt};
use alloc::vec::Vec;

/// Locals assigned anywhere in `stmts` (including nested blocks and loop variables),
/// added to `out`, which is then sorted: a local assigned `k` times appears `k` times, and
/// [`is_assigned`] / [`times_assigned`] are binary searches (a loop of `n` statements is
/// analysed in `O(n log n)`, not `O(n^2)`).
pub fn assigned(stmts: &[Stmt], out: &mut Vec<u32>) {
    collect_assigned(stmts, out);
    out.sort_unstable();
}

/// [`assigned`] without the sort.
pub fn collect_assigned(stmts: &[Stmt], out: &mut Vec<u32>) {
    for s in stmts {
        match s {
            Stmt::Set(l, _) => out.push(*l),
            Stmt::If(_, a, b) => {
                collect_assigned(a, out);
                collect_assigned(b, out);
            }
            Stmt::While(_, b) => collect_assigned(b, out),
            Stmt::For(fl) => {
                out.push(fl.var);
                out.push(fl.end_local);
                out.push(fl.step_local);
                collect_assigned(&fl.body, out);
            }
            _ => {}
        }
    }
}

/// Whether `l` is in a sorted list made by [`assigned`].
pub fn is_assigned(assigned: &[u32], l: u32) -> bool {
    assigned.binary_search(&l).is_ok()
}

/// How many times `l` appears in a sorted list made by [`assigned`].
pub fn times_assigned(assigned: &[u32], l: u32) -> usize {
    assigned.partition_point(|&x| x <= l) - assigned.partition_point(|&x| x < l)
}

/// Calls `f` on every top-level expression of `stmts` (conditions, values, indices,
/// loop bounds), recursively through nested blocks.
pub fn visit_body_exprs(stmts: &[Stmt], f: &mut dyn FnMut(&Expr)) {
    for s in stmts {
        match s {
            Stmt::Set(_, e) | Stmt::Eval(e) | Stmt::Return(Some(e)) => f(e),
            Stmt::Store(_, i, v) => {
                f(i);
                f(v);
            }
            Stmt::If(c, a, b) => {
                f(c);
                visit_body_exprs(a, f);
                visit_body_exprs(b, f);
            }
            Stmt::While(c, b) => {
                f(c);
                visit_body_exprs(b, f);
            }
            Stmt::For(fl) => {
                f(&fl.start);
                f(&fl.end);
                if let Some(st) = &fl.step {
                    f(st);
                }
                visit_body_exprs(&fl.body, f);
            }
            _ => {}
        }
    }
}

/// Functions reachable through calls from `root`'s body (transitively), root excluded
/// unless it is itself called.
pub fn callees(m: &Module, root: usize) -> Vec<usize> {
    fn scan(stmts: &[Stmt], out: &mut Vec<usize>) {
        fn ex(e: &Expr, out: &mut Vec<usize>) {
            e.visit(&mut |x| {
                if let ExprKind::Call(f, args) = &x.kind {
                    out.push(*f as usize);
                    for a in args {
                        if let CallArg::Slice(_, lo, hi) = a {
                            ex(lo, out);
                            ex(hi, out);
                        }
                    }
                }
            });
        }
        for s in stmts {
            match s {
                Stmt::Set(_, e) | Stmt::Eval(e) | Stmt::Return(Some(e)) => ex(e, out),
                Stmt::Store(_, i, v) => {
                    ex(i, out);
                    ex(v, out);
                }
                Stmt::If(c, a, b) => {
                    ex(c, out);
                    scan(a, out);
                    scan(b, out);
                }
                Stmt::While(c, b) => {
                    ex(c, out);
                    scan(b, out);
                }
                Stmt::For(fl) => {
                    ex(&fl.start, out);
                    ex(&fl.end, out);
                    if let Some(s) = &fl.step {
                        ex(s, out);
                    }
                    scan(&fl.body, out);
                }
                _ => {}
            }
        }
    }
    let mut seen = alloc::vec![false; m.funcs.len()];
    let mut work = Vec::new();
    scan(&m.funcs[root].body, &mut work);
    while let Some(f) = work.pop() {
        if !core::mem::replace(&mut seen[f], true) {
            scan(&m.funcs[f].body, &mut work);
        }
    }
    (0..m.funcs.len()).filter(|&f| seen[f]).collect()
}
