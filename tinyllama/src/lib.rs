//! Llama-family transformer inference: llama2.c checkpoints (versions 0, 1,
//! 2) and GGUF (F32, F16, Q8_0), their tokenizers, a KV-cached forward pass
//! whose compute goes through the [`Ops`] trait, and sampling.
//!
//! `no_std + alloc`; the `std` feature adds the host binary, the checkpoint
//! generator ([`synth`]) and `std::error::Error` for [`Error`].
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod config;
pub mod conformance;
pub mod error;
pub mod forward;
pub mod generate;
pub mod gguf;
pub mod llama2c;
pub mod model;
pub mod ops;
pub mod reader;
pub mod sampler;
#[cfg(feature = "std")]
pub mod synth;
pub mod tensor;
pub mod tokenizer;
pub mod weights;

pub use config::Config;
pub use error::{Error, Result};
pub use forward::Session;
pub use generate::{Generation, TokenEvent, generate, generate_from_tokens};
pub use model::{Format, Model};
pub use ops::{Ops, PlainOps};
pub use sampler::Sampler;
pub use tensor::Tensor;
pub use tokenizer::{TokenKind, Tokenizer};
pub use weights::{LayerWeights, Weights};
