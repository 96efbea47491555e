//! Application readiness against the fixture applications in `tests/fixtures/apps/`. The
//! expected findings below were written by hand from the fixtures and the SDK upgrade guides
//! (`shared/notes/sdk-compat.md`), not from the checker's output.

use migrator_engine::readiness::{
    AppFinding, AppReport, AppVerdict, FindingKind, FindingSeverity, Limits, ReadinessError,
    TargetServer, check_app, render,
};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../tests/fixtures/apps")
        .join(name)
}

fn check(name: &str, target: &str) -> AppReport {
    check_app(
        &fixture(name),
        &TargetServer::parse(target).unwrap(),
        &Limits::default(),
    )
    .unwrap()
}

use FindingSeverity::{Blocker as B, Info as I, Warning as W};

/// (severity, file, line, subject) of every finding, sorted.
fn found(r: &AppReport) -> Vec<(FindingSeverity, String, Option<u32>, String)> {
    let mut v: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.severity, f.file.clone(), f.line, f.subject.clone()))
        .collect();
    v.sort();
    v
}

fn expect(
    list: &[(FindingSeverity, &str, u32, &str)],
) -> Vec<(FindingSeverity, String, Option<u32>, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(s, f, l, subj)| (*s, f.to_string(), Some(*l), subj.to_string()))
        .collect();
    v.sort();
    v
}

/// No secret from a fixture's .env reaches the report in any form.
fn assert_no_secret(r: &AppReport) {
    let outputs = [
        serde_json::to_string(r).unwrap(),
        render::to_markdown(r),
        render::to_html(r),
    ];
    for out in outputs {
        assert!(!out.contains("FIXTURE-SECRET"), "a secret leaked: {out}");
    }
}

fn guides_are_official(r: &AppReport) {
    for f in &r.findings {
        if let Some(g) = &f.guide {
            assert!(g.starts_with("https://langfuse.com/"), "{g}");
        }
        assert!(!f.action.is_empty() && !f.message.is_empty());
    }
}

#[test]
fn python_v2_with_decorators_is_blocked_on_v4() {
    let r = check("py-v2-decorators", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::Blocked);
    assert_eq!(
        found(&r),
        expect(&[
            (B, "requirements.txt", 2, "langfuse 2.60.3"),
            (B, "app.py", 1, "langfuse.decorators"),
            (B, "app.py", 7, "langfuse_context"),
            (W, "app.py", 7, "update_current_trace()"),
            (B, "app.py", 17, "langfuse_context"),
        ])
    );
    let sdk = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Sdk)
        .unwrap();
    assert_eq!(
        sdk.guide.as_deref(),
        Some("https://langfuse.com/docs/observability/sdk/upgrade-path/python-v2-to-v3")
    );
    // The .env is in the fixture's .gitignore, yet it is read: it says where the app points.
    assert!(
        r.points_at
            .iter()
            .any(|p| p.starts_with("https://cloud.langfuse.com"))
    );
    let secret = r
        .settings
        .iter()
        .find(|s| s.key == "LANGFUSE_SECRET_KEY")
        .unwrap();
    assert!(secret.secret && secret.value.is_none());
    assert_no_secret(&r);
    guides_are_official(&r);
}

#[test]
fn python_v2_works_on_a_v2_server_and_its_v3_changes_are_only_information() {
    let r = check("py-v2-decorators", "v2");
    assert_eq!(r.verdict, AppVerdict::Ready);
    assert!(
        r.findings.iter().all(|f| f.severity == I),
        "{:#?}",
        r.findings
    );
}

#[test]
fn python_v3_with_update_current_trace_works_on_v4_with_warnings() {
    let r = check("py-v3-update-trace", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::ReadyWithWarnings);
    assert_eq!(
        found(&r),
        expect(&[
            (W, "pyproject.toml", 7, "langfuse 3.6.2"),
            (W, "app.py", 8, "update_current_trace()"),
            (W, "app.py", 10, "span.update_trace()"),
        ])
    );
    let sdk = &r.sdks[0];
    assert_eq!(sdk.locked.as_deref(), Some("3.6.2"));
    assert_eq!(sdk.lock_file.as_deref(), Some("uv.lock"));
    assert_no_secret(&r);
}

#[test]
fn python_v3_needs_a_v3_server_of_at_least_3_63() {
    let r = check("py-v3-update-trace", "3.50.0");
    assert_eq!(r.verdict, AppVerdict::Blocked);
    assert!(found(&r).contains(&(B, "pyproject.toml".into(), Some(7), "langfuse 3.6.2".into())));
    assert_eq!(
        check("py-v3-update-trace", "3.63.0").verdict,
        AppVerdict::ReadyWithWarnings
    );
}

#[test]
fn js_v3_with_trace_is_blocked_on_v4() {
    let r = check("js-v3-trace", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::Blocked);
    assert_eq!(
        found(&r),
        expect(&[
            (B, "package.json", 6, "langfuse 3.38.4"),
            (B, "index.ts", 1, "import from the `langfuse` package"),
            (B, "index.ts", 3, "new Langfuse()"),
            (
                B,
                "index.ts",
                6,
                "langfuse.trace() / .span() / .generation()"
            ),
            (
                W,
                "index.ts",
                9,
                "LangfuseClient aliases (getPrompt, fetchTrace, …)"
            ),
            (W, ".env", 1, "LANGFUSE_BASEURL"),
        ])
    );
    assert_eq!(r.sdks[0].lock_file.as_deref(), Some("package-lock.json"));
    assert_eq!(r.sdks[0].declared.as_deref(), Some("^3.29.0"));
    assert_no_secret(&r);
    guides_are_official(&r);
}

#[test]
fn js_v4_with_update_active_trace_works_on_v4_with_warnings() {
    let r = check("js-v4-update-active-trace", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::ReadyWithWarnings);
    assert_eq!(
        found(&r),
        expect(&[
            (W, "package.json", 5, "@langfuse/otel 4.2.0"),
            (W, "package.json", 6, "@langfuse/tracing 4.2.0"),
            (W, "src/handler.ts", 5, "updateActiveTrace()"),
        ])
    );
    assert!(
        r.sdks
            .iter()
            .all(|s| s.lock_file.as_deref() == Some("pnpm-lock.yaml"))
    );
    assert!(r.settings.iter().any(|s| s.file == ".env.local"));
    assert_no_secret(&r);
}

#[test]
fn js_v4_is_refused_by_a_v2_server() {
    let r = check("js-v4-update-active-trace", "v2");
    assert_eq!(r.verdict, AppVerdict::Blocked);
}

#[test]
fn an_up_to_date_app_is_ready_only_where_the_server_is_new_enough() {
    let r = check("up-to-date", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::Ready, "{:#?}", r.findings);
    assert!(r.findings.is_empty());
    assert_eq!(r.sdks[0].version.as_deref(), Some("5.1.0"));
    assert_eq!(r.sdks[0].lock_file.as_deref(), Some("poetry.lock"));
    assert_eq!(check("up-to-date", "cloud").verdict, AppVerdict::Ready);

    let old = check("up-to-date", "4.58.0");
    assert_eq!(old.verdict, AppVerdict::Blocked);
    assert_eq!(
        found(&old),
        expect(&[(B, "pyproject.toml", 8, "langfuse 5.1.0")])
    );

    let unknown = check("up-to-date", "v4");
    assert_eq!(unknown.verdict, AppVerdict::ReadyWithWarnings);
    assert_eq!(
        found(&unknown),
        expect(&[(W, "pyproject.toml", 8, "langfuse 5.1.0")])
    );
    assert_no_secret(&r);
}

#[test]
fn a_monorepo_checks_each_service_against_its_own_sdk() {
    let r = check("monorepo", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::Blocked);
    assert_eq!(
        found(&r),
        expect(&[
            (B, "services/api/Pipfile.lock", 22, "langfuse 2.59.1"),
            (
                B,
                "services/api/app.py",
                1,
                "langfuse.callback.CallbackHandler"
            ),
            (
                B,
                "services/api/app.py",
                4,
                "CallbackHandler(user_id=…, session_id=…)"
            ),
            // updateActiveTrace on line 8 is fine: web is on JS v5, where it still exists.
            (
                W,
                "services/web/src/index.ts",
                6,
                "setActiveTraceIO / setTraceIO / createTraceAttributes"
            ),
        ])
    );
    let web: Vec<_> = r
        .sdks
        .iter()
        .filter(|s| s.project == "services/web")
        .collect();
    assert_eq!(web.len(), 2);
    assert!(web.iter().all(
        |s| s.locked.as_deref() == Some("5.4.2") && s.lock_file.as_deref() == Some("yarn.lock")
    ));
    assert_no_secret(&r);
}

#[test]
fn a_langsmith_app_is_blocked_until_it_exports_to_langfuse() {
    let r = check("langsmith-app", "4.59.0");
    assert_eq!(r.verdict, AppVerdict::Blocked);
    assert_eq!(
        found(&r),
        expect(&[
            (B, "requirements.txt", 1, "langsmith 0.3.45"),
            (I, ".env", 1, "LANGCHAIN_TRACING_V2"),
            (I, ".env", 2, "LANGCHAIN_API_KEY"),
            (I, ".env", 3, "LANGCHAIN_PROJECT"),
        ])
    );
    let blocker = &r.findings[0];
    assert!(blocker.action.contains("LANGSMITH_OTEL_ENABLED=true"));
    assert!(blocker.action.contains("0.4.1"));
    assert_eq!(
        blocker.guide.as_deref(),
        Some("https://langfuse.com/resources/engineering/migrate-from-langsmith")
    );
    assert_no_secret(&r);
}

#[test]
fn a_missing_folder_or_a_file_cannot_be_checked() {
    let t = TargetServer::parse("v4").unwrap();
    let missing = check_app(Path::new("/no/such/app"), &t, &Limits::default());
    assert_eq!(
        missing.unwrap_err(),
        ReadinessError::NoSuchFolder("/no/such/app".into())
    );
    let file = fixture("js-v3-trace/index.ts");
    assert!(matches!(
        check_app(&file, &t, &Limits::default()),
        Err(ReadinessError::NotAFolder(_))
    ));
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn problems(r: &AppReport) -> Vec<&AppFinding> {
    r.findings
        .iter()
        .filter(|f| f.kind == FindingKind::Problem)
        .collect()
}

#[test]
fn an_unreadable_file_is_named_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.py",
        "from langfuse.decorators import observe\n",
    );
    std::os::unix::fs::symlink(
        dir.path().join("gone.txt"),
        dir.path().join("requirements.txt"),
    )
    .unwrap();
    let r = check_app(
        dir.path(),
        &TargetServer::parse("v4").unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let p = problems(&r);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].file, "requirements.txt");
    assert!(
        p[0].message.contains("could not be read"),
        "{}",
        p[0].message
    );
    assert!(found(&r).contains(&(B, "app.py".into(), Some(1), "langfuse.decorators".into())));
}

#[test]
fn a_malformed_lockfile_is_named_and_the_declared_range_is_used() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        "{\n  \"dependencies\": {\n    \"langfuse\": \"^3.1.0\"\n  }\n}\n",
    );
    write(
        dir.path(),
        "package-lock.json",
        "{\n  \"packages\": {\n    \"node_modules/langfuse\": { \"version\": \n",
    );
    write(
        dir.path(),
        "poetry.lock",
        "[[package]\nname = \"langfuse\"\n",
    );
    let r = check_app(
        dir.path(),
        &TargetServer::parse("v4").unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let p = problems(&r);
    assert_eq!(
        p.iter().map(|f| f.file.as_str()).collect::<Vec<_>>(),
        vec!["package-lock.json", "poetry.lock"]
    );
    assert!(p[0].message.contains("JSON") && p[1].message.contains("TOML"));
    assert_eq!(r.sdks[0].version.as_deref(), Some("3.1.0"));
    assert!(found(&r).contains(&(B, "package.json".into(), Some(3), "langfuse 3.1.0".into())));
}

#[test]
fn dependencies_virtualenvs_and_gitignored_files_are_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "package.json",
        "{\"dependencies\": {\"@langfuse/tracing\": \"5.4.0\"}}\n",
    );
    write(
        d,
        "node_modules/langfuse/index.js",
        "const l = new Langfuse(); langfuse.trace({})\n",
    );
    write(d, "venv/pyvenv.cfg", "home = /usr/bin\n");
    write(
        d,
        "venv/lib/site.py",
        "from langfuse.decorators import observe\n",
    );
    write(d, ".gitignore", "generated/\n");
    write(
        d,
        "generated/old.ts",
        "import { Langfuse } from \"langfuse\";\nnew Langfuse();\n",
    );
    let r = check_app(
        d,
        &TargetServer::parse("4.59.0").unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(r.verdict, AppVerdict::Ready, "{:#?}", r.findings);
    let reasons: Vec<&str> = r.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|s| s.contains("node_modules")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|s| s.contains("virtual environments")),
        "{reasons:?}"
    );
    assert!(r.complete);
}

#[test]
fn a_huge_repository_is_bounded_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1500 {
        write(
            dir.path(),
            &format!("src/m{}/f{i}.py", i % 30),
            "import os\n",
        );
    }
    let limits = Limits {
        max_files: 400,
        ..Limits::default()
    };
    let r = check_app(dir.path(), &TargetServer::parse("v4").unwrap(), &limits).unwrap();
    assert!(!r.complete);
    assert_eq!(r.files_scanned, 400);
    assert!(
        r.skipped[0].reason.contains("limit of 400 files"),
        "{:?}",
        r.skipped
    );
    assert!(render::to_markdown(&r).contains("limit of 400 files"));
}

#[test]
fn reports_render_grouped_by_severity_with_places_and_guides() {
    let r = check("js-v3-trace", "4.59.0");
    let md = render::to_markdown(&r);
    let blockers = md.find("## Blockers").unwrap();
    let warnings = md.find("## Warnings").unwrap();
    assert!(blockers < warnings);
    assert!(md.contains("| index.ts:6 |"));
    assert!(md.contains("https://langfuse.com/docs/observability/sdk/upgrade-path/js-v3-to-v4"));
    let html = render::to_html(&r);
    assert!(html.contains("<code>index.ts:6</code>"));
    assert!(!html.contains("<script"));
}
