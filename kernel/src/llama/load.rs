//! Loading: the model and its tokenizer from their sources (`source`), checked
//! against the memory left, reported by `model_loaded`.

use super::source::{self, Origin, Role};
use crate::drives;
use alloc::format;
use alloc::string::String;
use bareflow_boot_model::cmdline::BootParams;
use platform::{mem, time, trace};
use tinyllama::{Config, Model, ModelSource, Tensor, Tokenizer};

/// Heap left free beyond the model file's size for everything else
/// (activations, KV cache of a small model, the trace's strings).
const HEAP_MARGIN: u64 = 16 << 20;

/// A model and tokenizer ready to run.
pub struct Loaded {
    pub model: Model,
    pub tokenizer: Tokenizer,
    pub origin: Origin,
    pub tokenizer_origin: Option<Origin>,
    pub file_bytes: u64,
    pub load_us: u64,
}

fn with_hint(reason: String, hint: Option<String>) -> String {
    match hint {
        Some(h) => format!("{reason} ({h})"),
        None => reason,
    }
}

/// The storage of the model's matrices, by the name GGUF gives it.
pub fn quant_name(model: &Model) -> String {
    let t = model
        .weights
        .layers
        .first()
        .map_or(&model.weights.token_embedding, |l| &l.wq);
    match t {
        Tensor::F32(_) => String::from("F32"),
        Tensor::F16(_) => String::from("F16"),
        Tensor::Q8 { group: 32, .. } => String::from("Q8_0"),
        Tensor::Q8 { group, .. } => format!("Q8 (group {group})"),
    }
}

/// Finds, reads and checks the model and its tokenizer; `Err` is the
/// `model_error` reason.
pub fn load(params: &BootParams) -> Result<Loaded, String> {
    let drives = drives::all();
    let mut found = match source::find(drives, Role::Model, params.model_bytes) {
        Some(f) => f?,
        None => {
            return Err(String::from(
                "no model: attach it as a virtio drive (QEMU: -drive file=MODEL,format=raw,\
                 if=none,id=model,readonly=on -device virtio-blk-pci,drive=model,serial=model) \
                 or pass it as a boot module",
            ));
        }
    };
    if let Some(w) = found.warning.take() {
        trace::warn("llama", format_args!("{w}"));
    }
    let file_bytes = found.source.len();
    let free = mem::heap_size().saturating_sub(mem::heap_used());
    if file_bytes.saturating_add(HEAP_MARGIN) > free {
        return Err(format!(
            "the model ({file_bytes} bytes, from {}) is larger than the memory left for it \
             ({free} bytes of heap free, {HEAP_MARGIN} of them kept for the rest): give the \
             machine more RAM",
            found.origin.describe()
        ));
    }
    let start = time::now_us();
    let mut model = Model::load_from(&mut found.source).map_err(|e| {
        with_hint(
            format!("model from {}: {e}", found.origin.describe()),
            source::length_hint(
                &found,
                Role::Model,
                params.model_bytes,
                matches!(&e, tinyllama::Error::Invalid { what, .. } if what == "file length"),
            ),
        )
    })?;
    let (tokenizer, tokenizer_origin) =
        match source::find(drives, Role::Tokenizer, params.tokenizer_bytes) {
            Some(t) => {
                let mut t = t?;
                if let Some(w) = t.warning.take() {
                    trace::warn("llama", format_args!("{w}"));
                }
                let tok = Tokenizer::load_llama2c(&mut t.source).map_err(|e| {
                    with_hint(
                        format!("tokenizer from {}: {e}", t.origin.describe()),
                        source::length_hint(&t, Role::Tokenizer, params.tokenizer_bytes, true),
                    )
                })?;
                (tok, Some(t.origin))
            }
            None => match model.tokenizer.take() {
                Some(t) => (t, None),
                None => {
                    return Err(format!(
                        "the model ({}) carries no tokenizer: attach tokenizer.bin as a second \
                         drive (serial=tokenizer) or a boot module named tokenizer.bin",
                        model.format
                    ));
                }
            },
        };
    if tokenizer.vocab_size() != model.config.vocab_size {
        return Err(format!(
            "the tokenizer has {} tokens but the model's vocabulary is {}",
            tokenizer.vocab_size(),
            model.config.vocab_size
        ));
    }
    Ok(Loaded {
        model,
        tokenizer,
        origin: found.origin,
        tokenizer_origin,
        file_bytes,
        load_us: time::now_us() - start,
    })
}

/// The `model_loaded` event.
pub fn emit_loaded(l: &Loaded, ctx: usize, cpus: usize) {
    let c: &Config = &l.model.config;
    trace::emit("model_loaded", |e| {
        e.display("format", l.model.format)
            .str("quant", &quant_name(&l.model))
            .u64("dim", c.dim as u64)
            .u64("hidden_dim", c.hidden_dim as u64)
            .u64("layers", c.n_layers as u64)
            .u64("heads", c.n_heads as u64)
            .u64("kv_heads", c.n_kv_heads as u64)
            .u64("vocab", c.vocab_size as u64)
            .u64("ctx", ctx as u64)
            .u64("model_ctx", c.seq_len as u64)
            .u64("bytes", l.file_bytes)
            .u64("resident_bytes", l.model.weights.resident_bytes() as u64)
            .str("source", l.origin.kind())
            .str("source_detail", &l.origin.describe())
            .str(
                "tokenizer",
                &l.tokenizer_origin
                    .as_ref()
                    .map_or(String::from("model file"), Origin::describe),
            )
            .u64("load_ms", l.load_us / 1000)
            .u64("cpus", cpus as u64)
            .u64("heap_bytes", mem::heap_size())
            .u64("heap_used", mem::heap_used());
    });
}
