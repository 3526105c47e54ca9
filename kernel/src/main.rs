//! BareFlow kernel: the application on top of the platform layer.
//!
//! The platform (`bareflow-platform`, `kernel/platform/`) boots the machine
//! under either loader, holds every line of `unsafe` code behind a safe API,
//! and calls [`modes::run`] on the bootstrap CPU with the boot parameters once
//! every CPU is up. This crate is the JIT runtime glue ([`runtime`]: the
//! engine on the kernel's executable pool, clock, trace and compiler CPU) and
//! the boot modes with their self-tests ([`modes`]); it has no `unsafe` code.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod drives;
mod llama;
mod modes;
mod runtime;

platform::entry_point!(modes::run);
