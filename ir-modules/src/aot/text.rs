//! AOT baselines of the byte kernels: regex_dfa and strops (see their `.bfir`).

use super::{AotError, check_len, dims};

/// Counts matching lines of text[0..n] with the table-driven automaton.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn regex_dfa(
    text: &[u8],
    n: i32,
    classes: &[u8],
    table: &[i32],
    accept: &[u8],
    nclasses: i32,
    start: i32,
) -> Result<i32, AotError> {
    let [n] = dims([n]);
    check_len(text.len(), n)?;
    check_len(classes.len(), 256)?;
    let nstates = accept.len();
    if n == 0 {
        return Ok(0);
    }
    if start < 0 || start as usize >= nstates {
        // The first byte indexes accept[start] or table[start * nclasses + ..].
        return Err(AotError::WouldTrap(jit::TrapKind::OutOfBounds));
    }
    if nclasses <= 0 {
        return Err(AotError::Unsupported("automaton without byte classes"));
    }
    let nclasses = nclasses as usize;
    check_len(table.len(), nstates * nclasses)?;
    if classes.iter().any(|&c| c as usize >= nclasses)
        || table.iter().any(|&s| s < 0 || s as usize >= nstates)
    {
        return Err(AotError::Unsupported("automaton entries out of range"));
    }
    let start = start as usize;
    let mut count = 0i32;
    let mut state = start;
    let mut in_line = false;
    for &byte in &text[..n] {
        if byte == b'\n' {
            if accept[state] != 0 {
                count += 1;
            }
            state = start;
            in_line = false;
        } else {
            state = table[state * nclasses + classes[byte as usize] as usize] as usize;
            in_line = true;
        }
    }
    if in_line && accept[state] != 0 {
        count += 1;
    }
    Ok(count)
}

/// First occurrence of needle in hay at or after `from`, or -1 (naive, as the IR).
#[inline(always)]
fn find(hay: &[u8], needle: &[u8], from: usize) -> i32 {
    let (n, m) = (hay.len(), needle.len());
    let mut s = from;
    while s + m <= n {
        let mut k = 0;
        while k < m && hay[s + k] == needle[k] {
            k += 1;
        }
        if k == m {
            return s as i32;
        }
        s += 1;
    }
    -1
}

#[inline(always)]
fn count(hay: &[u8], needle: &[u8]) -> i32 {
    let mut hits = 0;
    let mut at = find(hay, needle, 0);
    while at >= 0 {
        hits += 1;
        at = find(hay, needle, at as usize + 1);
    }
    hits
}

#[inline(always)]
fn compare(a: &[u8], b: &[u8]) -> i32 {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return if x < y { -1 } else { 1 };
        }
    }
    0
}

/// The combined strops workload (see `strops.bfir`).
#[inline(always)]
pub fn strops(
    text: &[u8],
    pattern: &[u8],
    out: &mut [u8],
    n: i32,
    m: i32,
) -> Result<i32, AotError> {
    let [n, m] = dims([n, m]);
    check_len(text.len(), n)?;
    check_len(out.len(), n)?;
    if m <= n {
        check_len(pattern.len(), m)?;
    }
    let text = &text[..n];
    let out = &mut out[..n];
    out.copy_from_slice(text);
    let mut changed = 0i32;
    for c in out.iter_mut() {
        if c.is_ascii_lowercase() {
            *c -= 32;
            changed += 1;
        }
    }
    let hits = if m > n { 0 } else { count(text, &pattern[..m]) };
    let half = n / 2;
    let halves = compare(&text[..half], &text[half..2 * half]);
    let versus = compare(out, text);
    Ok((hits.wrapping_mul(16) + (halves + 1) * 4 + (versus + 1)) ^ (changed << 20))
}
