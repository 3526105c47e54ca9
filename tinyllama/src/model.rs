//! A loaded model: configuration, weights, and the tokenizer when the file carries one.

use alloc::format;

use crate::config::Config;
use crate::error::Result;
use crate::gguf::{self, Gguf};
use crate::llama2c;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// The file format a model was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A llama2.c checkpoint.
    Llama2c(llama2c::Version),
    /// GGUF of the given version.
    Gguf(u32),
}

impl core::fmt::Display for Format {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Format::Llama2c(llama2c::Version::V0) => write!(f, "llama2.c v0 (fp32)"),
            Format::Llama2c(llama2c::Version::V1) => write!(f, "llama2.c v1 (fp32)"),
            Format::Llama2c(llama2c::Version::V2 { group }) => {
                write!(f, "llama2.c v2 (Q8_0, group {group})")
            }
            Format::Gguf(v) => write!(f, "GGUF v{v}"),
        }
    }
}

/// Configuration and weights of a model, plus its embedded tokenizer (GGUF).
#[derive(Debug, Clone)]
pub struct Model {
    /// Shape and constants.
    pub config: Config,
    /// The weights.
    pub weights: Weights,
    /// Where they came from.
    pub format: Format,
    /// The tokenizer carried by the file, if any (GGUF only).
    pub tokenizer: Option<Tokenizer>,
}

impl Model {
    /// Loads a model from the bytes of a llama2.c checkpoint or a GGUF file,
    /// detected from the magic (no magic means llama2.c version 0).
    pub fn load(bytes: &[u8]) -> Result<Model> {
        let model = if gguf::has_magic(bytes) {
            let g = Gguf::parse(bytes)?;
            let config = g.config()?;
            let weights = g.weights(&config)?;
            let tokenizer = if g.get("tokenizer.ggml.tokens").is_some() {
                let t = g.tokenizer()?;
                if t.vocab_size() != config.vocab_size {
                    return Err(crate::Error::invalid(
                        "tokenizer.ggml.tokens",
                        format!(
                            "{} tokens but the model has a vocabulary of {}",
                            t.vocab_size(),
                            config.vocab_size
                        ),
                    ));
                }
                Some(t)
            } else {
                None
            };
            Model {
                config,
                weights,
                format: Format::Gguf(g.version),
                tokenizer,
            }
        } else {
            let (config, weights, v) = llama2c::load(bytes)?;
            Model {
                config,
                weights,
                format: Format::Llama2c(v),
                tokenizer: None,
            }
        };
        model.weights.validate(&model.config)?;
        Ok(model)
    }
}
