//! The "Writing an IR kernel" example of README.md, kept compiling and correct.

/// The file README.md's "Writing an IR kernel" walks through (and quotes).
const SAXPY: &str = include_str!("../../ir-modules/examples/saxpy.bfir");
const README: &str = include_str!("../../README.md");

#[test]
fn the_readme_quotes_the_committed_saxpy() {
    let quoted = format!("```text\n{SAXPY}```");
    assert!(
        README.contains(&quoted),
        "README.md's \"Writing an IR kernel\" must quote ir-modules/examples/saxpy.bfir exactly"
    );
}

#[test]
fn saxpy_runs_at_every_tier() -> Result<(), Box<dyn std::error::Error>> {
    let module = jit::parse_module("saxpy.bfir", SAXPY)?;
    let engine = jit::Engine::host(jit::EngineConfig::default());
    let m = engine.load(module)?;
    let f = engine.func(m, "saxpy").unwrap();
    let x = vec![1.0f32; 1000];
    for tier in jit::Tier::ALL {
        let mut y = vec![2.0f32; 1000];
        let r = engine.call_at(
            f,
            tier,
            &mut [
                jit::Arg::F32(3.0),
                jit::Arg::F32s(&x),
                jit::Arg::F32sMut(&mut y),
                jit::Arg::I32(1000),
            ],
        );
        assert!(r.is_ok(), "{tier}: {r:?}");
        assert!(y.iter().all(|&v| v == 5.0), "{tier}");
        // one element short: traps at every tier, after writing the elements before it
        let mut short = vec![2.0f32; 999];
        let r = engine.call_at(
            f,
            tier,
            &mut [
                jit::Arg::F32(3.0),
                jit::Arg::F32s(&x),
                jit::Arg::F32sMut(&mut short),
                jit::Arg::I32(1000),
            ],
        );
        assert_eq!(r.unwrap_err().kind, jit::TrapKind::OutOfBounds, "{tier}");
        assert!(short.iter().all(|&v| v == 5.0), "{tier}");
    }
    Ok(())
}
