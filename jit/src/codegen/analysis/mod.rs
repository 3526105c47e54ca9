//! The loop analyses of T2/T3: they decide, the lowering ([`super::lower`]) emits.
//!
//! * [`affine`]: which buffer indices of a loop are affine in its variable (bounds checks
//!   hoisted by loop versioning, addresses strength-reduced).
//! * [`loops`]: facts about one loop (nesting, size, reductions, `pow` bases) and whether
//!   unrolling it can pay.
//! * [`vector_loop`]: whether an innermost loop runs in f32x4 lanes, and in which form.
//! * [`nest`], [`column_nest`], [`map_nest`]: the two-level nests whose outer iterations run
//!   in f32x4 lanes (matmul's columns, fft's butterflies).

mod affine;
mod column_nest;
mod loops;
mod map_nest;
mod nest;
mod vector_loop;

pub use affine::{
    Access, AffineKey, Coef, LoopInfo, Term, access_key, accesses, affine_key, single_defs,
};
pub use column_nest::{ColumnNest, column_nest};
#[cfg(test)]
pub use loops::conditional_index;
pub use loops::{has_call, has_loop, invariant_pow_bases, scalar_reductions, worth_unrolling};
pub use map_nest::{MapNest, map_nest};
pub use nest::{NestAccess, NestLocals};
pub use vector_loop::{
    MAX_INLINE_DEPTH, ReduceOp, VectorStmt, expr_function, mul_add, vector_loop,
};
