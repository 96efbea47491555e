//! One bounded pass over an application's folder: manifests and lockfiles are parsed, source
//! files are scanned for API usage, `.env`-style files are collected. Dependencies, virtual
//! environments, build output, hidden folders and `.gitignore`d files are left out (the
//! `ignore` crate applies `.gitignore` rules the way git does, also outside a git repository),
//! and a file count, a byte size per file and a time budget bound the pass; whatever they
//! leave out is listed in the report.

use super::manifests::{self, Manifest, ManifestKind};
use super::rules::{self, Hit};
use super::{AppFinding, FindingKind, FindingSeverity, Skipped};
use ignore::{WalkBuilder, WalkState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bounds of one check, so a huge repository cannot take unbounded time or memory.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Stop after this many files.
    pub max_files: u64,
    /// Source and `.env` files larger than this are skipped (generated or minified code).
    pub max_file_bytes: u64,
    /// Manifests and lockfiles larger than this are skipped.
    pub max_lockfile_bytes: u64,
    /// Stop walking after this long.
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 300_000,
            max_file_bytes: 1024 * 1024,
            max_lockfile_bytes: 64 * 1024 * 1024,
            time_budget: Duration::from_secs(30),
        }
    }
}

/// Folders that hold installed dependencies or build output, never the application's code.
const SKIPPED_FOLDERS: &[&str] = &[
    "node_modules",
    "bower_components",
    "site-packages",
    "__pycache__",
    "dist",
    "build",
    "out",
    "target",
    "coverage",
    "__pypackages__",
];

const SOURCE_EXTENSIONS: &[&str] = &["py", "js", "mjs", "cjs", "ts", "mts", "cts", "tsx", "jsx"];

const EXAMPLES: usize = 5;

pub struct Walked {
    pub manifests: Vec<Manifest>,
    pub hits: Vec<Hit>,
    /// `.env`-style files (absolute paths), sorted.
    pub env_files: Vec<PathBuf>,
    pub problems: Vec<AppFinding>,
    pub skipped: Vec<Skipped>,
    pub complete: bool,
    pub files_scanned: u64,
}

/// Per reason: how many, and a few examples.
type SkipCounts = BTreeMap<String, (u64, Vec<String>)>;

#[derive(Default)]
struct Collected {
    manifests: Vec<Manifest>,
    hits: Vec<Hit>,
    env_files: Vec<PathBuf>,
    problems: Vec<AppFinding>,
    skipped: SkipCounts,
}

impl Collected {
    fn skip(&mut self, reason: String, rel: String) {
        let e = self.skipped.entry(reason).or_default();
        e.0 += 1;
        if e.1.len() < EXAMPLES {
            e.1.push(rel);
        }
    }
}

pub fn is_env_file(name: &str) -> bool {
    name == ".env" || name.starts_with(".env.") || name.ends_with(".env")
}

pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if s.is_empty() { ".".into() } else { s }
}

pub fn walk(root: &Path, limits: &Limits) -> Walked {
    let started = Instant::now();
    let collected = Mutex::new(Collected::default());
    let files = AtomicU64::new(0);
    let stopped = AtomicBool::new(false);
    let stop_reason = Mutex::new(None::<String>);
    let folder_skips: std::sync::Arc<Mutex<SkipCounts>> = Default::default();

    let mut builder = WalkBuilder::new(root);
    let root_buf = root.to_path_buf();
    let skips = folder_skips.clone();
    builder
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .threads(2)
        .filter_entry(move |e| {
            if e.depth() == 0 || !e.file_type().is_some_and(|t| t.is_dir()) {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            let reason = if name.starts_with('.') {
                Some("hidden folders (.git, .venv, caches)")
            } else if SKIPPED_FOLDERS.contains(&name.as_ref()) {
                Some("dependencies and build output (node_modules, dist, build, …)")
            } else if e.path().join("pyvenv.cfg").exists() {
                Some("Python virtual environments")
            } else {
                None
            };
            match reason {
                Some(r) => {
                    let mut s = skips.lock().expect("skips");
                    let entry = s.entry(r.to_string()).or_default();
                    entry.0 += 1;
                    if entry.1.len() < EXAMPLES {
                        entry.1.push(relative(&root_buf, e.path()));
                    }
                    false
                }
                None => true,
            }
        });

    let (collected_ref, files_ref, stopped_ref, reason_ref) =
        (&collected, &files, &stopped, &stop_reason);
    builder.build_parallel().run(|| {
        let (collected, files, stopped, stop_reason) =
            (collected_ref, files_ref, stopped_ref, reason_ref);
        Box::new(move |entry| {
            if stopped.load(Ordering::Relaxed) {
                return WalkState::Quit;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    collected
                        .lock()
                        .expect("collected")
                        .skip(format!("unreadable entries ({e})"), String::new());
                    return WalkState::Continue;
                }
            };
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if is_dir {
                return WalkState::Continue;
            }
            let n = files.fetch_add(1, Ordering::Relaxed) + 1;
            let over = if n > limits.max_files {
                Some(format!(
                    "the walk stopped at the limit of {} files",
                    limits.max_files
                ))
            } else if started.elapsed() > limits.time_budget {
                Some(format!(
                    "the walk stopped after its time budget of {} s",
                    limits.time_budget.as_secs()
                ))
            } else {
                None
            };
            if let Some(reason) = over {
                if !stopped.swap(true, Ordering::Relaxed) {
                    *stop_reason.lock().expect("reason") = Some(reason);
                }
                return WalkState::Quit;
            }
            visit_file(root, entry.path(), limits, collected);
            WalkState::Continue
        })
    });

    let mut c = collected.into_inner().expect("collected");
    for (reason, (count, examples)) in folder_skips.lock().expect("skips").iter() {
        let e = c.skipped.entry(reason.clone()).or_default();
        e.0 += count;
        e.1.extend(examples.iter().take(EXAMPLES).cloned());
    }
    probe_ignored_env_files(root, &mut c);
    let complete = !stopped.load(Ordering::Relaxed);
    let mut skipped: Vec<Skipped> = c
        .skipped
        .into_iter()
        .map(|(reason, (count, mut examples))| {
            examples.retain(|e| !e.is_empty());
            examples.sort();
            Skipped {
                reason,
                count,
                examples,
            }
        })
        .collect();
    if let Some(reason) = stop_reason.into_inner().expect("reason") {
        skipped.insert(
            0,
            Skipped {
                reason: format!("{reason}; files after that were not read"),
                count: 1,
                examples: vec![],
            },
        );
    }
    c.manifests.sort_by(|a, b| a.file.cmp(&b.file));
    c.env_files.sort();
    c.env_files.dedup();
    c.hits
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Walked {
        manifests: c.manifests,
        hits: c.hits,
        env_files: c.env_files,
        problems: c.problems,
        skipped,
        complete,
        files_scanned: files.load(Ordering::Relaxed).min(limits.max_files),
    }
}

fn visit_file(root: &Path, path: &Path, limits: &Limits, collected: &Mutex<Collected>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let rel = relative(root, path);
    if is_env_file(&name) {
        collected
            .lock()
            .expect("collected")
            .env_files
            .push(path.to_path_buf());
        return;
    }
    if let Some(kind) = ManifestKind::from_name(&name) {
        let size = std::fs::symlink_metadata(path)
            .map(|m| m.len())
            .unwrap_or(0);
        if size > limits.max_lockfile_bytes {
            collected.lock().expect("collected").skip(
                format!(
                    "manifests and lockfiles larger than {} MB",
                    limits.max_lockfile_bytes / (1024 * 1024)
                ),
                rel,
            );
            return;
        }
        let parsed = read_text(path).and_then(|text| manifests::parse(kind, &rel, &text));
        let mut c = collected.lock().expect("collected");
        match parsed {
            Ok(m) => c.manifests.push(m),
            Err(why) => c.problems.push(problem(&rel, &why)),
        }
        return;
    }
    let Some(ecosystem) = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| SOURCE_EXTENSIONS.contains(e))
        .map(|e| {
            if e == "py" {
                rules::Ecosystem::Python
            } else {
                rules::Ecosystem::JavaScript
            }
        })
    else {
        return;
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > limits.max_file_bytes {
        collected.lock().expect("collected").skip(
            format!(
                "source files larger than {} KB (generated or bundled code)",
                limits.max_file_bytes / 1024
            ),
            rel,
        );
        return;
    }
    match read_text(path) {
        Ok(text) => {
            let hits = rules::scan(&rel, ecosystem, &text);
            if !hits.is_empty() {
                collected.lock().expect("collected").hits.extend(hits);
            }
        }
        Err(why) => collected
            .lock()
            .expect("collected")
            .problems
            .push(problem(&rel, &why)),
    }
}

/// `.env` files are usually in `.gitignore`, yet they say where the application points: look
/// for them by name in the root and next to every manifest, ignored or not.
fn probe_ignored_env_files(root: &Path, c: &mut Collected) {
    let mut dirs: Vec<PathBuf> = vec![root.to_path_buf()];
    dirs.extend(c.manifests.iter().filter_map(|m| {
        let p = root.join(&m.file);
        p.parent().map(Path::to_path_buf)
    }));
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if is_env_file(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
                c.env_files.push(e.path());
            }
        }
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "could not be read: it is a link to a file that does not exist".to_string()
        }
        std::io::ErrorKind::PermissionDenied => "could not be read: permission denied".to_string(),
        _ => format!("could not be read: {e}"),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn problem(rel: &str, why: &str) -> AppFinding {
    AppFinding {
        severity: FindingSeverity::Warning,
        kind: FindingKind::Problem,
        file: rel.to_string(),
        line: None,
        subject: rel.rsplit('/').next().unwrap_or(rel).to_string(),
        message: format!("{rel} {why}; the rest of the folder was still checked."),
        action: "Fix or regenerate this file, then check again.".into(),
        guide: None,
    }
}
