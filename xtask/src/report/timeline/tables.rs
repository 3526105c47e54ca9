//! The tables of the timeline page: every tier-up (beside the chart), the summary
//! per kernel and the markers (under it).

use super::chart::{Axis, marker_class};
use super::{MARKER_ROWS, bytes, escape, opt, tier_colour, tier_name};
use crate::trace::timeline::{KernelLane, Timeline, tier_index};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The tier-up table beside the chart: every tier-up in time order.
pub fn side_table(tl: &Timeline) -> String {
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut ups: Vec<(&KernelLane, usize)> = tl
        .kernels
        .iter()
        .flat_map(|k| (0..k.tier_ups.len()).map(move |i| (k, i)))
        .collect();
    ups.sort_by_key(|(k, i)| k.tier_ups[*i].t_us);
    let mut s = format!(
        "<aside id=\"side\"><h2>Tier-ups ({})</h2>\n<table class=\"tierups\"><thead><tr><th>time</th><th>kernel</th><th>tier</th><th>calls</th><th>compile</th><th>code</th><th>cpu</th></tr></thead><tbody>\n",
        ups.len()
    );
    for (k, i) in ups {
        let u = &k.tier_ups[i];
        let _ = writeln!(
            s,
            r#"<tr data-kernel="{}" data-to="{}"><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&k.name),
            escape(&u.to),
            axis.at(u.t_us),
            escape(&k.name),
            escape(&u.from),
            escape(&u.to),
            opt(u.calls),
            u.compile_ns
                .map_or("–".into(), |ns| format!("{:.2} ms", ns as f64 / 1e6)),
            u.code_bytes.map_or("–".into(), bytes),
            opt(u.compiler_cpu)
        );
    }
    s.push_str("</tbody></table></aside>\n");
    s
}

/// Per kernel: time and calls at each tier-up, compile time per tier, final tier.
pub fn summary_table(tl: &Timeline) -> String {
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut s = String::from(
        "<table class=\"summary\"><thead><tr><th rowspan=\"2\">kernel</th><th colspan=\"3\">reached T1</th><th colspan=\"3\">reached T2</th><th colspan=\"3\">reached T3</th><th rowspan=\"2\">final tier</th><th rowspan=\"2\">markers</th></tr>\n<tr>",
    );
    for _ in 1..=3 {
        s.push_str("<th>at</th><th>calls</th><th>compile</th>");
    }
    s.push_str("</tr></thead><tbody>\n");
    for k in &tl.kernels {
        let _ = write!(
            s,
            r#"<tr data-kernel="{}"><td>{}</td>"#,
            escape(&k.name),
            escape(&k.name)
        );
        for tier in 1..=3u8 {
            // The last tier-up to this tier (a kernel can climb again after a demotion).
            match k
                .tier_ups
                .iter()
                .rev()
                .find(|u| tier_index(&u.to) == Some(tier))
            {
                Some(u) => {
                    let _ = write!(
                        s,
                        "<td>{}</td><td>{}</td><td>{}</td>",
                        axis.at(u.t_us),
                        opt(u.calls),
                        u.compile_ns
                            .map_or("–".into(), |ns| format!("{:.2} ms", ns as f64 / 1e6))
                    );
                }
                None => s.push_str("<td>–</td><td>–</td><td>–</td>"),
            }
        }
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for m in tl
            .markers
            .iter()
            .filter(|m| m.kernel.as_deref() == Some(&k.name))
        {
            *kinds.entry(&m.kind).or_default() += 1;
        }
        let marks: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let final_tier = k.final_tier();
        let _ = writeln!(
            s,
            r#"<td><b style="color:{}">{}</b></td><td>{}</td></tr>"#,
            if final_tier == Some(0) {
                "#616161"
            } else {
                tier_colour(final_tier)
            },
            tier_name(final_tier),
            escape(&marks.join(", "))
        );
    }
    s.push_str("</tbody></table>\n");
    s
}

pub fn marker_table(tl: &Timeline) -> String {
    if tl.markers.is_empty() {
        return String::new();
    }
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut s = String::from(
        "<h2>Markers</h2>\n<table class=\"markers\"><thead><tr><th>time</th><th>event</th><th>kernel</th><th>detail</th></tr></thead><tbody>\n",
    );
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &tl.markers {
        let n = shown.entry(&m.kind).or_default();
        if *n >= MARKER_ROWS {
            *left.entry(&m.kind).or_default() += 1;
            continue;
        }
        *n += 1;
        let _ = writeln!(
            s,
            r#"<tr><td>{}</td><td><span class="dot {}"></span>{}</td><td>{}</td><td>{}</td></tr>"#,
            axis.at(m.t_us),
            marker_class(&m.kind),
            escape(&m.kind),
            escape(m.kernel.as_deref().unwrap_or("")),
            escape(m.detail.as_deref().unwrap_or("(detail not kept)"))
        );
    }
    s.push_str("</tbody></table>\n");
    for (kind, n) in left {
        let _ = writeln!(
            s,
            "<p class=\"note\">{n} more <code>{}</code> events are drawn but not listed.</p>",
            escape(kind)
        );
    }
    s
}
