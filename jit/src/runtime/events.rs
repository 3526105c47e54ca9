//! Trace events, the sink that receives them, and the clock the engine reads.

use crate::ir::{Tier, TrapKind};
use alloc::string::String;
use core::fmt::{self, Write};

/// A monotonic time source.
pub trait Clock: Send + Sync {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    fn now_ns(&self) -> u64;
    /// A cycle counter (the TSC in the kernel), for `compile_cycles`; 0 when the
    /// embedder has none.
    fn cycles(&self) -> u64 {
        0
    }
}

/// Receives the engine's events (the kernel writes them to COM1 as JSON lines).
pub trait TraceSink: Send + Sync {
    /// Called for every event, on the CPU where it happened (possibly the compiling
    /// CPU, concurrently with callers); must not call back into the engine.
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
    /// A clock whose origin (0 ns) is now.
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
    /// `tier_up`: new code for a kernel was published; calls from now on run it.
    TierUp {
        /// The kernel (IR function) name.
        kernel: String,
        /// The tier it ran at before.
        from: Tier,
        /// The tier of the published code.
        to: Tier,
        /// The call count that requested the compilation.
        calls: u64,
        /// Compile time in nanoseconds (the trace also gives it in microseconds).
        compile_ns: u64,
        /// Compile time in clock cycles ([`Clock::cycles`]).
        compile_cycles: u64,
        /// Size of the machine code in bytes.
        code_bytes: usize,
        /// Hash of the new tier's code, independent of addresses (`CodeUnit::code_hash`):
        /// written as 16 hex digits.
        code_hash: u64,
        /// Index of the CPU that compiled it.
        compiler_cpu: u32,
    },
    /// `compile_error`: a tier failed to compile; the kernel stays below it.
    CompileError {
        /// The kernel name.
        kernel: String,
        /// The tier that failed.
        tier: Tier,
        /// The compiler's message.
        reason: String,
    },
    /// `trap`: an IR trap; the call returns it as an error value.
    Trap {
        /// The kernel name.
        kernel: String,
        /// The tier that raised it.
        tier: Tier,
        /// What went wrong (written as `reason`).
        kind: TrapKind,
    },
    /// `deopt`: a T3 guard missed (T2 ran), or the kernel was sent back to T0 for good.
    Deopt {
        /// The kernel name.
        kernel: String,
        /// The tier that was left.
        tier: Tier,
        /// Why.
        reason: String,
    },
    /// `pool_exhausted`: no room for the new code; the kernel keeps its tier.
    PoolExhausted {
        /// The kernel name.
        kernel: String,
        /// The tier that could not be installed.
        tier: Tier,
        /// Bytes the code needed.
        requested: usize,
        /// Bytes free in the pool at the time.
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
                code_hash,
                compiler_cpu,
            } => write!(
                out,
                "\"kernel\":{},\"from\":\"{}\",\"to\":\"{}\",\"calls\":{},\"compile_us\":{},\"compile_ns\":{},\"compile_cycles\":{},\"code_bytes\":{},\"code_hash\":\"{:016x}\",\"compiler_cpu\":{}",
                JsonStr(kernel),
                from,
                to,
                calls,
                compile_ns / 1000,
                compile_ns,
                compile_cycles,
                code_bytes,
                code_hash,
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
