//! A loaded model: configuration, weights, and the tokenizer when the file carries one.

use alloc::format;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::gguf::{self, Gguf};
use crate::llama2c;
use crate::reader::Reader;
use crate::source::ModelSource;
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
    /// Loads a model from the bytes of a llama2.c checkpoint or a GGUF file
    /// (see [`Model::load_from`]).
    pub fn load(bytes: &[u8]) -> Result<Model> {
        Model::load_from(&mut &*bytes)
    }

    /// Loads a model from a [`ModelSource`]: a GGUF file (detected by its
    /// magic), a llama2.c v1/v2 checkpoint (its magic) or a llama2.c v0
    /// checkpoint (no magic, a valid header). Each tensor is read once,
    /// straight into its final storage; nothing else of model size is held,
    /// and every model-sized allocation is fallible.
    pub fn load_from<S: ModelSource + ?Sized>(src: &mut S) -> Result<Model> {
        // One reader throughout, so the file is read once, front to back.
        let mut r = Reader::new(src)?;
        let mut head = [0u8; 4];
        if r.len() >= 4 {
            r.read_bytes(&mut head, "file magic")?;
        }
        let model = if gguf::has_magic(&head) {
            let g = Gguf::read(&mut r)?;
            let config = g.config()?;
            let weights = g.read_weights(&config, &mut r)?;
            let tokenizer = if g.get("tokenizer.ggml.tokens").is_some() {
                let t = g.tokenizer()?;
                if t.vocab_size() != config.vocab_size {
                    return Err(Error::invalid(
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
            let (config, weights, v) = llama2c::read(&mut r)?;
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
