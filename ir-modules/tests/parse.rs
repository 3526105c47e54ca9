//! Every `.bfir` file of the catalog parses and verifies, and every catalog entry
//! resolves to a function of its module.

mod common;

use modules::sources::SOURCES;
use modules::{CATALOG, LoadedCatalog};

#[test]
fn every_file_parses_and_verifies() {
    for (file, src) in SOURCES {
        match jit::parse_module(file, src) {
            Ok(m) => assert_eq!(
                m.name(),
                file.strip_suffix(".bfir").unwrap(),
                "module name of {file}"
            ),
            Err(d) => panic!("{d}"),
        }
    }
}

#[test]
fn every_file_on_disk_is_embedded_and_documented() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bfir"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = SOURCES.iter().map(|(f, _)| f.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded);
    for (file, src) in SOURCES {
        assert!(src.starts_with("//!"), "{file}: no module doc comment");
        // Every function carries a `///` doc comment (possibly followed by attributes).
        let lines: Vec<&str> = src.lines().map(str::trim).collect();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with("fn ") {
                let mut j = i;
                while j > 0 && lines[j - 1].starts_with("#[") {
                    j -= 1;
                }
                assert!(
                    j > 0 && lines[j - 1].starts_with("///"),
                    "{file}: `{l}` has no doc comment"
                );
            }
        }
    }
}

#[test]
fn every_catalog_entry_resolves() {
    let engine = common::engine();
    let cat = LoadedCatalog::load(&engine).unwrap_or_else(|e| panic!("{e}"));
    for k in CATALOG {
        assert!(cat.func(k).is_some(), "{}", k.name);
        let m = jit::parse_module(k.file, k.source()).unwrap();
        assert!(
            m.function_names().contains(&k.entry),
            "{}: entry {}",
            k.name,
            k.entry
        );
        assert_eq!(m.name(), k.module_name());
    }
    let mut names: Vec<&str> = CATALOG.iter().map(|k| k.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CATALOG.len(), "duplicate catalog names");
}

#[test]
fn malformed_sources_are_rejected_with_a_position() {
    // A catalog file with one token broken must give file:line:col, never a panic.
    let src = modules::sources::source("matmul.bfir").unwrap();
    let broken = src.replacen("acc += a[i * k + p]", "acc += a[i * k + ]", 1);
    let err = match jit::parse_module("matmul.bfir", &broken) {
        Ok(_) => panic!("broken source accepted"),
        Err(d) => d,
    };
    assert_eq!(err.file, "matmul.bfir");
    let line = broken
        .lines()
        .position(|l| l.contains("a[i * k + ]"))
        .unwrap() as u32
        + 1;
    assert_eq!(err.line, line, "{err}");
    assert!(
        err.to_string().starts_with(&format!("matmul.bfir:{line}:")),
        "{err}"
    );
}
