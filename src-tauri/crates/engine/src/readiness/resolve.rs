//! From manifests and lockfiles to the SDK versions each project of the folder really uses: the
//! version a lockfile pins wins over the declared range; a project uses the nearest lockfile in
//! its folder or above it (workspaces lock at their root). Without a lock, the lowest version
//! the declared range allows is used (PEP 440 ranges through `pep508_rs`, npm and Poetry
//! caret/tilde ranges through `semver`).

use super::SdkUse;
use super::manifests::{Dep, Manifest, ManifestKind};
use super::rules::Ecosystem;
use pep508_rs::pep440_rs::{Operator, VersionSpecifiers};
use std::str::FromStr;

/// A folder with a manifest, and the SDKs it depends on.
#[derive(Clone, Debug)]
pub struct Project {
    pub dir: String,
    pub sdks: Vec<SdkUse>,
}

pub fn is_langfuse(package: &str) -> bool {
    package != "langsmith"
}

pub fn ecosystem_of(sdk: &SdkUse) -> Ecosystem {
    if sdk.ecosystem == "python" {
        Ecosystem::Python
    } else {
        Ecosystem::JavaScript
    }
}

pub fn major_of(version: &str) -> Option<u64> {
    version
        .trim()
        .trim_start_matches(['v', '='])
        .split(['.', '-', '+'])
        .next()?
        .parse()
        .ok()
}

/// `dir` relative to `ancestor`, or `None` if it is not inside it (`.` is the root).
fn inside(dir: &str, ancestor: &str) -> Option<String> {
    if ancestor == "." {
        return Some(if dir == "." {
            String::new()
        } else {
            dir.to_string()
        });
    }
    if dir == ancestor {
        return Some(String::new());
    }
    dir.strip_prefix(ancestor)
        .and_then(|r| r.strip_prefix('/'))
        .map(String::from)
}

fn locked_version<'a>(lock: &'a Manifest, rel: &str, dep: &Dep) -> Option<&'a str> {
    let same: Vec<&Dep> = lock
        .deps
        .iter()
        .filter(|d| d.package == dep.package)
        .collect();
    let found = match lock.kind {
        ManifestKind::PackageLock => same
            .iter()
            .find(|d| d.scope.as_deref() == Some(rel))
            .or_else(|| same.iter().find(|d| d.scope.as_deref() == Some(""))),
        ManifestKind::PnpmLock => same.iter().find(|d| d.scope.as_deref() == Some(rel)),
        ManifestKind::YarnLock => same
            .iter()
            .find(|d| dep.spec.as_ref().is_some_and(|s| d.descriptors.contains(s)))
            .or_else(|| same.first()),
        _ => same.first(),
    };
    found.and_then(|d| d.version.as_deref())
}

pub fn projects(manifests: &[Manifest]) -> Vec<Project> {
    let mut projects: Vec<Project> = vec![];
    for m in manifests.iter().filter(|m| m.kind.declares()) {
        let ecosystem = m.kind.ecosystem();
        // Nearest lockfile first.
        let mut locks: Vec<(&Manifest, String)> = manifests
            .iter()
            .filter(|l| l.kind.is_lock() && l.kind.ecosystem() == ecosystem)
            .filter_map(|l| inside(&m.dir, &l.dir).map(|rel| (l, rel)))
            .collect();
        locks.sort_by_key(|(l, rel)| {
            (
                rel.matches('/').count() + !rel.is_empty() as usize,
                l.file.clone(),
            )
        });
        let idx = match projects.iter().position(|p| p.dir == m.dir) {
            Some(i) => i,
            None => {
                projects.push(Project {
                    dir: m.dir.clone(),
                    sdks: vec![],
                });
                projects.len() - 1
            }
        };
        for dep in &m.deps {
            if projects[idx]
                .sdks
                .iter()
                .any(|s| s.package == dep.package && s.ecosystem == ecosystem.as_str())
            {
                continue;
            }
            let (locked, lock_file) = if m.kind == ManifestKind::PipfileLock {
                (dep.version.clone(), Some(m.file.clone()))
            } else {
                locks
                    .iter()
                    .find_map(|(l, rel)| {
                        locked_version(l, rel, dep)
                            .map(|v| (Some(v.to_string()), Some(l.file.clone())))
                    })
                    .unwrap_or((None, None))
            };
            let version = locked
                .clone()
                .or_else(|| dep.spec.as_deref().and_then(|s| lowest(ecosystem, s)));
            projects[idx].sdks.push(SdkUse {
                ecosystem: ecosystem.as_str().to_string(),
                package: dep.package.clone(),
                project: m.dir.clone(),
                file: m.file.clone(),
                line: dep.line,
                declared: dep.spec.clone(),
                locked,
                lock_file,
                version,
            });
        }
    }
    projects.retain(|p| !p.sdks.is_empty());
    projects.sort_by(|a, b| a.dir.cmp(&b.dir));
    projects
}

/// The lowest version a declared range allows (`>=2.36,<3` → 2.36.0; `^3.2.0` → 3.2.0).
pub fn lowest(ecosystem: Ecosystem, spec: &str) -> Option<String> {
    let spec = spec.trim();
    if ecosystem == Ecosystem::Python
        && let Ok(specifiers) = VersionSpecifiers::from_str(spec)
    {
        return specifiers
            .iter()
            .filter(|s| {
                matches!(
                    s.operator(),
                    Operator::Equal
                        | Operator::EqualStar
                        | Operator::ExactEqual
                        | Operator::TildeEqual
                        | Operator::GreaterThanEqual
                        | Operator::GreaterThan
                )
            })
            .map(|s| s.version().clone())
            .max()
            .map(|v| v.to_string());
    }
    // npm ranges (and Poetry's ^/~): the first alternative of `a || b`, comparators separated by
    // spaces become semver's comma-separated list.
    let first = spec.split("||").next()?.trim().trim_start_matches("npm:");
    let normalised = first.split_whitespace().collect::<Vec<_>>().join(", ");
    let req = semver::VersionReq::parse(&normalised).ok()?;
    req.comparators
        .iter()
        .filter(|c| !matches!(c.op, semver::Op::Less | semver::Op::LessEq))
        .map(|c| semver::Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0)))
        .max()
        .map(|v| v.to_string())
}

/// The major version of the Langfuse SDK that governs `file`: that of the deepest project
/// containing it that depends on a Langfuse SDK of that ecosystem (the oldest, if several).
pub fn langfuse_major_for(projects: &[Project], file: &str, ecosystem: Ecosystem) -> Option<u64> {
    let file_dir = match file.rfind('/') {
        Some(i) => &file[..i],
        None => ".",
    };
    projects
        .iter()
        .filter(|p| inside(file_dir, &p.dir).is_some())
        .filter_map(|p| {
            let majors = p
                .sdks
                .iter()
                .filter(|s| ecosystem_of(s) == ecosystem && is_langfuse(&s.package))
                .filter_map(|s| s.version.as_deref().and_then(major_of));
            majors.min().map(|m| (p.dir.len(), m))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_versions_of_ranges() {
        assert_eq!(
            lowest(Ecosystem::Python, ">=2.36, <3").as_deref(),
            Some("2.36")
        );
        assert_eq!(lowest(Ecosystem::Python, "~=3.1").as_deref(), Some("3.1"));
        assert_eq!(lowest(Ecosystem::Python, "^2.0").as_deref(), Some("2.0.0"));
        assert_eq!(
            lowest(Ecosystem::JavaScript, "^3.2.0").as_deref(),
            Some("3.2.0")
        );
        assert_eq!(
            lowest(Ecosystem::JavaScript, ">=4.1 <5 || ^6").as_deref(),
            Some("4.1.0")
        );
        assert_eq!(lowest(Ecosystem::JavaScript, "latest"), None);
        assert_eq!(major_of("==2.60.3"), Some(2));
    }
}
