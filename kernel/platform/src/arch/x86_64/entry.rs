//! Entry code, in assembly: everything that runs before Rust can.
//!
//! * `_start`: the Limine entry (64-bit, higher half, Limine's page tables).
//! * `mb2_entry32`: the multiboot2 entry (32-bit protected mode, paging off).
//!   It checks for long mode and NX, builds temporary page tables (identity
//!   and direct map of the first 4 GiB, kernel at -2 GiB), enables PAE, long
//!   mode, NX and write protection, and jumps to the higher half.
//! * `enable_simd`: SSE on every CPU, and AVX state in XCR0 when the CPU has it.
//! * `limine_ap_start`: where Limine sends application processors.
//! * `ap_tramp_start..ap_tramp_end`: the real-mode trampoline copied below
//!   1 MiB for INIT-SIPI-SIPI (multiboot2 path).
//! * `switch_stack_and_call`: continue on a new stack.
//!
//! The Rust functions the assembly calls (`limine_rust_entry`,
//! `mb2_rust_entry`, `limine_ap_rust`) live in `boot/` and `arch/x86_64/smp.rs`.

use core::arch::global_asm;

/// Size of the boot stack (BSP until SMP; also the BSP's stack for good).
pub(crate) const BOOT_STACK_SIZE: usize = 256 * 1024;

unsafe extern "C" {
    static boot_stack_bottom: u8;
    static boot_stack_top: u8;
    /// EAX and EBX as the multiboot2 loader left them.
    static mb2_magic: u32;
    static mb2_info: u32;
    pub(super) static ap_tramp_start: u8;
    pub(super) static ap_tramp_end: u8;
    pub(super) static ap_tramp_cr3: u8;
    pub(super) static ap_tramp_stack: u8;
    pub(super) static ap_tramp_entry: u8;
    pub(super) static ap_tramp_arg: u8;
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
    /// Calls `f(arg)` on the stack ending at `stack_top`; never returns.
    pub(super) fn switch_stack_and_call(arg: u64, stack_top: u64, f: extern "C" fn(u64) -> !) -> !;
}

/// Virtual address the image is linked at minus its physical address under
/// multiboot2 (must match linker.ld).
pub(crate) const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// Physical address of the multiboot2 trampoline page for application processors.
pub(crate) const AP_TRAMPOLINE_PHYS: u64 = 0x8000;

/// Where the linker put the kernel image (virtual addresses, section bounds
/// page-aligned by linker.ld).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelImage {
    /// First byte (start of `.text`).
    pub start: u64,
    /// End of `.text` (start of `.rodata`).
    pub text_end: u64,
    /// End of `.rodata` (start of `.data`/`.bss`).
    pub rodata_end: u64,
    /// End of the image.
    pub end: u64,
}

/// The kernel image's section bounds.
pub(crate) fn kernel_image() -> KernelImage {
    KernelImage {
        start: (&raw const __kernel_start) as u64,
        text_end: (&raw const __text_end) as u64,
        rodata_end: (&raw const __rodata_end) as u64,
        end: (&raw const __kernel_end) as u64,
    }
}

/// The boot stack: (lowest address, top).
pub(crate) fn boot_stack() -> (u64, u64) {
    (
        (&raw const boot_stack_bottom) as u64,
        (&raw const boot_stack_top) as u64,
    )
}

/// EAX (magic) and EBX (information structure address) as the multiboot2
/// loader left them.
pub(crate) fn multiboot2_registers() -> (u32, u64) {
    // SAFETY: the entry stub stored EAX/EBX there before any Rust code ran;
    // nothing writes them afterwards.
    unsafe {
        (
            core::ptr::read_volatile(&raw const mb2_magic),
            core::ptr::read_volatile(&raw const mb2_info) as u64,
        )
    }
}

global_asm!(
    r#"
    .set KVMA, 0xffffffff80000000
    .set TRAMP, 0x8000

    /* ---------------- multiboot2 header ---------------- */
    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long 0xe85250d6
    .long 0
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header))
    /* entry address tag: jump to the 32-bit entry, not the ELF (Limine) entry */
    .balign 8
    .short 3
    .short 0
    .long 12
    .long mb2_entry32 - KVMA
    /* end tag */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:

    /* ---------------- boot stack and temporary tables ---------------- */
    .section .bss.boot, "aw", @nobits
    .balign 4096
mb2_tables:
    .skip 4096 * 7
    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip {stack_size}
    .global boot_stack_top
boot_stack_top:

    .section .data.boot, "aw"
    .balign 8
    .global mb2_magic
mb2_magic: .long 0
    .global mb2_info
mb2_info: .long 0
    .balign 8
mb2_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0                      /* TSS descriptor, filled in at run time */
mb2_gdt_ptr:
    .short 31
    .long mb2_gdt - KVMA
    .balign 16
mb2_tss:
    .skip 104
mb2_no_lm_msg:
    .ascii "{{\"ev\":\"panic\",\"t_us\":0,\"cpu\":0,\"message\":\"this CPU lacks long mode or NX; BareFlow needs an x86_64 CPU with both\",\"rip\":\"0x0\",\"detail\":\"multiboot2 entry\"}}\n"
mb2_no_lm_msg_end:

    /* ---------------- multiboot2 32-bit entry ---------------- */
    .section .text.boot, "ax"
    .code32
    .global mb2_entry32
mb2_entry32:
    cli
    cld
    movl %eax, (mb2_magic - KVMA)
    movl %ebx, (mb2_info - KVMA)
    movl $(boot_stack_top - KVMA), %esp

    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb 90f
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz 90f
    testl $(1 << 20), %edx
    jz 90f

    /* zero the 7 table pages */
    movl $(mb2_tables - KVMA), %edi
    movl $(7 * 1024), %ecx
    xorl %eax, %eax
    rep stosl

    /* 4 page directories of 2 MiB pages: physical 0..4 GiB */
    movl $(mb2_tables - KVMA + 3 * 4096), %edi
    xorl %ecx, %ecx
1:
    movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* low PDPT (table 1): 4 entries -> the 4 directories */
    movl $(mb2_tables - KVMA + 4096), %edi
    movl $(mb2_tables - KVMA + 3 * 4096 + 3), %eax
    movl %eax, 0(%edi)
    addl $4096, %eax
    movl %eax, 8(%edi)
    addl $4096, %eax
    movl %eax, 16(%edi)
    addl $4096, %eax
    movl %eax, 24(%edi)

    /* high PDPT (table 2): -2 GiB -> physical 0..2 GiB */
    movl $(mb2_tables - KVMA + 2 * 4096), %edi
    movl $(mb2_tables - KVMA + 3 * 4096 + 3), %eax
    movl %eax, (510 * 8)(%edi)
    addl $4096, %eax
    movl %eax, (511 * 8)(%edi)

    /* PML4 (table 0): identity, direct map at 0xffff800000000000, kernel */
    movl $(mb2_tables - KVMA), %edi
    movl $(mb2_tables - KVMA + 4096 + 3), %eax
    movl %eax, 0(%edi)
    movl %eax, (256 * 8)(%edi)
    movl $(mb2_tables - KVMA + 2 * 4096 + 3), %eax
    movl %eax, (511 * 8)(%edi)

    /* A valid task register and a null LDT: loaded while still in legacy
       protected mode (a 32-bit TSS is valid there), so every segment register
       holds a well-defined value from here on. */
    movl $(mb2_tss - KVMA), %eax
    movl $(mb2_gdt - KVMA + 24), %edi
    movw $103, 0(%edi)
    movw %ax, 2(%edi)
    shrl $16, %eax
    movb %al, 4(%edi)
    movb $0x89, 5(%edi)
    movb $0, 6(%edi)
    movb %ah, 7(%edi)
    lgdt (mb2_gdt_ptr - KVMA)
    movw $0x18, %ax
    ltr %ax
    xorl %eax, %eax
    lldt %ax
    /* CR4: PAE, OSFXSR, OSXMMEXCPT */
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl $(mb2_tables - KVMA), %eax
    movl %eax, %cr3
    /* EFER: LME, NXE */
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    /* CR0: PG, WP, MP, PE; EM off */
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $((1 << 31) | (1 << 16) | (1 << 1) | 1), %eax
    movl %eax, %cr0

    ljmp $0x08, $(mb2_entry64_low - KVMA)

90: /* no long mode / NX: say so on COM1, exit QEMU with failure, halt */
    movl $(mb2_no_lm_msg - KVMA), %esi
    movl $(mb2_no_lm_msg_end - KVMA), %ecx
    movw $0x3f8, %dx
91:
    cmpl %ecx, %esi
    jae 92f
    movb (%esi), %al
    outb %al, %dx
    incl %esi
    jmp 91b
92:
    movl $0x11, %eax
    outl %eax, $0xf4
93:
    hlt
    jmp 93b

    .code64
mb2_entry64_low:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movabsq $mb2_entry64_high, %rax
    jmp *%rax
mb2_entry64_high:
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    call enable_simd
    call mb2_rust_entry
    ud2

    /* ---------------- Limine entry ---------------- */
    .section .text.boot, "ax"
    .code64
    .global _start
_start:
    cli
    cld
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    call enable_simd
    call limine_rust_entry
    ud2

    .global limine_ap_start
limine_ap_start:
    cli
    cld
    pushq %rdi
    call enable_simd
    popq %rdi
    xorl %ebp, %ebp
    andq $-16, %rsp
    call limine_ap_rust
    ud2

    /* ---------------- SIMD enable (clobbers rax, rcx, rdx, r8) ---------------- */
    .global enable_simd
enable_simd:
    pushq %rbx
    movq %cr0, %rax
    andq $~(1 << 2), %rax
    orq $(1 << 1), %rax
    movq %rax, %cr0
    movq %cr4, %rax
    orq $((1 << 9) | (1 << 10)), %rax
    movq %rax, %cr4
    movl $1, %eax
    cpuid
    testl $(1 << 26), %ecx
    jz 2f
    movl %ecx, %r8d
    movq %cr4, %rax
    orq $(1 << 18), %rax
    movq %rax, %cr4
    movl $3, %eax
    testl $(1 << 28), %r8d
    jz 1f
    orl $4, %eax
1:
    xorl %edx, %edx
    xorl %ecx, %ecx
    xsetbv
2:
    fninit
    popq %rbx
    ret

    /* ---------------- switch_stack_and_call(arg, top, f) ---------------- */
    .global switch_stack_and_call
switch_stack_and_call:
    movq %rsi, %rsp
    xorl %ebp, %ebp
    call *%rdx
    ud2

    /* ---------------- AP trampoline (copied to TRAMP) ---------------- */
    .section .text.ap_trampoline, "ax"
    .balign 16
    .global ap_tramp_start
ap_tramp_start:
    .code16
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl (TRAMP + (ap_tramp_gdt_ptr - ap_tramp_start))
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(TRAMP + (ap_tramp32 - ap_tramp_start))
    .code32
ap_tramp32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl (TRAMP + (ap_tramp_cr3 - ap_tramp_start)), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $((1 << 31) | (1 << 16) | (1 << 1)), %eax
    movl %eax, %cr0
    ljmp $0x18, $(TRAMP + (ap_tramp64 - ap_tramp_start))
    .code64
ap_tramp64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq (TRAMP + (ap_tramp_stack - ap_tramp_start)), %rsp
    xorl %ebp, %ebp
    movabsq $enable_simd, %rax
    call *%rax
    movq (TRAMP + (ap_tramp_arg - ap_tramp_start)), %rdi
    movq (TRAMP + (ap_tramp_entry - ap_tramp_start)), %rax
    call *%rax
    ud2
    .balign 8
ap_tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
ap_tramp_gdt_ptr:
    .short 31
    .long TRAMP + (ap_tramp_gdt - ap_tramp_start)
    .balign 8
    .global ap_tramp_cr3
ap_tramp_cr3: .quad 0
    .global ap_tramp_stack
ap_tramp_stack: .quad 0
    .global ap_tramp_entry
ap_tramp_entry: .quad 0
    .global ap_tramp_arg
ap_tramp_arg: .quad 0
    .global ap_tramp_end
ap_tramp_end:
    .text
"#,
    stack_size = const BOOT_STACK_SIZE,
    options(att_syntax)
);
