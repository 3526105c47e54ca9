//! Interrupt descriptor table, trap entry stubs and the trap dispatcher.
//!
//! Every vector enters through a tiny assembly stub that pushes a uniform
//! [`TrapFrame`] (vector, error code, all general registers, and the FPU/SSE
//! state) and calls [`trap_dispatch`]. Exceptions are reported as one
//! `exception` event (vector, error code, RIP, CR2 and a frame-pointer stack
//! walk) and the machine stops with an exit code, unless the fault-recovery
//! service (`crate::fault`) recovers it; the wake-up IPI of parked CPUs and
//! spurious interrupts just return.

use super::apic;
use super::gdt::{IST_CRITICAL, IST_EXCEPTION};
use super::recovery;
use crate::fault::{self, FaultInfo, Recovery};
use bareflow_boot_model::exit::ExitCode;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::InterruptDescriptorTable;

/// Vector of the IPI that wakes a parked CPU.
pub(crate) const WAKE_VECTOR: u8 = 0xf0;
/// Local APIC spurious-interrupt vector.
pub(crate) const SPURIOUS_VECTOR: u8 = 0xff;

/// Registers saved on trap entry (lowest address first).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

global_asm!(
    r#"
    .macro TRAP_NOERR v
    .global trap_\v
trap_\v:
    pushq $0
    pushq $\v
    jmp trap_common
    .endm
    .macro TRAP_ERR v
    .global trap_\v
trap_\v:
    pushq $\v
    jmp trap_common
    .endm

    .section .text.trap, "ax"
    TRAP_NOERR 0
    TRAP_NOERR 1
    TRAP_NOERR 2
    TRAP_NOERR 3
    TRAP_NOERR 4
    TRAP_NOERR 5
    TRAP_NOERR 6
    TRAP_NOERR 7
    TRAP_ERR 8
    TRAP_NOERR 9
    TRAP_ERR 10
    TRAP_ERR 11
    TRAP_ERR 12
    TRAP_ERR 13
    TRAP_ERR 14
    TRAP_NOERR 15
    TRAP_NOERR 16
    TRAP_ERR 17
    TRAP_NOERR 18
    TRAP_NOERR 19
    TRAP_NOERR 20
    TRAP_ERR 21
    TRAP_NOERR 22
    TRAP_NOERR 23
    TRAP_NOERR 24
    TRAP_NOERR 25
    TRAP_NOERR 26
    TRAP_NOERR 27
    TRAP_NOERR 28
    TRAP_ERR 29
    TRAP_ERR 30
    TRAP_NOERR 31
    TRAP_NOERR 240
    TRAP_NOERR 255

trap_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rbx
    pushq %rbp
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    subq $512, %rsp
    fxsave64 (%rsp)
    cld
    call trap_dispatch
    fxrstor64 (%rsp)
    addq $512, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rbp
    popq %rbx
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp
    iretq

    .section .rodata.trap, "a"
    .balign 8
    .global trap_stub_table
trap_stub_table:
    .quad trap_0, trap_1, trap_2, trap_3, trap_4, trap_5, trap_6, trap_7
    .quad trap_8, trap_9, trap_10, trap_11, trap_12, trap_13, trap_14, trap_15
    .quad trap_16, trap_17, trap_18, trap_19, trap_20, trap_21, trap_22, trap_23
    .quad trap_24, trap_25, trap_26, trap_27, trap_28, trap_29, trap_30, trap_31
    .quad trap_240, trap_255
    .text
"#,
    options(att_syntax)
);

unsafe extern "C" {
    static trap_stub_table: [u64; 34];
}

fn stub(vector: usize) -> VirtAddr {
    // SAFETY: the table is immutable data emitted by the assembly above.
    let table = unsafe { &trap_stub_table };
    let slot = match vector {
        0..=31 => vector,
        0xf0 => 32,
        _ => 33,
    };
    VirtAddr::new(table[slot])
}

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Set while `test-exception` mode deliberately faults.
static EXPECTING: AtomicBool = AtomicBool::new(false);

/// Declares that the next exception is deliberate (test-exception mode).
pub(crate) fn expect_exception() {
    EXPECTING.store(true, Ordering::SeqCst);
}

/// Builds the IDT (once) and loads it on the calling CPU.
pub(crate) fn load_idt() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        // SAFETY: (all `set_handler_addr`/`set_stack_index` below) each
        // address is an assembly stub that saves a full TrapFrame and ends in
        // `iretq`, and the IST indices name stacks every CPU's TSS provides.
        unsafe {
            macro_rules! set {
                ($field:ident, $v:expr, $ist:expr) => {
                    idt.$field.set_handler_addr(stub($v)).set_stack_index($ist);
                };
            }
            set!(divide_error, 0, IST_EXCEPTION);
            set!(debug, 1, IST_EXCEPTION);
            set!(non_maskable_interrupt, 2, IST_CRITICAL);
            set!(breakpoint, 3, IST_EXCEPTION);
            set!(overflow, 4, IST_EXCEPTION);
            set!(bound_range_exceeded, 5, IST_EXCEPTION);
            set!(invalid_opcode, 6, IST_EXCEPTION);
            set!(device_not_available, 7, IST_EXCEPTION);
            set!(double_fault, 8, IST_CRITICAL);
            set!(invalid_tss, 10, IST_EXCEPTION);
            set!(segment_not_present, 11, IST_EXCEPTION);
            set!(stack_segment_fault, 12, IST_EXCEPTION);
            set!(general_protection_fault, 13, IST_EXCEPTION);
            set!(page_fault, 14, IST_EXCEPTION);
            set!(x87_floating_point, 16, IST_EXCEPTION);
            set!(alignment_check, 17, IST_EXCEPTION);
            set!(machine_check, 18, IST_CRITICAL);
            set!(simd_floating_point, 19, IST_EXCEPTION);
            set!(virtualization, 20, IST_EXCEPTION);
            set!(cp_protection_exception, 21, IST_EXCEPTION);
            set!(hv_injection_exception, 28, IST_EXCEPTION);
            set!(vmm_communication_exception, 29, IST_EXCEPTION);
            set!(security_exception, 30, IST_EXCEPTION);
            idt[WAKE_VECTOR].set_handler_addr(stub(WAKE_VECTOR as usize));
            idt[SPURIOUS_VECTOR].set_handler_addr(stub(SPURIOUS_VECTOR as usize));
        }
        idt
    });
    idt.load();
}

/// Exception names, by vector.
pub(crate) fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide_error",
        1 => "debug",
        2 => "nmi",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound_range_exceeded",
        6 => "invalid_opcode",
        7 => "device_not_available",
        8 => "double_fault",
        10 => "invalid_tss",
        11 => "segment_not_present",
        12 => "stack_segment_fault",
        13 => "general_protection_fault",
        14 => "page_fault",
        16 => "x87_floating_point",
        17 => "alignment_check",
        18 => "machine_check",
        19 => "simd_floating_point",
        20 => "virtualization",
        21 => "control_protection",
        28 => "hypervisor_injection",
        29 => "vmm_communication",
        30 => "security",
        _ => "reserved",
    }
}

fn page_fault_detail(err: u64) -> &'static str {
    match (err & 1 != 0, err & 2 != 0, err & 16 != 0) {
        (_, _, true) => "instruction fetch from a non-executable or unmapped page",
        (true, true, _) => "write to a read-only page",
        (true, false, _) => "read violated page protection",
        (false, true, _) => "write to an unmapped page",
        (false, false, _) => "read of an unmapped page",
    }
}

/// Entered from `trap_common` with interrupts off.
#[unsafe(no_mangle)]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        v if v == WAKE_VECTOR as u64 => {
            apic::eoi();
            return;
        }
        v if v == SPURIOUS_VECTOR as u64 => return,
        _ => {}
    }
    let fault = FaultInfo {
        vector: frame.vector,
        rip: frame.rip,
        error_code: frame.error_code,
        cr2: Cr2::read_raw(),
    };
    match fault::on_exception(&fault) {
        Some(Recovery::ContinueAt(fixup)) => frame.rip = fixup,
        Some(Recovery::ResumeRecoveryPoint(point)) => recovery::resume_at(frame, point),
        None => report_and_stop(frame),
    }
}

fn report_and_stop(frame: &TrapFrame) -> ! {
    let expected = EXPECTING.swap(false, Ordering::SeqCst);
    let cr2 = Cr2::read_raw();
    let mut walk = [0u64; 12];
    let depth = super::stack::walk(frame.rbp, &mut walk);
    let name = exception_name(frame.vector);
    crate::trace::emit_emergency("exception", |e| {
        e.u64("vector", frame.vector)
            .str("name", name)
            .hex("error_code", frame.error_code)
            .hex("rip", frame.rip)
            .hex("cr2", cr2)
            .hex("rsp", frame.rsp)
            .hex("rbp", frame.rbp)
            .bool("expected", expected);
        if frame.vector == 14 {
            e.str("detail", page_fault_detail(frame.error_code));
        } else {
            e.display("detail", format_args!("{name} at {:#x}", frame.rip));
        }
        e.hex_list("stack", walk[..depth].iter().copied());
    });
    let code = if expected {
        ExitCode::ExpectedException
    } else {
        ExitCode::UnexpectedException
    };
    crate::exit::exit_emergency(code)
}
