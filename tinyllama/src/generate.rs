//! Prompt → token stream.

use crate::error::Result;
use crate::forward::Session;
use crate::ops::Ops;
use crate::sampler::Sampler;
use crate::tokenizer::Tokenizer;

/// One token of the stream.
#[derive(Debug)]
pub struct TokenEvent<'a> {
    /// The token id.
    pub token: u32,
    /// Its position in the sequence (BOS is position 0).
    pub pos: usize,
    /// The bytes it decodes to (may be part of a UTF-8 character).
    pub text: &'a [u8],
    /// Whether it comes from the prompt rather than the model.
    pub from_prompt: bool,
}

/// What a generation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    /// Prompt tokens, BOS included.
    pub prompt_tokens: usize,
    /// Tokens produced by the model (a final EOS included).
    pub generated_tokens: usize,
    /// Whether it stopped on EOS/BOS (rather than on the step or context limit or the callback).
    pub hit_eos: bool,
}

/// Encodes `prompt` (with BOS), runs it through `session`, then samples up to
/// `steps` new tokens, calling `on_token` for every prompt token after BOS
/// and every generated token as soon as it is known; `on_token` returns
/// `false` to stop. Stops at EOS or BOS and at the end of the context.
pub fn generate<O: Ops>(
    session: &mut Session<'_, O>,
    tokenizer: &Tokenizer,
    sampler: &mut Sampler,
    prompt: &str,
    steps: usize,
    on_token: impl FnMut(&TokenEvent<'_>) -> bool,
) -> Result<Generation> {
    let prompt_tokens = tokenizer.encode(prompt, true, false)?;
    generate_from_tokens(session, tokenizer, sampler, &prompt_tokens, steps, on_token)
}

/// [`generate`] from an already encoded prompt (which should start with
/// BOS; an empty prompt is treated as a lone BOS).
pub fn generate_from_tokens<O: Ops>(
    session: &mut Session<'_, O>,
    tokenizer: &Tokenizer,
    sampler: &mut Sampler,
    prompt_tokens: &[u32],
    steps: usize,
    mut on_token: impl FnMut(&TokenEvent<'_>) -> bool,
) -> Result<Generation> {
    let bos = [tokenizer.bos()];
    let prompt_tokens = if prompt_tokens.is_empty() {
        &bos[..]
    } else {
        prompt_tokens
    };
    let ctx = session.context_len();
    let mut result = Generation {
        prompt_tokens: prompt_tokens.len(),
        generated_tokens: 0,
        hit_eos: false,
    };
    let mut token = prompt_tokens[0];
    let mut pos = 0;
    loop {
        if pos >= ctx {
            break;
        }
        let logits = session.forward(token, pos)?;
        pos += 1;
        let (next, from_prompt) = if pos < prompt_tokens.len() {
            (prompt_tokens[pos], true)
        } else {
            if result.generated_tokens >= steps {
                break;
            }
            result.generated_tokens += 1;
            (sampler.sample(logits), false)
        };
        let stop = !from_prompt && (next == tokenizer.eos() || next == tokenizer.bos());
        let event = TokenEvent {
            token: next,
            pos,
            text: if stop {
                &[]
            } else {
                tokenizer.decode(token, next)
            },
            from_prompt,
        };
        if !on_token(&event) {
            break;
        }
        if stop {
            result.hit_eos = true;
            break;
        }
        token = next;
    }
    Ok(result)
}
