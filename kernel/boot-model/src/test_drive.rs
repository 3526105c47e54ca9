//! The contents of the drives the block-device tests attach: every 512-byte
//! sector starts with [`MAGIC`], its own number and a generation, followed by
//! pseudo-random bytes derived from both. `xtask` writes generation 0; the
//! kernel's `block` self-test checks it and rewrites a writable test drive
//! with generation 1, which `xtask` then checks in the file.

/// Bytes per sector.
pub const SECTOR: usize = 512;
/// First bytes of every sector of a test drive.
pub const MAGIC: &[u8; 16] = b"BAREFLOW-BLKTEST";

/// Fills `out` (one sector) as sector `sector` of generation `generation`.
pub fn fill_sector(sector: u64, generation: u32, out: &mut [u8; SECTOR]) {
    out[..16].copy_from_slice(MAGIC);
    out[16..24].copy_from_slice(&sector.to_le_bytes());
    out[24..28].copy_from_slice(&generation.to_le_bytes());
    let mut state = (sector ^ ((generation as u64) << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for chunk in out[28..].chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = chunk.len();
        chunk.copy_from_slice(&state.to_le_bytes()[..n]);
    }
}

/// Whether `sector_bytes` is sector `sector` of generation `generation`.
pub fn is_sector(sector: u64, generation: u32, sector_bytes: &[u8]) -> bool {
    let mut want = [0u8; SECTOR];
    fill_sector(sector, generation, &mut want);
    sector_bytes == want
}

/// Whether a sector starts like a test drive's (any number, any generation).
pub fn looks_like_test_sector(sector_bytes: &[u8]) -> bool {
    sector_bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_differ_by_number_and_generation() {
        let mut a = [0u8; SECTOR];
        let mut b = [0u8; SECTOR];
        fill_sector(3, 0, &mut a);
        fill_sector(4, 0, &mut b);
        assert_ne!(a[28..], b[28..]);
        fill_sector(3, 1, &mut b);
        assert_ne!(a[28..], b[28..]);
        assert!(is_sector(3, 0, &a));
        assert!(!is_sector(3, 1, &a));
        assert!(looks_like_test_sector(&a));
        assert!(!looks_like_test_sector(&[0u8; SECTOR]));
    }
}
