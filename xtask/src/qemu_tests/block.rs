//! QEMU test of the block layer (virtio-blk on PCI, `platform::block`).
//!
//! - `bios-block-drives`: selftest mode with two test drives (see
//!   `bareflow_boot_model::test_drive`): a read-only one of 64 sectors plus a
//!   100-byte tail (QEMU rounds the capacity up to 65 sectors and reads zeros
//!   after the file's end) and a writable one of 32 sectors. The kernel reports
//!   both (`block_device`: capacity, read-only flag, serial), reads every sector
//!   back (on the bootstrap CPU into the heap, and on CPU 1 into its stack),
//!   gets the right errors for a read past the end, a length that is not whole
//!   sectors and a write to the read-only drive, and rewrites the writable drive
//!   with generation 1, which this test then finds in the file.

use super::{Attach, Case, Modules, Trace, ensure};
use crate::iso::Boot;
use crate::paths;
use crate::qemu::{Drive, QemuOutcome};
use bareflow_boot_model::exit::ExitCode;
use bareflow_boot_model::test_drive::{SECTOR, fill_sector, is_sector};
use std::path::PathBuf;

const RO_SECTORS: u64 = 64;
const RO_TAIL: usize = 100;
const RW_SECTORS: u64 = 32;

fn dir() -> PathBuf {
    paths::iso_dir().join("block-test")
}

fn rw_file() -> PathBuf {
    dir().join("rw.img")
}

fn pattern(sectors: u64, tail: usize, generation: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = [0u8; SECTOR];
    for n in 0..sectors {
        fill_sector(n, generation, &mut s);
        out.extend_from_slice(&s);
    }
    if tail > 0 {
        fill_sector(sectors, generation, &mut s);
        out.extend_from_slice(&s[..tail]);
    }
    out
}

fn attach() -> Result<Attach, String> {
    std::fs::create_dir_all(dir()).map_err(|e| format!("{}: {e}", dir().display()))?;
    let ro = dir().join("ro.img");
    let write = |p: &PathBuf, bytes: Vec<u8>| {
        std::fs::write(p, bytes).map_err(|e| format!("{}: {e}", p.display()))
    };
    write(&ro, pattern(RO_SECTORS, RO_TAIL, 0))?;
    write(&rw_file(), pattern(RW_SECTORS, 0, 0))?;
    Ok(Attach {
        drives: vec![
            Drive::read_only(ro, "bftest-ro"),
            Drive {
                file: rw_file(),
                read_only: false,
                serial: "bftest-rw".into(),
            },
        ],
        cmdline: String::new(),
    })
}

fn block_drives(t: &Trace, o: &QemuOutcome) -> Result<String, String> {
    let devices = t.all("block_device");
    let want = [
        ("bftest-ro", RO_SECTORS + 1, true),
        ("bftest-rw", RW_SECTORS, false),
    ];
    ensure(devices.len() == want.len(), || {
        format!("{} block_device events, want 2", devices.len())
    })?;
    for (d, (serial, sectors, ro)) in devices.iter().zip(want) {
        ensure(
            d["serial"] == serial && d["sectors"] == sectors && d["read_only"] == ro,
            || format!("block_device {d:?}, want serial {serial}, {sectors} sectors, ro {ro}"),
        )?;
    }
    let tests = t.all("block_test");
    ensure(tests.len() == 2, || {
        format!("{} block_test events, want 2", tests.len())
    })?;
    for b in &tests {
        for f in ["other_cpu_read", "past_end", "bad_length", "write"] {
            ensure(b[f] == "ok", || {
                format!("block_test {f}: {:?} in {b:?}", b[f])
            })?;
        }
    }
    ensure(tests[0]["tail_bytes"] == RO_TAIL as u64, || {
        format!(
            "read-only drive tail {:?}, want {RO_TAIL}",
            tests[0]["tail_bytes"]
        )
    })?;
    ensure(tests[1]["written_generation"] == 1, || {
        format!("writable drive: {:?}", tests[1])
    })?;
    let selftest = t
        .all("selftest")
        .into_iter()
        .find(|e| e["name"] == "block")
        .ok_or("no `block` selftest")?;
    ensure(selftest["ok"] == true, || format!("{selftest:?}"))?;
    let written = std::fs::read(rw_file()).map_err(|e| e.to_string())?;
    ensure(written.len() == RW_SECTORS as usize * SECTOR, || {
        format!("the writable drive's file is {} bytes now", written.len())
    })?;
    for (n, s) in written.chunks(SECTOR).enumerate() {
        ensure(is_sector(n as u64, 1, s), || {
            format!("sector {n} of the writable drive's file is not generation 1")
        })?;
    }
    ensure(o.exit_code() == Some(ExitCode::Success), || {
        format!("QEMU status {:?}", o.status)
    })?;
    Ok(format!(
        "2 drives read back, {RW_SECTORS} sectors written and found in the file"
    ))
}

/// The block-layer tests.
pub const CASES: &[Case] = &[Case {
    boot: Boot::Grub,
    name: "bios-block-drives",
    cmdline: "bareflow.mode=selftest",
    smp: 2,
    mem_mib: 512,
    uefi: false,
    modules: Modules::Default,
    check: block_drives,
    attach: Some(attach),
    console: None,
}];
