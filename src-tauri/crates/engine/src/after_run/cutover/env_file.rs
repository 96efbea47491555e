//! Configuration cutover: point an application's `.env` file at the migration target, and put it
//! back exactly as it was.
//!
//! The seed's rollback swaps `LANGFUSE_PUBLIC_KEY`, `LANGFUSE_SECRET_KEY` and `LANGFUSE_HOST` by hand.
//! We do it for the user, with two promises:
//! - only those variables' lines change; every other byte (comments, order, quoting style, `export`
//!   prefixes, CRLF line ends) stays as it was;
//! - restore writes the original bytes back, so the round trip is byte for byte.
//!
//! The backup holds the application's old secrets, so it lives next to the `.env` file (where those
//! secrets already are) with owner-only permissions, never in our journal or data dir. The record we
//! keep names paths and hashes only.

use crate::vocab::files;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The variables the Langfuse SDKs read. `LANGFUSE_BASE_URL` is the newer name for the host and
/// `LANGFUSE_BASEURL` the JS v3 SDK's (read before `LANGFUSE_HOST`); each is updated only where
/// the file already uses it.
pub const HOST_VAR: &str = "LANGFUSE_HOST";
pub const BASE_URL_VAR: &str = "LANGFUSE_BASE_URL";
pub const JS_V3_BASE_URL_VAR: &str = "LANGFUSE_BASEURL";
pub const PUBLIC_KEY_VAR: &str = "LANGFUSE_PUBLIC_KEY";
pub const SECRET_KEY_VAR: &str = "LANGFUSE_SECRET_KEY";

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("Could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a text file we can edit safely (it is not valid UTF-8).")]
    NotText { path: PathBuf },
    #[error(
        "{path} was changed after the cutover wrote it, so restoring the backup would discard those \
         changes. Compare it with the backup at {backup} and restore by hand, or restore anyway."
    )]
    ChangedSinceCutover { path: PathBuf, backup: PathBuf },
    #[error(
        "The backup {backup} is missing or damaged (its checksum does not match), so it cannot be restored."
    )]
    BackupDamaged { backup: PathBuf },
    #[error(
        "A file already exists at {backup}, where this run keeps its backup; it is never overwritten. Move it away (after checking what it holds) and try again."
    )]
    BackupExists { backup: PathBuf },
    #[error(
        "Run {later}'s cutover was applied to {path} after this one and is not restored yet; restore run {later}'s cutover first (its backup is {backup})."
    )]
    LaterCutover {
        path: PathBuf,
        later: String,
        backup: PathBuf,
    },
}

/// The values the application should use after the cutover.
#[derive(Clone, Deserialize)]
pub struct CutoverValues {
    pub host: String,
    pub public_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for CutoverValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutoverValues")
            .field("host", &self.host)
            .field("public_key", &self.public_key)
            .field("secret_key", &"********")
            .finish()
    }
}

/// One line the cutover changes or adds, as shown to the user before they confirm. Secrets are masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverChange {
    pub variable: String,
    /// 1-based line number in the current file, or `None` when the variable is appended.
    pub line: Option<usize>,
    pub old_value: Option<String>,
    pub new_value: String,
}

/// What was done, kept with the run so the restore knows where the backup is. Paths and hashes only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverRecord {
    pub env_path: PathBuf,
    pub backup_path: PathBuf,
    pub original_sha256: String,
    pub written_sha256: String,
}

/// Shows what `apply` would change, without touching the file.
pub fn preview(
    env_path: &Path,
    values: &CutoverValues,
) -> Result<Vec<CutoverChange>, CutoverError> {
    let text = read_text(env_path)?;
    Ok(rewrite(&text, values).1)
}

/// Writes the target's host and keys into the `.env` file, keeping a backup of the original bytes
/// named after the run (`<file>.langfuse-migrator.<run>.bak`), so cutovers of several runs keep
/// one backup each. An existing file at that name is never overwritten.
pub fn apply(
    env_path: &Path,
    values: &CutoverValues,
    run_id: &str,
) -> Result<CutoverRecord, CutoverError> {
    let original = read_bytes(env_path)?;
    let text = String::from_utf8(original.clone()).map_err(|_| CutoverError::NotText {
        path: env_path.to_path_buf(),
    })?;
    let backup_path = backup_path_for(env_path, run_id);
    write_private(&backup_path, &original)?;
    let (rewritten, _) = rewrite(&text, values);
    write_atomically(env_path, rewritten.as_bytes())?;
    Ok(CutoverRecord {
        env_path: env_path.to_path_buf(),
        backup_path,
        original_sha256: sha256_hex(&original),
        written_sha256: sha256_hex(rewritten.as_bytes()),
    })
}

/// Puts the original bytes back. Refuses when another run's cutover was applied on top of this
/// one and is not restored yet (even with `force`: that one must go first, or its backup would
/// later write back what this one wrote), and when the file changed since, unless `force`.
pub fn restore(record: &CutoverRecord, force: bool) -> Result<(), CutoverError> {
    if let Some((later, backup)) = later_cutover(record) {
        return Err(CutoverError::LaterCutover {
            path: record.env_path.clone(),
            later,
            backup,
        });
    }
    let backup = fs::read(&record.backup_path).map_err(|_| CutoverError::BackupDamaged {
        backup: record.backup_path.clone(),
    })?;
    if sha256_hex(&backup) != record.original_sha256 {
        return Err(CutoverError::BackupDamaged {
            backup: record.backup_path.clone(),
        });
    }
    if !force {
        let current = read_bytes(&record.env_path)?;
        if sha256_hex(&current) != record.written_sha256 {
            return Err(CutoverError::ChangedSinceCutover {
                path: record.env_path.clone(),
                backup: record.backup_path.clone(),
            });
        }
    }
    write_atomically(&record.env_path, &backup)?;
    fs::remove_file(&record.backup_path).map_err(|source| CutoverError::Write {
        path: record.backup_path.clone(),
        source,
    })
}

const BACKUP_INFIX: &str = ".langfuse-migrator.";
const BACKUP_SUFFIX: &str = ".bak";

fn file_name(env_path: &Path) -> String {
    env_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".env".into())
}

fn backup_path_for(env_path: &Path, run_id: &str) -> PathBuf {
    // Run ids are UUIDs; anything else is reduced to characters safe in a file name.
    let run: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    env_path.with_file_name(format!(
        "{}{BACKUP_INFIX}{run}{BACKUP_SUFFIX}",
        file_name(env_path)
    ))
}

/// Another run's backup next to the file that holds exactly what this cutover wrote: that run
/// cut over on top of this one. Returns its run id and backup path.
fn later_cutover(record: &CutoverRecord) -> Option<(String, PathBuf)> {
    let dir = record.env_path.parent()?;
    let prefix = format!("{}{BACKUP_INFIX}", file_name(&record.env_path));
    for entry in fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .ok()?
    .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(BACKUP_SUFFIX))
        else {
            continue;
        };
        let path = entry.path();
        if run.is_empty() || path.file_name() == record.backup_path.file_name() {
            continue;
        }
        if fs::read(&path).is_ok_and(|b| sha256_hex(&b) == record.written_sha256) {
            return Some((run.to_string(), path));
        }
    }
    None
}

/// Returns the new text and the changes. Lines are split keeping their own line ends, so a CRLF
/// file stays CRLF and a missing final newline stays missing.
fn rewrite(text: &str, values: &CutoverValues) -> (String, Vec<CutoverChange>) {
    let uses = |name: &str| {
        text.split_inclusive('\n')
            .any(|line| parse_assignment(line).is_some_and(|a| a.name == name))
    };
    let mut wanted: Vec<(&str, &str, bool)> = vec![
        (HOST_VAR, values.host.as_str(), false),
        (PUBLIC_KEY_VAR, values.public_key.as_str(), false),
        (SECRET_KEY_VAR, values.secret_key.as_str(), true),
    ];
    for alias in [BASE_URL_VAR, JS_V3_BASE_URL_VAR] {
        if uses(alias) {
            wanted.push((alias, values.host.as_str(), false));
        }
    }
    let mut out = String::with_capacity(text.len() + 128);
    let mut changes = Vec::new();
    let mut seen = vec![false; wanted.len()];
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let Some(assignment) = parse_assignment(line) else {
            out.push_str(line);
            continue;
        };
        let Some(slot) = wanted
            .iter()
            .position(|(name, _, _)| *name == assignment.name)
        else {
            out.push_str(line);
            continue;
        };
        let (name, value, secret) = wanted[slot];
        seen[slot] = true;
        out.push_str(&assignment.with_value(value));
        changes.push(CutoverChange {
            variable: name.to_string(),
            line: Some(index + 1),
            old_value: Some(shown(&assignment.value(), secret)),
            new_value: shown(value, secret),
        });
    }
    let line_end = if text.contains("\r\n") { "\r\n" } else { "\n" };
    for (slot, (name, value, secret)) in wanted.iter().enumerate() {
        if seen[slot] {
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(line_end);
        }
        out.push_str(&format!("{name}={}{line_end}", quote_if_needed(value)));
        changes.push(CutoverChange {
            variable: name.to_string(),
            line: None,
            old_value: None,
            new_value: shown(value, *secret),
        });
    }
    (out, changes)
}

fn shown(value: &str, secret: bool) -> String {
    if secret {
        mask(value)
    } else {
        value.to_string()
    }
}

/// Keeps a recognisable prefix (`sk-lf-`) and hides the rest.
pub fn mask(secret: &str) -> String {
    let prefix: String = secret.chars().take(6).collect();
    if secret.chars().count() <= 8 {
        "********".into()
    } else {
        format!("{prefix}********")
    }
}

/// `[export ]NAME=VALUE[ # comment]` with the value's exact span, so we can replace only the value.
struct Assignment<'a> {
    line: &'a str,
    name: &'a str,
    value_start: usize,
    value_end: usize,
    quote: Option<char>,
}

impl Assignment<'_> {
    fn value(&self) -> String {
        let raw = &self.line[self.value_start..self.value_end];
        match self.quote {
            Some(q) => raw.trim_start_matches(q).trim_end_matches(q).to_string(),
            None => raw.to_string(),
        }
    }

    fn with_value(&self, value: &str) -> String {
        let replacement = match self.quote {
            Some(q) => format!("{q}{value}{q}"),
            None => quote_if_needed(value),
        };
        format!(
            "{}{}{}",
            &self.line[..self.value_start],
            replacement,
            &self.line[self.value_end..]
        )
    }
}

fn parse_assignment(line: &str) -> Option<Assignment<'_>> {
    let body_start = line.len() - line.trim_start().len();
    let mut rest = &line[body_start..];
    let mut offset = body_start;
    if let Some(after) = rest.strip_prefix("export ") {
        let skipped = rest.len() - after.trim_start().len();
        offset += skipped;
        rest = &line[offset..];
    }
    let eq = rest.find('=')?;
    let name = rest[..eq].trim_end();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut value_start = offset + eq + 1;
    let after_eq = &line[value_start..];
    value_start += after_eq.len() - after_eq.trim_start_matches([' ', '\t']).len();
    let value_text = &line[value_start..];
    let (value_len, quote) = match value_text.chars().next() {
        Some(q @ ('"' | '\'')) => match value_text[1..].find(q) {
            Some(close) => (close + 2, Some(q)),
            None => (unquoted_len(value_text), None),
        },
        _ => (unquoted_len(value_text), None),
    };
    Some(Assignment {
        line,
        name,
        value_start,
        value_end: value_start + value_len,
        quote,
    })
}

/// An unquoted value ends at the line end or at ` #` (an inline comment); trailing blanks are not
/// part of it.
fn unquoted_len(text: &str) -> usize {
    let end = text.find(['\r', '\n']).unwrap_or(text.len());
    let mut value = &text[..end];
    if let Some(comment) = value.find(" #") {
        value = &value[..comment];
    }
    value.trim_end_matches([' ', '\t']).len()
}

fn quote_if_needed(value: &str) -> String {
    if value
        .chars()
        .any(|c| c.is_whitespace() || c == '#' || c == '"' || c == '\'')
    {
        format!("\"{}\"", value.replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, CutoverError> {
    fs::read(path).map_err(|source| CutoverError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, CutoverError> {
    String::from_utf8(read_bytes(path)?).map_err(|_| CutoverError::NotText {
        path: path.to_path_buf(),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CutoverError> {
    let error = |source| CutoverError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    // Never over an existing file: a backup, once written, is only removed by its restore.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CutoverError::BackupExists {
                backup: path.to_path_buf(),
            }
        } else {
            error(source)
        }
    })?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)
}

/// Writes next to the file and renames over it, keeping the original permissions, so a crash never
/// leaves a half-written `.env`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CutoverError> {
    files::write_atomically(path, bytes).map_err(|source| CutoverError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> CutoverValues {
        CutoverValues {
            host: "https://langfuse.internal.example".into(),
            public_key: "pk-lf-target".into(),
            secret_key: "sk-lf-target-secret-value".into(),
        }
    }

    fn env_file(dir: &tempfile::TempDir, content: &[u8]) -> PathBuf {
        let path = dir.path().join(".env");
        fs::write(&path, content).unwrap();
        path
    }

    const ORIGINAL: &[u8] = b"# app settings\r\nDATABASE_URL=postgres://db/app\r\nexport LANGFUSE_HOST=\"https://cloud.langfuse.com\" # cloud\r\nLANGFUSE_PUBLIC_KEY=pk-lf-old\r\n\r\nLANGFUSE_SECRET_KEY='sk-lf-old-secret'\r\nOTHER=  spaced value  \r\nLAST=1";

    #[test]
    fn apply_changes_only_the_langfuse_lines_and_keeps_their_style() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        apply(&path, &values(), "run-1").unwrap();
        let written = fs::read_to_string(&path).unwrap();
        assert_eq!(
            written,
            "# app settings\r\nDATABASE_URL=postgres://db/app\r\nexport LANGFUSE_HOST=\"https://langfuse.internal.example\" # cloud\r\nLANGFUSE_PUBLIC_KEY=pk-lf-target\r\n\r\nLANGFUSE_SECRET_KEY='sk-lf-target-secret-value'\r\nOTHER=  spaced value  \r\nLAST=1"
        );
    }

    #[test]
    fn restore_round_trips_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        let record = apply(&path, &values(), "run-1").unwrap();
        assert_ne!(fs::read(&path).unwrap(), ORIGINAL);
        restore(&record, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), ORIGINAL);
        assert!(
            !record.backup_path.exists(),
            "the backup is removed after a restore"
        );
    }

    #[test]
    fn missing_variables_are_appended_with_the_files_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, b"A=1");
        let changes = preview(&path, &values()).unwrap();
        assert!(changes.iter().all(|c| c.line.is_none()));
        apply(&path, &values(), "run-1").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "A=1\nLANGFUSE_HOST=https://langfuse.internal.example\nLANGFUSE_PUBLIC_KEY=pk-lf-target\nLANGFUSE_SECRET_KEY=sk-lf-target-secret-value\n"
        );
    }

    #[test]
    fn base_url_is_updated_where_the_file_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(
            &dir,
            b"LANGFUSE_BASE_URL=https://cloud.langfuse.com\nLANGFUSE_HOST=x\n",
        );
        apply(&path, &values(), "run-1").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("LANGFUSE_BASE_URL=https://langfuse.internal.example\n"));
        assert!(!text.contains("cloud.langfuse.com"));
    }

    #[test]
    fn the_js_v3_sdks_baseurl_is_updated_where_the_file_uses_it() {
        // The JS v3 SDK reads LANGFUSE_BASEURL before LANGFUSE_HOST: left alone, a switched
        // application would go on sending to the old server.
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(
            &dir,
            b"LANGFUSE_BASEURL=https://langfuse.old.example\nLANGFUSE_PUBLIC_KEY=pk-old\n",
        );
        apply(&path, &values(), "run-1").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("LANGFUSE_BASEURL=https://langfuse.internal.example\n"),
            "{text}"
        );
        assert!(!text.contains("langfuse.old.example"));
    }

    #[test]
    fn preview_masks_secrets_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        let changes = preview(&path, &values()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), ORIGINAL);
        let secret = changes
            .iter()
            .find(|c| c.variable == SECRET_KEY_VAR)
            .unwrap();
        assert_eq!(secret.line, Some(6));
        assert!(!secret.new_value.contains("target-secret-value"));
        assert!(!secret.old_value.as_deref().unwrap().contains("old-secret"));
        let rendered = format!("{changes:?} {:?}", values());
        assert!(!rendered.contains("secret-value"), "{rendered}");
    }

    #[test]
    fn restore_refuses_to_discard_later_edits_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        let record = apply(&path, &values(), "run-1").unwrap();
        fs::write(&path, b"EDITED=1\n").unwrap();
        let err = restore(&record, false).unwrap_err();
        assert!(matches!(err, CutoverError::ChangedSinceCutover { .. }));
        assert_eq!(fs::read(&path).unwrap(), b"EDITED=1\n");
        restore(&record, true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), ORIGINAL);
    }

    #[test]
    fn damaged_backup_is_reported_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        let record = apply(&path, &values(), "run-1").unwrap();
        fs::write(&record.backup_path, b"garbage").unwrap();
        assert!(matches!(
            restore(&record, false).unwrap_err(),
            CutoverError::BackupDamaged { .. }
        ));
    }

    #[cfg(unix)]
    #[test]
    fn backup_is_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = env_file(&dir, ORIGINAL);
        let record = apply(&path, &values(), "run-1").unwrap();
        let mode = fs::metadata(&record.backup_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
