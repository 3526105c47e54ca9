//! Rust panics: one `panic` event with message, location and a stack walk,
//! then exit with the panic code.

use crate::arch::{self, stack};
use crate::{exit, trace};
use bareflow_boot_model::exit::ExitCode;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    arch::disable_interrupts();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic: stop quietly rather than loop.
        arch::halt_forever();
    }
    let mut walk = [0u64; 12];
    let depth = stack::walk(stack::frame_pointer(), &mut walk);
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
