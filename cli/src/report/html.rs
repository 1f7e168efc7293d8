//! The report's HTML: one page, inline CSS (screen and print), inline SVG charts.

use std::{collections::BTreeMap, fmt::Write};

use registry_client::pb;
use time::{Date, Duration, Month, OffsetDateTime};

use super::{
    ReportData,
    charts::{self, TargetChart},
};
use crate::{commands::partners::usd, records::enum_name};

/// Milestones due within this many days of the report's time are listed as coming due.
const DUE_SOON_DAYS: i64 = 180;

const STYLE: &str = r#"
:root { --ink: #1d2330; --muted: #5b6475; --line: #d8dce3; --accent: #1f77b4; --bad: #b42318; --warn: #b54708; --good: #067647; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans KR", "Malgun Gothic", "Apple SD Gothic Neo", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 24px; line-height: 1.45; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 16px; }
h1 { margin: 0 0 4px; font-size: 1.6em; }
h2 { margin-top: 32px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin: 20px 0 6px; }
.ko { color: var(--muted); }
.meta { color: var(--muted); font-size: 0.9em; }
nav ul { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; padding: 0; }
ul.tree, ul.tree ul { list-style: none; padding-left: 18px; border-left: 1px dotted var(--line); }
ul.tree { padding-left: 0; border: 0; }
li.goal { margin: 6px 0; }
.badge { display: inline-block; font-size: 0.75em; padding: 1px 6px; border-radius: 8px; border: 1px solid var(--line); margin-left: 4px; white-space: nowrap; }
.ON_TRACK, .ACHIEVED, .DONE, .IN_FORCE { color: var(--good); border-color: var(--good); }
.AT_RISK, .LOW { color: var(--warn); border-color: var(--warn); }
.OFF_TRACK, .MISSED, .overdue { color: var(--bad); border-color: var(--bad); }
ul.progress { margin: 2px 0 0; padding-left: 18px; font-size: 0.9em; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 0.92em; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 6px; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 12px 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: var(--muted); }
.note { font-size: 0.85em; color: var(--muted); }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2 { break-before: page; page-break-before: always; }
  header + section h2, h2.first { break-before: auto; page-break-before: auto; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, li.goal { break-inside: avoid; page-break-inside: avoid; }
  @page { size: A4; margin: 15mm; }
}
"#;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// English, then Korean (marked `lang="ko"`) when there is a Korean name.
fn bilingual(en: &str, ko: &str) -> String {
    if ko.is_empty() {
        esc(en)
    } else {
        format!("{} <span class=\"ko\" lang=\"ko\">{}</span>", esc(en), esc(ko))
    }
}

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(class), esc(text))
}

fn date_of(d: Option<&pb::Date>) -> Option<Date> {
    let d = d?;
    let month = Month::try_from(u8::try_from(d.month).ok()?).ok()?;
    Date::from_calendar_date(d.year, month, u8::try_from(d.day).ok()?).ok()
}

fn fmt_date(d: Option<&pb::Date>) -> String {
    date_of(d).map_or_else(String::new, |d| d.to_string())
}

fn day_of(t: &registry_client::prost_types::Timestamp) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(t.seconds).ok().map(|t| t.date())
}

fn secs(t: Option<&registry_client::prost_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds)
}

/// Renders the whole page.
pub fn render(d: &ReportData) -> Result<String, String> {
    let mut h = String::with_capacity(64 * 1024);
    let as_of = d.as_of.to_string();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Policy &amp; Partner Registry briefing, as of {as_of}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>Policy &amp; Partner Registry briefing <span class=\"ko\" lang=\"ko\">정책·파트너 레지스트리 브리핑</span></h1>\n\
         <p class=\"meta\" id=\"as-of\" data-as-of=\"{as_of}\">As of <time datetime=\"{as_of}\">{as_of}</time>{}. \
         {} goals, {} partners.</p>\n</header>\n",
        if d.historical {
            " (the registry as it stood then, from its change history)"
        } else {
            ""
        },
        d.goals.len(),
        d.partners.len()
    );
    h.push_str(
        "<nav><ul><li><a href=\"#goals\">Goals</a></li><li><a href=\"#targets\">Targets</a></li>\
         <li><a href=\"#milestones\">Milestones</a></li><li><a href=\"#partners\">Partners</a></li>\
         <li><a href=\"#concentration\">Export concentration</a></li></ul></nav>\n",
    );
    goal_tree(&mut h, d);
    targets(&mut h, d)?;
    milestones(&mut h, d);
    partners(&mut h, d);
    concentration(&mut h, d)?;
    let _ = write!(
        h,
        "<footer><p class=\"note\">Generated by registryctl {} from the registry's API. Goal states, \
         outcomes and confidence are as stated in the registry; target progress is computed by the \
         registry from the measurements recorded by the report's time.{}</p></footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        if d.historical {
            " The export concentration is computed from the trade flows as they are recorded now, \
             for the latest year with flows recorded by the report's time."
        } else {
            ""
        }
    );
    Ok(h)
}

fn goal_tree(h: &mut String, d: &ReportData) {
    h.push_str(
        "<section id=\"goals\">\n<h2 class=\"first\">Goals <span class=\"ko\" lang=\"ko\">정책 목표</span></h2>\n",
    );
    if d.goals.is_empty() {
        h.push_str("<p>No goals.</p>\n</section>\n");
        return;
    }
    let names: std::collections::HashSet<&str> = d.goals.iter().map(|g| g.name.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&pb::PolicyGoal>> = BTreeMap::new();
    let mut roots = Vec::new();
    for g in &d.goals {
        if g.parent.is_empty() || !names.contains(g.parent.as_str()) {
            roots.push(g);
        } else {
            children.entry(g.parent.as_str()).or_default().push(g);
        }
    }
    h.push_str("<ul class=\"tree\">\n");
    for g in roots {
        goal_item(h, g, &children, 0);
    }
    h.push_str("</ul>\n</section>\n");
}

fn goal_item(h: &mut String, g: &pb::PolicyGoal, children: &BTreeMap<&str, Vec<&pb::PolicyGoal>>, depth: usize) {
    let state = enum_name::<pb::policy_goal::State>(g.state).unwrap_or_default();
    let _ = write!(
        h,
        "<li class=\"goal\" data-name=\"{}\" data-state=\"{}\"><strong>{}</strong>",
        esc(&g.name),
        esc(&state),
        bilingual(&g.title, &g.title_ko)
    );
    if !state.is_empty() {
        h.push_str(&badge(&state, &state));
    }
    if let Some(o) = enum_name::<pb::policy_goal::Outcome>(g.outcome) {
        h.push_str(&badge(&o, &format!("outcome {o}")));
    }
    if let Some(c) = enum_name::<pb::policy_goal::Confidence>(g.confidence) {
        h.push_str(&badge(&c, &format!("confidence {c}")));
    }
    if !g.confidence_note.is_empty() {
        let _ = write!(h, " <span class=\"note\">{}</span>", esc(&g.confidence_note));
    }
    // The latest check-in's stated confidence, beside the computed states of the targets (the
    // two may disagree; neither is derived from the other).
    if let Some(c) = &g.latest_check_in {
        let stated = enum_name::<pb::check_in::Confidence>(c.confidence).unwrap_or_default();
        let day = c
            .check_in_time
            .as_ref()
            .map(|t| t.to_string().chars().take(10).collect::<String>())
            .unwrap_or_default();
        let _ = write!(
            h,
            " <span class=\"stated\" data-stated=\"{}\">{}",
            esc(&stated),
            badge(&stated, &format!("stated {stated} on {day}"))
        );
        if !c.note.is_empty() {
            let _ = write!(h, " <span class=\"note\">{}</span>", esc(&c.note));
        }
        h.push_str("</span>");
    }
    if !g.targets.is_empty() {
        h.push_str("<ul class=\"progress\">");
        for t in &g.targets {
            let p = t.progress.as_ref();
            let st = p
                .and_then(|p| enum_name::<pb::target_progress::State>(p.state))
                .unwrap_or_else(|| "NO_DATA".into());
            let latest = p
                .and_then(|p| p.latest_value)
                .map(|v| format!(", latest {} {}", charts::trim_number(v), t.unit))
                .unwrap_or_default();
            let pct = p
                .and_then(|p| p.percent_complete)
                .map(|v| format!(", {}% complete", charts::trim_number(v)))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<li>{}: target {} by {}{}{} {}</li>",
                esc(&t.metric),
                esc(&crate::kind::target_text(t)),
                t.target_year,
                esc(&latest),
                esc(&pct),
                badge(&st, &st)
            );
        }
        h.push_str("</ul>");
    }
    if let Some(kids) = children.get(g.name.as_str()).filter(|_| depth < 32) {
        h.push_str("\n<ul>\n");
        for k in kids {
            goal_item(h, k, children, depth + 1);
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</li>\n");
}

/// The value a target (or interim) value means; `None` for a relative target whose baseline
/// is unknown (the registry then computes no progress: BASELINE_UNKNOWN).
fn absolute(t: &pb::Target, v: f64) -> Option<f64> {
    let Some(sign) = crate::kind::relative_sign(t) else {
        return Some(v);
    };
    let b = t.baseline_value?;
    Some(b + sign * if t.percent_of_baseline { b * v / 100.0 } else { v })
}

/// The chart data of one target: the path as the registry computes progress (from the
/// baseline, or the earliest measurement, through each interim target to the target at the
/// end of its year; a relative target as the absolute one it means, and no path without its
/// baseline) and the measurements of its metric.
fn target_chart(g: &pb::PolicyGoal, t: &pb::Target, ms: &[&pb::Measurement], as_of: f64) -> TargetChart {
    let measured: Vec<(f64, f64)> = ms
        .iter()
        .filter_map(|m| Some((charts::year_of(secs(m.observe_time.as_ref())?), m.value)))
        .collect();
    let start_x = date_of(t.baseline_date.as_ref())
        .map(|d| f64::from(d.year()) + f64::from(d.ordinal() - 1) / 365.25)
        .or_else(|| measured.first().map(|p| p.0));
    let start_y = if crate::kind::relative_sign(t).is_some() {
        t.baseline_value
    } else {
        t.baseline_value.or_else(|| measured.first().map(|p| p.1))
    };
    let mut path = Vec::new();
    let Some(end) = absolute(t, t.target_value) else {
        return TargetChart {
            caption: format!("{} — {} (baseline unknown)", g.title, t.metric),
            unit: t.unit.clone(),
            path,
            measured,
            as_of,
        };
    };
    if let (Some(x), Some(y)) = (start_x, start_y) {
        path.push((x, y));
    }
    let mut interim: Vec<&pb::InterimTarget> = t.interim_targets.iter().collect();
    interim.sort_by_key(|i| i.year);
    path.extend(
        interim
            .iter()
            .filter(|i| i.year < t.target_year)
            .filter_map(|i| Some((f64::from(i.year + 1), absolute(t, i.value)?))),
    );
    path.push((f64::from(t.target_year + 1), end));
    TargetChart {
        caption: format!("{} — {}", g.title, t.metric),
        unit: t.unit.clone(),
        path,
        measured,
        as_of,
    }
}

fn targets(h: &mut String, d: &ReportData) -> Result<(), String> {
    h.push_str("<section id=\"targets\">\n<h2>Targets <span class=\"ko\" lang=\"ko\">정량 목표</span></h2>\n");
    let as_of = charts::year_of(d.as_of.seconds);
    let mut any = false;
    for g in d.goals.iter().filter(|g| !g.targets.is_empty()) {
        any = true;
        let _ = writeln!(h, "<h3>{}</h3>", bilingual(&g.title, &g.title_ko));
        let ms = d.measurements.get(&g.name).map(Vec::as_slice).unwrap_or_default();
        for t in &g.targets {
            let mut mine: Vec<&pb::Measurement> = ms.iter().filter(|m| m.metric == t.metric).collect();
            mine.sort_by_key(|m| secs(m.observe_time.as_ref()));
            let chart = target_chart(g, t, &mine, as_of);
            let svg = charts::target_svg(&chart)?;
            let explanation = t.progress.as_ref().map(|p| p.explanation.clone()).unwrap_or_default();
            let _ = write!(
                h,
                "<figure class=\"chart target-chart\" data-goal=\"{}\" data-metric=\"{}\" data-measurements=\"{}\">\n{svg}\n\
                 <figcaption><strong>{}</strong>: {} by {} ({} measurements). {} {}</figcaption>\n</figure>\n",
                esc(&g.name),
                esc(&t.metric),
                mine.len(),
                esc(&t.metric),
                esc(&crate::kind::target_text(t)),
                t.target_year,
                mine.len(),
                esc(&t.description),
                esc(&explanation)
            );
        }
    }
    if !any {
        h.push_str("<p>No goal has quantified targets.</p>\n");
    }
    h.push_str("</section>\n");
    Ok(())
}

fn milestones(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"milestones\">\n<h2>Milestones <span class=\"ko\" lang=\"ko\">이정표</span></h2>\n");
    let today = day_of(&d.as_of);
    let soon = today.and_then(|t| t.checked_add(Duration::days(DUE_SOON_DAYS)));
    let mut overdue = Vec::new();
    let mut due = Vec::new();
    for g in &d.goals {
        for m in &g.milestones {
            let open = matches!(
                pb::milestone::State::try_from(m.state),
                Ok(pb::milestone::State::Unspecified
                    | pb::milestone::State::Planned
                    | pb::milestone::State::InProgress)
            );
            let (Some(date), Some(today), Some(soon)) = (date_of(m.due_date.as_ref()), today, soon) else {
                continue;
            };
            if !open {
                continue;
            }
            if date < today {
                overdue.push((date, g, m));
            } else if date <= soon {
                due.push((date, g, m));
            }
        }
    }
    overdue.sort_by_key(|(d, g, _)| (*d, g.name.clone()));
    due.sort_by_key(|(d, g, _)| (*d, g.name.clone()));
    let due_title = format!("Due within {DUE_SOON_DAYS} days");
    for (id, title, rows) in [("overdue", "Overdue", &overdue), ("due", due_title.as_str(), &due)] {
        let _ = writeln!(h, "<h3>{title}</h3>");
        if rows.is_empty() {
            h.push_str("<p>None.</p>\n");
            continue;
        }
        let _ = writeln!(
            h,
            "<table class=\"milestones {id}\"><thead><tr><th>Due</th><th>Milestone</th><th>Goal</th><th>State</th></tr></thead><tbody>"
        );
        for (date, g, m) in rows {
            let state = enum_name::<pb::milestone::State>(m.state).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                h,
                "<tr class=\"{id}\"><td>{date}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.title),
                bilingual(&g.title, &g.title_ko),
                esc(&state)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

fn partners(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"partners\">\n<h2>Partners <span class=\"ko\" lang=\"ko\">협력 상대</span></h2>\n");
    if d.partners.is_empty() {
        h.push_str("<p>No partners.</p>\n");
    }
    for p in &d.partners {
        let kind = enum_name::<pb::trade_partner::Kind>(p.kind).unwrap_or_default();
        let _ = writeln!(
            h,
            "<div class=\"partner\" data-name=\"{}\"><h3>{}</h3><p class=\"meta\">{}{}{}</p>",
            esc(&p.name),
            bilingual(&p.display_name, &p.display_name_ko),
            esc(&kind),
            enum_name::<pb::trade_partner::Priority>(p.priority)
                .map(|x| format!(" · priority {x}"))
                .unwrap_or_default(),
            if p.region.is_empty() {
                String::new()
            } else {
                format!(" · {}", esc(&p.region))
            }
        );
        if !p.trade_agreements.is_empty() {
            // Agreements are records of their own (`agreements/{id}`); the partner names them.
            let names: Vec<String> = p.trade_agreements.iter().map(|a| esc(a)).collect();
            let _ = writeln!(h, "<p class=\"agreements\">Agreements: {}</p>", names.join(", "));
        }
        if !p.engagements.is_empty() {
            h.push_str("<table class=\"engagements\"><thead><tr><th>Engagement</th><th>Kind</th><th>State</th><th>Date</th><th>Next step</th></tr></thead><tbody>\n");
            for e in &p.engagements {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&e.title),
                    esc(&enum_name::<pb::engagement::Kind>(e.kind).unwrap_or_default()),
                    esc(&enum_name::<pb::engagement::State>(e.state).unwrap_or_default()),
                    fmt_date(e.date.as_ref()),
                    esc(&e.next_step)
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if p.trade_agreements.is_empty() && p.engagements.is_empty() {
            h.push_str("<p class=\"note\">No agreements or engagements recorded.</p>\n");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

fn concentration(h: &mut String, d: &ReportData) -> Result<(), String> {
    h.push_str(
        "<section id=\"concentration\">\n<h2>Export concentration <span class=\"ko\" lang=\"ko\">수출 집중도</span></h2>\n",
    );
    let Some(c) = &d.concentration else {
        h.push_str("<p>No trade flows with exports are recorded.</p>\n</section>\n");
        return Ok(());
    };
    let _ = writeln!(
        h,
        "<p>Year <strong>{}</strong>: total exports USD {}; Herfindahl–Hirschman index \
         <strong class=\"hhi\" data-hhi=\"{}\">{}</strong>; top {} partners {}% of exports.</p>",
        c.year,
        usd(c.total_exports_usd),
        c.hhi,
        charts::trim_number(c.hhi),
        c.top_n,
        charts::trim_number(c.top_n_share * 100.0)
    );
    let bars: Vec<(String, f64)> = c
        .shares
        .iter()
        .map(|s| {
            let label = if s.display_name.is_empty() {
                &s.partner
            } else {
                &s.display_name
            };
            (label.clone(), s.share)
        })
        .collect();
    let svg = charts::shares_svg(&format!("Shares of exports, {}", c.year), &bars)?;
    let _ = write!(
        h,
        "<figure class=\"chart shares-chart\" data-year=\"{}\">\n{svg}\n<figcaption>Each partner's share of \
         the year's exports.</figcaption>\n</figure>\n",
        c.year
    );
    h.push_str("<table class=\"shares\"><thead><tr><th>Partner</th><th>Exports (USD)</th><th>Share</th><th>Dependency risk</th></tr></thead><tbody>\n");
    for s in &c.shares {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}</td></tr>",
            esc(if s.display_name.is_empty() {
                &s.partner
            } else {
                &s.display_name
            }),
            usd(s.exports_usd),
            charts::trim_number(s.share * 100.0),
            if s.dependency_risk { "yes" } else { "" }
        );
    }
    h.push_str("</tbody></table>\n</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(
            bilingual("Trade", "통상"),
            "Trade <span class=\"ko\" lang=\"ko\">통상</span>"
        );
    }
}
