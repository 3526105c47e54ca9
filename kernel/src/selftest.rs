//! Self-tests of the machine layer, each reported as a `selftest` event.

use crate::arch::{apic, trap};
use crate::mem::{exec_pool, heap, paging};
use crate::{percpu, smp, trace, tsc};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

/// Outcome of one test.
struct Outcome {
    ok: bool,
    detail: String,
}

fn pass(detail: String) -> Outcome {
    Outcome { ok: true, detail }
}

fn fail(detail: String) -> Outcome {
    Outcome { ok: false, detail }
}

macro_rules! s {
    ($($t:tt)*) => {{
        let mut x = String::new();
        let _ = write!(x, $($t)*);
        x
    }};
}

fn heap_test() -> Outcome {
    let n = 1u64 << 20;
    let v: Vec<u64> = (0..n).collect();
    let sum: u64 = v.iter().sum();
    let boxes: Vec<alloc::boxed::Box<[u8; 4096]>> = (0..256)
        .map(|i| alloc::boxed::Box::new([i as u8; 4096]))
        .collect();
    let box_ok = boxes.iter().enumerate().all(|(i, b)| b[4095] == i as u8);
    let detail = s!(
        "heap {} MiB, {} KiB in use during test",
        heap::size() >> 20,
        heap::used() >> 10
    );
    if sum == n * (n - 1) / 2 && box_ok {
        pass(detail)
    } else {
        fail(s!("{detail}; wrong contents"))
    }
}

fn frames_test() -> Outcome {
    match paging::frame_stats() {
        Some(f) if f.allocated_frames > 0 && f.allocated_frames <= f.total_frames => pass(s!(
            "{} of {} frames allocated",
            f.allocated_frames,
            f.total_frames
        )),
        Some(f) => fail(s!(
            "inconsistent counters: {} of {}",
            f.allocated_frames,
            f.total_frames
        )),
        None => fail(s!("frame allocator not initialized")),
    }
}

/// `lea eax, [rdi + rsi]; ret`
const ADD_CODE: [u8; 4] = [0x8d, 0x04, 0x37, 0xc3];

fn exec_pool_test() -> Outcome {
    let Some(pool) = exec_pool::get() else {
        return fail(s!("pool not initialized"));
    };
    let before = pool.stats();
    let mut region = match pool.alloc(ADD_CODE.len() as u64, 16) {
        Ok(r) => r,
        Err(e) => return fail(s!("alloc failed: {e:?}")),
    };
    if let Err(e) = region.write(0, &ADD_CODE) {
        return fail(s!("write failed: {e:?}"));
    }
    region.finish_writes();
    // SAFETY: the region holds exactly ADD_CODE, a complete function with
    // the C ABI signature (u32, u32) -> u32, mapped executable.
    let add: extern "C" fn(u32, u32) -> u32 =
        unsafe { core::mem::transmute(region.exec_addr() as usize) };
    let result = add(40, 2);

    // A write through the executable view must fault (read-only mapping).
    // SAFETY: the target is our own region; if the store wrongly succeeded
    // it would only change our own test code, which is then reported.
    let rx_write = unsafe { trap::probe_write(region.exec_addr(), 0x90) };
    // A write through the writable view must succeed (same byte value).
    // SAFETY: writes the byte already there, in our own region.
    let rw_write = unsafe { trap::probe_write(region.write_addr(), ADD_CODE[0]) };
    let during = pool.stats();
    let region_len = region.len();
    pool.free(region);
    let after = pool.stats();

    let fault_ok = match rx_write {
        Err(f) => f.error_code & 0b11 == 0b11,
        Ok(()) => false,
    };
    let detail = s!(
        "{}-byte region: code via writable view returned {result} (want 42); write via executable view {}; write via writable view {}; used {}->{}->{} bytes",
        region_len,
        match rx_write {
            Err(f) => s!("faulted (cr2 {:#x}, error {:#x})", f.cr2, f.error_code),
            Ok(()) => s!("did NOT fault"),
        },
        if rw_write.is_ok() { "ok" } else { "faulted" },
        before.used,
        during.used,
        after.used
    );
    if result == 42
        && fault_ok
        && rw_write.is_ok()
        && after.used == before.used
        && during.used > before.used
    {
        pass(detail)
    } else {
        fail(detail)
    }
}

fn unmapped_probe_test() -> Outcome {
    let addr = crate::mem::MMIO_BASE + (1 << 39) - 4096;
    // SAFETY: nothing is mapped at `addr`, so the store can only fault.
    match unsafe { trap::probe_write(addr, 1) } {
        Err(f) if f.cr2 == addr && f.error_code & 1 == 0 => pass(s!(
            "page fault at {:#x} caught, error {:#x}",
            f.cr2,
            f.error_code
        )),
        Err(f) => fail(s!(
            "fault reported wrong: cr2 {:#x} error {:#x}",
            f.cr2,
            f.error_code
        )),
        Ok(()) => fail(s!("store to unmapped {addr:#x} did not fault")),
    }
}

fn smp_test() -> Outcome {
    let cpus: Vec<usize> = smp::online().collect();
    let mut detail = s!("{} cpus online;", cpus.len());
    let mut ok = true;
    for &i in &cpus {
        let want = percpu::get(i).map(|c| c.apic_id.load(Ordering::Relaxed));
        if i == 0 {
            let _ = write!(detail, " cpu0 runs the main flow;");
            continue;
        }
        let job = smp::run_on(i, || {
            (
                percpu::current_index(),
                apic::id(),
                (1..=1000u64).sum::<u64>(),
            )
        });
        match job.map(|j| j.join_timeout(2_000_000)) {
            Ok(Ok((idx, apic_id, sum))) => {
                let good = idx as usize == i && Some(apic_id) == want && sum == 500_500;
                ok &= good;
                let _ = write!(
                    detail,
                    " cpu{i} ran job (apic {apic_id}) {};",
                    if good { "ok" } else { "WRONG" }
                );
            }
            Ok(Err(_)) => {
                ok = false;
                let _ = write!(detail, " cpu{i} did not finish within 2 s;");
            }
            Err(e) => {
                ok = false;
                let _ = write!(detail, " cpu{i} refused: {e:?};");
            }
        }
    }
    if ok { pass(detail) } else { fail(detail) }
}

/// The RSDP the boot loader reported (normalized to a physical address, whichever
/// Limine base revision or multiboot2 tag gave it) must lead to a valid MADT that
/// lists every CPU online.
fn acpi_test() -> Outcome {
    let info = crate::boot_info();
    let (rsdp, source) = match info.rsdp_phys {
        Some(r) => (Some(r), "boot loader"),
        None => (crate::acpi::scan_bios_rsdp(), "BIOS area scan"),
    };
    let Some(rsdp) = rsdp else {
        return pass(s!(
            "no RSDP from the boot loader or the BIOS areas: no ACPI to check"
        ));
    };
    let online = smp::online().count();
    match crate::acpi::read_madt(rsdp) {
        Ok(madt) if madt.cpus.len() + madt.dropped >= online => pass(s!(
            "RSDP at {rsdp:#x} (from the {source}) is valid; the MADT lists {} CPUs, {online} online",
            madt.cpus.len() + madt.dropped
        )),
        Ok(madt) => fail(s!(
            "RSDP at {rsdp:#x} (from the {source}): the MADT lists {} CPUs but {online} are online",
            madt.cpus.len() + madt.dropped
        )),
        Err(reason) => fail(s!("RSDP at {rsdp:#x} (from the {source}): {reason}")),
    }
}

fn tsc_test() -> Outcome {
    let a = tsc::rdtsc();
    let t0 = tsc::now_us();
    tsc::delay_us(500);
    let b = tsc::rdtsc();
    let t1 = tsc::now_us();
    let detail = s!(
        "{} Hz from {}; 500 us delay took {} us",
        tsc::hz(),
        tsc::source().name(),
        t1 - t0
    );
    if tsc::hz() > 0 && b > a && t1 > t0 {
        pass(detail)
    } else {
        fail(detail)
    }
}

#[inline(never)]
fn walk_here() -> usize {
    let rbp: u64;
    // SAFETY: reads the frame pointer register only.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack)) };
    let mut out = [0u64; 12];
    trap::stack_walk(rbp, &mut out)
}

#[inline(never)]
fn walk_nested(depth: u32) -> usize {
    if depth == 0 {
        walk_here()
    } else {
        core::hint::black_box(walk_nested(depth - 1))
    }
}

fn stack_walk_test() -> Outcome {
    let depth = walk_nested(3);
    let detail = s!("{depth} frames found from 4 nested calls");
    if depth >= 4 {
        pass(detail)
    } else {
        fail(detail)
    }
}

/// Runs every self-test; true when all pass.
pub fn run_all() -> bool {
    type Test = (&'static str, fn() -> Outcome);
    let tests: [Test; 8] = [
        ("heap", heap_test),
        ("frames", frames_test),
        ("exec_pool", exec_pool_test),
        ("page_fault_probe", unmapped_probe_test),
        ("smp_handoff", smp_test),
        ("acpi", acpi_test),
        ("tsc", tsc_test),
        ("stack_walk", stack_walk_test),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let o = test();
        if !o.ok {
            failed += 1;
        }
        trace::emit("selftest", |e| {
            e.str("name", name)
                .bool("ok", o.ok)
                .str("detail", &o.detail);
        });
    }
    trace::emit("selftest_summary", |e| {
        e.u64("passed", (tests.len() - failed) as u64)
            .u64("failed", failed as u64);
    });
    failed == 0
}
