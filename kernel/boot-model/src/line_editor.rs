//! The serial console's line editor: bytes typed on a terminal (or sent by a
//! program) in, whole lines out.
//!
//! - Enter ends a line: CR, LF, or CR LF (the LF after a CR is not a second,
//!   empty line).
//! - Backspace (0x08) and DEL (0x7f) erase the last character (a whole UTF-8
//!   character, not a byte); Ctrl-U (0x15) erases the line.
//! - **End of input is Ctrl-D (0x04, ASCII EOT)**, the byte a terminal sends
//!   for Ctrl-D and the one `./x chat` sends when its input ends: on an empty
//!   line it ends the input at once; after some text it first delivers that
//!   text as a last line, and the next line asked for is the end of input.
//! - Escape sequences (arrow and function keys: ESC, then `[` or `O` and
//!   parameters up to a final byte) are skipped; other control bytes are
//!   ignored; a tab is a space.
//! - A line holds at most `max_bytes` bytes; further characters are refused
//!   (the terminal gets a bell).
//!
//! What the terminal should show (echo of typed characters, `\b \b` per
//! erased character, CR LF at the end of a line) comes out through the
//! `echo` callback, for consoles that echo.

use alloc::string::String;
use alloc::vec::Vec;

/// Ctrl-D: end of input.
pub const EOT: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const BELL: u8 = 0x07;

/// What one byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Nothing yet.
    Pending,
    /// A line (without its end), lossily decoded when it is not UTF-8.
    Line(String),
    /// The end of input.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Started,
    /// After ESC [ or ESC O: parameters until a final byte.
    Sequence,
}

/// The editor's state across bytes.
#[derive(Debug)]
pub struct LineEditor {
    line: Vec<u8>,
    max_bytes: usize,
    after_cr: bool,
    escape: Escape,
    /// Ctrl-D came after text: the next line is the end of input.
    end_pending: bool,
}

impl LineEditor {
    /// An editor for lines of at most `max_bytes` bytes.
    pub fn new(max_bytes: usize) -> LineEditor {
        LineEditor {
            line: Vec::new(),
            max_bytes,
            after_cr: false,
            escape: Escape::None,
            end_pending: false,
        }
    }

    /// Whether the input has already ended (Ctrl-D after text was seen):
    /// the caller asks for no more bytes.
    pub fn take_pending_end(&mut self) -> bool {
        core::mem::replace(&mut self.end_pending, false)
    }

    /// Feeds one received byte; `echo` gets what a terminal should display.
    pub fn feed(&mut self, byte: u8, echo: &mut impl FnMut(&[u8])) -> Input {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        match self.escape {
            Escape::Started => {
                self.escape = if byte == b'[' || byte == b'O' {
                    Escape::Sequence
                } else {
                    Escape::None
                };
                return Input::Pending;
            }
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return Input::Pending;
            }
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => Input::Pending,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                echo(b"\r\n");
                Input::Line(self.take_line())
            }
            EOT => {
                if self.line.is_empty() {
                    Input::End
                } else {
                    self.end_pending = true;
                    echo(b"\r\n");
                    Input::Line(self.take_line())
                }
            }
            BACKSPACE | DELETE => {
                if self.erase_char() {
                    echo(b"\x08 \x08");
                }
                Input::Pending
            }
            CTRL_U => {
                while self.erase_char() {
                    echo(b"\x08 \x08");
                }
                Input::Pending
            }
            ESC => {
                self.escape = Escape::Started;
                Input::Pending
            }
            b'\t' => self.insert(b' ', echo),
            b if b < 0x20 => Input::Pending,
            b => self.insert(b, echo),
        }
    }

    fn insert(&mut self, byte: u8, echo: &mut impl FnMut(&[u8])) -> Input {
        if self.line.len() >= self.max_bytes {
            echo(&[BELL]);
        } else {
            self.line.push(byte);
            echo(&[byte]);
        }
        Input::Pending
    }

    /// Removes the last character (its continuation bytes and its lead byte).
    fn erase_char(&mut self) -> bool {
        let Some(mut last) = self.line.pop() else {
            return false;
        };
        while last & 0xc0 == 0x80 {
            match self.line.pop() {
                Some(b) => last = b,
                None => break,
            }
        }
        true
    }

    fn take_line(&mut self) -> String {
        let bytes = core::mem::take(&mut self.line);
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn run(bytes: &[u8]) -> (Vec<Input>, Vec<u8>) {
        let mut ed = LineEditor::new(16);
        let mut echoed = Vec::new();
        let mut out = Vec::new();
        for &b in bytes {
            match ed.feed(b, &mut |e| echoed.extend_from_slice(e)) {
                Input::Pending => {}
                i => out.push(i),
            }
            if ed.take_pending_end() {
                out.push(Input::End);
            }
        }
        (out, echoed)
    }

    fn line(s: &str) -> Input {
        Input::Line(String::from(s))
    }

    #[test]
    fn line_ends_cr_lf_crlf() {
        let (out, echoed) = run(b"ab\rcd\nef\r\n\r\n");
        assert_eq!(out, vec![line("ab"), line("cd"), line("ef"), line("")]);
        assert_eq!(echoed, b"ab\r\ncd\r\nef\r\n\r\n");
    }

    #[test]
    fn erasing_characters_and_lines() {
        let (out, echoed) = run("xé\x7f\x08y\x15zz\x08\n".as_bytes());
        assert_eq!(out, vec![line("z")]);
        assert!(echoed.ends_with(b"z\x08 \x08\r\n"));
        // Backspace on an empty line echoes nothing.
        let (out, echoed) = run(b"\x08\x7fq\n");
        assert_eq!(out, vec![line("q")]);
        assert_eq!(echoed, b"q\r\n");
    }

    #[test]
    fn end_of_input() {
        assert_eq!(run(b"\x04").0, vec![Input::End]);
        assert_eq!(run(b"hi\x04").0, vec![line("hi"), Input::End]);
    }

    #[test]
    fn escapes_controls_tabs_and_limits() {
        let (out, _) = run(b"a\x1b[Ab\x1bOPc\x01\td\n");
        assert_eq!(out, vec![line("abc d")]);
        let (out, echoed) = run(b"0123456789abcdefXY\n");
        assert_eq!(out, vec![line("0123456789abcdef")]);
        assert_eq!(echoed.iter().filter(|&&b| b == BELL).count(), 2);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let (out, _) = run(b"a\xffb\n");
        assert_eq!(out, vec![line("a\u{fffd}b")]);
    }
}
