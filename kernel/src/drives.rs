//! The drives the platform found (`platform::block`), reported once on the
//! trace: one `block_device` event per drive, a `warn` for a virtio block
//! function that could not be started.

use platform::block::{self, BlockDevice};
use platform::trace;
use spin::Once;

static REPORTED: Once<()> = Once::new();

/// Every drive, reported on the trace the first time this is called.
pub fn all() -> &'static [BlockDevice] {
    let drives = block::devices();
    REPORTED.call_once(|| {
        for d in drives {
            let i = d.info();
            trace::emit("block_device", |e| {
                e.u64("index", i.index as u64)
                    .display("pci", i.pci)
                    .u64("sectors", i.sectors)
                    .u64("bytes", i.bytes())
                    .bool("read_only", i.read_only)
                    .str("serial", &i.serial);
            });
        }
        for s in block::skipped() {
            trace::warn(
                "block",
                format_args!("virtio block device at {} not used: {}", s.pci, s.reason),
            );
        }
    });
    drives
}
