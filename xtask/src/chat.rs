//! `cargo xtask chat`: a conversation with the language model inside the kernel.
//!
//! Builds the kernel and a GRUB ISO for `bareflow.mode=llama`, boots it in QEMU
//! with the model (and a llama2.c `tokenizer.bin`) as read-only virtio drives
//! (serials `model` and `tokenizer`, exact byte lengths on the command line),
//! and sits between the person at the terminal and COM1:
//!
//! - the kernel's JSON events become text: what was loaded, the answer as its
//!   tokens arrive, the figures after each answer, warnings and errors;
//! - at each `prompt_request` a line is read from the terminal and sent; the end
//!   of the terminal's input (Ctrl-D) is sent as Ctrl-D (0x04), which ends the
//!   session, as does an empty line.
//!
//! The raw trace goes to `iso/chat-trace.jsonl` and its HTML timeline beside it.
//! `--text` instead boots the kernel's plain-text console
//! (`bareflow.console=text`) with QEMU's serial port on the terminal itself, as
//! a bare serial terminal would see it.

use crate::cli::ChatArgs;
use crate::iso::{self, Boot, IsoSpec};
use crate::qemu::{self, Drive, QemuConfig, SerialInput};
use crate::report::timeline;
use crate::trace::timeline::Timeline;
use crate::trace::{self, Event, number, text};
use crate::{build, paths};
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the chat's trace goes.
fn saved_trace() -> PathBuf {
    paths::iso_dir().join("chat-trace.jsonl")
}

fn file_len(p: &Path, what: &str) -> Result<u64, String> {
    let m =
        std::fs::metadata(p).map_err(|e| format!("cannot read the {what} {}: {e}", p.display()))?;
    if !m.is_file() {
        return Err(format!("the {what} {} is not a file", p.display()));
    }
    Ok(m.len())
}

/// RAM for a model file of `bytes`: the model on the heap plus room for the
/// rest (at least 512 MiB).
pub fn default_mem_mib(bytes: u64) -> u32 {
    let need = bytes + bytes / 4 + (384 << 20);
    (need.div_ceil(1 << 20) as u32)
        .next_multiple_of(128)
        .max(512)
}

/// The kernel command line of a chat.
pub fn cmdline(args: &ChatArgs, model_bytes: u64, tokenizer_bytes: Option<u64>) -> String {
    let mut c = format!(
        "bareflow.mode=llama bareflow.steps={} bareflow.model_bytes={model_bytes}",
        args.steps
    );
    if let Some(t) = tokenizer_bytes {
        c.push_str(&format!(" bareflow.tokenizer_bytes={t}"));
    }
    if let Some(ctx) = args.ctx {
        c.push_str(&format!(" bareflow.ctx={ctx}"));
    }
    if let Some(t) = &args.tiers {
        c.push_str(&format!(" bareflow.tiers={t}"));
    }
    if args.text {
        c.push_str(" bareflow.console=text");
    }
    c
}

/// Renders events for a person; reads the person's lines at `prompt_request`.
struct Renderer {
    /// Whether the cursor is inside an answer's text.
    mid_line: bool,
    tier_ups: u64,
    stdin_done: bool,
}

impl Renderer {
    fn out(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }

    /// A line of its own (after the answer's text, if one is being written).
    fn note(&mut self, s: &str) {
        if self.mid_line {
            self.out("\n");
            self.mid_line = false;
        }
        self.out(&format!("{s}\n"));
    }

    fn event(&mut self, e: &Event, input: &mut SerialInput) {
        let name = e.get("ev").and_then(Value::as_str).unwrap_or("");
        match name {
            "boot" => self.note(&format!("[kernel booted: {}]", text(e, "cmdline"))),
            "block_device" => self.note(&format!(
                "[drive {}: {} bytes, serial {:?}{}]",
                number(e, "index"),
                number(e, "bytes"),
                text(e, "serial"),
                if e["read_only"] == true {
                    ", read-only"
                } else {
                    ""
                }
            )),
            "model_loaded" => self.note(&format!(
                "[model: {} {}, dim {}, {} layers, {} heads ({} KV), vocab {}, context {}; \
                 {} MiB from {} in {} ms; tokenizer from {}; {} CPUs]",
                text(e, "format"),
                text(e, "quant"),
                number(e, "dim"),
                number(e, "layers"),
                number(e, "heads"),
                number(e, "kv_heads"),
                number(e, "vocab"),
                number(e, "ctx"),
                number(e, "bytes") >> 20,
                text(e, "source_detail"),
                number(e, "load_ms"),
                text(e, "tokenizer"),
                number(e, "cpus")
            )),
            "prompt_request" => {
                if self.mid_line {
                    self.out("\n");
                    self.mid_line = false;
                }
                self.out("\n> ");
                self.tier_ups = 0;
                let line = if self.stdin_done {
                    None
                } else {
                    let mut line = String::new();
                    match std::io::stdin().lock().read_line(&mut line) {
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some(line),
                    }
                };
                match line {
                    Some(l) => {
                        let l = l.trim_end_matches(['\r', '\n']);
                        if !std::io::stdin().is_terminal() {
                            // A terminal echoed the line already; show piped input.
                            self.out(&format!("{l}\n"));
                        }
                        input.send(format!("{l}\n").as_bytes());
                    }
                    None => {
                        self.stdin_done = true;
                        self.out("^D\n");
                        input.send(&[0x04]);
                    }
                }
            }
            "token" => {
                self.mid_line = true;
                self.out(text(e, "text"));
            }
            "tier_up" => self.tier_ups += 1,
            "llama_done" => {
                let tiers: Vec<String> = e
                    .get("op_tiers")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                            .collect()
                    })
                    .unwrap_or_default();
                self.note(&format!(
                    "[{} prompt + {} generated tokens; first token after {} ms; {} tok/s; \
                     {} tier-ups, compile {} ms; ops: {}]",
                    number(e, "prompt_tokens"),
                    number(e, "generated"),
                    e["ms_first_token"],
                    e["tok_per_s"],
                    self.tier_ups,
                    e["compile_ms"],
                    tiers.join(", ")
                ));
            }
            "warn" => self.note(&format!("[warning: {}]", text(e, "detail"))),
            "model_error" => self.note(&format!("[model error: {}]", text(e, "reason"))),
            "llama_end" => self.note(&format!("[session ended: {}]", text(e, "reason"))),
            "exception" | "panic" => self.note(&format!("[{name}: {}]", trace::pretty(e))),
            _ => {}
        }
    }
}

/// Runs the command; `Ok(true)` when the kernel exited with success.
pub fn run(args: &ChatArgs) -> Result<bool, String> {
    let model_bytes = file_len(&args.model, "model")?;
    let tokenizer_bytes = match &args.tokenizer {
        Some(t) => Some(file_len(t, "tokenizer")?),
        None => None,
    };
    let accel = qemu::select_accel(args.accel.as_deref())?;
    let cmdline = cmdline(args, model_bytes, tokenizer_bytes);
    let spec = IsoSpec {
        boot: Boot::Grub,
        limine_dir: None,
        cmdline: cmdline.clone(),
        modules: iso::default_modules(),
        out: paths::iso_dir().join("bareflow-chat.iso"),
    };
    let elf = build::build_kernel()?;
    let iso_path = iso::make_iso(&spec, &elf)?;
    let mut drives = vec![Drive::read_only(&args.model, "model")];
    if let Some(t) = &args.tokenizer {
        drives.push(Drive::read_only(t, "tokenizer"));
    }
    let mem_mib = args.mem.unwrap_or_else(|| default_mem_mib(model_bytes));
    let cfg = QemuConfig {
        iso: iso_path,
        smp: args.smp,
        mem_mib,
        uefi: false,
        accel,
        timeout: Duration::from_secs(args.timeout),
        drives,
    };
    eprintln!(
        "booting the kernel in llama mode ({} CPUs, {mem_mib} MiB, {}): {cmdline}",
        args.smp,
        accel.name()
    );
    if args.text {
        eprintln!(
            "plain-text console on this terminal: Ctrl-D (or an empty line) ends the session, Ctrl-C kills QEMU"
        );
        let status = qemu::command(&cfg, None)?
            .status()
            .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
        return Ok(status
            .code()
            .and_then(bareflow_boot_model::exit::ExitCode::from_qemu_status)
            == Some(bareflow_boot_model::exit::ExitCode::Success));
    }
    let mut renderer = Renderer {
        mid_line: false,
        tier_ups: 0,
        stdin_done: false,
    };
    let out = qemu::run_with_input(&cfg, |line, input| {
        if let Some(Ok(e)) = trace::parse(line) {
            renderer.event(&e, input);
        }
    })?;
    let saved = saved_trace();
    std::fs::write(&saved, trace::saved_events(&out.lines))
        .map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    let html = saved.with_extension("html");
    let tl = Timeline::from_lines(out.lines.iter().map(String::as_str));
    match timeline::write(&tl, "chat-trace.jsonl", &html) {
        Ok(_) => eprintln!(
            "trace saved to {}, timeline {}",
            saved.display(),
            html.display()
        ),
        Err(e) => eprintln!("trace saved to {}; no timeline: {e}", saved.display()),
    }
    if out.timed_out {
        return Err(format!("QEMU killed after the {} s timeout", args.timeout));
    }
    Ok(out.exit_code() == Some(bareflow_boot_model::exit::ExitCode::Success))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fits_the_model() {
        assert_eq!(default_mem_mib(17 << 20), 512);
        let big = 1_170_000_000u64;
        let mib = default_mem_mib(big) as u64;
        assert!(
            mib << 20 > big + big / 4 && mib.is_multiple_of(128),
            "{mib}"
        );
    }
}
