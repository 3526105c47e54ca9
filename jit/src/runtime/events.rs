//! Trace events, the sink that receives them, and the clock the engine reads.

use crate::ir::{Tier, TrapKind};
use alloc::string::String;
use core::fmt::{self, Write};

/// A monotonic time source.
pub trait Clock: Send + Sync {
    fn now_ns(&self) -> u64;
    fn cycles(&self) -> u64 {
        0
    }
}

/// Receives the engine's events (the kernel writes them to COM1 as JSON lines).
pub trait TraceSink: Send + Sync {
    fn event(&self, ev: &Event);
}

/// A sink that drops every event.
pub struct NullSink;

impl TraceSink for NullSink {
    fn event(&self, _ev: &Event) {}
}

/// A clock that always reads 0 (for embedders without a time source).
pub struct NullClock;

impl Clock for NullClock {
    fn now_ns(&self) -> u64 {
        0
    }
}

/// The standard library's monotonic clock.
#[cfg(feature = "std")]
pub struct StdClock {
    start: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    pub fn new() -> StdClock {
        StdClock {
            start: std::time::Instant::now(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// An engine event; names and fields are the serial trace contract (README, "Serial
/// trace"; ARCHITECTURE.md, "Trace events of the JIT"): extended, never renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    TierUp {
        kernel: String,
        from: Tier,
        to: Tier,
        calls: u64,
        compile_ns: u64,
        compile_cycles: u64,
        code_bytes: usize,
        compiler_cpu: u32,
    },
    CompileError {
        kernel: String,
        tier: Tier,
        reason: String,
    },
    Trap {
        kernel: String,
        tier: Tier,
        kind: TrapKind,
    },
    Deopt {
        kernel: String,
        tier: Tier,
        reason: String,
    },
    PoolExhausted {
        kernel: String,
        tier: Tier,
        requested: usize,
        free: usize,
    },
}

struct JsonStr<'a>(&'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

impl Event {
    /// The `ev` name of the event.
    pub fn name(&self) -> &'static str {
        match self {
            Event::TierUp { .. } => "tier_up",
            Event::CompileError { .. } => "compile_error",
            Event::Trap { .. } => "trap",
            Event::Deopt { .. } => "deopt",
            Event::PoolExhausted { .. } => "pool_exhausted",
        }
    }

    /// Writes the event-specific fields as JSON members, without braces
    /// (the embedder adds `ev`, `t_us` and `cpu`).
    pub fn write_json_fields(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Event::TierUp {
                kernel,
                from,
                to,
                calls,
                compile_ns,
                compile_cycles,
                code_bytes,
                compiler_cpu,
            } => write!(
                out,
                "\"kernel\":{},\"from\":\"{}\",\"to\":\"{}\",\"calls\":{},\"compile_us\":{},\"compile_ns\":{},\"compile_cycles\":{},\"code_bytes\":{},\"compiler_cpu\":{}",
                JsonStr(kernel),
                from,
                to,
                calls,
                compile_ns / 1000,
                compile_ns,
                compile_cycles,
                code_bytes,
                compiler_cpu
            ),
            Event::CompileError {
                kernel,
                tier,
                reason,
            }
            | Event::Deopt {
                kernel,
                tier,
                reason,
            } => {
                write!(
                    out,
                    "\"kernel\":{},\"tier\":\"{}\",\"reason\":{}",
                    JsonStr(kernel),
                    tier,
                    JsonStr(reason)
                )
            }
            Event::Trap { kernel, tier, kind } => write!(
                out,
                "\"kernel\":{},\"tier\":\"{}\",\"reason\":{}",
                JsonStr(kernel),
                tier,
                JsonStr(kind.name())
            ),
            Event::PoolExhausted {
                kernel,
                tier,
                requested,
                free,
            } => write!(
                out,
                "\"kernel\":{},\"tier\":\"{}\",\"requested\":{},\"free\":{}",
                JsonStr(kernel),
                tier,
                requested,
                free
            ),
        }
    }
}
