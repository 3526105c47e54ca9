//! The `block` self-test: reads every test drive (see
//! `bareflow_boot_model::test_drive`) back through the block API and, when the
//! drive is writable, rewrites it with the next generation; one `block_test`
//! event per test drive. Without any drive the test passes and says so: a
//! missing drive is a fact to report, not a failure.

use crate::drives;
use alloc::string::String;
use alloc::vec::Vec;
use bareflow_boot_model::test_drive::{SECTOR, fill_sector, is_sector, looks_like_test_sector};
use platform::block::{BlockDevice, BlockError};
use platform::{smp, trace};

/// Largest drive the test reads whole.
const MAX_TEST_BYTES: u64 = 16 << 20;

/// Result of one check: "ok" or what went wrong.
type Check = Result<(), String>;

fn generation_of(sector0: &[u8]) -> u32 {
    u32::from_le_bytes([sector0[24], sector0[25], sector0[26], sector0[27]])
}

/// Checks `data` (sectors from 0) against generation `generation`; the last
/// sector may be a partial file sector: pattern bytes, then zeros. Returns the
/// number of pattern bytes in the last sector when it is partial (0 if whole).
fn check_pattern(data: &[u8], generation: u32) -> Result<usize, String> {
    let sectors = data.len() / SECTOR;
    for (n, s) in data.chunks_exact(SECTOR).enumerate() {
        if is_sector(n as u64, generation, s) {
            continue;
        }
        if n + 1 < sectors {
            return Err(alloc::format!("sector {n} does not hold its pattern"));
        }
        let mut want = [0u8; SECTOR];
        fill_sector(n as u64, generation, &mut want);
        let tail = s.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        if tail == 0 || s[..tail] != want[..tail] {
            return Err(alloc::format!(
                "last sector {n} is neither whole nor a pattern prefix padded with zeros"
            ));
        }
        return Ok(tail);
    }
    Ok(0)
}

fn expect_error(what: &str, got: Result<(), BlockError>, want: fn(&BlockError) -> bool) -> Check {
    match got {
        Err(e) if want(&e) => Ok(()),
        Err(e) => Err(alloc::format!("{what}: unexpected error: {e}")),
        Ok(()) => Err(alloc::format!("{what}: accepted")),
    }
}

/// Reads sectors 1..4 into a buffer on another CPU's stack (its pages are
/// mapped one by one, so the DMA address comes from a page-table walk).
fn read_on_other_cpu(drive_index: usize, generation: u32) -> Check {
    let Some(cpu) = smp::online().find(|&c| c != 0) else {
        return Ok(());
    };
    let job = smp::run_on(cpu, move || -> Check {
        let drive = &drives::all()[drive_index];
        let mut buf = [0u8; 3 * SECTOR];
        drive
            .read_sectors(1, &mut buf)
            .map_err(|e| alloc::format!("{e}"))?;
        for (i, s) in buf.chunks_exact(SECTOR).enumerate() {
            if !is_sector(1 + i as u64, generation, s) {
                return Err(alloc::format!(
                    "sector {} read on CPU {cpu} is wrong",
                    1 + i
                ));
            }
        }
        Ok(())
    })
    .map_err(|e| alloc::format!("cannot reach CPU {cpu}: {e:?}"))?;
    job.join()
}

/// Rewrites every whole sector with generation `next`, flushes, reads back.
fn rewrite(drive: &BlockDevice, whole_sectors: u64, next: u32) -> Check {
    let mut data = Vec::new();
    data.try_reserve_exact(whole_sectors as usize * SECTOR)
        .map_err(|_| String::from("no memory for the write buffer"))?;
    data.resize(whole_sectors as usize * SECTOR, 0);
    for (n, s) in data.chunks_exact_mut(SECTOR).enumerate() {
        let mut sector = [0u8; SECTOR];
        fill_sector(n as u64, next, &mut sector);
        s.copy_from_slice(&sector);
    }
    let e = |e: BlockError| alloc::format!("{e}");
    drive.write_sectors(0, &data).map_err(e)?;
    drive.flush().map_err(e)?;
    data.fill(0);
    drive.read_sectors(0, &mut data).map_err(e)?;
    check_pattern(&data, next).map(|_| ())
}

fn test_drive(drive: &BlockDevice, sector0: &[u8]) -> Check {
    let info = drive.info();
    let generation = generation_of(sector0);
    if info.bytes() > MAX_TEST_BYTES {
        return Err(alloc::format!(
            "a test drive of {} bytes is larger than the {MAX_TEST_BYTES} the test reads",
            info.bytes()
        ));
    }
    let mut data = alloc::vec![0u8; info.bytes() as usize];
    drive
        .read_sectors(0, &mut data)
        .map_err(|e| alloc::format!("whole-drive read: {e}"))?;
    let tail = check_pattern(&data, generation)?;
    let other_cpu = read_on_other_cpu(info.index, generation);
    let past_end = expect_error(
        "read past the end",
        drive.read_sectors(info.sectors - 1, &mut [0u8; 2 * SECTOR]),
        |e| matches!(e, BlockError::OutOfRange { .. }),
    );
    let bad_length = expect_error(
        "read of 100 bytes",
        drive.read_sectors(0, &mut [0u8; 100]),
        |e| matches!(e, BlockError::BadLength(100)),
    );
    let whole = info.sectors - (tail > 0) as u64;
    let write = if info.read_only {
        expect_error(
            "write to a read-only drive",
            drive.write_sectors(0, &data[..SECTOR]),
            |e| *e == BlockError::ReadOnly,
        )
    } else {
        rewrite(drive, whole, generation + 1)
    };
    let show = |c: &Check| match c {
        Ok(()) => String::from("ok"),
        Err(e) => e.clone(),
    };
    trace::emit("block_test", |e| {
        e.u64("index", info.index as u64)
            .str("serial", &info.serial)
            .u64("sectors", info.sectors)
            .u64("generation", generation as u64)
            .u64("tail_bytes", tail as u64)
            .str("other_cpu_read", &show(&other_cpu))
            .str("past_end", &show(&past_end))
            .str("bad_length", &show(&bad_length))
            .bool("read_only", info.read_only)
            .str("write", &show(&write))
            .u64(
                "written_generation",
                if info.read_only || write.is_err() {
                    generation as u64
                } else {
                    generation as u64 + 1
                },
            );
    });
    other_cpu.and(past_end).and(bad_length).and(write)
}

/// The self-test: `Ok(detail)` or `Err(detail)`.
pub fn run() -> Result<String, String> {
    let drives = drives::all();
    if drives.is_empty() {
        return Ok(String::from(
            "no virtio block device attached (reported; nothing to read)",
        ));
    }
    let mut tested = 0;
    let mut failures = Vec::new();
    for drive in drives {
        let i = drive.info();
        let mut sector0 = [0u8; SECTOR];
        if let Err(e) = drive.read_sectors(0, &mut sector0) {
            failures.push(alloc::format!("drive {}: sector 0: {e}", i.index));
            continue;
        }
        if !looks_like_test_sector(&sector0) {
            continue;
        }
        tested += 1;
        if let Err(e) = test_drive(drive, &sector0) {
            failures.push(alloc::format!("drive {}: {e}", i.index));
        }
    }
    let detail = alloc::format!(
        "{} drives, {tested} test drives read back{}",
        drives.len(),
        if failures.is_empty() { "" } else { "; " }
    );
    if failures.is_empty() {
        Ok(detail)
    } else {
        Err(detail + &failures.join("; "))
    }
}
