//! The two ways in: Limine and multiboot2. Each turns what its loader left
//! into a `BootInfo` and calls `kernel_main`.

pub mod limine;
pub mod multiboot2;
