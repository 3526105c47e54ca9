//! Rust panics: one `panic` event with message, location and a stack walk,
//! then exit with the panic code.

use crate::arch::trap::stack_walk;
use crate::{exit, trace};
use bareflow_boot_model::exit::ExitCode;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic: stop quietly rather than loop.
        crate::arch::halt_forever();
    }
    let rbp: u64;
    // SAFETY: reads the frame pointer register; no memory access.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack)) };
    let mut walk = [0u64; 12];
    let depth = stack_walk(rbp, &mut walk);
    trace::emit_emergency("panic", |e| {
        e.display("message", info.message());
        match info.location() {
            Some(l) => e.display(
                "location",
                format_args!("{}:{}:{}", l.file(), l.line(), l.column()),
            ),
            None => e.str("location", "unknown"),
        };
        e.hex("rip", walk.first().copied().unwrap_or(0))
            .str("detail", "Rust panic")
            .hex_list("stack", walk[..depth].iter().copied());
    });
    exit::exit_emergency(ExitCode::Panic)
}
