//! What the vector emitters share: lane-wise f32x4 operations, loads through proven
//! pointers, and the arithmetic of a nest's vector range and indices.

use super::Emitter;
use super::loops::AffineValues;
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::{FunctionBuilder, Variable};
use hashbrown::HashMap;

/// Outer iterations per f32x4 vector in a nest.
pub(super) const NEST_LANES: i64 = 4;

/// The pointer of a nest access in the current vector group: its variable, and whether
/// the access advances with the lanes (else one element is broadcast).
#[derive(Clone, Copy)]
pub(super) struct LanePointer {
    pub var: Variable,
    pub along: bool,
}

/// The pointers of a vector group's accesses, by access key.
pub(super) type LanePointers = HashMap<usize, LanePointer>;

/// The pointer of the access `key` in `pointers`.
pub(super) fn lane_pointer(pointers: &LanePointers, key: usize) -> LanePointer {
    *pointers.get(&key).expect("recognized access")
}

/// The operands of a lane-wise f32 operation (see [`Emitter::lane_op`]).
pub(super) fn lane_operands(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Unary(_, a) => alloc::vec![&**a],
        ExprKind::Binary(_, a, b) => alloc::vec![&**a, &**b],
        ExprKind::Intrinsic(_, a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

impl Emitter<'_, '_> {
    /// The f32x4 of a proven load at pointer `p` for lanes `4*part..4*part+4`: four
    /// consecutive elements when the index advances with the lanes, else the one element
    /// broadcast. `elem` is `F32`, or `F16` (widened lane-wise like the scalar load).
    pub fn lane_load(&mut self, elem: Elem, p: Value, contiguous: bool, part: u32) -> Value {
        if elem == Elem::F16 {
            let bits = if contiguous {
                let fl = MemFlagsData::new().with_notrap();
                self.ins().uload16x4(fl, p, (part * 8) as i32)
            } else {
                let s = self
                    .ins()
                    .uload16(types::I32, MemFlagsData::trusted(), p, 0);
                self.ins().splat(types::I32X4, s)
            };
            return self.f16_widen(bits);
        }
        debug_assert_eq!(elem, Elem::F32);
        if contiguous {
            self.ins().load(
                types::F32X4,
                MemFlagsData::new().with_notrap(),
                p,
                (part * 16) as i32,
            )
        } else {
            let s = self.ins().load(types::F32, MemFlagsData::trusted(), p, 0);
            self.ins().splat(types::F32X4, s)
        }
    }

    /// Emits the lane-wise f32 operation `e` (negation, `+ - * /`, `sqrt abs exp sin cos
    /// min max fma`) on its operands' already computed vectors `xs`
    /// ([`lane_operands`] order). Every vectorizer's expression emitter ends here.
    pub fn lane_op(&mut self, e: &Expr, xs: &[Value]) -> Value {
        match &e.kind {
            ExprKind::Unary(_, _) => self.ins().fneg(xs[0]),
            ExprKind::Binary(op, _, _) => match op {
                BinOp::Add => self.ins().fadd(xs[0], xs[1]),
                BinOp::Sub => self.ins().fsub(xs[0], xs[1]),
                BinOp::Mul => self.ins().fmul(xs[0], xs[1]),
                _ => self.ins().fdiv(xs[0], xs[1]),
            },
            ExprKind::Intrinsic(i, _) => match i {
                Intrinsic::Sqrt => self.ins().sqrt(xs[0]),
                Intrinsic::Abs => self.ins().fabs(xs[0]),
                Intrinsic::Exp => self.inline_exp(xs[0]),
                Intrinsic::Sin => self.inline_sincos(xs[0], false),
                Intrinsic::Cos => self.inline_sincos(xs[0], true),
                Intrinsic::Min => self.ins().fmin(xs[0], xs[1]),
                Intrinsic::Max => self.ins().fmax(xs[0], xs[1]),
                _ => self.ins().fma(xs[0], xs[1], xs[2]),
            },
            _ => unreachable!("the vectorizers admit only lane-wise operations"),
        }
    }
}

/// The outer iterations of a nest that vector groups cover (i64).
pub(super) struct VectorSpan {
    /// `start`, sign-extended.
    pub first: Value,
    /// The largest multiple of 4 below `end - start`.
    pub count: Value,
    /// `first + count`.
    pub end: Value,
    /// The last iteration of the range.
    pub last: Value,
}

/// The vector range of an outer loop from `start` to `end` (i32).
pub(super) fn vector_span(builder: &mut FunctionBuilder, start: Value, end: Value) -> VectorSpan {
    let s64 = builder.ins().sextend(types::I64, start);
    let e64 = builder.ins().sextend(types::I64, end);
    let cnt = builder.ins().isub(e64, s64);
    let vcnt = builder.ins().band_imm_s(cnt, !(NEST_LANES - 1));
    let vend = builder.ins().iadd(s64, vcnt);
    let last = builder.ins().iadd_imm_s(vend, -1);
    VectorSpan {
        first: s64,
        count: vcnt,
        end: vend,
        last,
    }
}

/// The exact (i64) index of a nest access (`along`: it advances with the outer loop) at
/// outer iteration `outer`, inner iteration `inner`.
pub(super) fn index_at(
    builder: &mut FunctionBuilder,
    along: bool,
    form: &AffineValues,
    outer: Value,
    inner: Value,
) -> Value {
    let mut idx = form.offset;
    if along {
        idx = builder.ins().iadd(idx, outer);
    }
    if let Some(cp) = form.coef {
        let t = builder.ins().imul(cp, inner);
        idx = builder.ins().iadd(idx, t);
    }
    idx
}
