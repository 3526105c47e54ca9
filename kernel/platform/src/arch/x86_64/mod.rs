//! x86_64: entry assembly, CPU identification, descriptor tables, traps,
//! the local APIC, page tables, the TSC, port I/O, per-CPU access (GS base),
//! application-processor start-up and the recovery assembly.

pub(crate) mod apic;
pub(crate) mod cpuid;
pub(crate) mod entry;
pub(crate) mod gdt;
pub(crate) mod idt;
pub(crate) mod paging;
pub(crate) mod pci_config;
pub(crate) mod percpu;
pub(crate) mod port;
pub(crate) mod recovery;
pub(crate) mod smp;
pub(crate) mod stack;
pub(crate) mod tsc;

/// Stops this CPU for good (interrupts off, `hlt` forever).
pub(crate) fn halt_forever() -> ! {
    loop {
        ::x86_64::instructions::interrupts::disable();
        ::x86_64::instructions::hlt();
    }
}

/// Masks interrupts on this CPU.
pub(crate) fn disable_interrupts() {
    ::x86_64::instructions::interrupts::disable();
}

/// Unmasks interrupts and halts until the next one, atomically (`sti; hlt`):
/// an interrupt that arrives between the two still ends the halt.
pub(crate) fn enable_interrupts_and_halt() {
    ::x86_64::instructions::interrupts::enable_and_hlt();
}

/// Serializes the instruction stream of this CPU (CPUID is architecturally
/// serializing): code written through another mapping, or by another CPU, is
/// fetched afresh after it.
pub(crate) fn serialize_instructions() {
    core::arch::x86_64::__cpuid(0);
}

/// Raises `#UD` (`ud2`). The trap handler reports it and never returns here.
pub(crate) fn invalid_opcode() -> ! {
    // SAFETY: `ud2` only raises #UD; the handler stops the machine (it is not
    // in any recoverable range), so execution never continues past it.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack, noreturn)) }
}
