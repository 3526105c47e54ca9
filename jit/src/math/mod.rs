//! The math every tier computes with: [`libcalls`] are the routines the interpreter calls
//! and compiled code links to (so results are bit-identical across tiers), [`mathf`] is
//! BareFlow's own f32 `exp`/`sin`/`cos`/`pow`, which T2/T3 also inline, and [`half`] the
//! f16 element conversions every tier performs the same way.

pub mod half;
pub(crate) mod libcalls;
pub mod mathf;
