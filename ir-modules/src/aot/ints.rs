//! AOT baselines of the integer kernels: quicksort, primes, fibonacci.

use super::{AotError, CALL_DEPTH_LIMIT, check_len};
use jit::TrapKind;

/// Lomuto quicksort of a[lo..=hi] (see `quicksort.bfir`); `depth` counts the nested
/// calls so that the baseline refuses the inputs the IR would trap on.
fn quicksort(a: &mut [i32], lo: isize, hi: isize, depth: u32) -> Result<(), AotError> {
    if depth > CALL_DEPTH_LIMIT {
        return Err(AotError::WouldTrap(TrapKind::CallDepth));
    }
    if lo >= hi {
        return Ok(());
    }
    let (l, h) = (lo as usize, hi as usize);
    let pivot = a[h];
    let mut i = l;
    for j in l..h {
        if a[j] < pivot {
            a.swap(i, j);
            i += 1;
        }
    }
    a.swap(i, h);
    quicksort(a, lo, i as isize - 1, depth + 1)?;
    quicksort(a, i as isize + 1, hi, depth + 1)
}

/// Sorts a[0..n] (see `quicksort.bfir`).
#[inline(always)]
pub fn sort(a: &mut [i32], n: i32) -> Result<(), AotError> {
    if n > 1 {
        check_len(a.len(), n as usize)?;
    }
    // `sort` itself is one level of the IR's call depth.
    quicksort(a, 0, n as isize - 1, 2)
}

/// Counts the primes <= n with the sieve (see `primes.bfir`).
#[inline(always)]
pub fn primes(sieve: &mut [u8], n: i32) -> Result<i32, AotError> {
    if n < 2 {
        return Ok(0);
    }
    let n = n as usize;
    check_len(sieve.len(), n + 1)?;
    let sieve = &mut sieve[..n + 1];
    sieve.fill(0);
    let mut i = 2usize;
    while i * i <= n {
        if sieve[i] == 0 {
            for j in (i * i..n + 1).step_by(i) {
                sieve[j] = 1;
            }
        }
        i += 1;
    }
    Ok(sieve[2..].iter().filter(|&&s| s == 0).count() as i32)
}

fn fib_rec(n: i32) -> i32 {
    if n < 2 {
        return n;
    }
    fib_rec(n - 1).wrapping_add(fib_rec(n - 2))
}

/// Doubly recursive Fibonacci (see `fibonacci.bfir`).
#[inline(always)]
pub fn fib(n: i32) -> Result<i32, AotError> {
    // The first descent nests n calls (fib(n) .. fib(1)).
    if n > CALL_DEPTH_LIMIT as i32 {
        return Err(AotError::WouldTrap(TrapKind::CallDepth));
    }
    Ok(fib_rec(n))
}
