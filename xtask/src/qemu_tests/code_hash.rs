//! Host figures are the kernel's figures: every `tier_up` of a boot carries the hash of
//! the new tier's code (`code_hash`, independent of the addresses it was linked for), and
//! the host compiles the same catalog the same way and must find the same hashes.
//!
//! The host engine gets the CPU features the kernel's JIT used (its `cpu_features` event,
//! restricted to the features the JIT knows), the thresholds of the boot (`params`), and
//! calls every catalog kernel through its slot with the tier ladder's workloads
//! (`Kernel::ladder_size`, `Kernel::LADDER_SEED`) until it runs at T3, so T3 specializes on
//! the same stable arguments as in the kernel.

use super::Trace;
use crate::trace::Event;
use jit::{CpuFeatures, Engine, EngineConfig, HostExecMemory, StdClock, Tier, TraceSink};
use modules::{CATALOG, Kernel, LoadedCatalog, Workload, run::call_counted};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// (kernel, tier) -> code hash (16 hex digits).
pub type Hashes = BTreeMap<(String, String), String>;

/// The `tier_up` hashes of a boot, and the JIT features and thresholds it ran with.
pub fn boot_hashes(t: &Trace) -> Result<(Hashes, CpuFeatures, [u64; 3]), String> {
    let ev = |name: &str| -> Result<&Event, String> {
        t.events
            .iter()
            .find(|e| e["ev"] == name)
            .ok_or_else(|| format!("no `{name}` event"))
    };
    let names: Vec<&str> = ev("cpu_features")?["features"]
        .as_array()
        .ok_or("cpu_features without a features list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let features = CpuFeatures::from_names(names);
    let tiers = ev("params")?["tiers"]
        .as_str()
        .ok_or("params without tiers")?
        .to_string();
    let t3: Vec<u64> = tiers.split(',').filter_map(|s| s.parse().ok()).collect();
    let thresholds: [u64; 3] = t3
        .try_into()
        .map_err(|_| format!("params tiers `{tiers}` are not three numbers"))?;
    let mut hashes = Hashes::new();
    for e in t.events.iter().filter(|e| e["ev"] == "tier_up") {
        let kernel = e["kernel"].as_str().unwrap_or("").to_string();
        let to = e["to"].as_str().unwrap_or("").to_string();
        let hash = e["code_hash"]
            .as_str()
            .ok_or_else(|| format!("tier_up without code_hash: {e:?}"))?
            .to_string();
        if let Some(old) = hashes.insert((kernel.clone(), to.clone()), hash.clone())
            && old != hash
        {
            return Err(format!(
                "{kernel} {to}: two tier_ups with hashes {old} and {hash}"
            ));
        }
    }
    Ok((hashes, features, thresholds))
}

#[derive(Default)]
struct Recorder(Mutex<Hashes>);

impl TraceSink for Recorder {
    fn event(&self, ev: &jit::Event) {
        if let jit::Event::TierUp {
            kernel,
            to,
            code_hash,
            ..
        } = ev
        {
            let mut h = self.0.lock().unwrap_or_else(|p| p.into_inner());
            h.insert(
                (kernel.clone(), to.to_string()),
                format!("{code_hash:016x}"),
            );
        }
    }
}

/// The hashes the host finds climbing every catalog kernel (distinct entries) to T3 with
/// the tier ladder's workloads, on an engine with `features` and `thresholds`.
pub fn host_hashes(features: CpuFeatures, thresholds: [u64; 3]) -> Result<Hashes, String> {
    let rec = Arc::new(Recorder::default());
    let config = EngineConfig {
        features,
        thresholds,
        background_compile: false,
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        config,
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        rec.clone(),
    );
    let catalog = LoadedCatalog::load(&engine).map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    for k in CATALOG {
        let f = catalog
            .func(k)
            .ok_or_else(|| format!("{}: entry not loaded", k.name))?;
        if seen.contains(&f) {
            continue;
        }
        seen.push(f);
        let mut w = Workload::new(k, k.ladder_size(), Kernel::LADDER_SEED);
        let mut calls = 0u64;
        while engine.current_tier(f) != Tier::T3 {
            if calls > thresholds[2] + 1 {
                return Err(format!("{}: not at T3 after {calls} calls", k.name));
            }
            w.reset();
            call_counted(&engine, f, &mut w).map_err(|t| format!("{}: trap {t:?}", k.name))?;
            calls += 1;
        }
    }
    let h = rec.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(h)
}

/// Compares a boot's hashes with the host's: every (kernel, tier) the boot compiled for a
/// catalog kernel must have the host's hash. Functions of boot modules that are not in the
/// catalog (a user's kernel with a workload, such as the README's saxpy) are not compiled
/// on the host and are left out. Returns how many were compared.
pub fn check(t: &Trace) -> Result<usize, String> {
    let (mut boot, features, thresholds) = boot_hashes(t)?;
    let host = host_hashes(features, thresholds)?;
    let catalog: std::collections::BTreeSet<&str> = host.keys().map(|k| k.0.as_str()).collect();
    boot.retain(|k, _| catalog.contains(k.0.as_str()));
    let mut differ = Vec::new();
    for (key, h) in &boot {
        match host.get(key) {
            Some(hh) if hh == h => {}
            Some(hh) => differ.push(format!("{} {}: kernel {h}, host {hh}", key.0, key.1)),
            None => differ.push(format!(
                "{} {}: kernel {h}, not compiled on the host",
                key.0, key.1
            )),
        }
    }
    if boot.is_empty() {
        return Err("no tier_up hashes in the boot".into());
    }
    if differ.is_empty() {
        Ok(boot.len())
    } else {
        Err(format!(
            "code hashes differ between the kernel and the host (features {}): {}",
            features.names().join(" "),
            differ.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(lines: &[&str]) -> Trace {
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        Trace::from_lines(&lines).unwrap()
    }

    /// The host's hashes do not depend on where the code was placed (two engines, two
    /// pools), and do depend on the CPU features (so the comparison can fail).
    #[test]
    fn host_hashes_are_reproducible_and_feature_dependent() {
        let a = host_hashes(CpuFeatures::all(), [1, 2, 3]).unwrap();
        let b = host_hashes(CpuFeatures::all(), [1, 2, 3]).unwrap();
        assert_eq!(a, b);
        // every distinct entry reached T1, T2 and T3
        for tier in ["T1", "T2", "T3"] {
            assert!(a.keys().filter(|(_, t)| t == tier).count() >= 10, "{a:?}");
        }
        // the table-reading kernels too (their table addresses are relocations)
        assert!(
            a.contains_key(&("sha256".to_string(), "T3".to_string())),
            "{a:?}"
        );
        let base = host_hashes(CpuFeatures::baseline(), [1, 2, 3]).unwrap();
        assert_ne!(a, base);
    }

    #[test]
    fn boot_hashes_read_the_features_thresholds_and_tier_ups() {
        let t = trace(&[
            r#"{"ev":"params","t_us":1,"cpu":0,"mode":"demo","tiers":"1,2,3"}"#,
            r#"{"ev":"cpu_features","t_us":1,"cpu":0,"features":["sse3","avx","fma","nx"]}"#,
            r#"{"ev":"tier_up","t_us":2,"cpu":1,"kernel":"fib","from":"T0","to":"T1","code_hash":"0123456789abcdef"}"#,
        ]);
        let (h, f, th) = boot_hashes(&t).unwrap();
        assert_eq!(th, [1, 2, 3]);
        assert!(f.sse3 && f.avx && f.fma && !f.avx2);
        assert_eq!(
            h.get(&("fib".to_string(), "T1".to_string()))
                .map(String::as_str),
            Some("0123456789abcdef")
        );
        // a boot whose hash differs from the host's fails the check
        assert!(check(&t).unwrap_err().contains("fib T1"));
        // a function the catalog does not have is left out; none left is an error
        let t = trace(&[
            r#"{"ev":"params","t_us":1,"cpu":0,"mode":"demo","tiers":"1,2,3"}"#,
            r#"{"ev":"cpu_features","t_us":1,"cpu":0,"features":["sse3","avx","fma","nx"]}"#,
            r#"{"ev":"tier_up","t_us":2,"cpu":1,"kernel":"saxpy_of_a_user","from":"T0","to":"T1","code_hash":"0123456789abcdef"}"#,
        ]);
        assert!(check(&t).unwrap_err().contains("no tier_up hashes"));
    }
}
