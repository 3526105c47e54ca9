//! The serial port (COM1, 115200 8N1): where the trace goes, and where a
//! console reads what is typed ([`try_receive`], polled).
//!
//! One lock serializes all output; it records which CPU holds it so the
//! exception and panic paths can take it over from a CPU that faulted while
//! printing (instead of deadlocking on themselves). The UART itself is
//! `arch/x86_64/port.rs`.

use crate::arch::port::{self, Uart};
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::{Mutex, MutexGuard};

const NO_OWNER: u32 = u32::MAX;

static PORT: Mutex<Option<Uart>> = Mutex::new(None);
static OWNER: AtomicU32 = AtomicU32::new(NO_OWNER);

/// Programs COM1. Without a UART (some real machines) output is dropped.
pub(crate) fn init() {
    if let Some(uart) = port::com1() {
        *PORT.lock() = Some(uart);
    }
}

/// Exclusive access to the port; writes through `fmt::Write`.
pub struct SerialGuard {
    guard: MutexGuard<'static, Option<Uart>>,
}

impl fmt::Write for SerialGuard {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(uart) = self.guard.as_mut() {
            uart.send_bytes_exact(s.as_bytes());
        }
        Ok(())
    }
}

impl Drop for SerialGuard {
    fn drop(&mut self) {
        OWNER.store(NO_OWNER, Ordering::Release);
    }
}

/// Takes the port lock (spins while another CPU prints).
pub(crate) fn lock(cpu: u32) -> SerialGuard {
    let guard = PORT.lock();
    OWNER.store(cpu, Ordering::Release);
    SerialGuard { guard }
}

/// Takes the port for a last message: if `cpu` itself holds the lock (it
/// faulted mid-line) or the holder does not let go within `spins` attempts,
/// the lock is broken. Returns the guard and whether a line was cut.
pub(crate) fn lock_emergency(cpu: u32, spins: u64) -> (SerialGuard, bool) {
    let mut tries = 0u64;
    loop {
        if let Some(guard) = PORT.try_lock() {
            OWNER.store(cpu, Ordering::Release);
            return (SerialGuard { guard }, false);
        }
        if OWNER.load(Ordering::Acquire) == cpu || tries >= spins {
            // SAFETY: the holder is this very CPU (interrupted inside the
            // critical section, never to resume it) or a CPU that stopped
            // making progress; the port is only ever written byte-wise, so
            // the worst outcome is one cut line, which the caller ends.
            unsafe { PORT.force_unlock() };
        }
        tries += 1;
        core::hint::spin_loop();
    }
}

/// The next byte COM1 received, if one is waiting (polls the UART's
/// data-ready bit; never blocks). `None` as well on machines without a UART.
pub fn try_receive() -> Option<u8> {
    let mut port = lock(crate::cpu::current_index());
    port.guard.as_mut()?.try_receive_byte().ok()
}

/// Writes raw bytes, whole, between trace lines: the plain-text console
/// (outside the JSON trace contract, for a person at a terminal).
pub fn write_bytes(bytes: &[u8]) {
    let mut port = lock(crate::cpu::current_index());
    if let Some(uart) = port.guard.as_mut() {
        uart.send_bytes_exact(bytes);
    }
}
