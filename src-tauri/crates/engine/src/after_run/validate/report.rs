//! The validation report: what the UI shows as JSON, and what the user saves as Markdown or as a
//! standalone HTML page (no scripts, no remote content) with the per-day chart.

use super::diff::FieldDiff;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub run_id: String,
    pub generated_at: String,
    pub source: String,
    pub target: String,
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    /// `None` when every pair was compared.
    pub sample_size: Option<usize>,
    pub settle: SettleOutcome,
    pub entities: Vec<EntityReconciliation>,
    pub per_day: Vec<DayCount>,
    /// The run's checklist, when the caller has one (the app does); rendered as a list.
    #[serde(default)]
    pub checklist: Vec<ChecklistLine>,
    /// What could not be compared and why (e.g. an entity the server cannot list).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleOutcome {
    /// How long validation waited for the target's counts to stop changing.
    pub waited_ms: u64,
    /// False when it gave up waiting: the counts may still be moving.
    pub settled: bool,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityReconciliation {
    pub entity: String,
    pub source_count: u64,
    pub target_count: u64,
    pub compared: u64,
    pub missing_count: u64,
    pub extra_count: u64,
    pub differing_count: u64,
    /// Objects in the target that the source lacks but that were there before the run (the
    /// journal recorded them): not the run's doing, so not counted as extra.
    #[serde(default)]
    pub preexisting_count: u64,
    /// At most [`super::reconcile::LISTED_IDS`] ids each; the counts above are exact.
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub differing: Vec<Discrepancy>,
    /// Objects the target held before the run under a source object's id (or key), with other
    /// content: the run left them alone; which one stays is the user's choice.
    #[serde(default)]
    pub conflict_count: u64,
    #[serde(default)]
    pub conflicts: Vec<Discrepancy>,
}

impl EntityReconciliation {
    pub fn is_clean(&self) -> bool {
        self.missing_count == 0
            && self.extra_count == 0
            && self.differing_count == 0
            && self.conflict_count == 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    pub id: String,
    pub fields: Vec<FieldDiff>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub entity: String,
    pub source: u64,
    pub target: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistLine {
    pub phase: String,
    pub label: String,
    pub done: bool,
}

impl ValidationReport {
    pub fn is_clean(&self) -> bool {
        self.settle.settled && self.entities.iter().all(EntityReconciliation::is_clean)
    }

    pub fn discrepancy_count(&self) -> u64 {
        self.entities
            .iter()
            .map(|e| e.missing_count + e.extra_count + e.differing_count + e.conflict_count)
            .sum()
    }

    /// A sentence about objects the target held before the run, which are not counted as extra.
    fn preexisting_text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .entities
            .iter()
            .filter(|e| e.preexisting_count > 0)
            .map(|e| format!("{} {}", e.preexisting_count, e.entity))
            .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "The target also holds {} that were there before the run; they are not counted as extra.",
                parts.join(", ")
            )
        })
    }

    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Migration validation — run {}\n", self.run_id);
        let _ = writeln!(md, "- Source: {}", self.source);
        let _ = writeln!(md, "- Target: {}", self.target);
        let _ = writeln!(md, "- Window: {}", self.window_text());
        let _ = writeln!(md, "- Generated: {}", self.generated_at);
        let _ = writeln!(md, "- Compared: {}", self.sample_text());
        let _ = writeln!(md, "- Result: **{}**\n", self.verdict());
        if let Some(note) = &self.settle.note {
            let _ = writeln!(md, "> {}\n", note);
        }
        for note in &self.notes {
            let _ = writeln!(md, "> {}\n", note);
        }
        md.push_str("| Entity | Source | Target | Missing | Extra | Differing | Conflicts |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for e in &self.entities {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                e.entity,
                e.source_count,
                e.target_count,
                e.missing_count,
                e.extra_count,
                e.differing_count,
                e.conflict_count
            );
        }
        if let Some(text) = self.preexisting_text() {
            let _ = writeln!(md, "\n{text}");
        }
        for e in self.entities.iter().filter(|e| !e.is_clean()) {
            let _ = writeln!(md, "\n## {}\n", e.entity);
            list_ids(
                &mut md,
                "Missing in the target",
                &e.missing,
                e.missing_count,
            );
            list_ids(
                &mut md,
                "In the target but not in the source",
                &e.extra,
                e.extra_count,
            );
            if e.conflict_count > 0 {
                let _ = writeln!(
                    md,
                    "**Conflicts** ({}): {CONFLICT_TEXT}\n",
                    e.conflict_count
                );
            }
            let conflicts = e
                .conflicts
                .iter()
                .map(|d| (d, "conflicts with the target's"));
            for (d, what) in e.differing.iter().map(|d| (d, "differs")).chain(conflicts) {
                let _ = writeln!(md, "### `{}` {what}\n", d.id);
                md.push_str("| Field | Kind | Source | Target |\n|---|---|---|---|\n");
                for f in &d.fields {
                    let _ = writeln!(
                        md,
                        "| `{}` | {:?} | {} | {} |",
                        f.path,
                        f.kind,
                        md_cell(f.source.as_deref()),
                        md_cell(f.target.as_deref())
                    );
                }
                md.push('\n');
            }
        }
        if !self.checklist.is_empty() {
            md.push_str("\n## Checklist\n\n");
            for line in &self.checklist {
                let mark = if line.done { "x" } else { " " };
                let _ = writeln!(md, "- [{mark}] {}: {}", line.phase, line.label);
            }
        }
        md
    }

    pub fn to_html(&self) -> String {
        let mut html = String::new();
        html.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
        let _ = write!(
            html,
            "<title>Migration validation — {}</title>",
            esc(&self.run_id)
        );
        html.push_str(STYLE);
        html.push_str("</head><body>");
        let _ = write!(
            html,
            "<h1>Migration validation</h1><p class=\"verdict {}\">{}</p>",
            if self.is_clean() { "ok" } else { "bad" },
            esc(&self.verdict())
        );
        html.push_str("<dl>");
        for (k, v) in [
            ("Run", self.run_id.clone()),
            ("Source", self.source.clone()),
            ("Target", self.target.clone()),
            ("Window", self.window_text()),
            ("Compared", self.sample_text()),
            ("Generated", self.generated_at.clone()),
        ] {
            let _ = write!(html, "<dt>{}</dt><dd>{}</dd>", k, esc(&v));
        }
        html.push_str("</dl>");
        for note in self.settle.note.iter().chain(&self.notes) {
            let _ = write!(html, "<p class=\"note\">{}</p>", esc(note));
        }
        html.push_str("<table><thead><tr><th>Entity</th><th>Source</th><th>Target</th><th>Missing</th><th>Extra</th><th>Differing</th><th>Conflicts</th></tr></thead><tbody>");
        for e in &self.entities {
            let _ = write!(
                html,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if e.is_clean() { "" } else { "bad" },
                esc(&e.entity),
                e.source_count,
                e.target_count,
                e.missing_count,
                e.extra_count,
                e.differing_count,
                e.conflict_count
            );
        }
        html.push_str("</tbody></table>");
        if let Some(text) = self.preexisting_text() {
            let _ = write!(html, "<p class=\"note\">{}</p>", esc(&text));
        }
        html.push_str(&self.per_day_svg());
        for e in self.entities.iter().filter(|e| !e.is_clean()) {
            let _ = write!(html, "<h2>{}</h2>", esc(&e.entity));
            html_ids(
                &mut html,
                "Missing in the target",
                &e.missing,
                e.missing_count,
            );
            html_ids(
                &mut html,
                "In the target but not in the source",
                &e.extra,
                e.extra_count,
            );
            if e.conflict_count > 0 {
                let _ = write!(
                    html,
                    "<p class=\"note\"><strong>Conflicts ({}):</strong> {}</p>",
                    e.conflict_count,
                    esc(CONFLICT_TEXT)
                );
            }
            let conflicts = e
                .conflicts
                .iter()
                .map(|d| (d, "conflicts with the target's"));
            for (d, what) in e.differing.iter().map(|d| (d, "differs")).chain(conflicts) {
                let _ = write!(
                    html,
                    "<h3><code>{}</code> {what}</h3><table><tr><th>Field</th><th>Kind</th><th>Source</th><th>Target</th></tr>",
                    esc(&d.id)
                );
                for f in &d.fields {
                    let _ = write!(
                        html,
                        "<tr><td><code>{}</code></td><td>{:?}</td><td>{}</td><td>{}</td></tr>",
                        esc(&f.path),
                        f.kind,
                        esc(f.source.as_deref().unwrap_or("—")),
                        esc(f.target.as_deref().unwrap_or("—"))
                    );
                }
                html.push_str("</table>");
            }
        }
        if !self.checklist.is_empty() {
            html.push_str("<h2>Checklist</h2><ul class=\"checklist\">");
            for line in &self.checklist {
                let _ = write!(
                    html,
                    "<li>{} {}: {}</li>",
                    if line.done { "☑" } else { "☐" },
                    esc(&line.phase),
                    esc(&line.label)
                );
            }
            html.push_str("</ul>");
        }
        html.push_str("</body></html>\n");
        html
    }

    fn verdict(&self) -> String {
        if self.is_clean() {
            "No discrepancies: the target holds what the source holds.".into()
        } else if !self.settle.settled {
            "Not conclusive: the target was still changing when validation stopped waiting.".into()
        } else {
            format!("{} discrepancies found.", self.discrepancy_count())
        }
    }

    fn window_text(&self) -> String {
        format!(
            "{} to {}",
            self.window_from.as_deref().unwrap_or("the beginning"),
            self.window_to.as_deref().unwrap_or("now")
        )
    }

    fn sample_text(&self) -> String {
        match self.sample_size {
            None => "every object".into(),
            Some(n) => format!("a sample of {n} objects per entity"),
        }
    }

    /// One line per side, summed over entities, across the days of the window.
    fn per_day_svg(&self) -> String {
        let mut days: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
        for d in &self.per_day {
            let entry = days.entry(d.day.as_str()).or_default();
            entry.0 += d.source;
            entry.1 += d.target;
        }
        if days.is_empty() {
            return String::new();
        }
        let (width, height, pad) = (760.0_f64, 220.0_f64, 30.0_f64);
        let max = days
            .values()
            .map(|(s, t)| (*s).max(*t))
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let step = if days.len() > 1 {
            (width - 2.0 * pad) / (days.len() - 1) as f64
        } else {
            0.0
        };
        let point = |i: usize, v: u64| {
            format!(
                "{:.1},{:.1}",
                pad + step * i as f64,
                height - pad - (v as f64 / max) * (height - 2.0 * pad)
            )
        };
        let line = |pick: fn(&(u64, u64)) -> u64| {
            days.values()
                .enumerate()
                .map(|(i, v)| point(i, pick(v)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let first = days.keys().next().copied().unwrap_or_default();
        let last = days.keys().last().copied().unwrap_or_default();
        format!(
            "<h2>Objects per day</h2><svg role=\"img\" aria-label=\"Objects per day, source and target\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/>\
<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"3\" points=\"{src}\"/>\
<polyline fill=\"none\" stroke=\"#f59e0b\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\" points=\"{tgt}\"/>\
<text x=\"{pad}\" y=\"{ly}\" font-size=\"11\">{first}</text><text x=\"{r}\" y=\"{ly}\" font-size=\"11\" text-anchor=\"end\">{last}</text>\
<text x=\"{pad}\" y=\"14\" font-size=\"11\">max {max}/day</text></svg>\
<p class=\"legend\"><span class=\"src\">━ source</span> <span class=\"tgt\">┅ target</span></p>",
            b = height - pad,
            r = width - pad,
            ly = height - 8.0,
            src = line(|v| v.0),
            tgt = line(|v| v.1),
            first = esc(first),
            last = esc(last),
        )
    }
}

/// What a conflict is and what the user can do, in the reports.
pub const CONFLICT_TEXT: &str = "the target already held an object under the same id (or name) with other content before the run, so the run left it as it was. Decide for each: keep the target's, or delete it in the target and run the copy again to bring the source's.";

pub(crate) const STYLE: &str = "<style>body{font:14px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;color:#111}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
tr.bad td{background:#fee2e2}.verdict{font-weight:600;padding:.5em;border-radius:4px}.ok{background:#dcfce7}.bad{background:#fee2e2}\
.note{background:#fef3c7;padding:.5em}dt{font-weight:600;float:left;width:7em}dd{margin-left:8em}.src{color:#2563eb}.tgt{color:#b45309}\
code{word-break:break-all}</style>";

fn list_ids(md: &mut String, title: &str, ids: &[String], count: u64) {
    if count == 0 {
        return;
    }
    let _ = writeln!(md, "**{title}** ({count}):\n");
    for id in ids {
        let _ = writeln!(md, "- `{id}`");
    }
    if count as usize > ids.len() {
        let _ = writeln!(md, "- … and {} more", count as usize - ids.len());
    }
    md.push('\n');
}

fn html_ids(html: &mut String, title: &str, ids: &[String], count: u64) {
    if count == 0 {
        return;
    }
    let _ = write!(html, "<h3>{} ({})</h3><ul>", esc(title), count);
    for id in ids {
        let _ = write!(html, "<li><code>{}</code></li>", esc(id));
    }
    if count as usize > ids.len() {
        let _ = write!(html, "<li>… and {} more</li>", count as usize - ids.len());
    }
    html.push_str("</ul>");
}

pub(crate) fn md_cell(value: Option<&str>) -> String {
    value
        .unwrap_or("—")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::after_run::validate::diff::DiffKind;

    fn report() -> ValidationReport {
        ValidationReport {
            run_id: "run-1".into(),
            generated_at: "2026-11-25T10:00:00Z".into(),
            source: "EU Cloud".into(),
            target: "self-hosted".into(),
            settle: SettleOutcome {
                waited_ms: 1200,
                settled: true,
                note: None,
            },
            entities: vec![
                EntityReconciliation {
                    entity: "traces".into(),
                    source_count: 3,
                    target_count: 3,
                    compared: 3,
                    ..Default::default()
                },
                EntityReconciliation {
                    entity: "observations".into(),
                    source_count: 5,
                    target_count: 5,
                    compared: 4,
                    missing_count: 1,
                    extra_count: 1,
                    differing_count: 1,
                    preexisting_count: 0,
                    missing: vec!["obs-missing".into()],
                    extra: vec!["<script>alert(1)</script>".into()],
                    differing: vec![Discrepancy {
                        id: "obs-2".into(),
                        fields: vec![FieldDiff {
                            path: "usageDetails.input".into(),
                            kind: DiffKind::Missing,
                            source: Some("10".into()),
                            target: None,
                        }],
                    }],
                    ..Default::default()
                },
            ],
            per_day: vec![
                DayCount {
                    day: "2026-11-01".into(),
                    entity: "traces".into(),
                    source: 3,
                    target: 3,
                },
                DayCount {
                    day: "2026-11-02".into(),
                    entity: "observations".into(),
                    source: 5,
                    target: 4,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn markdown_names_each_discrepancy() {
        let md = report().to_markdown();
        assert!(md.contains("3 discrepancies found."));
        assert!(md.contains("`obs-missing`"));
        assert!(md.contains("| `usageDetails.input` | Missing | 10 | — |"));
        assert!(md.contains("| traces | 3 | 3 | 0 | 0 | 0 |"));
    }

    #[test]
    fn html_is_standalone_escaped_and_has_the_chart() {
        let html = report().to_html();
        assert!(html.contains("<svg"));
        assert!(html.contains("2026-11-01") && html.contains("2026-11-02"));
        assert!(!html.contains("<script>"), "ids are escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no remote content"
        );
    }

    #[test]
    fn a_report_that_gave_up_waiting_is_not_clean() {
        let mut r = report();
        r.entities.truncate(1);
        assert!(r.is_clean());
        r.settle.settled = false;
        assert!(!r.is_clean());
        assert!(r.to_markdown().contains("Not conclusive"));
    }
}
