//! The time stamp counter and how fast it runs.
//!
//! The frequency comes from CPUID leaf 0x15 (crystal ratio), else 0x16
//! (base MHz), else the hypervisor timing leaf 0x4000_0010, else it is
//! measured against PIT channel 2 over 10 ms.

use super::cpuid;
use crate::time::Source;
use x86_64::instructions::port::Port;

/// Reads the TSC.
#[inline]
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged and side-effect free.
    unsafe { core::arch::x86_64::_rdtsc() }
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

/// The TSC frequency and where it came from; `None` when it could not be
/// found (no usable CPUID leaf, no PIT).
pub(crate) fn frequency() -> Option<(u64, Source)> {
    from_cpuid().or_else(|| from_pit().filter(|&hz| hz > 0).map(|hz| (hz, Source::Pit)))
}
