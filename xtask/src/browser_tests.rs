//! The browser test of the HTML timeline (`cargo xtask test`): Debian's `chromium`,
//! headless, opens the page rendered from the recorded demo trace and from a cut-off
//! copy of it. Each page must load with no console message at all (an error, an
//! uncaught exception or a failed load would print one), its script must have run
//! through (`data-timeline="ready"`), and a screenshot must show the chart: the PNG is
//! decoded and must hold the four tier colours (the demo) or the tiers reached
//! before the cut, and a real share of non-background pixels.
//!
//! `./x test` installs the `chromium` package for this test; without it (or when it
//! cannot start) the test is skipped with the reason. `BAREFLOW_CHROMIUM` names
//! another binary.

use crate::paths;
use crate::report::timeline::{self, TIER_COLOURS};
use crate::trace::timeline::Timeline;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The recorded demo trace the tests render.
pub fn demo_fixture() -> PathBuf {
    paths::root().join("xtask/fixtures/demo-trace.jsonl")
}

/// The demo trace as QEMU might leave it when killed: firmware output first, cut in
/// the middle of an event line at about `fraction` of its length.
pub fn truncated(demo: &str, fraction: f64) -> String {
    let cut = ((demo.len() as f64 * fraction) as usize).min(demo.len());
    let mut cut = demo[..cut]
        .rfind('\n')
        .map_or(cut, |nl| nl + 40)
        .min(demo.len());
    while !demo.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "BdsDxe: loading Boot0001 \"UEFI QEMU DVD-ROM QM00003\"\n\u{1b}[2J\u{1b}[01;01HWelcome to GRUB!\n{}",
        &demo[..cut]
    )
}

/// How a browser test ended.
enum Outcome {
    Passed(String),
    Failed(String),
    Skipped(String),
}

/// The chromium binary, or why there is none.
fn chromium() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("BAREFLOW_CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let p = PathBuf::from("/usr/bin/chromium");
    if p.is_file() {
        return Ok(p);
    }
    Err(
        "chromium is not installed (./x test installs the Debian package `chromium`; \
         BAREFLOW_CHROMIUM=/path/to/chromium names another)"
            .into(),
    )
}

/// One headless chromium run on `page` with `extra` arguments; returns (stdout, stderr).
fn headless(chromium: &Path, page: &Path, extra: &[String]) -> Result<(String, String), String> {
    // A fresh profile per run, so no state carries over between pages.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "bareflow-chromium-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    // Read both pipes on threads so a chatty browser never blocks on a full pipe.
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("chromium did not finish within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    if !status.success() {
        return Err(format!(
            "chromium exited with {status}:\n{}",
            tail(&stderr, 15)
        ));
    }
    Ok((stdout, stderr))
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Console messages in chromium's log (`...:CONSOLE...] "message", source: ...`).
pub fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// What a screenshot holds: its size, distinct colours, the share of pixels that are
/// not the page background (white), and which of `wanted` (`#rrggbb`) appear.
#[derive(Debug)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub colours: usize,
    pub non_background: f64,
    pub missing: Vec<String>,
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// Decodes a PNG screenshot and counts its pixels.
pub fn pixels(png_bytes: &[u8], wanted: &[&str]) -> Result<Pixels, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or("PNG too large to decode")?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("bad PNG data: {e}"))?;
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Indexed => return Err("indexed PNG after expansion".into()),
    };
    let data = &buf[..info.buffer_size()];
    let mut colours = HashSet::new();
    let mut background = 0usize;
    let total = (info.width * info.height) as usize;
    for px in data.chunks_exact(channels) {
        let c = if channels >= 3 {
            [px[0], px[1], px[2]]
        } else {
            [px[0], px[0], px[0]]
        };
        if c == [255, 255, 255] {
            background += 1;
        }
        colours.insert(c);
    }
    let missing = wanted
        .iter()
        .filter(|w| !colours.contains(&rgb(w)))
        .map(|w| w.to_string())
        .collect();
    Ok(Pixels {
        width: info.width,
        height: info.height,
        colours: colours.len(),
        non_background: 1.0 - background as f64 / total.max(1) as f64,
        missing,
    })
}

/// Loads `page` in chromium: no console message, the script ran through, and a
/// screenshot with the `wanted` colours and at least 5% drawn pixels.
fn check_page(chromium: &Path, page: &Path, wanted: &[&str]) -> Result<String, String> {
    let (dom, log) = headless(chromium, page, &["--dump-dom".into()])?;
    let console = console_messages(&log);
    if !console.is_empty() {
        return Err(format!("console messages:\n{}", console.join("\n")));
    }
    if !dom.contains("data-timeline=\"ready\"") {
        return Err(format!(
            "the page's script did not run through (no data-timeline=\"ready\"); DOM starts:\n{}",
            dom.chars().take(400).collect::<String>()
        ));
    }
    let shot = page.with_extension("png");
    let _ = std::fs::remove_file(&shot);
    let (_, log) = headless(
        chromium,
        page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1600,1000".into(),
        ],
    )?;
    let console = console_messages(&log);
    if !console.is_empty() {
        return Err(format!("console messages:\n{}", console.join("\n")));
    }
    let bytes = std::fs::read(&shot).map_err(|e| format!("no screenshot: {e}"))?;
    let p = pixels(&bytes, wanted)?;
    if p.non_background < 0.05 || p.colours < 8 {
        return Err(format!("the screenshot is (nearly) blank: {p:?}"));
    }
    if !p.missing.is_empty() {
        return Err(format!(
            "the screenshot lacks the colours {:?}: {p:?}",
            p.missing
        ));
    }
    Ok(format!(
        "{}x{} screenshot, {} colours, {:.0}% drawn",
        p.width,
        p.height,
        p.colours,
        p.non_background * 100.0
    ))
}

/// A page with a script error: the check must fail on it (proves it can).
const BROKEN_PAGE: &str = "<!DOCTYPE html><html><body><p>broken</p>\
     <script>document.documentElement.setAttribute('data-timeline','ready');\
     undefinedFunction();</script></body></html>";

/// Runs the browser tests whose name contains `filter`; returns (passed, failed,
/// skipped) and prints a line per test.
pub fn run_all(filter: Option<&str>) -> (usize, usize, usize) {
    let names = [
        "timeline-demo",
        "timeline-truncated",
        "timeline-error-detected",
    ];
    let selected: Vec<&str> = names
        .into_iter()
        .filter(|n| filter.is_none_or(|f| n.contains(f)))
        .collect();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    if selected.is_empty() {
        return (0, 0, 0);
    }
    let dir = paths::root().join("target").join("browser-test");
    let prepared = (|| -> Result<(PathBuf, String), String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let chromium = chromium()?;
        let demo = std::fs::read_to_string(demo_fixture())
            .map_err(|e| format!("{}: {e}", demo_fixture().display()))?;
        Ok((chromium, demo))
    })();
    for name in selected {
        print!("browser test {name} ... ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let outcome = match &prepared {
            Err(why) => Outcome::Skipped(why.clone()),
            Ok((chromium, demo)) => {
                let page = dir.join(format!("{name}.html"));
                let result = match name {
                    "timeline-demo" => {
                        let tl = Timeline::from_lines(demo.lines());
                        timeline::write(&tl, "demo-trace.jsonl", &page)
                            .and_then(|_| check_page(chromium, &page, &TIER_COLOURS))
                    }
                    "timeline-truncated" => {
                        let cut = truncated(demo, 0.5);
                        let tl = Timeline::from_lines(cut.lines());
                        timeline::write(&tl, "demo-trace.jsonl (cut)", &page)
                            .and_then(|_| check_page(chromium, &page, &TIER_COLOURS[..3]))
                    }
                    _ => std::fs::write(&page, BROKEN_PAGE)
                        .map_err(|e| e.to_string())
                        .and_then(|_| match check_page(chromium, &page, &[]) {
                            Ok(_) => Err("a page with a script error passed the check".into()),
                            Err(e) if e.contains("console messages") => {
                                Ok("the check reports a script error".into())
                            }
                            Err(e) => Err(format!("unexpected failure: {e}")),
                        }),
                };
                match result {
                    Ok(s) => Outcome::Passed(s),
                    // A browser that cannot start here is a skip, not a failure.
                    Err(e) if e.starts_with("cannot start") => Outcome::Skipped(e),
                    Err(e) => Outcome::Failed(e),
                }
            }
        };
        match outcome {
            Outcome::Passed(s) => {
                passed += 1;
                println!("ok ({s})");
            }
            Outcome::Failed(e) => {
                failed += 1;
                println!("FAILED\n{e}");
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                println!("skipped: {why}");
            }
        }
    }
    (passed, failed, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_inside_an_event_line() {
        let demo = std::fs::read_to_string(demo_fixture()).unwrap();
        let cut = truncated(&demo, 0.5);
        assert!(cut.starts_with("BdsDxe"));
        let last = cut.lines().last().unwrap();
        assert!(last.starts_with("{\"ev\":"), "{last}");
        assert!(crate::trace::parse(last).unwrap().is_err(), "{last}");
    }

    #[test]
    fn console_lines_are_found() {
        let log = "[1:1:INFO:CONSOLE:1] \"Uncaught Error: boom\", source: file:///x.html (1)\n\
                   [2:2:WARNING:ui/base/idle] none\n";
        assert_eq!(console_messages(log).len(), 1);
        assert!(console_messages("[2:2:WARNING:x] y").is_empty());
    }

    fn png_of(w: u32, h: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().unwrap();
            let mut data = Vec::new();
            for y in 0..h {
                for x in 0..w {
                    data.extend_from_slice(&pixel(x, y));
                }
            }
            writer.write_image_data(&data).unwrap();
        }
        out
    }

    #[test]
    fn pixel_check_tells_blank_from_drawn() {
        let blank = png_of(40, 30, |_, _| [255, 255, 255]);
        let p = pixels(&blank, &["#9e9e9e"]).unwrap();
        assert_eq!(p.colours, 1);
        assert_eq!(p.non_background, 0.0);
        assert_eq!(p.missing, vec!["#9e9e9e".to_string()]);
        let drawn = png_of(40, 30, |x, _| {
            if x < 20 {
                rgb("#9e9e9e")
            } else {
                [255, 255, 255]
            }
        });
        let p = pixels(&drawn, &["#9e9e9e"]).unwrap();
        assert!((p.non_background - 0.5).abs() < 1e-9);
        assert!(p.missing.is_empty());
        assert!(pixels(b"not a png", &[]).is_err());
    }
}
