//! The typed IR: what the front end produces and every tier consumes.
//!
//! [`Module`] holds name-resolved, type-checked functions ([`module`]); [`types`] the
//! scalar, element and parameter types; [`Tier`] and [`TrapKind`] the execution vocabulary
//! every tier shares (which tier runs, and why a call stops); [`walk`] the traversals the
//! analyses and the policy use.

mod module;
mod tier;
mod trap;
mod types;
pub(crate) mod walk;

pub use module::*;
pub use tier::Tier;
pub use trap::TrapKind;
pub use types::{Elem, ParamTy, Ty};
