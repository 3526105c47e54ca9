//! Llama-family transformer inference.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
