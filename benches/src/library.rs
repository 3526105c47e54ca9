//! The library columns: per kernel, the library a user would pick instead of writing the
//! loop (host-only dependencies of this crate), run on the same workload as the tiers.
//!
//! | kernel | library | second library |
//! |---|---|---|
//! | matmul, gemm_tile, matvec, matvec_ffn | `gemm` (one thread) | `matrixmultiply` |
//! | fft | `rustfft` (planned once, in-place with scratch) | — |
//! | sha256 | `sha2` 0.11 (SHA-NI when the CPU has it) | `sha2` 0.10 with `force-soft` |
//! | quicksort | `slice::sort_unstable` | — |
//! | primes | a plain Rust sieve ([`plain_sieve`]) | — |
//!
//! A library call works on the workload's own buffers where the layouts agree; `rustfft`
//! takes interleaved complex numbers, so its runner converts the split `re`/`im` inputs
//! when the inputs are reset (untimed) and converts back only for the check. The outputs a
//! library produces are checked against T0's ([`Library::check`]): floats within the
//! catalog's reassociation tolerance (a library sums in its own order), the rest exactly.
//! Outputs that are the IR kernel's scratch (sha256's final state and schedule) are not
//! part of what a library computes and are not compared.

use jit::Value;
use modules::{Data, Outputs, Param, REASSOC_TOLERANCE, Tolerance, Workload};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use sha2::Digest;

/// Which of a kernel's libraries a column runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    /// The library a user would pick first.
    First,
    /// A second library (another implementation, or the same one without a CPU extension).
    Second,
}

/// The name of the library of `kernel` for `choice` (with the backend it uses on this CPU),
/// or `None` when the catalog kernel has no such library column.
pub fn library_name(kernel: &str, choice: Choice) -> Option<String> {
    let name = match (kernel, choice) {
        ("matmul" | "gemm_tile" | "matvec" | "matvec_ffn", Choice::First) => "gemm 0.19".into(),
        ("matmul" | "gemm_tile" | "matvec" | "matvec_ffn", Choice::Second) => {
            "matrixmultiply 0.3".into()
        }
        ("fft", Choice::First) => "rustfft 6".into(),
        ("sha256", Choice::First) => {
            if sha_ni_available() {
                "sha2 0.11 (SHA-NI)".into()
            } else {
                "sha2 0.11 (software: no SHA-NI on this CPU)".into()
            }
        }
        ("sha256", Choice::Second) => "sha2 0.10 force-soft (software)".into(),
        ("quicksort", Choice::First) => "sort_unstable".into(),
        ("primes", Choice::First) => "plain Rust sieve".into(),
        _ => return None,
    };
    Some(name)
}

/// True when `sha2` 0.11 runs its SHA-NI backend on this CPU (its own detection asks for
/// the `sha` and `sse4.1` CPUID bits).
pub fn sha_ni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("sha") && std::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One library implementation of one kernel, bound to a workload.
pub struct Library {
    kind: Kind,
    /// The parameters (by position) whose final contents the library computes.
    checked: &'static [usize],
}

enum Kind {
    Gemm,
    MatrixMultiply,
    /// `rustfft`, with its plan, the interleaved data and the scratch buffer.
    Fft {
        plan: std::sync::Arc<dyn Fft<f32>>,
        data: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
    },
    Sha2,
    Sha2Soft,
    SortUnstable,
    PlainSieve,
}

fn f32s(p: &Param) -> Result<&[f32], String> {
    match p {
        Param::In(Data::F32(v)) | Param::Out(Data::F32(v)) => Ok(v),
        other => Err(format!("expected an f32 buffer, got {other:?}")),
    }
}

fn f32s_mut(p: &mut Param) -> Result<&mut [f32], String> {
    match p {
        Param::Out(Data::F32(v)) => Ok(v),
        other => Err(format!("expected a mutable f32 buffer, got {other:?}")),
    }
}

fn int(p: &Param) -> Result<usize, String> {
    match p {
        Param::I32(v) => usize::try_from(*v).map_err(|_| format!("negative size {v}")),
        other => Err(format!("expected an i32, got {other:?}")),
    }
}

/// Checks that `buf` holds at least `len` elements (the library calls take raw pointers).
fn need(what: &str, buf: usize, len: usize) -> Result<(), String> {
    if buf < len {
        Err(format!("{what}: {buf} elements, the call needs {len}"))
    } else {
        Ok(())
    }
}

/// (m, n, k) of a GEMM workload (`a, b, c, m, n, k`) or of a GEMV one (`w, x, y, rows,
/// cols`: m = rows, n = 1, k = cols), after checking the buffer lengths.
fn gemm_shape(w: &Workload) -> Result<(usize, usize, usize), String> {
    let p = &w.params;
    let (m, n, k) = match w.kernel.name {
        "matvec" | "matvec_ffn" => (int(&p[3])?, 1, int(&p[4])?),
        _ => (int(&p[3])?, int(&p[4])?, int(&p[5])?),
    };
    need("a", f32s(&p[0])?.len(), m * k)?;
    need("b", f32s(&p[1])?.len(), k * n)?;
    need("c", f32s(&p[2])?.len(), m * n)?;
    Ok((m, n, k))
}

impl Library {
    /// The library `choice` of `w`'s kernel, ready to run on `w` (plans are made here).
    pub fn new(w: &Workload, choice: Choice) -> Result<Library, String> {
        let name = w.kernel.name;
        let (kind, checked): (Kind, &'static [usize]) = match (name, choice) {
            ("matmul" | "gemm_tile" | "matvec" | "matvec_ffn", c) => {
                gemm_shape(w)?;
                let kind = match c {
                    Choice::First => Kind::Gemm,
                    Choice::Second => Kind::MatrixMultiply,
                };
                (kind, &[2])
            }
            ("fft", Choice::First) => {
                let n = int(&w.params[2])?;
                if !n.is_power_of_two() {
                    // the kernel returns -1 without transforming; rustfft would transform
                    return Err(format!(
                        "fft: n = {n} is not a power of two (radix-2 kernel)"
                    ));
                }
                need("re", f32s(&w.params[0])?.len(), n)?;
                need("im", f32s(&w.params[1])?.len(), n)?;
                let plan = FftPlanner::<f32>::new().plan_fft_forward(n);
                let scratch = vec![Complex::default(); plan.get_inplace_scratch_len()];
                let kind = Kind::Fft {
                    plan,
                    data: vec![Complex::default(); n],
                    scratch,
                };
                (kind, &[0, 1])
            }
            ("sha256", c) => {
                let kind = match c {
                    Choice::First => Kind::Sha2,
                    Choice::Second => Kind::Sha2Soft,
                };
                (kind, &[2])
            }
            ("quicksort", Choice::First) => (Kind::SortUnstable, &[0]),
            ("primes", Choice::First) => (Kind::PlainSieve, &[0]),
            _ => return Err(format!("{name}: no library column")),
        };
        let mut lib = Library { kind, checked };
        lib.load(w)?;
        Ok(lib)
    }

    /// Takes the workload's (freshly reset) inputs into the library's own layout, where it
    /// has one; untimed.
    pub fn load(&mut self, w: &Workload) -> Result<(), String> {
        if let Kind::Fft { data, .. } = &mut self.kind {
            let re = f32s(&w.params[0])?;
            let im = f32s(&w.params[1])?;
            for (i, d) in data.iter_mut().enumerate() {
                *d = Complex::new(re[i], im[i]);
            }
        }
        Ok(())
    }

    /// One library call on the current inputs: the timed work. Returns what the IR kernel
    /// returns for the same call.
    #[inline]
    pub fn run(&mut self, w: &mut Workload) -> Result<Value, String> {
        match &mut self.kind {
            Kind::Gemm | Kind::MatrixMultiply => {
                let (m, n, k) = gemm_shape(w)?;
                let (ab, c) = w.params.split_at_mut(2);
                let a = f32s(&ab[0])?.as_ptr();
                let b = f32s(&ab[1])?.as_ptr();
                let c = f32s_mut(&mut c[0])?.as_mut_ptr();
                let (n_i, k_i) = (n as isize, k as isize);
                if matches!(self.kind, Kind::Gemm) {
                    // SAFETY: row-major a (m x k), b (k x n) and c (m x n), whose lengths
                    // `gemm_shape` checked; c does not alias a or b (separate Vecs).
                    unsafe {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            c,
                            1,
                            n_i,
                            false,
                            a,
                            1,
                            k_i,
                            b,
                            1,
                            n_i,
                            0.0f32,
                            1.0f32,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        )
                    };
                } else {
                    // SAFETY: as above (matrixmultiply takes row and column strides).
                    unsafe {
                        matrixmultiply::sgemm(m, k, n, 1.0, a, k_i, 1, b, n_i, 1, 0.0, c, n_i, 1)
                    };
                }
                Ok(Value::Unit)
            }
            Kind::Fft {
                plan,
                data,
                scratch,
            } => {
                plan.process_with_scratch(data, scratch);
                Ok(Value::I32(0))
            }
            Kind::Sha2 | Kind::Sha2Soft => {
                let len = int(&w.params[1])?;
                let (data, rest) = w.params.split_at_mut(2);
                let (Param::In(Data::U8(data)), Param::Out(Data::U8(digest))) =
                    (&data[0], &mut rest[0])
                else {
                    return Err("sha256: unexpected parameters".into());
                };
                need("data", data.len(), len)?;
                need("digest", digest.len(), 32)?;
                let msg = &data[..len];
                if matches!(self.kind, Kind::Sha2) {
                    digest[..32].copy_from_slice(&sha2::Sha256::digest(msg));
                } else {
                    use sha2_soft::Digest as _;
                    digest[..32].copy_from_slice(&sha2_soft::Sha256::digest(msg));
                }
                Ok(Value::Unit)
            }
            Kind::SortUnstable => {
                let n = int(&w.params[1])?;
                let Param::Out(Data::I32(a)) = &mut w.params[0] else {
                    return Err("quicksort: unexpected parameters".into());
                };
                need("a", a.len(), n)?;
                a[..n].sort_unstable();
                Ok(Value::Unit)
            }
            Kind::PlainSieve => {
                let n = int(&w.params[1])?;
                let Param::Out(Data::U8(s)) = &mut w.params[0] else {
                    return Err("primes: unexpected parameters".into());
                };
                Ok(Value::I32(plain_sieve(s, n)?))
            }
        }
    }

    /// Checks the library's outputs (after one [`Library::run`] that returned `ret` on a
    /// freshly loaded workload) against T0's `reference`.
    pub fn check(&self, reference: &Outputs, w: &mut Workload, ret: Value) -> Result<(), String> {
        if let Kind::Fft { data, .. } = &self.kind {
            let (re, im) = w.params.split_at_mut(1);
            let re = f32s_mut(&mut re[0])?;
            let im = f32s_mut(&mut im[0])?;
            for (i, d) in data.iter().enumerate() {
                re[i] = d.re;
                im[i] = d.im;
            }
        }
        let only = |o: &Outputs| Outputs {
            ret: o.ret,
            buffers: o
                .buffers
                .iter()
                .filter(|(p, _)| self.checked.contains(p))
                .cloned()
                .collect(),
        };
        let tol = match w.kernel.name {
            "matmul" | "gemm_tile" | "matvec" | "matvec_ffn" | "fft" => REASSOC_TOLERANCE,
            _ => Tolerance::Exact,
        };
        only(reference)
            .compare(&only(&w.outputs(ret)), tol)
            .map_err(|m| format!("{}: library outputs differ from T0: {m}", w.kernel.name))
    }
}

/// The sieve of Eratosthenes as one writes it in plain Rust: `sieve[0..=n]` cleared with
/// `fill`, multiples marked through `step_by` (no index bounds checks), the primes counted
/// with an iterator. Returns the number of primes up to `n`, leaving 1 on every composite
/// and 0 on every prime (and on 0 and 1), as the catalog's `primes` kernel does.
pub fn plain_sieve(sieve: &mut [u8], n: usize) -> Result<i32, String> {
    if n < 2 {
        return Ok(0);
    }
    need("sieve", sieve.len(), n + 1)?;
    let sieve = &mut sieve[..=n];
    sieve.fill(0);
    let mut i = 2;
    while i * i <= n {
        if sieve[i] == 0 {
            sieve[i * i..].iter_mut().step_by(i).for_each(|s| *s = 1);
        }
        i += 1;
    }
    let count = sieve[2..].iter().filter(|&&s| s == 0).count();
    i32::try_from(count).map_err(|_| format!("{count} primes do not fit an i32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sieve_counts_primes() {
        let mut s = vec![7u8; 101];
        assert_eq!(plain_sieve(&mut s, 100), Ok(25));
        assert_eq!(s[97], 0);
        assert_eq!(s[91], 1);
        assert_eq!(plain_sieve(&mut s, 1), Ok(0));
        assert!(plain_sieve(&mut s, 200).is_err());
    }

    /// A wrong library result is caught by the check (so the check is not vacuous).
    #[test]
    fn check_rejects_a_wrong_result() {
        let k = modules::kernel("quicksort").unwrap();
        let mut w = Workload::new(k, 64, 0);
        let mut t0 = w.clone();
        t0.reset();
        let ret = t0.call_aot().unwrap();
        let reference = t0.outputs(ret);
        let mut lib = Library::new(&w, Choice::First).unwrap();
        let ret = lib.run(&mut w).unwrap();
        lib.check(&reference, &mut w, ret).unwrap();
        if let Param::Out(Data::I32(a)) = &mut w.params[0] {
            a.swap(0, 63);
        }
        assert!(lib.check(&reference, &mut w, ret).is_err());
    }
}
