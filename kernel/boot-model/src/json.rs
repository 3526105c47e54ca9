//! One-line JSON trace events.
//!
//! Every event is a single JSON object on one line that starts with `ev`,
//! `t_us` and `cpu` (ARCHITECTURE.md, "The trace contract"). [`Event`] writes such a line
//! into any `core::fmt::Write`, escaping strings, so the kernel can stream it
//! straight to the serial port without a buffer.

use core::fmt::{self, Write};

/// Writes `s` as JSON string content (without the quotes).
struct Escaper<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut from = 0;
        for (i, c) in s.char_indices() {
            let esc: Option<&str> = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            if esc.is_some() || (c as u32) < 0x20 {
                self.0.write_str(&s[from..i])?;
                match esc {
                    Some(e) => self.0.write_str(e)?,
                    None => write!(self.0, "\\u{:04x}", c as u32)?,
                }
                from = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[from..])
    }
}

/// An event being written. Fields are appended in call order; [`Event::finish`]
/// closes the object and the line.
pub struct Event<'w, W: Write> {
    out: &'w mut W,
    result: fmt::Result,
}

impl<'w, W: Write> Event<'w, W> {
    /// Starts `{"ev":..,"t_us":..,"cpu":..`.
    pub fn begin(out: &'w mut W, ev: &str, t_us: u64, cpu: u32) -> Self {
        let mut e = Event {
            out,
            result: Ok(()),
        };
        e.result = e.out.write_str("{\"ev\":");
        e.quoted(ev);
        e.raw(format_args!(",\"t_us\":{t_us},\"cpu\":{cpu}"));
        e
    }

    fn raw(&mut self, args: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.out.write_fmt(args);
        }
    }

    fn quoted(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self
                .out
                .write_char('"')
                .and_then(|_| Escaper(self.out).write_str(s))
                .and_then(|_| self.out.write_char('"'));
        }
    }

    fn key(&mut self, key: &str) {
        self.raw(format_args!(","));
        self.quoted(key);
        self.raw(format_args!(":"));
    }

    /// A string field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        self.quoted(value);
        self
    }

    /// A string field from anything printable.
    pub fn display(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        self.key(key);
        if self.result.is_ok() {
            self.result = self
                .out
                .write_char('"')
                .and_then(|_| write!(Escaper(self.out), "{value}"))
                .and_then(|_| self.out.write_char('"'));
        }
        self
    }

    /// An unsigned integer field.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.raw(format_args!("{value}"));
        self
    }

    /// A signed integer field.
    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.raw(format_args!("{value}"));
        self
    }

    /// A number with `decimals` digits after the point (`null` when not finite).
    pub fn f64(&mut self, key: &str, value: f64, decimals: usize) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            self.raw(format_args!("{value:.decimals$}"));
        } else {
            self.raw(format_args!("null"));
        }
        self
    }

    /// An object of string members: `{"k1":"v1","k2":"v2"}`.
    pub fn str_map<'s>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) -> &mut Self {
        self.key(key);
        self.raw(format_args!("{{"));
        for (i, (k, v)) in items.into_iter().enumerate() {
            if i > 0 {
                self.raw(format_args!(","));
            }
            self.quoted(k);
            self.raw(format_args!(":"));
            self.quoted(v);
        }
        self.raw(format_args!("}}"));
        self
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.raw(format_args!("{value}"));
        self
    }

    /// An address or register as a `"0x..."` string (JSON numbers lose
    /// precision above 2^53 in many readers).
    pub fn hex(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.raw(format_args!("\"{value:#x}\""));
        self
    }

    /// A list of strings.
    pub fn str_list<'s>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = &'s str>,
    ) -> &mut Self {
        self.key(key);
        self.raw(format_args!("["));
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                self.raw(format_args!(","));
            }
            self.quoted(s);
        }
        self.raw(format_args!("]"));
        self
    }

    /// A list of unsigned integers.
    pub fn u64_list(&mut self, key: &str, items: impl IntoIterator<Item = u64>) -> &mut Self {
        self.key(key);
        self.raw(format_args!("["));
        for (i, v) in items.into_iter().enumerate() {
            if i > 0 {
                self.raw(format_args!(","));
            }
            self.raw(format_args!("{v}"));
        }
        self.raw(format_args!("]"));
        self
    }

    /// A list of addresses as `"0x..."` strings.
    pub fn hex_list(&mut self, key: &str, items: impl IntoIterator<Item = u64>) -> &mut Self {
        self.key(key);
        self.raw(format_args!("["));
        for (i, v) in items.into_iter().enumerate() {
            if i > 0 {
                self.raw(format_args!(","));
            }
            self.raw(format_args!("\"{v:#x}\""));
        }
        self.raw(format_args!("]"));
        self
    }

    /// Pre-formatted members (`"a":1,"b":"x"`: no braces, no leading comma),
    /// appended as written; the caller vouches that they are valid JSON members
    /// (e.g. the jit's `Event::write_json_fields`).
    pub fn members(&mut self, members: impl fmt::Display) -> &mut Self {
        self.raw(format_args!(",{members}"));
        self
    }

    /// Closes the object and ends the line.
    pub fn finish(mut self) -> fmt::Result {
        self.raw(format_args!("}}\n"));
        self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn formats_one_line_with_required_fields_first() {
        let mut s = String::new();
        let mut e = Event::begin(&mut s, "boot", 1234, 0);
        e.str("loader", "multiboot2")
            .str("cmdline", "bareflow.mode=selftest")
            .u64("n", 7)
            .i64("neg", -3)
            .bool("ok", true)
            .hex("rip", 0xffff_ffff_8020_1000)
            .str_list("features", ["sse2", "avx"])
            .hex_list("stack", [1, 2]);
        e.finish().unwrap();
        assert_eq!(
            s,
            "{\"ev\":\"boot\",\"t_us\":1234,\"cpu\":0,\"loader\":\"multiboot2\",\
             \"cmdline\":\"bareflow.mode=selftest\",\"n\":7,\"neg\":-3,\"ok\":true,\
             \"rip\":\"0xffffffff80201000\",\"features\":[\"sse2\",\"avx\"],\
             \"stack\":[\"0x1\",\"0x2\"]}\n"
        );
    }

    #[test]
    fn escapes_strings() {
        let mut s = String::new();
        let mut e = Event::begin(&mut s, "panic", 0, 1);
        e.str("message", "a \"q\" \\ \n\t\u{1}é")
            .display("detail", format_args!("x={}\n", 5));
        e.finish().unwrap();
        assert_eq!(
            s,
            "{\"ev\":\"panic\",\"t_us\":0,\"cpu\":1,\"message\":\"a \\\"q\\\" \\\\ \\n\\t\\u0001é\",\"detail\":\"x=5\\n\"}\n"
        );
        assert_eq!(s.matches('\n').count(), 1);
    }

    #[test]
    fn preformatted_members() {
        let mut s = String::new();
        let mut e = Event::begin(&mut s, "tier_up", 1, 1);
        e.members(format_args!("\"kernel\":\"fib\",\"calls\":100"))
            .bool("ok", true);
        e.finish().unwrap();
        assert_eq!(
            s,
            "{\"ev\":\"tier_up\",\"t_us\":1,\"cpu\":1,\"kernel\":\"fib\",\"calls\":100,\"ok\":true}\n"
        );
    }

    #[test]
    fn numbers_and_maps() {
        let mut s = String::new();
        let mut e = Event::begin(&mut s, "x", 0, 0);
        e.f64("rate", 12.345, 2)
            .f64("nan", f64::NAN, 1)
            .str_map("tiers", [("matvec", "T3"), ("a\"b", "T0")])
            .str_map("none", [])
            .u64_list("ids", [1, 22]);
        e.finish().unwrap();
        assert!(
            s.contains(
                "\"rate\":12.35,\"nan\":null,\"tiers\":{\"matvec\":\"T3\",\"a\\\"b\":\"T0\"},\"none\":{},\"ids\":[1,22]"
            ),
            "{s}"
        );
    }

    #[test]
    fn empty_list() {
        let mut s = String::new();
        let mut e = Event::begin(&mut s, "x", 0, 0);
        e.str_list("l", []);
        e.finish().unwrap();
        assert!(s.contains("\"l\":[]"));
    }
}
