//! Tests of the timeline page (the browser test is in `browser_tests`).

use super::*;
use crate::browser_tests::{demo_fixture, truncated};
use crate::trace::{Event, parse};

fn demo_text() -> String {
    std::fs::read_to_string(demo_fixture()).unwrap()
}

fn events(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(parse)
        .filter_map(Result::ok)
        .collect()
}

fn page_of(text: &str) -> String {
    render(&Timeline::from_lines(text.lines()), "test")
}

fn field<'a>(e: &'a Event, k: &str) -> &'a str {
    e.get(k).and_then(serde_json::Value::as_str).unwrap()
}

/// The lane and tier-up mark attributes the page gives every kernel and tier-up.
fn assert_lanes_and_tier_ups(page: &str, evs: &[Event]) -> usize {
    let ups: Vec<&Event> = evs.iter().filter(|e| e["ev"] == "tier_up").collect();
    for e in &ups {
        let k = escape(field(e, "kernel"));
        assert!(
            page.contains(&format!(r#"<g class="lane kernel" data-kernel="{k}">"#)),
            "no lane for {k}"
        );
        let mark = format!(
            r#"class="tierup" data-kernel="{k}" data-from="{}" data-to="{}""#,
            field(e, "from"),
            field(e, "to")
        );
        assert_eq!(page.matches(&mark).count(), 1, "{mark}");
        let row = format!(r#"<tr data-kernel="{k}" data-to="{}">"#, field(e, "to"));
        assert!(page.contains(&row), "no side-table row {row}");
    }
    ups.len()
}

#[test]
fn demo_page_has_every_kernel_lane_and_tier_up() {
    let text = demo_text();
    let evs = events(&text);
    let page = page_of(&text);
    let ups = assert_lanes_and_tier_ups(&page, &evs);
    let kernels: std::collections::BTreeSet<&str> = evs
        .iter()
        .filter(|e| e["ev"] == "tier_up")
        .map(|e| field(e, "kernel"))
        .collect();
    assert!(
        kernels.len() >= 16 && ups == 3 * kernels.len(),
        "{kernels:?}"
    );
    assert_eq!(
        page.matches(r#"<g class="lane kernel""#).count(),
        kernels.len()
    );
    // one lane per CPU, compile spans on the compiler CPU, work on the other
    assert!(page.contains(r#"data-cpu="0""#) && page.contains(r#"data-cpu="1""#));
    assert_eq!(page.matches(r#"class="compile""#).count(), ups);
    assert!(page.contains(r#"class="work""#));
    assert!(page.contains("calls/s") && page.contains("pool used"));
    // the figures of `trace --summary`, and a complete trace needs no note
    let tier_ups: Vec<Event> = evs
        .iter()
        .filter(|e| e["ev"] == "tier_up")
        .cloned()
        .collect();
    let figures = crate::trace::summary(&tier_ups);
    assert!(figures.contains("compile latency to T3"));
    assert!(page.contains(&escape(&figures)));
    assert!(
        !page.contains("class=\"notes\""),
        "a complete trace has no notes"
    );
    assert!(page.contains("exit <b>success</b>"));
}

#[test]
fn page_is_self_contained() {
    let page = page_of(&demo_text());
    for needle in [
        "http:", "https:", "src=", "href=", "@import", "url(", "//cdn",
    ] {
        assert!(!page.contains(needle), "page refers to {needle}");
    }
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    assert_eq!(page.matches("<svg id=\"chart\"").count(), 1);
    assert_eq!(page.matches("<script>").count(), 1);
}

#[test]
fn truncated_trace_renders_what_it_holds_and_says_what_was_skipped() {
    let text = demo_text();
    let cut = truncated(&text, 0.5);
    let page = page_of(&cut);
    let ups = assert_lanes_and_tier_ups(&page, &events(&cut));
    assert!(ups > 0 && ups < 51, "{ups}");
    assert!(
        page.contains("2 line(s) without an event were skipped"),
        "firmware lines"
    );
    assert!(page.contains("1 malformed or cut-off event line(s) were skipped"));
    assert!(page.contains("ends without an exit event"));
}

#[test]
fn older_kernel_trace_without_new_fields_renders() {
    // No compile_ns / code_bytes / compiler_cpu, no stats, no pool: an early kernel.
    let text = r#"{"ev":"boot","t_us":10,"cpu":0}
{"ev":"tier_up","t_us":500,"cpu":0,"kernel":"fib","from":"T0","to":"T1","calls":100}
{"ev":"exit","t_us":900,"cpu":0,"code":16}"#;
    let page = page_of(text);
    assert_lanes_and_tier_ups(&page, &events(text));
    assert!(page.contains("compile time: –"));
    assert!(!page.contains("calls/s"));
    assert!(page.contains("exit <b>?</b>"));
}

#[test]
fn empty_and_noise_only_traces_render_with_a_note() {
    let page = page_of("");
    assert!(page.contains("no event with a time"));
    let page = page_of("SeaBIOS (version 1.16)\nBooting from DVD/CD...\n");
    assert!(page.contains("2 line(s) without an event"));
    assert!(page.contains("no event with a time"));
}

#[test]
fn markup_in_trace_text_is_escaped() {
    let text = r#"{"ev":"tier_up","t_us":5,"cpu":0,"kernel":"<script>x</script>","from":"T0","to":"T1","calls":1}
{"ev":"warn","t_us":6,"cpu":0,"what":"cmdline","detail":"a \"quoted\" <b>"}"#;
    let page = page_of(text);
    assert!(!page.contains("<script>x"));
    assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(page.contains("&lt;b&gt;"));
}

#[test]
fn markers_are_drawn_on_their_row_and_kernel_lane() {
    let text = r#"{"ev":"module_loaded","t_us":1,"cpu":0}
{"ev":"tier_up","t_us":10,"cpu":1,"kernel":"k","from":"T0","to":"T1","calls":1}
{"ev":"deopt","t_us":20,"cpu":0,"kernel":"k","tier":"T3","reason":"specialization guard miss (#1), running T2"}
{"ev":"trap","t_us":30,"cpu":0,"kernel":"k","tier":"T1","reason":"out_of_bounds"}
{"ev":"exception","t_us":40,"cpu":0,"vector":14,"kernel":"k","tier":"T1","recovered":true}
{"ev":"module_error","t_us":50,"cpu":0,"file":"b.bfir","line":3,"col":5,"reason":"x"}
{"ev":"cache_hit","t_us":60,"cpu":0,"kernel":"k"}
{"ev":"warn","t_us":70,"cpu":0,"what":"smp","detail":"y"}"#;
    let page = page_of(text);
    for kind in [
        "deopt",
        "trap",
        "exception",
        "module_error",
        "cache_hit",
        "warn",
    ] {
        assert!(
            page.contains(&format!(r#"<g class="lane markers" data-kind="{kind}">"#)),
            "{kind} row"
        );
    }
    // four kernel markers on k's lane and on their rows, two more without a kernel
    let drawn = page
        .lines()
        .filter(|l| l.starts_with("<path") && l.contains("data-kind="))
        .count();
    assert_eq!(drawn, 4 * 2 + 2);
    // the recovered exception sends k back to T0
    assert!(page.contains("k at T0 from +39 µs"), "{page}");
}

#[test]
fn llama_mode_draws_tokens_and_their_rate() {
    let mut text = String::from(
        r#"{"ev":"boot","t_us":0,"cpu":0,"cmdline":"bareflow.mode=llama"}
{"ev":"module_loaded","t_us":900,"cpu":0,"file":"llama_ops.bfir"}
{"ev":"model_loaded","t_us":1000,"cpu":0,"format":"gguf","quant":"q8_0","dim":288}
"#,
    );
    for (k, t) in [("matvec", 50_000), ("rmsnorm", 60_000)] {
        for (i, (from, to)) in [("T0", "T1"), ("T1", "T2"), ("T2", "T3")]
            .iter()
            .enumerate()
        {
            text.push_str(&format!(
                r#"{{"ev":"tier_up","t_us":{},"cpu":1,"kernel":"{k}","from":"{from}","to":"{to}","calls":1,"compile_ns":1000000}}"#,
                t + i as u64 * 400_000
            ));
            text.push('\n');
        }
    }
    for pos in 0..64u64 {
        text.push_str(&format!(
            r#"{{"ev":"token","t_us":{},"cpu":0,"pos":{pos},"id":{},"text":" w{pos}"}}"#,
            20_000 + pos * 30_000,
            100 + pos
        ));
        text.push('\n');
    }
    text.push_str(r#"{"ev":"llama_done","t_us":2000000,"cpu":0,"prompt_tokens":4,"generated":64,"tok_per_s":33.3}"#);
    let page = page_of(&text);
    assert_eq!(page.matches(r#"class="token""#).count(), 64);
    // one token per 30 ms: 34 in the first second, 30 in the last 0.89 s
    assert!(page.contains("max 34.00/s"), "tokens/s scale");
    assert!(page.contains("mode <b>llama</b>"));
    assert!(page.contains("quant=q8_0"));
    // the first token comes at T0, the last at T3
    let first = page.find("token 0 (id 100)").unwrap();
    assert!(page[..first].rfind("fill=\"#9e9e9e\"").is_some());
    let tl = Timeline::from_lines(text.lines());
    assert_eq!(tl.lowest_tier_at(tl.tokens[0].t_us), Some(0));
    assert_eq!(tl.lowest_tier_at(tl.tokens[63].t_us), Some(3));
}

/// A synthetic trace of `target` bytes: a demo-like climb, then a long llama-mode
/// run of tokens, stats, pool events, rate-limited deopts, traps, warnings and
/// firmware lines.
pub fn synthetic_trace(target: usize) -> String {
    let mut s = String::with_capacity(target + 4096);
    s.push_str("SeaBIOS (version 1.16.2-debian-1.16.2-1)\n");
    s.push_str(r#"{"ev":"boot","t_us":1000,"cpu":0,"loader":"multiboot2","cmdline":"bareflow.mode=llama"}"#);
    s.push('\n');
    s.push_str(r#"{"ev":"module_loaded","t_us":2000,"cpu":0,"file":"ops.bfir"}"#);
    s.push('\n');
    let kernels = [
        "matvec",
        "matvec_q8",
        "rmsnorm",
        "softmax",
        "rope",
        "swiglu",
        "attention",
    ];
    for (i, k) in kernels.iter().enumerate() {
        for (j, (from, to)) in [("T0", "T1"), ("T1", "T2"), ("T2", "T3")]
            .iter()
            .enumerate()
        {
            let t = 100_000 + (j as u64 * 7 + i as u64) * 150_000;
            s.push_str(&format!(
                r#"{{"ev":"tier_up","t_us":{t},"cpu":1,"kernel":"{k}","from":"{from}","to":"{to}","calls":{},"compile_us":40000,"compile_ns":40000000,"compile_cycles":99000000,"code_bytes":1200,"compiler_cpu":1}}"#,
                100 * 10u64.pow(j as u32)
            ));
            s.push('\n');
        }
    }
    let mut t = 4_000_000u64;
    let mut n = 0u64;
    while s.len() < target {
        n += 1;
        t += 2_000;
        s.push_str(&format!(
            r#"{{"ev":"token","t_us":{t},"cpu":0,"pos":{n},"id":{},"text":" tok{}"}}"#,
            n % 32000,
            n % 977
        ));
        s.push('\n');
        if n.is_multiple_of(500) {
            s.push_str(&format!(
                r#"{{"ev":"stats","t_us":{t},"cpu":0,"phase":"llama","kernels":7,"at_t0":0,"at_t1":0,"at_t2":0,"at_t3":7,"calls":{},"tier_ups":21,"pool_used":{},"pool_capacity":16777216,"code_blocks":21,"serializations":21}}"#,
                n * 40,
                30000 + n % 5000
            ));
            s.push('\n');
            s.push_str(&format!(
                r#"{{"ev":"pool","t_us":{t},"cpu":1,"reason":"tier_up","capacity":16777216,"used":{},"peak":40000,"blocks":21,"largest_free":16000000}}"#,
                30000 + n % 5000
            ));
            s.push('\n');
        }
        if n.is_multiple_of(7) {
            s.push_str(&format!(
                r#"{{"ev":"deopt","t_us":{t},"cpu":0,"kernel":"{}","tier":"T3","reason":"specialization guard miss (#{n}), running T2"}}"#,
                kernels[(n % 7) as usize]
            ));
            s.push('\n');
        }
        if n.is_multiple_of(11) {
            s.push_str(&format!(
                r#"{{"ev":"trap","t_us":{t},"cpu":0,"kernel":"softmax","tier":"T3","reason":"out_of_bounds","kind":"out_of_bounds"}}"#
            ));
            s.push('\n');
        }
        if n.is_multiple_of(1000) {
            s.push_str(&format!(
                r#"{{"ev":"warn","t_us":{t},"cpu":0,"what":"serial","detail":"line {n} dropped"}}"#
            ));
            s.push('\n');
            s.push_str("firmware noise in the middle\n");
        }
    }
    s
}

#[test]
fn a_large_trace_gives_a_small_page() {
    let text = synthetic_trace(4 << 20);
    let tl = Timeline::from_lines(text.lines());
    assert!(tl.tokens.len() > 20_000);
    let page = render(&tl, "synthetic");
    // Aggregated per pixel column: the page does not grow with the trace.
    assert!(page.len() < 1 << 20, "{} bytes", page.len());
    assert!(page.contains("tokens/s"));
    assert_lanes_and_tier_ups(&page, &events(&text));
}

/// Figures for the README: `cargo test -p xtask --release -- --ignored --nocapture
/// timeline_of_a_100mb_trace`. Writes target/timeline-100mb.{jsonl,html}.
#[test]
#[ignore]
fn timeline_of_a_100mb_trace() {
    let dir = crate::paths::root().join("target");
    let trace = dir.join("timeline-100mb.jsonl");
    let page = dir.join("timeline-100mb.html");
    std::fs::write(&trace, synthetic_trace(100 << 20)).unwrap();
    let w = write_for_trace(&trace, &page).unwrap();
    println!(
        "{} MiB trace, {} events -> {} KiB page in {:.2} s ({})",
        w.trace_bytes >> 20,
        w.events,
        w.page_bytes >> 10,
        w.seconds,
        page.display()
    );
}

#[test]
fn selftest_page_marks_the_trap_the_exception_and_the_demotion() {
    // A real selftest boot (two CPUs): a trap, a CPU exception in matmul's T3 code
    // (recovered, matmul demoted to T0 for good), the full-pool test.
    let path = crate::paths::root().join("xtask/fixtures/selftest-trace.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let evs = events(&text);
    let page = page_of(&text);
    assert_lanes_and_tier_ups(&page, &evs);
    for e in &evs {
        let kind = e["ev"].as_str().unwrap();
        if crate::trace::timeline::MARKER_EVENTS.contains(&kind) {
            assert!(
                page.contains(&format!(r#"<g class="lane markers" data-kind="{kind}">"#)),
                "no marker row for {kind}"
            );
        }
    }
    let victim = evs
        .iter()
        .find(|e| e["ev"] == "exception" && e["recovered"] == true)
        .map(|e| field(e, "kernel"))
        .unwrap();
    let tl = Timeline::from_lines(text.lines());
    let lane = tl.kernels.iter().find(|k| k.name == victim).unwrap();
    assert_eq!(lane.final_tier(), Some(0), "{victim} is back at T0");
    assert!(
        tl.kernels
            .iter()
            .filter(|k| k.name != victim)
            .all(|k| k.final_tier() == Some(3))
    );
    assert!(page.contains("JIT soak"));
}
