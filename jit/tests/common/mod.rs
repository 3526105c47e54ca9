#![allow(dead_code)]
//! Shared helpers for the jit integration tests.

pub mod deep_sources;

use jit::{Arg, CpuFeatures, Engine, EngineConfig, FuncId, Tier, Trap, Value, parse_module};

pub fn engine() -> Engine {
    Engine::host(EngineConfig {
        features: CpuFeatures::detect_host(),
        ..EngineConfig::default()
    })
}

pub fn engine_with(features: CpuFeatures) -> Engine {
    Engine::host(EngineConfig {
        features,
        ..EngineConfig::default()
    })
}

/// Parses `src` (panicking with the diagnostic on error) and loads it.
pub fn load(e: &Engine, src: &str) -> jit::ModuleId {
    let m = parse_module("test.bfir", src).unwrap_or_else(|d| panic!("{d}"));
    e.load(m).expect("load")
}

pub fn func(e: &Engine, src: &str, name: &str) -> FuncId {
    let m = load(e, src);
    e.func(m, name).expect("function")
}

/// Runs one function at T0 on a fresh engine.
pub fn run0(src: &str, name: &str, args: &mut [Arg]) -> Result<Value, Trap> {
    let e = engine();
    let f = func(&e, src, name);
    e.call_at(f, Tier::T0, args)
}

pub fn i32v(r: Result<Value, Trap>) -> i32 {
    match r {
        Ok(Value::I32(v)) => v,
        other => panic!("expected i32, got {other:?}"),
    }
}
pub fn i64v(r: Result<Value, Trap>) -> i64 {
    match r {
        Ok(Value::I64(v)) => v,
        other => panic!("expected i64, got {other:?}"),
    }
}
pub fn f32v(r: Result<Value, Trap>) -> f32 {
    match r {
        Ok(Value::F32(v)) => v,
        other => panic!("expected f32, got {other:?}"),
    }
}
pub fn f64v(r: Result<Value, Trap>) -> f64 {
    match r {
        Ok(Value::F64(v)) => v,
        other => panic!("expected f64, got {other:?}"),
    }
}
pub fn boolv(r: Result<Value, Trap>) -> bool {
    match r {
        Ok(Value::Bool(v)) => v,
        other => panic!("expected bool, got {other:?}"),
    }
}

/// xorshift64*: the tests' deterministic random source.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in lo..=hi.
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i32
    }
    /// Uniform in [-2, 2).
    pub fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    }
    /// `n` values of [`Rng::f32`] (none for n <= 0).
    pub fn vf32(&mut self, n: i32) -> Vec<f32> {
        (0..n.max(0)).map(|_| self.f32()).collect()
    }
}

/// An owned argument of an f32 kernel, so that each tier gets a fresh copy.
#[derive(Clone, Debug)]
pub enum F32Arg {
    I32(i32),
    F32(f32),
    In(Vec<f32>),
    Out(Vec<f32>),
}

/// A call's result and the arguments as the call left them.
pub type Outcome = (Result<Value, Trap>, Vec<F32Arg>);

/// Calls `f` at `t` on a copy of `args`.
pub fn run_owned(e: &Engine, f: FuncId, t: Tier, args: &[F32Arg]) -> Outcome {
    let mut owned = args.to_vec();
    let r = {
        let mut xs: Vec<Arg> = owned
            .iter_mut()
            .map(|a| match a {
                F32Arg::I32(v) => Arg::I32(*v),
                F32Arg::F32(v) => Arg::F32(*v),
                F32Arg::In(v) => Arg::F32s(v),
                F32Arg::Out(v) => Arg::F32sMut(v),
            })
            .collect();
        e.call_at(f, t, &mut xs)
    };
    (r, owned)
}
