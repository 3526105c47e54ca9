//! Static checks of the kernel ELF: both boot protocols must find what they
//! need in the file (checked without booting, so the Limine side is covered
//! even where no Limine binary is at hand).

/// Reads a little-endian integer of `N` bytes at `off`.
fn le<const N: usize>(b: &[u8], off: usize) -> Result<u64, String> {
    let s = b
        .get(off..off + N)
        .ok_or_else(|| format!("ELF truncated at {off:#x}"))?;
    Ok(s.iter().rev().fold(0u64, |a, &x| (a << 8) | x as u64))
}

/// A loadable segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// Virtual address.
    pub vaddr: u64,
    /// Physical (load) address.
    pub paddr: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory.
    pub memsz: u64,
    /// PF_X | PF_W | PF_R.
    pub flags: u32,
}

/// ELF entry point and loadable segments.
pub fn segments(elf: &[u8]) -> Result<(u64, Vec<Segment>), String> {
    if elf.get(0..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a little-endian ELF64 file".into());
    }
    if le::<2>(elf, 18)? != 62 {
        return Err("not an x86_64 ELF".into());
    }
    let entry = le::<8>(elf, 24)?;
    let phoff = le::<8>(elf, 32)? as usize;
    let phentsize = le::<2>(elf, 54)? as usize;
    let phnum = le::<2>(elf, 56)? as usize;
    let mut segs = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * phentsize;
        if le::<4>(elf, p)? != 1 {
            continue; // not PT_LOAD
        }
        segs.push(Segment {
            flags: le::<4>(elf, p + 4)? as u32,
            vaddr: le::<8>(elf, p + 16)?,
            paddr: le::<8>(elf, p + 24)?,
            filesz: le::<8>(elf, p + 32)?,
            memsz: le::<8>(elf, p + 40)?,
        });
    }
    Ok((entry, segs))
}

const KVMA: u64 = 0xffff_ffff_8000_0000;

/// The Limine base revision the kernel's tag requests (it also boots under
/// loaders that predate it; see `bareflow_boot_model::limine_view`).
const LIMINE_BASE_REVISION: u64 = bareflow_boot_model::limine_view::REQUESTED_BASE_REVISION;

/// The Limine requests the kernel must carry: name and the two words after the
/// common magic.
const LIMINE_REQUESTS: &[(&str, [u64; 2])] = &[
    (
        "bootloader info",
        [0xf550_38d8_e2a1_202f, 0x2794_26fc_f5f5_9740],
    ),
    ("HHDM", [0x48dc_f1cb_8ad2_b852, 0x6398_4e95_9a98_244b]),
    ("memory map", [0x67cf_3d9d_378a_806f, 0xe304_acdf_c50c_3c62]),
    (
        "executable address",
        [0x71ba_7686_3cc5_5f63, 0xb264_4a48_c516_a487],
    ),
    (
        "executable command line",
        [0x4b16_1536_e598_651e, 0xb390_ad4a_2f1f_303a],
    ),
    (
        "executable file",
        [0xad97_e90e_83f1_ed67, 0x31eb_5d1c_5ff2_3b69],
    ),
    ("module", [0x3e7e_2797_02be_32af, 0xca1c_4f3b_d128_0cee]),
    ("MP", [0x95a6_7b81_9a1b_857e, 0xa0b6_1b72_3b6a_73e0]),
    ("RSDP", [0xc5e7_7b6b_397e_7b43, 0x2763_7845_accd_cf3c]),
];
const LIMINE_COMMON_MAGIC: [u64; 2] = [0xc7b1_dd30_df4c_8b88, 0x0a82_e883_a194_f07b];

/// Checks the multiboot2 header (first 32 KiB, 8-aligned, checksum, the
/// entry-address tag pointing into the loaded image) and the Limine
/// requests (start/end markers around a base-revision-3 tag and every request
/// the kernel reads, the command line both as its own request for Limine 9.x
/// and as the executable file for 8.x), plus the segment layout both loaders
/// rely on. Returns a one-line summary.
pub fn check(elf: &[u8]) -> Result<String, String> {
    let (entry, segs) = segments(elf)?;
    if segs.is_empty() {
        return Err("no loadable segments".into());
    }
    for s in &segs {
        if s.vaddr < KVMA {
            return Err(format!(
                "segment at {:#x} is not in the top 2 GiB (Limine rejects it)",
                s.vaddr
            ));
        }
        if s.paddr != s.vaddr - KVMA {
            return Err(format!(
                "segment {:#x} has load address {:#x}, want {:#x}",
                s.vaddr,
                s.paddr,
                s.vaddr - KVMA
            ));
        }
        if s.flags & 0b011 == 0b011 {
            return Err(format!(
                "segment at {:#x} is writable and executable",
                s.vaddr
            ));
        }
    }
    if !segs
        .iter()
        .any(|s| s.vaddr <= entry && entry < s.vaddr + s.memsz && s.flags & 1 != 0)
    {
        return Err(format!(
            "ELF entry {entry:#x} is not in an executable segment"
        ));
    }

    // Multiboot2 header.
    let limit = elf.len().min(32 * 1024);
    let hdr = (0..limit.saturating_sub(16))
        .step_by(8)
        .find(|&o| le::<4>(elf, o).ok() == Some(0xe852_50d6))
        .ok_or("no multiboot2 header in the first 32 KiB")?;
    let arch = le::<4>(elf, hdr + 4)?;
    let len = le::<4>(elf, hdr + 8)?;
    let sum = le::<4>(elf, hdr + 12)?;
    if (0xe852_50d6u64 + arch + len + sum) & 0xffff_ffff != 0 || arch != 0 {
        return Err("multiboot2 header checksum or architecture wrong".into());
    }
    let mut off = hdr + 16;
    let mut mb2_entry = None;
    while off + 8 <= hdr + len as usize {
        let ty = le::<2>(elf, off)?;
        let size = le::<4>(elf, off + 4)? as usize;
        if ty == 0 {
            break;
        }
        if ty == 3 {
            mb2_entry = Some(le::<4>(elf, off + 8)?);
        }
        off += size.next_multiple_of(8).max(8);
    }
    let mb2_entry = mb2_entry.ok_or("multiboot2 header has no entry-address tag")?;
    if !segs
        .iter()
        .any(|s| s.paddr <= mb2_entry && mb2_entry < s.paddr + s.filesz && s.flags & 1 != 0)
    {
        return Err(format!(
            "multiboot2 entry {mb2_entry:#x} is not in a loaded executable segment"
        ));
    }

    let requests = limine_requests(elf)?;
    Ok(format!(
        "multiboot2 header at file offset {hdr:#x} (entry {mb2_entry:#x}), Limine base revision \
         {LIMINE_BASE_REVISION} with {requests} requests, ELF entry {entry:#x}, {} segments, none W+X",
        segs.len()
    ))
}

const START_MARKER: [u64; 4] = [
    0xf6b8_f4b3_9de7_d1ae,
    0xfab9_1a69_40fc_b9cf,
    0x785c_6ed0_15d3_e316,
    0x181e_920a_7852_b9d9,
];
const END_MARKER: [u64; 2] = [0xadc0_e053_1bb1_0d03, 0x9572_709f_3176_4c62];
const BASE_REVISION_MAGIC: [u64; 2] = [0xf956_2b2d_5c95_a6c8, 0x6a7b_3849_4453_6bdc];

/// The Limine part of the image: markers, the base revision tag between them,
/// and every request of [`LIMINE_REQUESTS`] between them. Returns how many
/// requests there are.
fn limine_requests(elf: &[u8]) -> Result<usize, String> {
    let words = |o: usize, n: usize| -> Vec<u64> {
        (0..n)
            .filter_map(|i| le::<8>(elf, o + 8 * i).ok())
            .collect()
    };
    let find = |pat: &[u64]| {
        (0..=elf.len().saturating_sub(8 * pat.len()))
            .step_by(8)
            .find(|&o| words(o, pat.len()) == pat)
    };
    let start = find(&START_MARKER).ok_or("no Limine requests start marker")?;
    let end = find(&END_MARKER).ok_or("no Limine requests end marker")?;
    let base = find(&BASE_REVISION_MAGIC).ok_or("no Limine base revision tag")?;
    if !(start < base && base < end) {
        return Err("Limine base revision tag is not between the request markers".into());
    }
    let revision = le::<8>(elf, base + 16)?;
    if revision != LIMINE_BASE_REVISION {
        return Err(format!(
            "Limine base revision {revision}, want {LIMINE_BASE_REVISION}"
        ));
    }
    // Every request the kernel reads, between the markers.
    let ids: Vec<[u64; 2]> = (start..end)
        .step_by(8)
        .filter(|&o| words(o, 2) == LIMINE_COMMON_MAGIC)
        .map(|o| {
            let w = words(o + 16, 2);
            [
                w.first().copied().unwrap_or(0),
                w.get(1).copied().unwrap_or(0),
            ]
        })
        .collect();
    let missing: Vec<&str> = LIMINE_REQUESTS
        .iter()
        .filter(|(_, id)| !ids.contains(id))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Limine requests missing between the markers: {}",
            missing.join(", ")
        ));
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words as little-endian bytes.
    fn bytes(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A requests area: start marker, base revision tag, the given requests
    /// (id plus revision and response words), end marker.
    fn area(revision: u64, requests: &[[u64; 2]]) -> Vec<u8> {
        let mut w = START_MARKER.to_vec();
        w.extend(BASE_REVISION_MAGIC);
        w.push(revision);
        for id in requests {
            w.extend(LIMINE_COMMON_MAGIC);
            w.extend(id);
            w.extend([0, 0]);
        }
        w.extend(END_MARKER);
        bytes(&w)
    }

    #[test]
    fn limine_requests_are_checked_by_name() {
        let all: Vec<[u64; 2]> = LIMINE_REQUESTS.iter().map(|(_, id)| *id).collect();
        assert_eq!(
            limine_requests(&area(LIMINE_BASE_REVISION, &all)),
            Ok(LIMINE_REQUESTS.len())
        );
        // Limine 8.x finds the command line only in the executable file.
        let without_file: Vec<[u64; 2]> = LIMINE_REQUESTS
            .iter()
            .filter(|(n, _)| *n != "executable file")
            .map(|(_, id)| *id)
            .collect();
        let err = limine_requests(&area(LIMINE_BASE_REVISION, &without_file)).unwrap_err();
        assert!(
            err.contains("missing") && err.contains("executable file"),
            "{err}"
        );
        let err = limine_requests(&area(2, &all)).unwrap_err();
        assert!(err.contains("base revision 2, want 3"), "{err}");
        // A request after the end marker does not count.
        let mut late = area(LIMINE_BASE_REVISION, &all[1..]);
        late.extend(bytes(&[
            LIMINE_COMMON_MAGIC[0],
            LIMINE_COMMON_MAGIC[1],
            all[0][0],
            all[0][1],
        ]));
        let err = limine_requests(&late).unwrap_err();
        assert!(err.contains("bootloader info"), "{err}");
    }

    #[test]
    fn rejects_non_elf() {
        assert!(check(b"not an elf at all").unwrap_err().contains("ELF64"));
        assert!(segments(&[0x7f, b'E', b'L', b'F', 2, 1]).is_err());
    }
}
