//! Workloads declared in the IR text: `#[workload(...)]` says how to call a function
//! (sizes and values of its arguments; `jit/IR.md`, "Workloads"), so an embedder can run,
//! tier up and benchmark a kernel it knows nothing else about.
//!
//! - [`Workload`]: the verified attribute, one [`ParamInput`] per parameter (the front
//!   end checks it against the signature; [`crate::Module::workload`] returns it);
//! - [`Inputs`]: the arguments it generates for a seed, deterministic on every host and in
//!   the kernel ([`Rng`], SplitMix64), owned and resettable;
//! - [`Outputs`]: what one call produced (result or trap, and every `&mut` buffer), and
//!   [`Outputs::check`] to compare another tier's call with it.

mod inputs;
mod outputs;
mod rng;
mod spec;

pub use inputs::{Buffer, Input, Inputs};
pub use outputs::{Mismatch, Outputs, REASSOC_TOLERANCE};
pub use rng::Rng;
pub use spec::{Fill, MAX_WORKLOAD_BYTES, NotExercised, Number, ParamInput, ScalarInput, Workload};
