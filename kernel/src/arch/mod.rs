//! x86_64-specific code: entry assembly, CPU identification, descriptor
//! tables, traps and the local APIC.

pub mod apic;
pub mod cpuid;
pub mod entry;
pub mod gdt;
pub mod trap;

/// Stops this CPU for good (interrupts off, `hlt` forever).
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
