//! Kernel command line -> typed boot parameters.
//!
//! Tokens are separated by whitespace. Tokens starting with `bareflow.` are
//! ours; anything else (e.g. options meant for the loader) is ignored. A
//! `bareflow.` token that is unknown or malformed produces a [`Warning`] and
//! leaves that parameter at its default.

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

/// Typed boot parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootParams {
    /// `bareflow.mode=`.
    pub mode: Mode,
    /// `bareflow.tiers=t1,t2,t3` (strictly increasing, each >= 1).
    pub tiers: Tiers,
    /// `bareflow.pool_mib=` size of the executable pool in MiB (1..=1024).
    pub pool_mib: u32,
    /// `bareflow.heap_mib=` kernel heap size in MiB; 0 = sized from RAM.
    pub heap_mib: u32,
    /// `bareflow.cpus=` most CPUs to start (1..=64); 0 = all.
    pub max_cpus: u32,
}

impl Default for BootParams {
    fn default() -> Self {
        BootParams {
            mode: Mode::default(),
            tiers: Tiers::default(),
            pool_mib: 16,
            heap_mib: 0,
            max_cpus: 0,
        }
    }
}

/// Every parameter the kernel knows, with the form it takes.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "bareflow.mode",
        "demo|bench|selftest|test-exception|test-panic",
    ),
    ("bareflow.tiers", "T1,T2,T3 (increasing call counts)"),
    ("bareflow.pool_mib", "1..=1024"),
    ("bareflow.heap_mib", "0 (auto) or 16..=65536"),
    ("bareflow.cpus", "0 (all) or 1..=64"),
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
                    .ok_or("unknown mode (demo|bench|selftest|test-exception|test-panic)"),
                "bareflow.tiers" => parse_tiers(value).map(|t| p.tiers = t),
                "bareflow.pool_mib" => in_range(value, 1, 1024, false).map(|v| p.pool_mib = v),
                "bareflow.heap_mib" => in_range(value, 16, 65536, true).map(|v| p.heap_mib = v),
                "bareflow.cpus" => in_range(value, 1, 64, true).map(|v| p.max_cpus = v),
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
        ] {
            assert_eq!(Mode::from_name(m.name()), Some(m));
        }
    }
}
