//! Known answers for the baselines alone (the integration tests compare them with T0).

use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn sha_hex(msg: &[u8]) -> alloc::string::String {
    let mut digest = [0u8; 32];
    let (mut state, mut w) = ([0i32; 8], [0i32; 64]);
    sha256(msg, msg.len() as i32, &mut digest, &mut state, &mut w).unwrap();
    digest.iter().map(|b| alloc::format!("{b:02x}")).collect()
}

#[test]
fn sha256_nist() {
    assert_eq!(
        sha_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        sha_hex(&vec![b'a'; 1_000_000]),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

#[test]
fn integer_kernels() {
    let mut sieve = vec![0u8; (1 << 20) + 1];
    assert_eq!(primes(&mut sieve, 1 << 20), Ok(82025));
    assert_eq!(fib(25), Ok(75025));
    let mut a: Vec<i32> = (0..300).map(|i| (i * 7919) % 301 - 150).collect();
    let mut want = a.clone();
    want.sort_unstable();
    sort(&mut a, 300).unwrap();
    assert_eq!(a, want);
    let mut sorted: Vec<i32> = (0..1000).collect();
    assert_eq!(
        sort(&mut sorted, 1000),
        Err(AotError::WouldTrap(TrapKind::CallDepth))
    );
}

#[test]
fn fft_impulse_and_max() {
    let mut re = vec![0.0f32; 16];
    let mut im = vec![0.0f32; 16];
    re[0] = 1.0;
    assert_eq!(fft(&mut re, &mut im, 16), Ok(0));
    assert!(re.iter().all(|&v| (v - 1.0).abs() < 1e-6) && im.iter().all(|&v| v.abs() < 1e-6));
    assert_eq!(fft(&mut re, &mut im, 12), Ok(-1));
    assert_eq!(max_ieee(-0.0, 0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(max_ieee(0.0, -0.0).to_bits(), 0.0f32.to_bits());
    assert!(max_ieee(f32::NAN, 1.0).is_nan());
}
