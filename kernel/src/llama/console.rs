//! The llama mode's side of COM1.
//!
//! - `bareflow.console=json` (default): the serial line keeps its contract,
//!   one JSON event per line. When the kernel wants a prompt it emits
//!   `prompt_request`; the bytes that come back go through the line editor
//!   without echo (the host side, `./x chat`, edits and shows the line).
//! - `bareflow.console=text`: for a person at a bare serial terminal. The
//!   JSON trace is muted (exceptions and panics still print); the kernel
//!   prints a `> ` prompt, echoes what is typed (backspace erases), streams
//!   the answer as text and a line of figures after it.
//!
//! Either way a line ends with Enter, an empty line ends the session, and
//! Ctrl-D (0x04) is the end of input (see `bareflow_boot_model::line_editor`).

use alloc::string::String;
use bareflow_boot_model::cmdline::Console as ConsoleKind;
use bareflow_boot_model::line_editor::{Input, LineEditor};
use platform::{serial, trace};

/// Longest prompt line in bytes.
pub const MAX_LINE: usize = 4096;

/// The console of one llama session.
pub struct Console {
    text: bool,
    editor: LineEditor,
    ended: bool,
}

impl Console {
    /// The console `kind`; a text console mutes the JSON trace from now on.
    pub fn new(kind: ConsoleKind) -> Console {
        let text = kind == ConsoleKind::Text;
        if text {
            trace::mute(true);
        }
        Console {
            text,
            editor: LineEditor::new(MAX_LINE),
            ended: false,
        }
    }

    /// Text for the person at a text console (nothing on the JSON console,
    /// whose events say it). `\n` becomes CR LF.
    pub fn say(&self, text: &str) {
        if !self.text {
            return;
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                serial::write_bytes(b"\r\n");
            }
            serial::write_bytes(part.as_bytes());
        }
    }

    /// Asks for prompt number `index` and reads one line; `None` at the end of
    /// input (Ctrl-D).
    pub fn read_line(&mut self, index: u64) -> Option<String> {
        if self.ended || self.editor.take_pending_end() {
            self.ended = true;
            return None;
        }
        trace::emit("prompt_request", |e| {
            e.u64("index", index)
                .u64("max_bytes", MAX_LINE as u64)
                .str("end_of_input", "ctrl-d");
        });
        self.say("\n> ");
        let text = self.text;
        loop {
            let Some(byte) = serial::try_receive() else {
                core::hint::spin_loop();
                continue;
            };
            let mut echo = |bytes: &[u8]| {
                if text {
                    serial::write_bytes(bytes);
                }
            };
            match self.editor.feed(byte, &mut echo) {
                Input::Pending => {}
                Input::Line(line) => return Some(line),
                Input::End => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }
}
