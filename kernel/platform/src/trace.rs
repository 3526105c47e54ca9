//! The serial trace: one JSON object per line (see README "Serial trace").
//!
//! `emit("name", |e| { e.u64("field", 1); })` writes
//! `{"ev":"name","t_us":...,"cpu":...,"field":1}` atomically with respect to
//! other CPUs. Usable from any CPU once the platform started the application.

use crate::{cpu, serial, time};
use bareflow_boot_model::json;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

static MUTED: AtomicBool = AtomicBool::new(false);

/// Stops (`true`) or resumes ordinary event lines: a plain-text console for
/// a person mutes the JSON trace. Exceptions and panics are written anyway.
pub fn mute(muted: bool) {
    MUTED.store(muted, Ordering::Release);
}

pub use crate::serial::SerialGuard;

/// An event being written (its fields are added with `str`, `u64`, ...).
pub type Event<'w> = json::Event<'w, SerialGuard>;

/// Writes one event line.
pub fn emit(ev: &str, fill: impl FnOnce(&mut Event<'_>)) {
    if MUTED.load(Ordering::Acquire) {
        return;
    }
    let cpu = cpu::current_index();
    let t = time::now_us();
    let mut port = serial::lock(cpu);
    let mut e = Event::begin(&mut port, ev, t, cpu);
    fill(&mut e);
    let _ = e.finish();
}

/// Writes one event line from a context that may have interrupted another
/// line on this CPU (exception, panic): breaks the lock if needed and
/// starts on a fresh line.
pub(crate) fn emit_emergency(ev: &str, fill: impl FnOnce(&mut Event<'_>)) {
    let cpu = cpu::current_index();
    let t = time::now_us();
    let (mut port, cut) = serial::lock_emergency(cpu, 50_000_000);
    if cut {
        let _ = port.write_str("\n");
    }
    let mut e = Event::begin(&mut port, ev, t, cpu);
    fill(&mut e);
    let _ = e.finish();
}

/// A `warn` event: something was wrong but the kernel carries on.
pub fn warn(what: &str, detail: core::fmt::Arguments<'_>) {
    emit("warn", |e| {
        e.str("what", what).display("detail", detail);
    });
}
