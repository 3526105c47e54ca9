//! AOT baseline of SHA-256 (see `sha256.bfir`): the same streaming structure, on u32.

use super::{AotError, check_len};

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The message schedule `w` (64 words) is expanded in place, as in the IR.
#[inline(always)]
fn compress(state: &mut [u32; 8], w: &mut [u32; 64]) {
    for t in 16..64 {
        let x = w[t - 15];
        let y = w[t - 2];
        let s0 = x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
        let s1 = y.rotate_right(17) ^ y.rotate_right(19) ^ (y >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..64 {
        let big_s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(big_s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let big_s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = big_s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// SHA-256 of data[0..len]; also leaves the final state and schedule in `state_out`
/// and `w_out` exactly as the IR kernel does (they are outputs of the IR call too).
#[inline(always)]
pub fn sha256(
    data: &[u8],
    len: i32,
    digest: &mut [u8],
    state_out: &mut [i32],
    w_out: &mut [i32],
) -> Result<(), AotError> {
    if len < 0 {
        // The IR slices data[off..len] with off > len (or off < 0): out of bounds.
        return Err(AotError::WouldTrap(jit::TrapKind::OutOfBounds));
    }
    let len = len as usize;
    check_len(data.len(), len)?;
    check_len(digest.len(), 32)?;
    check_len(state_out.len(), 8)?;
    check_len(w_out.len(), 64)?;
    let mut state = H0;
    let mut w = [0u32; 64];
    let full = len / 64;
    for block in data[..full * 64].chunks_exact(64) {
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        compress(&mut state, &mut w);
    }
    let tail = &data[full * 64..len];
    let padded_len = (tail.len() + 72) / 64 * 64;
    let total_bits = (len as u64).wrapping_mul(8);
    let mut padded = [0u8; 128];
    padded[..tail.len()].copy_from_slice(tail);
    padded[tail.len()] = 0x80;
    padded[padded_len - 8..padded_len].copy_from_slice(&total_bits.to_be_bytes());
    for block in padded[..padded_len].chunks_exact(64) {
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        compress(&mut state, &mut w);
    }
    for (i, s) in state.iter().enumerate() {
        digest[i * 4..i * 4 + 4].copy_from_slice(&s.to_be_bytes());
    }
    for (dst, s) in state_out.iter_mut().zip(state) {
        *dst = s as i32;
    }
    for (dst, s) in w_out.iter_mut().zip(w) {
        *dst = s as i32;
    }
    Ok(())
}
