//! Just enough ACPI to find the CPUs: RSDP -> RSDT/XSDT -> MADT, read through
//! the direct map (firmware tables are never written by the kernel).

use crate::mem::vm;
use bareflow_boot_model::bootinfo::MAX_CPUS;
use bareflow_boot_model::fixed::FixedVec;

/// A local APIC listed in the MADT.
#[derive(Debug, Clone, Copy, Default)]
pub struct MadtCpu {
    /// Local APIC id.
    pub apic_id: u32,
}

/// What the MADT says.
#[derive(Debug, Clone, Copy, Default)]
pub struct Madt {
    /// Physical address of the local APIC registers.
    pub lapic_phys: u64,
    /// Enabled (or online-capable) processors.
    pub cpus: FixedVec<MadtCpu, MAX_CPUS>,
    /// Processors beyond MAX_CPUS that were left out.
    pub dropped: usize,
}

fn phys_bytes(phys: u64, len: usize) -> Result<&'static [u8], &'static str> {
    vm::firmware_bytes(phys, len).map_err(|_| "ACPI table outside firmware memory")
}

fn checksum_ok(b: &[u8]) -> bool {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x)) == 0
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]))
}

/// Looks for the RSDP in the BIOS areas (EBDA, 0xE0000..0x100000), for
/// loaders that do not pass it.
pub fn scan_bios_rsdp() -> Option<u64> {
    let bda = phys_bytes(0x40e, 2).ok()?;
    let ebda = (u16::from_le_bytes([bda[0], bda[1]]) as u64) << 4;
    let areas = [(ebda, 1024u64), (0xe0000, 0x20000)];
    for (start, len) in areas {
        if start == 0 {
            continue;
        }
        let Ok(mem) = phys_bytes(start, len as usize) else {
            continue;
        };
        for off in (0..mem.len().saturating_sub(20)).step_by(16) {
            if &mem[off..off + 8] == b"RSD PTR " && checksum_ok(&mem[off..off + 20]) {
                return Some(start + off as u64);
            }
        }
    }
    None
}

/// Reads the MADT reachable from the RSDP at physical `rsdp_phys` (any
/// address: one outside firmware memory is an error).
pub fn read_madt(rsdp_phys: u64) -> Result<Madt, &'static str> {
    let rsdp = phys_bytes(rsdp_phys, 36)?;
    if &rsdp[0..8] != b"RSD PTR " || !checksum_ok(&rsdp[..20]) {
        return Err("RSDP signature or checksum wrong");
    }
    let revision = rsdp[15];
    let (root, entry_size) = if revision >= 2 && u64_at(rsdp, 24) != 0 {
        (u64_at(rsdp, 24), 8)
    } else {
        (u32_at(rsdp, 16) as u64, 4)
    };
    let header = phys_bytes(root, 36)?;
    let root_len = u32_at(header, 4) as usize;
    if !(36..=1 << 20).contains(&root_len) {
        return Err("RSDT/XSDT length implausible");
    }
    let root_tbl = phys_bytes(root, root_len)?;
    if !checksum_ok(root_tbl) {
        return Err("RSDT/XSDT checksum wrong");
    }
    for off in (36..root_len).step_by(entry_size) {
        if off + entry_size > root_len {
            break;
        }
        let table = if entry_size == 8 {
            u64_at(root_tbl, off)
        } else {
            u32_at(root_tbl, off) as u64
        };
        if table == 0 {
            continue;
        }
        let h = phys_bytes(table, 36)?;
        if &h[0..4] != b"APIC" {
            continue;
        }
        let len = u32_at(h, 4) as usize;
        if !(44..=1 << 20).contains(&len) {
            return Err("MADT length implausible");
        }
        let madt = phys_bytes(table, len)?;
        if !checksum_ok(madt) {
            return Err("MADT checksum wrong");
        }
        return Ok(parse_madt(madt));
    }
    Err("no MADT in the RSDT/XSDT")
}

fn parse_madt(madt: &[u8]) -> Madt {
    let mut out = Madt {
        lapic_phys: u32_at(madt, 36) as u64,
        ..Madt::default()
    };
    let mut off = 44;
    while off + 2 <= madt.len() {
        let ty = madt[off];
        let len = madt[off + 1] as usize;
        if len < 2 || off + len > madt.len() {
            break;
        }
        let e = &madt[off..off + len];
        let cpu = match ty {
            0 if len >= 8 => Some((e[3] as u32, u32_at(e, 4))),
            9 if len >= 16 => Some((u32_at(e, 4), u32_at(e, 8))),
            5 if len >= 12 => {
                out.lapic_phys = u64_at(e, 4);
                None
            }
            _ => None,
        };
        if let Some((apic_id, flags)) = cpu
            && flags & 1 != 0
            && !out.cpus.as_slice().iter().any(|c| c.apic_id == apic_id)
            && out.cpus.push(MadtCpu { apic_id }).is_err()
        {
            out.dropped += 1;
        }
        off += len;
    }
    out
}
