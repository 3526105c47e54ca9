//! COM1 (16550 UART at I/O port 0x3f8), 115200 8N1.
//!
//! One lock serializes all output; it records which CPU holds it so the
//! exception and panic paths can take it over from a CPU that faulted while
//! printing (instead of deadlocking on themselves).

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::{Mutex, MutexGuard};
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550};

const COM1: u16 = 0x3f8;
const NO_OWNER: u32 = u32::MAX;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);
static OWNER: AtomicU32 = AtomicU32::new(NO_OWNER);

/// Programs COM1. Without a UART (some real machines) output is dropped.
pub fn init() {
    // SAFETY: 0x3f8..0x3ff is COM1's standard I/O range; only this module
    // touches it.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1) }) else {
        return;
    };
    let config = Config {
        baud_rate: BaudRate::Baud115200,
        ..Config::default()
    };
    if uart.init(config).is_ok() {
        *PORT.lock() = Some(uart);
    }
}

/// Exclusive access to the port; writes through `fmt::Write`.
pub struct SerialGuard {
    guard: MutexGuard<'static, Option<Uart16550<PioBackend>>>,
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
pub fn lock(cpu: u32) -> SerialGuard {
    let guard = PORT.lock();
    OWNER.store(cpu, Ordering::Release);
    SerialGuard { guard }
}

/// Takes the port for a last message: if `cpu` itself holds the lock (it
/// faulted mid-line) or the holder does not let go within `spins` attempts,
/// the lock is broken. Returns the guard and whether a line was cut.
pub fn lock_emergency(cpu: u32, spins: u64) -> (SerialGuard, bool) {
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
