//! Kernel command line -> typed boot parameters.
//!
//! Tokens are separated by whitespace. Tokens starting with `bareflow.` are
//! ours; anything else (e.g. options meant for the loader) is ignored. A
//! `bareflow.` token that is unknown or malformed produces a [`Warning`] and
//! leaves that parameter at its default.
//!
//! A value cannot hold whitespace (it separates tokens), so `bareflow.prompt=`
//! is form-encoded: `+` stands for a space and `%XX` (two hex digits) for the
//! byte `XX`; a literal `+` is `%2B`, a literal `%` is `%25` ([`decode_prompt`]).

use crate::fixed::FixedStr;

/// What the kernel does after bringing the machine up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Self-tests, then a demonstration of the work hand-off on every CPU.
    #[default]
    Demo,
    /// Benchmarks.
    Bench,
    /// Run the self-tests and exit with success or failure.
    Selftest,
    /// Deliberately raise an exception (for the exception-path test).
    TestException,
    /// Deliberately panic (for the panic-path test).
    TestPanic,
    /// Load a language model and its tokenizer (virtio drive or boot module)
    /// and generate text: one prompt (`bareflow.prompt=`) or a session over COM1.
    Llama,
}

impl Mode {
    /// Parses a mode name.
    pub fn from_name(s: &str) -> Option<Mode> {
        match s {
            "demo" => Some(Mode::Demo),
            "bench" => Some(Mode::Bench),
            "selftest" => Some(Mode::Selftest),
            "test-exception" => Some(Mode::TestException),
            "test-panic" => Some(Mode::TestPanic),
            "llama" => Some(Mode::Llama),
            _ => None,
        }
    }

    /// The name on the command line and in events.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Demo => "demo",
            Mode::Bench => "bench",
            Mode::Selftest => "selftest",
            Mode::TestException => "test-exception",
            Mode::TestPanic => "test-panic",
            Mode::Llama => "llama",
        }
    }
}

/// Call-count thresholds for T1, T2, T3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers(pub [u32; 3]);

impl Default for Tiers {
    fn default() -> Self {
        Tiers([100, 1000, 10000])
    }
}

/// How the llama mode talks over COM1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Console {
    /// Only JSON event lines (the trace contract; `./x chat` renders them).
    #[default]
    Json,
    /// Plain text for a person at a bare serial terminal: the prompt, the
    /// answer as it streams and its figures, no JSON.
    Text,
}

impl Console {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Console::Json => "json",
            Console::Text => "text",
        }
    }
}

/// Longest decoded `bareflow.prompt=` in bytes.
pub const PROMPT_MAX: usize = 512;

/// Typed boot parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootParams {
    /// `bareflow.mode=`.
    pub mode: Mode,
    /// `bareflow.tiers=t1,t2,t3` (strictly increasing, each >= 1).
    pub tiers: Tiers,
    /// `bareflow.tiers=adaptive`: tier up when the time the next tier would have saved
    /// passes its compile cost (the JIT's `TierPolicy::Adaptive`) instead of at the call
    /// counts of `tiers` (which keep their default).
    pub adaptive_tiers: bool,
    /// `bareflow.pool_mib=` size of the executable pool in MiB (1..=1024).
    pub pool_mib: u32,
    /// `bareflow.heap_mib=` kernel heap size in MiB; 0 = sized from RAM.
    pub heap_mib: u32,
    /// `bareflow.cpus=` most CPUs to start (1..=64); 0 = all.
    pub max_cpus: u32,
    /// `bareflow.prompt=` (decoded): llama mode answers this one prompt and exits.
    pub prompt: Option<FixedStr<PROMPT_MAX>>,
    /// `bareflow.steps=` most tokens generated per answer (1..=1000000); 0 = default.
    pub steps: u32,
    /// `bareflow.ctx=` most context positions of a llama session; 0 = the model's.
    pub ctx: u32,
    /// `bareflow.console=json|text`.
    pub console: Console,
    /// `bareflow.model_bytes=` exact byte length of the model on its drive
    /// (a drive holds whole 512-byte sectors); 0 = the whole drive.
    pub model_bytes: u64,
    /// `bareflow.tokenizer_bytes=` the same for the tokenizer drive.
    pub tokenizer_bytes: u64,
}

impl Default for BootParams {
    fn default() -> Self {
        BootParams {
            mode: Mode::default(),
            tiers: Tiers::default(),
            adaptive_tiers: false,
            pool_mib: 16,
            heap_mib: 0,
            max_cpus: 0,
            prompt: None,
            steps: 0,
            ctx: 0,
            console: Console::Json,
            model_bytes: 0,
            tokenizer_bytes: 0,
        }
    }
}

/// Every parameter the kernel knows, with the form it takes.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "bareflow.mode",
        "demo|bench|selftest|test-exception|test-panic|llama",
    ),
    (
        "bareflow.tiers",
        "T1,T2,T3 (increasing call counts) or adaptive",
    ),
    ("bareflow.pool_mib", "1..=1024"),
    ("bareflow.heap_mib", "0 (auto) or 16..=65536"),
    ("bareflow.cpus", "0 (all) or 1..=64"),
    ("bareflow.prompt", "text, + for a space, %XX for a byte"),
    ("bareflow.steps", "0 (default) or 1..=1000000"),
    ("bareflow.ctx", "0 (the model's) or 1..=1000000"),
    ("bareflow.console", "json|text"),
    ("bareflow.model_bytes", "0 (whole drive) or a byte count"),
    (
        "bareflow.tokenizer_bytes",
        "0 (whole drive) or a byte count",
    ),
];

/// A problem with one token; the parameter keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    /// The offending token as written.
    pub token: &'a str,
    /// What was wrong.
    pub reason: &'static str,
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_tiers(s: &str) -> Result<Tiers, &'static str> {
    let mut out = [0u32; 3];
    let mut n = 0;
    for part in s.split(',') {
        if n == 3 {
            return Err("expected exactly three thresholds");
        }
        out[n] = parse_u32(part.trim()).ok_or("thresholds must be decimal integers")?;
        n += 1;
    }
    if n != 3 {
        return Err("expected exactly three thresholds");
    }
    if out[0] == 0 || !(out[0] < out[1] && out[1] < out[2]) {
        return Err("thresholds must be >= 1 and strictly increasing");
    }
    Ok(Tiers(out))
}

fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a form-encoded prompt: `+` is a space, `%XX` the byte with hex
/// value `XX`, any other byte itself. The result must be UTF-8 and at most
/// [`PROMPT_MAX`] bytes.
pub fn decode_prompt(s: &str) -> Result<FixedStr<PROMPT_MAX>, &'static str> {
    let mut bytes = [0u8; PROMPT_MAX];
    let mut len = 0;
    let raw = s.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'+' => b' ',
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_digit);
                let lo = raw.get(i + 2).copied().and_then(hex_digit);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err("% must be followed by two hex digits (%2B is a literal +)");
                };
                i += 2;
                hi << 4 | lo
            }
            b => b,
        };
        if len == PROMPT_MAX {
            return Err("prompt longer than 512 bytes");
        }
        bytes[len] = b;
        len += 1;
        i += 1;
    }
    let text = core::str::from_utf8(&bytes[..len]).map_err(|_| "decoded prompt is not UTF-8")?;
    Ok(FixedStr::from_str_lossy(text))
}

fn in_range(s: &str, lo: u32, hi: u32, zero_ok: bool) -> Result<u32, &'static str> {
    let v = parse_u32(s).ok_or("expected a decimal integer")?;
    if (zero_ok && v == 0) || (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err("value out of range")
    }
}

impl BootParams {
    /// Parses `cmdline`, calling `warn` for every rejected token.
    pub fn parse<'a>(cmdline: &'a str, mut warn: impl FnMut(Warning<'a>)) -> BootParams {
        let mut p = BootParams::default();
        for token in cmdline.split_ascii_whitespace() {
            if !token.starts_with("bareflow.") {
                continue;
            }
            let Some((key, value)) = token.split_once('=') else {
                warn(Warning {
                    token,
                    reason: "expected key=value",
                });
                continue;
            };
            let result: Result<(), &'static str> = match key {
                "bareflow.mode" => Mode::from_name(value)
                    .map(|m| p.mode = m)
                    .ok_or("unknown mode (demo|bench|selftest|test-exception|test-panic|llama)"),
                "bareflow.tiers" if value == "adaptive" => {
                    p.adaptive_tiers = true;
                    Ok(())
                }
                "bareflow.tiers" => parse_tiers(value).map(|t| {
                    p.tiers = t;
                    p.adaptive_tiers = false;
                }),
                "bareflow.pool_mib" => in_range(value, 1, 1024, false).map(|v| p.pool_mib = v),
                "bareflow.heap_mib" => in_range(value, 16, 65536, true).map(|v| p.heap_mib = v),
                "bareflow.cpus" => in_range(value, 1, 64, true).map(|v| p.max_cpus = v),
                "bareflow.prompt" => decode_prompt(value).map(|v| p.prompt = Some(v)),
                "bareflow.steps" => in_range(value, 1, 1_000_000, true).map(|v| p.steps = v),
                "bareflow.ctx" => in_range(value, 1, 1_000_000, true).map(|v| p.ctx = v),
                "bareflow.console" => match value {
                    "json" => Ok(Console::Json),
                    "text" => Ok(Console::Text),
                    _ => Err("expected json or text"),
                }
                .map(|c| p.console = c),
                "bareflow.model_bytes" => parse_u64(value)
                    .map(|v| p.model_bytes = v)
                    .ok_or("expected a decimal integer"),
                "bareflow.tokenizer_bytes" => parse_u64(value)
                    .map(|v| p.tokenizer_bytes = v)
                    .ok_or("expected a decimal integer"),
                _ => Err("unknown parameter"),
            };
            if let Err(reason) = result {
                warn(Warning { token, reason });
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn parse(s: &str) -> (BootParams, Vec<Warning<'_>>) {
        let mut w = Vec::new();
        let p = BootParams::parse(s, |x| w.push(x));
        (p, w)
    }

    #[test]
    fn defaults_for_empty_line() {
        let (p, w) = parse("");
        assert_eq!(p, BootParams::default());
        assert!(w.is_empty());
    }

    #[test]
    fn tiers_adaptive_keeps_the_default_thresholds() {
        let (p, w) = parse("bareflow.tiers=adaptive");
        assert!(w.is_empty(), "{w:?}");
        assert!(p.adaptive_tiers);
        assert_eq!(p.tiers, Tiers::default());
        // the last `bareflow.tiers=` wins
        let (p, _) = parse("bareflow.tiers=adaptive bareflow.tiers=1,2,3");
        assert!(!p.adaptive_tiers);
        assert_eq!(p.tiers, Tiers([1, 2, 3]));
        let (p, w) = parse("bareflow.tiers=adaptiv");
        assert!(!p.adaptive_tiers);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn parses_every_parameter() {
        let (p, w) = parse(
            "quiet bareflow.tiers=10,20,30 bareflow.mode=selftest bareflow.pool_mib=32 bareflow.heap_mib=128 bareflow.cpus=2",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.tiers, Tiers([10, 20, 30]));
        assert_eq!(p.mode, Mode::Selftest);
        assert_eq!(p.pool_mib, 32);
        assert_eq!(p.heap_mib, 128);
        assert_eq!(p.max_cpus, 2);
    }

    #[test]
    fn malformed_tokens_warn_and_keep_defaults() {
        let (p, w) = parse(
            "bareflow.tiers=100,abc,3 bareflow.mode=fast bareflow.bogus=1 bareflow.pool_mib=0 bareflow.cpus bareflow.tiers=5,5,6 bareflow.tiers=1,2",
        );
        assert_eq!(p, BootParams::default());
        let tokens: Vec<_> = w.iter().map(|x| x.token).collect();
        assert_eq!(
            tokens,
            [
                "bareflow.tiers=100,abc,3",
                "bareflow.mode=fast",
                "bareflow.bogus=1",
                "bareflow.pool_mib=0",
                "bareflow.cpus",
                "bareflow.tiers=5,5,6",
                "bareflow.tiers=1,2"
            ]
        );
        assert_eq!(w[2].reason, "unknown parameter");
    }

    #[test]
    fn later_valid_value_wins_over_earlier() {
        let (p, w) = parse("bareflow.mode=bench bareflow.mode=test-exception");
        assert!(w.is_empty());
        assert_eq!(p.mode, Mode::TestException);
        for m in [
            Mode::Demo,
            Mode::Bench,
            Mode::Selftest,
            Mode::TestException,
            Mode::TestPanic,
            Mode::Llama,
        ] {
            assert_eq!(Mode::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn llama_parameters() {
        let (p, w) = parse(
            "bareflow.mode=llama bareflow.prompt=Once+upon%20a%2Btime%25 bareflow.steps=64 \
             bareflow.ctx=128 bareflow.console=text bareflow.model_bytes=1234567 \
             bareflow.tokenizer_bytes=433869",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.mode, Mode::Llama);
        assert_eq!(p.prompt.unwrap().as_str(), "Once upon a+time%");
        assert_eq!(p.steps, 64);
        assert_eq!(p.ctx, 128);
        assert_eq!(p.console, Console::Text);
        assert_eq!(p.model_bytes, 1234567);
        assert_eq!(p.tokenizer_bytes, 433869);
    }

    #[test]
    fn prompt_decoding() {
        assert_eq!(decode_prompt("").unwrap().as_str(), "");
        assert_eq!(decode_prompt("caf%C3%A9").unwrap().as_str(), "café");
        assert_eq!(decode_prompt("a%0Ab").unwrap().as_str(), "a\nb");
        assert_eq!(
            decode_prompt("100%").unwrap_err(),
            decode_prompt("%zz").unwrap_err()
        );
        assert!(decode_prompt("%C3").is_err(), "half a UTF-8 character");
        let long = "x".repeat(PROMPT_MAX);
        assert_eq!(decode_prompt(&long).unwrap().as_str(), long);
        assert!(decode_prompt(&(long + "y")).is_err());
    }

    #[test]
    fn malformed_llama_parameters_warn() {
        let (p, w) = parse(
            "bareflow.prompt=50%+off bareflow.steps=0x10 bareflow.console=html \
             bareflow.model_bytes=-1 bareflow.ctx=2000000",
        );
        assert_eq!(p, BootParams::default());
        assert_eq!(w.len(), 5, "{w:?}");
    }
}
