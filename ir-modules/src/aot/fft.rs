//! AOT baseline of the radix-2 FFT (see `fft.bfir`), same operation order.

use super::{AotError, check_len};

/// Forward in-place FFT of (re, im)[0..n]; returns -1 when n is not a power of two.
#[inline(always)]
pub fn fft(re: &mut [f32], im: &mut [f32], n: i32) -> Result<i32, AotError> {
    if n <= 0 || n.count_ones() != 1 {
        return Ok(-1);
    }
    let n = n as usize;
    check_len(re.len(), n)?;
    check_len(im.len(), n)?;
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j ^= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let stages = n.trailing_zeros();
    for st in 0..stages {
        let half = 1usize << st;
        let len = half << 1;
        let step_angle = -6.283_185_5f32 / (len as f32);
        for k in 0..half {
            let angle = step_angle * (k as f32);
            let wr = jit::mathf::cosf(angle);
            let wi = jit::mathf::sinf(angle);
            for s in (0..n).step_by(len) {
                let a = s + k;
                let b = a + half;
                let xr = re[b] * wr - im[b] * wi;
                let xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
    Ok(0)
}
