//! Recognizes a *map nest*: a `for k` loop whose body computes f32 temporaries from `k`
//! and then runs an inner loop of element-wise updates, like fft's butterfly stage
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
//! whose `k` can run in f32x4 lanes, one per lane (the lowering, with the entry test that
//! proves the lanes independent at run time: `lower::map_vector`). Every access is in the
//! inner loop; its index is `C*s + k + o` (coefficient exactly 1 in `k`; `C` and `o`
//! invariant), or `C*s + o` for a buffer the nest never stores (a broadcast).

use super::affine::{AffineKey, LoopInfo, affine_key, single_defs};
use super::nest::{NestAccess, NestLocals, NestScan};
use crate::ir::*;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// A recognized map nest.
pub struct MapNest<'a> {
    /// The f32 temporaries before the inner loop.
    pub pre: &'a [Stmt],
    pub inner: &'a ForLoop,
    /// The buffer accesses (all inside the inner loop).
    pub accesses: Vec<NestAccess<'a>>,
    /// Per access: a store.
    pub is_store: Vec<bool>,
    /// f32 locals the nest assigns (one f32x4 variable each on the vector path).
    pub temps: Vec<u32>,
    /// The accesses grouped by (buffer, index), in order of first appearance.
    pub groups: Vec<AccessGroup>,
}

/// Accesses of the same buffer at the same index: they share one pointer and one set of
/// bounds tests.
pub struct AccessGroup {
    /// The first access of the group (index into [`MapNest::accesses`]).
    pub rep: usize,
    /// The keys of its accesses.
    pub keys: Vec<usize>,
}

/// Groups `accesses` by (buffer, index) in order of first appearance, by hashing their
/// affine forms (see [`AffineKey`]; comparing every pair was quadratic).
fn group_accesses(accesses: &[NestAccess]) -> Vec<AccessGroup> {
    let mut groups: Vec<AccessGroup> = Vec::new();
    let mut group_of: HashMap<(BufRef, bool, AffineKey), usize> = HashMap::new();
    for (ai, a) in accesses.iter().enumerate() {
        let key = (a.buf, a.along_outer, affine_key(a.inner_coef, &a.offs));
        match group_of.get(&key) {
            Some(&g) => groups[g].keys.push(a.key),
            None => {
                group_of.insert(key, groups.len());
                groups.push(AccessGroup {
                    rep: ai,
                    keys: alloc::vec![a.key],
                });
            }
        }
    }
    groups
}

/// What the recognizer needs while walking f32 expressions.
struct MapScan<'a, 'b> {
    nest: NestScan<'a, 'b>,
    /// The inner loop's affine view (`None` before the inner loop: no loads there).
    li_inner: Option<&'b LoopInfo<'a>>,
}

impl<'a> MapScan<'a, '_> {
    /// True for an f32 expression computable lane by lane; collects the loads.
    fn lane_ok(
        &self,
        e: &'a Expr,
        accesses: &mut Vec<NestAccess<'a>>,
        is_store: &mut Vec<bool>,
    ) -> bool {
        if e.ty != Ty::F32 {
            return false;
        }
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Local(_) => true,
            // `k as f32`
            ExprKind::Cast(a) => {
                a.ty == Ty::I32 && matches!(a.kind, ExprKind::Local(l) if l == self.nest.var)
            }
            ExprKind::Load(r, idx) => {
                if self.nest.elem_of(*r) != Elem::F32 {
                    return false;
                }
                let Some(li_inner) = self.li_inner else {
                    return false;
                };
                match self.nest.split_index(idx, Some(li_inner)) {
                    Some(split) => {
                        accesses.push(split.access(super::access_key(idx), *r, true));
                        is_store.push(false);
                        true
                    }
                    None => false,
                }
            }
            ExprKind::Unary(UnOp::Neg, a) => self.lane_ok(a, accesses, is_store),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                self.lane_ok(a, accesses, is_store) && self.lane_ok(b, accesses, is_store)
            }
            ExprKind::Intrinsic(
                Intrinsic::Sqrt | Intrinsic::Abs | Intrinsic::Exp | Intrinsic::Sin | Intrinsic::Cos,
                a,
            ) => self.lane_ok(&a[0], accesses, is_store),
            ExprKind::Intrinsic(Intrinsic::Min | Intrinsic::Max, a) => {
                self.lane_ok(&a[0], accesses, is_store) && self.lane_ok(&a[1], accesses, is_store)
            }
            // a vector fma needs the instruction (the scalar tiers call libm without it)
            ExprKind::Intrinsic(Intrinsic::Fma, a) => {
                self.nest.hw_fma && a.iter().all(|x| self.lane_ok(x, accesses, is_store))
            }
            _ => false,
        }
    }
}

/// Recognizes a map nest in `fl` (see the module documentation); `locals` are the nest's
/// assigned locals ([`NestLocals::of`]).
pub fn map_nest<'a>(
    f: &Function,
    m: &Module,
    fl: &'a ForLoop,
    locals: &'a NestLocals,
    hw_fma: bool,
) -> Option<MapNest<'a>> {
    let (outer_asg, inner_asg) = (&locals.outer[..], &locals.inner[..]);
    if fl.step.is_some() || fl.start.ty != Ty::I32 {
        return None;
    }
    let li_k = LoopInfo {
        var: fl.var,
        assigned: outer_asg,
        defs: Vec::new(),
    };
    let scan = || NestScan {
        f,
        m,
        hw_fma,
        var: fl.var,
        outer_asg,
        li_outer: &li_k,
        accs: &[],
    };
    let mut temps: Vec<u32> = Vec::new();
    let mut accesses: Vec<NestAccess<'a>> = Vec::new();
    let mut is_store: Vec<bool> = Vec::new();
    // f32 temporaries declared in the body, then the inner loop, then nothing
    let pre_scan = MapScan {
        nest: scan(),
        li_inner: None,
    };
    let mut at = 0;
    for s in &fl.body {
        let Stmt::Set(l, e) = s else { break };
        if *l <= fl.var || !pre_scan.lane_ok(e, &mut accesses, &mut is_store) {
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
        defs: single_defs(inner.var, &inner.body, inner_asg),
    };
    let inner_scan = MapScan {
        nest: scan(),
        li_inner: Some(&li_s),
    };
    let mut stored: Vec<BufRef> = Vec::new();
    for s in &inner.body {
        match s {
            // an i32 index helper (`let a = s + k;`): trap-free, and only indices use it
            // (f32 expressions cannot read an i32 local), which became pointers
            Stmt::Set(l, e)
                if e.ty == Ty::I32 && li_s.def_of(*l).is_some() && li_s.affine(e).is_some() => {}
            Stmt::Set(l, e) if *l > fl.var && e.ty == Ty::F32 => {
                if !inner_scan.lane_ok(e, &mut accesses, &mut is_store) {
                    return None;
                }
                if !temps.contains(l) {
                    temps.push(*l);
                }
            }
            Stmt::Store(r, idx, e)
                if inner_scan.nest.elem_of(*r) == Elem::F32 && e.ty == Ty::F32 =>
            {
                if !inner_scan.lane_ok(e, &mut accesses, &mut is_store) {
                    return None;
                }
                let split = inner_scan.nest.split_index(idx, Some(&li_s))?;
                accesses.push(split.access(super::access_key(idx), *r, true));
                is_store.push(true);
                stored.push(*r);
            }
            _ => return None,
        }
    }
    // a stored buffer is accessed only along k (the lane test needs `C*s + k + o`)
    if stored.is_empty()
        || accesses
            .iter()
            .any(|a| stored.contains(&a.buf) && !a.along_outer)
    {
        return None;
    }
    let groups = group_accesses(&accesses);
    Some(MapNest {
        pre: &fl.body[..at],
        inner,
        accesses,
        is_store,
        temps,
        groups,
    })
}
