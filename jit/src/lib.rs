//! BareFlow's JIT: the kernel IR, the T0 interpreter and the Cranelift tiers.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
