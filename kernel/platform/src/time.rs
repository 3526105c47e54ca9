//! Time: the TSC as a cycle counter and a microsecond clock since boot.

use crate::arch::tsc;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

static BOOT: AtomicU64 = AtomicU64::new(0);
static HZ: AtomicU64 = AtomicU64::new(0);
static SOURCE: AtomicU8 = AtomicU8::new(0);

/// Where the TSC frequency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Not determined (a guess of 2 GHz is used).
    Unknown,
    /// CPUID 0x15.
    CpuidCrystal,
    /// CPUID 0x16.
    CpuidBase,
    /// Hypervisor leaf 0x4000_0010.
    Hypervisor,
    /// Measured against the PIT.
    Pit,
}

impl Source {
    /// Name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Source::Unknown => "unknown",
            Source::CpuidCrystal => "cpuid_0x15",
            Source::CpuidBase => "cpuid_0x16",
            Source::Hypervisor => "hypervisor_0x40000010",
            Source::Pit => "pit_calibration",
        }
    }
}

/// The CPU's cycle counter (the TSC).
#[inline]
pub fn cycles() -> u64 {
    tsc::rdtsc()
}

/// Marks time zero. Called first thing on the BSP.
pub(crate) fn record_boot() {
    BOOT.store(cycles(), Ordering::SeqCst);
}

/// Cycle-counter frequency in Hz (0 before the platform measured it).
pub fn hz() -> u64 {
    HZ.load(Ordering::Relaxed)
}

/// How the frequency was found.
pub fn source() -> Source {
    match SOURCE.load(Ordering::Relaxed) {
        1 => Source::CpuidCrystal,
        2 => Source::CpuidBase,
        3 => Source::Hypervisor,
        4 => Source::Pit,
        _ => Source::Unknown,
    }
}

/// Microseconds since the kernel's first instruction (0 until the frequency
/// is known).
pub fn now_us() -> u64 {
    let hz = hz();
    if hz == 0 {
        return 0;
    }
    let dt = cycles().saturating_sub(BOOT.load(Ordering::Relaxed));
    ((dt as u128 * 1_000_000) / hz as u128) as u64
}

/// Busy-waits `us` microseconds.
pub fn delay_us(us: u64) {
    let hz = hz().max(1_000_000);
    let end = cycles() + us * (hz / 1_000_000);
    while cycles() < end {
        core::hint::spin_loop();
    }
}

/// Determines the frequency. Returns false when it had to be guessed.
pub(crate) fn init() -> bool {
    let (hz, src, ok) = match tsc::frequency() {
        Some((hz, src)) => (hz, src, true),
        None => (2_000_000_000, Source::Unknown, false),
    };
    HZ.store(hz, Ordering::SeqCst);
    SOURCE.store(src as u8, Ordering::SeqCst);
    ok
}
