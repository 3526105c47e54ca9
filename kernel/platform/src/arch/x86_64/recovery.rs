//! The assembly under the fault-recovery service (`crate::fault`).
//!
//! * A recovery point: `recovery_call(f, ctx, point)` saves the callee-saved
//!   registers and the stack pointer into `point`, then calls `f(ctx)` and
//!   returns 0. When a CPU exception is recovered to that point, the trap
//!   handler rewrites the interrupt frame ([`resume_at`]) so that `iretq`
//!   lands in `recovery_resume`, which restores those registers and returns 1
//!   from `recovery_call`, as if `f` had returned. The frames between are
//!   abandoned without unwinding.
//! * A probing store: `probe_write_u8(addr, value)` stores one byte and
//!   returns 0; its store instruction is in the exception table with the
//!   fixup `probe_write_fixup`, which returns 1.

use super::idt::TrapFrame;
use core::cell::UnsafeCell;

/// Registers saved at a recovery point: rbx, rbp, r12, r13, r14, r15, rsp.
#[repr(C)]
pub(crate) struct SavedRegisters([u64; 7]);

/// One CPU's recovery point: written by `recovery_call` and read by
/// `recovery_resume`, both on the owning CPU.
pub(crate) struct RecoveryPoint(UnsafeCell<SavedRegisters>);

// SAFETY: each point is only ever used by the CPU it belongs to (the fault
// service indexes points by the calling CPU), never by two CPUs at once.
unsafe impl Sync for RecoveryPoint {}

impl RecoveryPoint {
    /// A point nothing was saved in yet.
    pub(crate) const fn new() -> RecoveryPoint {
        RecoveryPoint(UnsafeCell::new(SavedRegisters([0; 7])))
    }
}

core::arch::global_asm!(
    r#"
    .section .text.recovery, "ax"
    /* recovery_call(f: extern "C" fn(*mut u8), ctx: *mut u8, point: *mut [u64; 7]) -> u64 */
    .global recovery_call
recovery_call:
    mov [rdx], rbx
    mov [rdx + 8], rbp
    mov [rdx + 16], r12
    mov [rdx + 24], r13
    mov [rdx + 32], r14
    mov [rdx + 40], r15
    mov [rdx + 48], rsp
    push rbp
    mov rbp, rsp
    mov rax, rdi
    mov rdi, rsi
    call rax
    pop rbp
    xor eax, eax
    ret
    /* entered by iretq from the trap handler with rdi = point */
    .global recovery_resume
recovery_resume:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    mov eax, 1
    ret

    /* probe_write_u8(addr: u64, value: u8) -> u32: 0, or 1 when the store faulted */
    .global probe_write_u8
probe_write_u8:
    .global probe_write_insn
probe_write_insn:
    mov byte ptr [rdi], sil
    .global probe_write_insn_end
probe_write_insn_end:
    xor eax, eax
    ret
    .global probe_write_fixup
probe_write_fixup:
    mov eax, 1
    ret
    .text
"#
);

unsafe extern "C" {
    fn recovery_call(f: extern "C" fn(*mut u8), ctx: *mut u8, point: *mut SavedRegisters) -> u64;
    static recovery_resume: u8;
    fn probe_write_u8(addr: u64, value: u8) -> u32;
    static probe_write_insn: u8;
    static probe_write_insn_end: u8;
    static probe_write_fixup: u8;
}

/// Calls `f(ctx)` with `point` armed; true when a fault was recovered to it
/// (then `f` did not finish).
///
/// # Safety
/// `point` must belong to the calling CPU and not be in use by an enclosing
/// call; `f` must be safe to call with `ctx`.
pub(crate) unsafe fn call_with_recovery_point(
    f: extern "C" fn(*mut u8),
    ctx: *mut u8,
    point: &RecoveryPoint,
) -> bool {
    // SAFETY: the helper saves exactly the registers the System V ABI makes
    // callee-saved, plus rsp, into this CPU's own point, then calls `f(ctx)`
    // (which the caller vouches for). It returns 0, or 1 when `resume_at`
    // redirected a fault to `recovery_resume`, which restores those registers
    // and returns to our caller's frame as a normal return would.
    unsafe { recovery_call(f, ctx, point.0.get()) != 0 }
}

/// Rewrites `frame` so that `iretq` continues at `point` (see the module
/// docs); the point must have been armed by `call_with_recovery_point` on this
/// CPU, whose call has not returned yet.
pub(crate) fn resume_at(frame: &mut TrapFrame, point: &RecoveryPoint) {
    let saved = point.0.get();
    frame.rip = (&raw const recovery_resume) as u64;
    // SAFETY: `recovery_call` filled the point on this CPU before the fault,
    // and only this CPU writes it; the read is of plain integers.
    frame.rsp = unsafe { (*saved).0[6] };
    frame.rdi = saved as u64;
}

/// The probing store instruction's range and its fixup address.
pub(crate) fn probe_write_range() -> (u64, u64, u64) {
    (
        (&raw const probe_write_insn) as u64,
        (&raw const probe_write_insn_end) as u64,
        (&raw const probe_write_fixup) as u64,
    )
}

/// Stores `value` at `addr`; true when the store faulted (and so did not
/// happen). The exception table must hold [`probe_write_range`].
///
/// # Safety
/// If the store succeeds it really happens: `addr` must be a byte the caller
/// may overwrite with `value`, or an address where the store faults.
pub(crate) unsafe fn probe_write(addr: u64, value: u8) -> bool {
    // SAFETY: the caller vouches for the store; a fault at the store
    // instruction continues at `probe_write_fixup`, which returns 1.
    unsafe { probe_write_u8(addr, value) != 0 }
}
