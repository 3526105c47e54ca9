//! Exit codes written to QEMU's `isa-debug-exit` device (iobase 0xf4).
//!
//! QEMU exits with status `(value << 1) | 1`, so a kernel value can never be
//! mistaken for QEMU's own 0 (normal quit) or for a crash of QEMU itself.

/// The I/O port of `-device isa-debug-exit,iobase=0xf4,iosize=0x04`.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Why the kernel stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything asked for ran and passed.
    Success = 0x10,
    /// A self-test failed or the kernel could not come up.
    Failure = 0x11,
    /// In `test-exception` mode: the deliberate exception was reported.
    ExpectedException = 0x12,
    /// A CPU exception nobody expected.
    UnexpectedException = 0x13,
    /// A Rust panic.
    Panic = 0x14,
}

impl ExitCode {
    /// The value the kernel writes to the port.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The status QEMU exits with.
    pub const fn qemu_status(self) -> i32 {
        ((self as u32 as i32) << 1) | 1
    }

    /// Name used in the `exit` event.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Failure => "failure",
            ExitCode::ExpectedException => "expected_exception",
            ExitCode::UnexpectedException => "unexpected_exception",
            ExitCode::Panic => "panic",
        }
    }

    /// The code QEMU's exit status stands for, if it is one of ours.
    pub fn from_qemu_status(status: i32) -> Option<ExitCode> {
        [
            ExitCode::Success,
            ExitCode::Failure,
            ExitCode::ExpectedException,
            ExitCode::UnexpectedException,
            ExitCode::Panic,
        ]
        .into_iter()
        .find(|c| c.qemu_status() == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_status_round_trips() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::ExpectedException.qemu_status(), 37);
        for c in [ExitCode::Success, ExitCode::Failure, ExitCode::Panic] {
            assert_eq!(ExitCode::from_qemu_status(c.qemu_status()), Some(c));
        }
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
