//! The readiness report as Markdown or standalone HTML (no scripts, no remote content), for the
//! app's "Save report". Secret values never reach a report: the check never keeps them.

use super::{AppFinding, AppReport, FindingSeverity};
use crate::validate::report::{STYLE, esc, md_cell};
use std::fmt::Write;

const GROUPS: [(FindingSeverity, &str); 3] = [
    (FindingSeverity::Blocker, "Blockers: fix before the switch"),
    (FindingSeverity::Warning, "Warnings: plan the change"),
    (FindingSeverity::Info, "For information"),
];

fn place(f: &AppFinding) -> String {
    match f.line {
        Some(l) => format!("{}:{l}", f.file),
        None => f.file.clone(),
    }
}

fn groups(r: &AppReport) -> impl Iterator<Item = (&'static str, Vec<&AppFinding>)> {
    GROUPS.iter().filter_map(|(sev, title)| {
        let list: Vec<&AppFinding> = r.findings.iter().filter(|f| f.severity == *sev).collect();
        (!list.is_empty()).then_some((*title, list))
    })
}

fn sdk_line(s: &super::SdkUse) -> String {
    format!(
        "{} {} ({}, {}{})",
        s.package,
        s.version.as_deref().unwrap_or("version unknown"),
        s.ecosystem,
        s.file,
        s.lock_file
            .as_deref()
            .map(|l| format!(", locked in {l}"))
            .unwrap_or_default()
    )
}

pub fn to_markdown(r: &AppReport) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Application readiness: {}\n", r.root);
    let _ = writeln!(
        md,
        "**Verdict for {}: {}**\n",
        r.target.describe(),
        r.verdict.describe()
    );
    md.push_str("## SDKs\n\n");
    if r.sdks.is_empty() {
        md.push_str("No Langfuse or LangSmith SDK found.\n");
    }
    for s in &r.sdks {
        let _ = writeln!(md, "- {}", sdk_line(s));
    }
    if !r.points_at.is_empty() {
        md.push_str("\n## Where the application points now\n\n");
        for p in &r.points_at {
            let _ = writeln!(md, "- {p}");
        }
    }
    for (title, list) in groups(r) {
        let _ = writeln!(md, "\n## {title}\n");
        md.push_str("| where | what | change | action | guide |\n|---|---|---|---|---|\n");
        for f in list {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                md_cell(Some(&place(f))),
                md_cell(Some(&f.subject)),
                md_cell(Some(&f.message)),
                md_cell(Some(&f.action)),
                md_cell(f.guide.as_deref())
            );
        }
    }
    if !r.skipped.is_empty() {
        md.push_str("\n## Not checked\n\n");
        for s in &r.skipped {
            let _ = writeln!(md, "- {} ({})", s.reason, s.count);
        }
    }
    let _ = writeln!(
        md,
        "\n{} files read in {} ms.",
        r.files_scanned, r.elapsed_ms
    );
    md
}

pub fn to_html(r: &AppReport) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    let _ = write!(
        h,
        "<title>Application readiness — {}</title>{STYLE}</head><body>",
        esc(&r.root)
    );
    let _ = write!(h, "<h1>Application readiness: {}</h1>", esc(&r.root));
    let class = if r.verdict == super::AppVerdict::Ready {
        "ok"
    } else {
        "bad"
    };
    let _ = write!(
        h,
        "<p class=\"verdict {class}\">Verdict for {}: {}</p><h2>SDKs</h2><ul>",
        esc(&r.target.describe()),
        r.verdict.describe()
    );
    for s in &r.sdks {
        let _ = write!(h, "<li>{}</li>", esc(&sdk_line(s)));
    }
    h.push_str("</ul>");
    if !r.points_at.is_empty() {
        h.push_str("<h2>Where the application points now</h2><ul>");
        for p in &r.points_at {
            let _ = write!(h, "<li>{}</li>", esc(p));
        }
        h.push_str("</ul>");
    }
    for (title, list) in groups(r) {
        let _ = write!(
            h,
            "<h2>{title}</h2><table><tr><th>where</th><th>what</th><th>change</th><th>action</th><th>guide</th></tr>"
        );
        for f in list {
            let guide = f
                .guide
                .as_deref()
                .map(|g| format!("<a href=\"{0}\">{0}</a>", esc(g)))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{guide}</td></tr>",
                esc(&place(f)),
                esc(&f.subject),
                esc(&f.message),
                esc(&f.action)
            );
        }
        h.push_str("</table>");
    }
    if !r.skipped.is_empty() {
        h.push_str("<h2>Not checked</h2><ul>");
        for s in &r.skipped {
            let _ = write!(h, "<li>{} ({})</li>", esc(&s.reason), s.count);
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<p>{} files read in {} ms.</p></body></html>",
        r.files_scanned, r.elapsed_ms
    );
    h
}
