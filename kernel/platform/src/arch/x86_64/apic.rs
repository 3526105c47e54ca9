//! Local APIC: identification, end-of-interrupt and inter-processor
//! interrupts, in xAPIC (MMIO) or x2APIC (MSR) mode, whichever the firmware
//! or loader left enabled.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const X2APIC_ENABLE: u64 = 1 << 10;

const REG_ID: u32 = 0x20;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;

const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_INIT: u32 = 0x500;
const ICR_STARTUP: u32 = 0x600;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;

/// Virtual address of the xAPIC register page (0 until mapped).
static MMIO: AtomicU64 = AtomicU64::new(0);
static X2APIC: AtomicBool = AtomicBool::new(false);

/// Physical base of the xAPIC registers as IA32_APIC_BASE reports it.
pub(crate) fn phys_base() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (all x86_64).
    unsafe { Msr::new(IA32_APIC_BASE).read() & 0x000f_ffff_ffff_f000 }
}

/// Records how to reach the APIC: `mmio_virt` is where the register page is
/// mapped (uncached). Call once on the BSP before any other function.
pub(crate) fn set_mmio(mmio_virt: u64) {
    // SAFETY: as in `phys_base`.
    let base = unsafe { Msr::new(IA32_APIC_BASE).read() };
    X2APIC.store(base & X2APIC_ENABLE != 0, Ordering::SeqCst);
    MMIO.store(mmio_virt, Ordering::SeqCst);
}

/// Whether x2APIC mode is in use.
pub(crate) fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

fn read(reg: u32) -> u32 {
    if is_x2apic() {
        // SAFETY: x2APIC mode is enabled, so MSR 0x800 + reg/16 is the register.
        unsafe { Msr::new(0x800 + (reg >> 4)).read() as u32 }
    } else {
        let base = MMIO.load(Ordering::Relaxed);
        assert!(base != 0, "local APIC used before it was mapped");
        // SAFETY: `base` maps the 4 KiB APIC register page; `reg` is a
        // register offset inside it, 16-byte aligned.
        unsafe { core::ptr::read_volatile((base + reg as u64) as *const u32) }
    }
}

fn write(reg: u32, value: u32) {
    if is_x2apic() {
        // SAFETY: as in `read`.
        unsafe { Msr::new(0x800 + (reg >> 4)).write(value as u64) }
    } else {
        let base = MMIO.load(Ordering::Relaxed);
        assert!(base != 0, "local APIC used before it was mapped");
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile((base + reg as u64) as *mut u32, value) }
    }
}

/// Enables the calling CPU's APIC (spurious vector register).
pub(crate) fn enable_local() {
    write(REG_SVR, (1 << 8) | super::idt::SPURIOUS_VECTOR as u32);
}

/// The calling CPU's APIC id.
pub(crate) fn id() -> u32 {
    let raw = read(REG_ID);
    if is_x2apic() { raw } else { raw >> 24 }
}

/// Signals end of interrupt.
pub(crate) fn eoi() {
    write(REG_EOI, 0);
}

fn send(dest: u32, low: u32) {
    if is_x2apic() {
        // SAFETY: x2APIC mode: the ICR is the single MSR 0x830.
        unsafe { Msr::new(0x830).write(((dest as u64) << 32) | low as u64) }
    } else {
        write(REG_ICR_HIGH, dest << 24);
        write(REG_ICR_LOW, low);
        while read(REG_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
            core::hint::spin_loop();
        }
    }
}

/// INIT IPI to `dest`.
pub(crate) fn send_init(dest: u32) {
    send(dest, ICR_INIT | ICR_LEVEL_ASSERT);
}

/// Start-up IPI to `dest`: start in real mode at `page << 12`.
pub(crate) fn send_startup(dest: u32, page: u8) {
    send(dest, ICR_STARTUP | ICR_LEVEL_ASSERT | page as u32);
}

/// Fixed interrupt `vector` to `dest`.
pub(crate) fn send_fixed(dest: u32, vector: u8) {
    send(dest, vector as u32 | ICR_LEVEL_ASSERT);
}
