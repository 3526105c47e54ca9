//! Time stamp counter: boot timestamp, frequency, microsecond clock.
//!
//! The frequency comes from CPUID leaf 0x15 (crystal ratio), else 0x16
//! (base MHz), else the hypervisor timing leaf 0x4000_0010, else it is
//! measured against PIT channel 2 over 10 ms.

use crate::arch::cpuid;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use x86_64::instructions::port::Port;

static BOOT: AtomicU64 = AtomicU64::new(0);
static HZ: AtomicU64 = AtomicU64::new(0);
static SOURCE: AtomicU8 = AtomicU8::new(0);

/// Where the frequency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Not determined yet.
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

/// Reads the TSC.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged and side-effect free.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Marks time zero. Called first thing on the BSP.
pub fn record_boot() {
    BOOT.store(rdtsc(), Ordering::SeqCst);
}

/// TSC frequency in Hz (0 before `init`).
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

/// Microseconds since `record_boot` (0 until the frequency is known).
pub fn now_us() -> u64 {
    let hz = hz();
    if hz == 0 {
        return 0;
    }
    let dt = rdtsc().saturating_sub(BOOT.load(Ordering::Relaxed));
    ((dt as u128 * 1_000_000) / hz as u128) as u64
}

/// Busy-waits `us` microseconds.
pub fn delay_us(us: u64) {
    let hz = hz().max(1_000_000);
    let end = rdtsc() + us * (hz / 1_000_000);
    while rdtsc() < end {
        core::hint::spin_loop();
    }
}

fn from_cpuid() -> Option<(u64, Source)> {
    let max = cpuid::max_leaf();
    if max >= 0x15 {
        let r = cpuid::leaf(0x15);
        if r.eax != 0 && r.ebx != 0 && r.ecx != 0 {
            return Some((
                r.ecx as u64 * r.ebx as u64 / r.eax as u64,
                Source::CpuidCrystal,
            ));
        }
    }
    if max >= 0x16 {
        let mhz = cpuid::leaf(0x16).eax & 0xffff;
        if mhz != 0 {
            return Some((mhz as u64 * 1_000_000, Source::CpuidBase));
        }
    }
    if let Some((_, max_hv)) = cpuid::hypervisor_signature()
        && max_hv >= 0x4000_0010
    {
        let khz = cpuid::leaf(0x4000_0010).eax;
        if khz != 0 {
            return Some((khz as u64 * 1000, Source::Hypervisor));
        }
    }
    None
}

const PIT_HZ: u64 = 1_193_182;

/// Counts TSC ticks while PIT channel 2 counts down 10 ms. `None` if the
/// PIT never signals (no PIT on this machine).
fn from_pit() -> Option<u64> {
    let mut gate: Port<u8> = Port::new(0x61);
    let mut cmd: Port<u8> = Port::new(0x43);
    let mut ch2: Port<u8> = Port::new(0x42);
    let latch: u64 = PIT_HZ / 100;
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate on
    // every PC-compatible machine; the speaker stays off (bit 1 cleared).
    unsafe {
        let g = gate.read();
        gate.write((g & !0x02) | 0x01);
        cmd.write(0xb0); // channel 2, lobyte/hibyte, mode 0, binary
        ch2.write((latch & 0xff) as u8);
        ch2.write((latch >> 8) as u8);
        let t0 = rdtsc();
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 {
            spins += 1;
            if spins > 200_000_000 {
                return None;
            }
        }
        let t1 = rdtsc();
        Some((t1 - t0) * PIT_HZ / latch)
    }
}

/// Determines the frequency. Returns false when it had to be guessed.
pub fn init() -> bool {
    let (hz, src, ok) = match from_cpuid() {
        Some((hz, src)) => (hz, src, true),
        None => match from_pit() {
            Some(hz) if hz > 0 => (hz, Source::Pit, true),
            _ => (2_000_000_000, Source::Unknown, false),
        },
    };
    HZ.store(hz, Ordering::SeqCst);
    SOURCE.store(src as u8, Ordering::SeqCst);
    ok
}
