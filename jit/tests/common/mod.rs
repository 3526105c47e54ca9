#![allow(dead_code)]
//! Shared helpers for the jit integration tests.

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
