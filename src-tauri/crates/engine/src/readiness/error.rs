//! Why a folder could not be checked at all.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReadinessError {
    #[error("the folder {0} does not exist")]
    NoSuchFolder(String),
    #[error("{0} is a file, not a folder: choose the application's folder")]
    NotAFolder(String),
    #[error("the folder {0} cannot be read: {1}")]
    Unreadable(String, String),
    #[error(
        "the target version \"{0}\" is not understood: give a server version such as 4.59.0, or v2, v3, v4"
    )]
    BadTarget(String),
}
