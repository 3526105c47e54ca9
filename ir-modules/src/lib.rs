//! The BareFlow kernel catalog.
//!
//! - the IR sources (`ir-modules/*.bfir`, embedded by [`sources`]);
//! - the [`catalog`]: one [`Kernel`] per benchmarked function, with its sizes;
//! - deterministic [`inputs`] for any (size, seed), from a small seedable [`rng`];
//! - the AOT Rust baseline of every algorithm ([`aot`]), with the same operation order
//!   as the IR so that outputs compare bit for bit with T0;
//! - [`Workload`]: owned, resettable arguments that run through a `jit::Engine`
//!   ([`run`]) or the baseline, and [`Outputs`] to compare two runs;
//! - [`dfa`]: the regular-expression compiler that builds `regex_dfa`'s tables.
//!
//! `no_std` + `alloc`, so the unikernel embeds the same catalog for its bench and
//! self-test modes.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod aot;
pub mod catalog;
pub mod dfa;
pub mod inputs;
pub mod rng;
pub mod run;
pub mod sources;
pub mod workload;

pub use aot::AotError;
pub use catalog::{CATALOG, Kernel, kernel};
pub use run::{CatalogError, LoadedCatalog};
pub use workload::{
    Data, Mismatch, Outputs, Param, REASSOC_TOLERANCE, Tolerance, TrapCase, Workload,
};
