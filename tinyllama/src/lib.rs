//! Llama-family transformer inference: llama2.c checkpoints (versions 0, 1,
//! 2) and GGUF (F32, F16, Q8_0), their tokenizers, a KV-cached forward pass
//! whose compute goes through the [`Ops`] trait and whose matvec rows and
//! attention heads are split over [`Workers`], and sampling.
//!
//! Models load from any [`ModelSource`] (a byte slice, a file, a block
//! device), each tensor read once straight into its final storage.
//! `no_std + alloc`; the `std` feature adds the host binary, the checkpoint
//! generator (`synth`), `FileSource`, the `ThreadPool` workers and
//! `std::error::Error` for [`Error`]. The contracts other implementations
//! must keep are in the docs of [`source`], [`workers`] and [`ops`].
//!
//! ```
//! use tinyllama::synth::{GgufType, Shape, synth_tokenizer, synth_weights, write_gguf};
//! use tinyllama::{Model, PlainOps, Sampler, Session, generate};
//!
//! // Any GGUF or llama2.c bytes work here; this one is generated.
//! let config = Shape::Tiny.config();
//! let tokenizer = synth_tokenizer(config.vocab_size)?;
//! let bytes = write_gguf(&config, &synth_weights(&config, 1, true), &tokenizer, GgufType::Q8_0);
//!
//! let model = Model::load(&bytes)?;
//! let tokenizer = model.tokenizer.as_ref().expect("GGUF carries its tokenizer");
//! let mut session = Session::new(model.config, &model.weights, PlainOps, 64)?;
//! let mut text = Vec::new();
//! let done = generate(&mut session, tokenizer, &mut Sampler::greedy(), "Once upon", 8, |ev| {
//!     text.extend_from_slice(ev.text);
//!     true // keep going
//! })?;
//! assert!(text.starts_with(b"Once upon"));
//! assert!(done.generated_tokens <= 8);
//! # Ok::<(), tinyllama::Error>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod buffer;
pub mod config;
pub mod conformance;
pub mod error;
mod expf;
pub mod forward;
pub mod generate;
pub mod gguf;
#[cfg(feature = "jit")]
pub mod jit_ops;
pub mod llama2c;
pub mod model;
pub mod ops;
pub mod reader;
pub mod sampler;
pub mod source;
mod split;
#[cfg(feature = "std")]
pub mod synth;
pub mod tensor;
pub mod tokenizer;
pub mod weights;
pub mod workers;

pub use config::Config;
pub use error::{Error, Result};
pub use expf::expf;
pub use forward::Session;
pub use generate::{Generation, TokenEvent, generate, generate_from_tokens};
#[cfg(feature = "jit")]
pub use jit_ops::{EngineCaller, JitCaller, JitOps, LlamaKernel};
pub use model::{Format, Model};
pub use ops::{OpError, OpResult, Ops, PlainOps};
pub use sampler::Sampler;
#[cfg(feature = "std")]
pub use source::FileSource;
pub use source::{ModelSource, ReadError};
pub use tensor::Tensor;
pub use tokenizer::{TokenKind, Tokenizer};
pub use weights::{LayerWeights, Weights};
#[cfg(feature = "std")]
pub use workers::ThreadPool;
pub use workers::{SerialWorkers, Workers};
