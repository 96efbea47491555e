//! The profiles file: non-secret profile data as JSON in the app's config dir, written atomically
//! (temp file in the same dir, then rename) so a crash mid-write never leaves a torn file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::Profile;

const FILE_NAME: &str = "profiles.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProfileStoreError {
    #[error("Could not {action} the connections file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "The connections file {path} is damaged and was left untouched ({source}). Move it away to start with no connections."
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "The connections file {path} was written by a newer version of Langfuse Migrator (format {found}). Update the app to use it."
    )]
    NewerFormat { path: PathBuf, found: u32 },
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    profiles: Vec<Profile>,
}

/// Reads and writes `profiles.json` in one directory.
#[derive(Clone, Debug)]
pub struct ProfileFile {
    path: PathBuf,
}

impl ProfileFile {
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        Self {
            path: dir.as_ref().join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads all profiles; a missing file means no profiles yet.
    pub fn load(&self) -> Result<Vec<Profile>, ProfileStoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.io("read", source)),
        };
        let on_disk: OnDisk =
            serde_json::from_slice(&bytes).map_err(|source| ProfileStoreError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        if on_disk.version > FORMAT_VERSION {
            return Err(ProfileStoreError::NewerFormat {
                path: self.path.clone(),
                found: on_disk.version,
            });
        }
        Ok(on_disk.profiles)
    }

    /// Replaces the file with `profiles`, atomically.
    pub fn save(&self, profiles: &[Profile]) -> Result<(), ProfileStoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io("create the folder of", e))?;
        let json = serde_json::to_vec_pretty(&OnDisk {
            version: FORMAT_VERSION,
            profiles: profiles.to_vec(),
        })
        .expect("profiles always serialise");
        crate::vocab::files::write_atomically(&self.path, &json).map_err(|e| self.io("write", e))
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> ProfileStoreError {
        ProfileStoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::model::{Connection, LangfuseSettings, ProfileId};

    fn profile(name: &str) -> Profile {
        Profile {
            id: ProfileId::new_random(),
            name: name.into(),
            connection: Connection::Langfuse(LangfuseSettings {
                host: "https://cloud.langfuse.com".into(),
                public_key: "pk-lf-1".into(),
                cloud_plan: Default::default(),
                ca_file: None,
                allow_plain_http: false,
            }),
        }
    }

    #[test]
    fn a_missing_file_means_no_profiles() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ProfileFile::in_dir(dir.path()).load().unwrap(), vec![]);
    }

    #[test]
    fn saved_profiles_load_back_and_the_folder_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = ProfileFile::in_dir(dir.path().join("nested/config"));
        let profiles = vec![profile("a"), profile("b")];
        file.save(&profiles).unwrap();
        assert_eq!(file.load().unwrap(), profiles);
        // Only the profiles file is left behind: no stray temp files.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("nested/config"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("profiles.json")]);
    }

    #[test]
    fn a_damaged_file_is_reported_and_not_overwritten_by_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = ProfileFile::in_dir(dir.path());
        std::fs::write(file.path(), b"{ not json").unwrap();
        let err = file.load().unwrap_err();
        assert!(matches!(err, ProfileStoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("damaged"));
        assert_eq!(std::fs::read(file.path()).unwrap(), b"{ not json");
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = ProfileFile::in_dir(dir.path());
        std::fs::write(file.path(), br#"{"version": 99, "profiles": []}"#).unwrap();
        assert!(matches!(
            file.load().unwrap_err(),
            ProfileStoreError::NewerFormat { found: 99, .. }
        ));
    }
}
