//! The engine's clock (TSC) and trace sink (COM1 JSON lines), plus a small
//! in-memory record of tier-ups and traps for the runtime's self-tests.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use jit::{Clock, Event, Tier, TraceSink};
use platform::mem::exec_pool;
use platform::{cpu, time, trace};
use spin::Mutex;

/// The TSC as the engine's clock.
pub struct TscClock;

impl Clock for TscClock {
    fn now_ns(&self) -> u64 {
        let hz = time::hz().max(1);
        (time::cycles() as u128 * 1_000_000_000 / hz as u128) as u64
    }

    fn cycles(&self) -> u64 {
        time::cycles()
    }
}

/// A tier-up as the self-tests check it.
#[derive(Clone, Debug)]
pub struct TierUpRecord {
    pub kernel: String,
    pub from: Tier,
    pub to: Tier,
    pub calls: u64,
    pub compile_cycles: u64,
    /// Compile time in nanoseconds (the engine's clock).
    pub compile_ns: u64,
    pub code_bytes: usize,
    /// The CPU that published it (emitted the event).
    pub cpu: u32,
}

/// Writes every engine event to the serial trace; optionally records tier-ups.
pub struct SerialSink {
    /// Whether events go to COM1 (the bench engines stay quiet).
    pub emit: bool,
    tier_ups: Mutex<Vec<TierUpRecord>>,
    traps: AtomicU64,
    pool_events: AtomicU64,
}

impl SerialSink {
    /// A sink that writes to COM1 when `emit`.
    pub const fn new(emit: bool) -> SerialSink {
        SerialSink {
            emit,
            tier_ups: Mutex::new(Vec::new()),
            traps: AtomicU64::new(0),
            pool_events: AtomicU64::new(0),
        }
    }

    /// Tier-ups seen so far.
    pub fn tier_ups(&self) -> Vec<TierUpRecord> {
        self.tier_ups.lock().clone()
    }

    /// Trap events seen so far.
    pub fn traps(&self) -> u64 {
        self.traps.load(Ordering::Relaxed)
    }

    /// Pool-exhausted events seen so far.
    pub fn pool_exhausted(&self) -> u64 {
        self.pool_events.load(Ordering::Relaxed)
    }
}

struct Fields<'a>(&'a Event);

impl core::fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.write_json_fields(f)
    }
}

/// Emits `pool` with the global pool's usage.
pub fn emit_pool(reason: &str) {
    let Some(p) = exec_pool::get() else {
        return;
    };
    let s = p.stats();
    trace::emit("pool", |e| {
        e.str("reason", reason)
            .u64("capacity", s.capacity)
            .u64("used", s.used)
            .u64("peak", s.peak)
            .u64("blocks", s.live)
            .u64("largest_free", s.largest_free);
    });
}

impl TraceSink for SerialSink {
    fn event(&self, ev: &Event) {
        let cpu = cpu::current_index();
        match ev {
            Event::TierUp {
                kernel,
                from,
                to,
                calls,
                compile_cycles,
                compile_ns,
                code_bytes,
                ..
            } => self.tier_ups.lock().push(TierUpRecord {
                kernel: kernel.clone(),
                from: *from,
                to: *to,
                calls: *calls,
                compile_cycles: *compile_cycles,
                compile_ns: *compile_ns,
                code_bytes: *code_bytes,
                cpu,
            }),
            Event::Trap { .. } => {
                self.traps.fetch_add(1, Ordering::Relaxed);
            }
            Event::PoolExhausted { .. } => {
                self.pool_events.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if !self.emit {
            return;
        }
        // The jit writes the event's own fields (the contract's names, ARCHITECTURE.md); a trap also gets
        // `kind` next to the contract's `reason`.
        trace::emit(ev.name(), |e| {
            e.members(Fields(ev));
            if let Event::Trap { kind, .. } = ev {
                e.str("kind", kind.name());
            }
        });
        if let Event::TierUp { .. } | Event::PoolExhausted { .. } = ev {
            emit_pool(ev.name());
        }
    }
}
