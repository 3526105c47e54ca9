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

/// Checks the multiboot2 header (first 32 KiB, 8-aligned, checksum, the
/// entry-address tag pointing into the loaded image) and the Limine
/// requests (start/end markers around a base-revision-3 tag), plus the
/// segment layout both loaders rely on. Returns a one-line summary.
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

    // Limine requests.
    let words = |o: usize, n: usize| -> Vec<u64> {
        (0..n)
            .filter_map(|i| le::<8>(elf, o + 8 * i).ok())
            .collect()
    };
    let find = |pat: &[u64]| {
        (0..elf.len().saturating_sub(8 * pat.len()))
            .step_by(8)
            .find(|&o| words(o, pat.len()) == pat)
    };
    let start = find(&[
        0xf6b8_f4b3_9de7_d1ae,
        0xfab9_1a69_40fc_b9cf,
        0x785c_6ed0_15d3_e316,
        0x181e_920a_7852_b9d9,
    ])
    .ok_or("no Limine requests start marker")?;
    let end = find(&[0xadc0_e053_1bb1_0d03, 0x9572_709f_3176_4c62])
        .ok_or("no Limine requests end marker")?;
    let base = find(&[0xf956_2b2d_5c95_a6c8, 0x6a7b_3849_4453_6bdc])
        .ok_or("no Limine base revision tag")?;
    if !(start < base && base < end) {
        return Err("Limine base revision tag is not between the request markers".into());
    }
    let revision = le::<8>(elf, base + 16)?;
    if revision != 3 {
        return Err(format!("Limine base revision {revision}, want 3"));
    }
    // Every request between the markers starts with the common magic.
    let requests = (start..end)
        .step_by(8)
        .filter(|&o| words(o, 2) == [0xc7b1_dd30_df4c_8b88, 0x0a82_e883_a194_f07b])
        .count();
    if requests < 8 {
        return Err(format!(
            "only {requests} Limine requests between the markers, want 8"
        ));
    }
    Ok(format!(
        "multiboot2 header at file offset {hdr:#x} (entry {mb2_entry:#x}), Limine base revision 3 with {requests} requests, \
         ELF entry {entry:#x}, {} segments, none W+X",
        segs.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf() {
        assert!(check(b"not an elf at all").unwrap_err().contains("ELF64"));
        assert!(segments(&[0x7f, b'E', b'L', b'F', 2, 1]).is_err());
    }
}
