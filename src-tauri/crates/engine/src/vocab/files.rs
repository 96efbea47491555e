//! Writing a file so that a crash never leaves it half-written.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file in `path`'s folder, syncs it and renames it over `path`.
/// A file that already exists keeps its permissions (an application's `.env` stays as private
/// as it was); a new one gets the temporary file's owner-only permissions.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), meta.permissions())?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
