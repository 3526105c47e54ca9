//! Self-tests of the machine layer (the platform), each reported as a
//! `selftest` event.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use platform::mem::{self, exec_pool};
use platform::{acpi, boot, cpu, smp, stack, time, trace};

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
        mem::heap_size() >> 20,
        mem::heap_used() >> 10
    );
    if sum == n * (n - 1) / 2 && box_ok {
        pass(detail)
    } else {
        fail(s!("{detail}; wrong contents"))
    }
}

fn frames_test() -> Outcome {
    match mem::frame_stats() {
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

fn exec_pool_test() -> Outcome {
    let Some(pool) = exec_pool::get() else {
        return fail(s!("pool not initialized"));
    };
    let check = match pool.self_check() {
        Ok(c) => c,
        Err(e) => return fail(s!("the pool's check could not run: {e:?}")),
    };
    let [before, during, after] = check.used;
    let rx_write = check.probe.exec_view;
    let rw_write = check.probe.write_view;
    let fault_ok = match rx_write {
        Err(f) => f.error_code & 0b11 == 0b11,
        Ok(()) => false,
    };
    let detail = s!(
        "{}-byte region: code via writable view returned {} (want 42); write via executable view {}; write via writable view {}; used {}->{}->{} bytes",
        check.region_len,
        check.result,
        match rx_write {
            Err(f) => s!("faulted (cr2 {:#x}, error {:#x})", f.cr2, f.error_code),
            Ok(()) => s!("did NOT fault"),
        },
        if rw_write.is_ok() { "ok" } else { "faulted" },
        before,
        during,
        after
    );
    if check.result == 42 && fault_ok && rw_write.is_ok() && after == before && during > before {
        pass(detail)
    } else {
        fail(detail)
    }
}

fn unmapped_probe_test() -> Outcome {
    let addr = mem::unmapped_address();
    match mem::probe_unmapped() {
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
        let want = cpu::apic_id(i);
        if i == 0 {
            let _ = write!(detail, " cpu0 runs the main flow;");
            continue;
        }
        let job = smp::run_on(i, || {
            (
                cpu::current_index(),
                cpu::current_apic_id(),
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
    let info = boot::info();
    let (rsdp, source) = match info.rsdp_phys {
        Some(r) => (Some(r), "boot loader"),
        None => (acpi::scan_bios_rsdp(), "BIOS area scan"),
    };
    let Some(rsdp) = rsdp else {
        return pass(s!(
            "no RSDP from the boot loader or the BIOS areas: no ACPI to check"
        ));
    };
    let online = smp::online().count();
    match acpi::read_madt(rsdp) {
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
    let a = time::cycles();
    let t0 = time::now_us();
    time::delay_us(500);
    let b = time::cycles();
    let t1 = time::now_us();
    let detail = s!(
        "{} Hz from {}; 500 us delay took {} us",
        time::hz(),
        time::source().name(),
        t1 - t0
    );
    if time::hz() > 0 && b > a && t1 > t0 {
        pass(detail)
    } else {
        fail(detail)
    }
}

#[inline(never)]
fn walk_here() -> usize {
    let mut out = [0u64; 12];
    stack::walk_here(&mut out)
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

fn block_test() -> Outcome {
    match super::block_test::run() {
        Ok(d) => pass(d),
        Err(d) => fail(d),
    }
}

fn team_test() -> Outcome {
    match super::team_test::run() {
        Ok(d) => pass(d),
        Err(d) => fail(d),
    }
}

/// Runs every self-test; true when all pass.
pub fn run_all() -> bool {
    type Test = (&'static str, fn() -> Outcome);
    let tests: [Test; 10] = [
        ("heap", heap_test),
        ("frames", frames_test),
        ("exec_pool", exec_pool_test),
        ("page_fault_probe", unmapped_probe_test),
        ("smp_handoff", smp_test),
        ("acpi", acpi_test),
        ("tsc", tsc_test),
        ("stack_walk", stack_walk_test),
        ("block", block_test),
        ("team", team_test),
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
