//! Reads the Langfuse and LangSmith packages out of Python and JavaScript manifests and
//! lockfiles, each with the parser of its format: PEP 508 (`pep508_rs`) for requirement
//! strings, TOML for `pyproject.toml`, `poetry.lock` and `uv.lock`, JSON for `Pipfile.lock`,
//! `package.json` and `package-lock.json`, YAML for `pnpm-lock.yaml`, and the
//! `yarn-lock-parser` crate for both yarn.lock formats. Only the packages this check cares
//! about are kept, so memory does not grow with the size of a lockfile's dependency tree.

use super::rules::Ecosystem;
use serde_json::Value as Json;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    Requirements,
    Pyproject,
    PoetryLock,
    UvLock,
    PipfileLock,
    PackageJson,
    PackageLock,
    PnpmLock,
    YarnLock,
}

impl ManifestKind {
    pub fn from_name(name: &str) -> Option<ManifestKind> {
        Some(match name {
            "pyproject.toml" => ManifestKind::Pyproject,
            "poetry.lock" => ManifestKind::PoetryLock,
            "uv.lock" => ManifestKind::UvLock,
            "Pipfile.lock" => ManifestKind::PipfileLock,
            "package.json" => ManifestKind::PackageJson,
            "package-lock.json" | "npm-shrinkwrap.json" => ManifestKind::PackageLock,
            "pnpm-lock.yaml" => ManifestKind::PnpmLock,
            "yarn.lock" => ManifestKind::YarnLock,
            n if n.starts_with("requirements") && n.ends_with(".txt") => ManifestKind::Requirements,
            _ => return None,
        })
    }

    pub fn ecosystem(self) -> Ecosystem {
        match self {
            ManifestKind::Requirements
            | ManifestKind::Pyproject
            | ManifestKind::PoetryLock
            | ManifestKind::UvLock
            | ManifestKind::PipfileLock => Ecosystem::Python,
            _ => Ecosystem::JavaScript,
        }
    }

    /// Lockfiles pin versions; the other manifests declare ranges. `Pipfile.lock` is both,
    /// since the `Pipfile` itself is not read.
    pub fn is_lock(self) -> bool {
        !matches!(
            self,
            ManifestKind::Requirements | ManifestKind::Pyproject | ManifestKind::PackageJson
        )
    }

    pub fn declares(self) -> bool {
        !self.is_lock() || self == ManifestKind::PipfileLock
    }
}

/// One package of interest in one manifest or lockfile.
#[derive(Clone, Debug, PartialEq)]
pub struct Dep {
    /// The normalised name (`langfuse`, `@langfuse/tracing`).
    pub package: String,
    /// The declared range, as written.
    pub spec: Option<String>,
    /// The version a lockfile pins.
    pub version: Option<String>,
    pub line: Option<u32>,
    /// In a workspace lockfile: the project folder (relative to the lockfile) this entry belongs
    /// to; `Some("")` for the lockfile's own folder and hoisted packages.
    pub scope: Option<String>,
    /// yarn.lock: the ranges this entry satisfies.
    pub descriptors: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub kind: ManifestKind,
    /// Relative path of the file, and of its folder (`.` for the root).
    pub file: String,
    pub dir: String,
    pub deps: Vec<Dep>,
}

/// The packages this check looks at.
pub fn is_interesting(ecosystem: Ecosystem, name: &str) -> bool {
    match ecosystem {
        Ecosystem::Python => matches!(name, "langfuse" | "langsmith"),
        Ecosystem::JavaScript => {
            matches!(
                name,
                "langfuse"
                    | "langfuse-node"
                    | "langfuse-langchain"
                    | "langfuse-vercel"
                    | "langsmith"
            ) || name.starts_with("@langfuse/")
        }
    }
}

fn python_name(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

pub fn parse(kind: ManifestKind, rel: &str, text: &str) -> Result<Manifest, String> {
    let deps = match kind {
        ManifestKind::Requirements => requirements(text),
        ManifestKind::Pyproject => pyproject(text)?,
        ManifestKind::PoetryLock | ManifestKind::UvLock => toml_lock(text)?,
        ManifestKind::PipfileLock => pipfile_lock(text)?,
        ManifestKind::PackageJson => package_json(text)?,
        ManifestKind::PackageLock => package_lock(text)?,
        ManifestKind::PnpmLock => pnpm_lock(text)?,
        ManifestKind::YarnLock => yarn_lock(text)?,
    };
    let dir = match rel.rfind('/') {
        Some(i) => rel[..i].to_string(),
        None => ".".to_string(),
    };
    Ok(Manifest {
        kind,
        file: rel.to_string(),
        dir,
        deps,
    })
}

/// The first line (1-based) on which `found` holds.
fn line_where(text: &str, found: impl Fn(&str) -> bool) -> Option<u32> {
    text.lines()
        .position(|l| found(l.trim()))
        .map(|i| i as u32 + 1)
}

/// The line that names `package` in quotes (`"langfuse"`, `"langfuse>=2"`), or as a TOML key.
fn line_naming(text: &str, package: &str) -> Option<u32> {
    let quoted = [format!("\"{package}\""), format!("'{package}'")];
    let starts = [format!("\"{package}"), format!("'{package}")];
    line_where(text, |l| {
        quoted.iter().any(|q| l.contains(q.as_str()))
            || starts.iter().any(|s| {
                l.match_indices(s.as_str()).any(|(i, _)| {
                    let after = l[i + s.len()..].chars().next();
                    after.is_some_and(|c| !(c.is_alphanumeric() || c == '-' || c == '_'))
                })
            })
            || l.split(['=', ' ']).next() == Some(package)
            || l.strip_prefix(package)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Parses one PEP 508 requirement; `None` for lines that are not one (options, URLs, junk).
fn pep508(requirement: &str) -> Option<(String, Option<String>)> {
    let req = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(requirement).ok()?;
    let spec = match req.version_or_url {
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    Some((python_name(req.name.as_ref()), spec))
}

fn requirements(text: &str) -> Vec<Dep> {
    let mut deps = vec![];
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        let line = line
            .split(" --")
            .next()
            .unwrap_or("")
            .trim_end_matches('\\')
            .trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        if let Some((package, spec)) = pep508(line)
            && is_interesting(Ecosystem::Python, &package)
        {
            deps.push(Dep {
                package,
                spec,
                version: None,
                line: Some(i as u32 + 1),
                scope: None,
                descriptors: vec![],
            });
        }
    }
    deps
}

fn pyproject(text: &str) -> Result<Vec<Dep>, String> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| format!("could not be read as TOML: {}", e.message()))?;
    let mut deps = vec![];
    let mut push = |package: String, spec: Option<String>| {
        if is_interesting(Ecosystem::Python, &package)
            && !deps.iter().any(|d: &Dep| d.package == package)
        {
            deps.push(Dep {
                line: line_naming(text, &package),
                package,
                spec,
                version: None,
                scope: None,
                descriptors: vec![],
            });
        }
    };
    // PEP 621 `[project]`, its optional dependencies, and PEP 735 dependency groups.
    fn strings_of(v: Option<&toml::Value>) -> impl Iterator<Item = &str> {
        v.and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
    }
    let project = doc.get("project");
    let mut strings: Vec<&str> = strings_of(project.and_then(|p| p.get("dependencies"))).collect();
    for group in [
        project.and_then(|p| p.get("optional-dependencies")),
        doc.get("dependency-groups"),
    ]
    .into_iter()
    .flatten()
    .filter_map(|t| t.as_table())
    {
        for list in group.values() {
            strings.extend(strings_of(Some(list)));
        }
    }
    for s in strings {
        if let Some((package, spec)) = pep508(s) {
            push(package, spec);
        }
    }
    // Poetry: `[tool.poetry.dependencies]` and `[tool.poetry.group.<g>.dependencies]`.
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    let mut tables = vec![poetry.and_then(|p| p.get("dependencies"))];
    if let Some(groups) = poetry
        .and_then(|p| p.get("group"))
        .and_then(|g| g.as_table())
    {
        tables.extend(groups.values().map(|g| g.get("dependencies")));
    }
    for table in tables.into_iter().flatten().filter_map(|t| t.as_table()) {
        for (name, value) in table {
            let spec = match value {
                toml::Value::String(s) => Some(s.clone()),
                toml::Value::Table(t) => {
                    t.get("version").and_then(|v| v.as_str()).map(String::from)
                }
                _ => None,
            };
            push(python_name(name), spec);
        }
    }
    Ok(deps)
}

/// `poetry.lock` and `uv.lock`: `[[package]]` tables with `name` and `version`.
fn toml_lock(text: &str) -> Result<Vec<Dep>, String> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| format!("could not be read as TOML: {}", e.message()))?;
    let packages = doc
        .get("package")
        .and_then(|p| p.as_array())
        .ok_or("has no [[package]] entries")?;
    Ok(packages
        .iter()
        .filter_map(|p| {
            let package = python_name(p.get("name")?.as_str()?);
            let version = p.get("version")?.as_str()?.to_string();
            is_interesting(Ecosystem::Python, &package).then(|| Dep {
                line: line_where(text, |l| {
                    l.starts_with("name") && l.contains(&format!("\"{package}\""))
                }),
                package,
                spec: None,
                version: Some(version),
                scope: None,
                descriptors: vec![],
            })
        })
        .collect())
}

fn json(text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("could not be read as JSON: {e}"))
}

fn pipfile_lock(text: &str) -> Result<Vec<Dep>, String> {
    let doc = json(text)?;
    let mut deps = vec![];
    for section in ["default", "develop"] {
        for (name, entry) in doc
            .get(section)
            .and_then(|s| s.as_object())
            .into_iter()
            .flatten()
        {
            let package = python_name(name);
            if !is_interesting(Ecosystem::Python, &package)
                || deps.iter().any(|d: &Dep| d.package == package)
            {
                continue;
            }
            let version = entry
                .get("version")
                .and_then(|v| v.as_str())
                .map(|v| v.trim_start_matches("==").to_string());
            deps.push(Dep {
                line: line_naming(text, name),
                package,
                spec: None,
                version,
                scope: None,
                descriptors: vec![],
            });
        }
    }
    Ok(deps)
}

const JS_SECTIONS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

fn package_json(text: &str) -> Result<Vec<Dep>, String> {
    let doc = json(text)?;
    let mut deps = vec![];
    for section in JS_SECTIONS {
        for (name, spec) in doc
            .get(section)
            .and_then(|s| s.as_object())
            .into_iter()
            .flatten()
        {
            if !is_interesting(Ecosystem::JavaScript, name)
                || deps.iter().any(|d: &Dep| &d.package == name)
            {
                continue;
            }
            deps.push(Dep {
                package: name.clone(),
                spec: spec.as_str().map(String::from),
                version: None,
                line: line_naming(text, name),
                scope: None,
                descriptors: vec![],
            });
        }
    }
    Ok(deps)
}

/// `package-lock.json` v2/v3 (`packages` keyed by install path) and v1 (`dependencies`).
fn package_lock(text: &str) -> Result<Vec<Dep>, String> {
    let doc = json(text)?;
    let mut deps = vec![];
    if let Some(packages) = doc.get("packages").and_then(|p| p.as_object()) {
        for (path, entry) in packages {
            let Some(i) = path.rfind("node_modules/") else {
                continue;
            };
            let name = &path[i + "node_modules/".len()..];
            if !is_interesting(Ecosystem::JavaScript, name) {
                continue;
            }
            let scope = path[..i].trim_end_matches('/').to_string();
            deps.push(Dep {
                package: name.to_string(),
                spec: None,
                version: entry
                    .get("version")
                    .and_then(|v| v.as_str())
                    .map(String::from),
                line: line_naming(text, path),
                scope: Some(scope),
                descriptors: vec![],
            });
        }
    } else if let Some(dependencies) = doc.get("dependencies").and_then(|p| p.as_object()) {
        for (name, entry) in dependencies {
            if is_interesting(Ecosystem::JavaScript, name) {
                deps.push(Dep {
                    package: name.clone(),
                    spec: None,
                    version: entry
                        .get("version")
                        .and_then(|v| v.as_str())
                        .map(String::from),
                    line: line_naming(text, name),
                    scope: Some(String::new()),
                    descriptors: vec![],
                });
            }
        }
    } else {
        return Err("has neither `packages` nor `dependencies`: not an npm lockfile".into());
    }
    Ok(deps)
}

/// `pnpm-lock.yaml`: `importers.<path>.<section>.<name>` is `{specifier, version}` (v6+) or a
/// plain version (v5); single-project v5 files have the sections at the top level.
fn pnpm_lock(text: &str) -> Result<Vec<Dep>, String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("could not be read as YAML: {e}"))?;
    if !doc.is_mapping() {
        return Err("is not a pnpm lockfile (no mapping at its top)".into());
    }
    let mut importers: Vec<(String, &serde_yaml_ng::Value)> = vec![];
    if let Some(map) = doc.get("importers").and_then(|i| i.as_mapping()) {
        for (k, v) in map {
            let path = k.as_str().unwrap_or(".");
            importers.push((
                if path == "." {
                    String::new()
                } else {
                    path.to_string()
                },
                v,
            ));
        }
    } else {
        importers.push((String::new(), &doc));
    }
    let mut deps = vec![];
    for (scope, importer) in importers {
        for section in JS_SECTIONS {
            let Some(map) = importer.get(section).and_then(|s| s.as_mapping()) else {
                continue;
            };
            for (name, entry) in map {
                let Some(name) = name
                    .as_str()
                    .filter(|n| is_interesting(Ecosystem::JavaScript, n))
                else {
                    continue;
                };
                let (spec, version) = match entry {
                    serde_yaml_ng::Value::String(v) => (None, Some(v.clone())),
                    other => (
                        other
                            .get("specifier")
                            .and_then(|s| s.as_str())
                            .map(String::from),
                        other
                            .get("version")
                            .and_then(|s| s.as_str())
                            .map(String::from),
                    ),
                };
                // `3.2.0(peer@1.0.0)` carries peer suffixes; `link:` is a workspace package.
                let version = version
                    .filter(|v| !v.starts_with("link:"))
                    .map(|v| v.split('(').next().unwrap_or(&v).to_string());
                deps.push(Dep {
                    package: name.to_string(),
                    spec,
                    version,
                    line: line_naming(text, name),
                    scope: Some(scope.clone()),
                    descriptors: vec![],
                });
            }
        }
    }
    Ok(deps)
}

fn yarn_lock(text: &str) -> Result<Vec<Dep>, String> {
    let lock = yarn_lock_parser::parse_str(text)
        .map_err(|e| format!("could not be read as a yarn lockfile: {e}"))?;
    Ok(lock
        .entries
        .iter()
        .filter(|e| is_interesting(Ecosystem::JavaScript, e.name))
        .map(|e| Dep {
            package: e.name.to_string(),
            spec: None,
            version: Some(e.version.to_string()),
            line: line_where(text, |l| {
                !l.starts_with(' ')
                    && (l.starts_with(&format!("{}@", e.name))
                        || l.starts_with(&format!("\"{}@", e.name)))
            }),
            scope: None,
            descriptors: e
                .descriptors
                .iter()
                .map(|(_, spec)| spec.trim_start_matches("npm:").to_string())
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_lines_with_markers_hashes_and_extras() {
        let text = "# tools\nrequests==2.0\nlangfuse[openai] >= 2.36, <3 ; python_version > \"3.8\"  # tracing\n-r other.txt\nLangSmith==0.4.2 \\\n    --hash=sha256:abc\n";
        let deps = requirements(text);
        assert_eq!(deps.len(), 2);
        assert_eq!(deps[0].package, "langfuse");
        assert_eq!(deps[0].line, Some(3));
        assert_eq!(deps[0].spec.as_deref(), Some(">=2.36, <3"));
        assert_eq!(deps[1].package, "langsmith");
        assert_eq!(deps[1].spec.as_deref(), Some("==0.4.2"));
    }

    #[test]
    fn pnpm_v9_importers_strip_peer_suffixes() {
        let text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      '@langfuse/tracing':\n        specifier: ^4.2.0\n        version: 4.2.0(@opentelemetry/api@1.9.0)\n  apps/web:\n    dependencies:\n      langfuse:\n        specifier: ^3.3.0\n        version: 3.38.4\n";
        let deps = pnpm_lock(text).unwrap();
        assert_eq!(deps.len(), 2);
        assert_eq!(deps[0].version.as_deref(), Some("4.2.0"));
        assert_eq!(deps[0].scope.as_deref(), Some(""));
        assert_eq!(deps[1].scope.as_deref(), Some("apps/web"));
        assert_eq!(deps[1].line, Some(10));
    }

    #[test]
    fn yarn_v1_descriptors_and_version() {
        let text = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nlangfuse@^3.0.0, langfuse@^3.2.0:\n  version \"3.38.4\"\n  resolved \"https://registry.yarnpkg.com/langfuse/-/langfuse-3.38.4.tgz\"\n  integrity sha512-abc\n";
        let deps = yarn_lock(text).unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0].version.as_deref(), Some("3.38.4"));
        assert_eq!(deps[0].descriptors, vec!["^3.0.0", "^3.2.0"]);
        assert_eq!(deps[0].line, Some(5));
    }

    #[test]
    fn malformed_lockfiles_say_which_format_failed() {
        assert!(toml_lock("[[package]\nname=").unwrap_err().contains("TOML"));
        assert!(package_lock("{\"name\": ").unwrap_err().contains("JSON"));
        assert!(pnpm_lock("importers: [: :").unwrap_err().contains("YAML"));
    }
}
