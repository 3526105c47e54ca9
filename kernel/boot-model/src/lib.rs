//! The pure parts of the BareFlow kernel.
//!
//! Everything in this crate is plain data and logic: no hardware access, no
//! `unsafe`. The kernel (`bareflow-kernel`) feeds it what the boot loader and
//! the CPU report; the host runs its unit tests with `cargo test`. `xtask`
//! uses it too, for the exit codes and the boot-parameter names.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod bootinfo;
pub mod cmdline;
pub mod exit;
pub mod fixed;
pub mod frames;
pub mod json;
pub mod limine_view;
pub mod line_editor;
pub mod memmap;
pub mod multiboot2;
pub mod pool;
pub mod test_drive;
pub mod utf8_stream;
