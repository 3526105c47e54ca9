//! The kernel catalog: IR sources of `ir-modules/*.bfir`, AOT Rust baselines and inputs.
#![cfg_attr(not(feature = "std"), no_std)]
