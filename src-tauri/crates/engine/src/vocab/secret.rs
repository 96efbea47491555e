//! The secret type: `secrecy::SecretString` from the app's keychain to the HTTP client. Its
//! `Debug` output never shows the secret and its memory is zeroed on drop.

pub use secrecy::{ExposeSecret, SecretString};

/// Makes a [`SecretString`]. The engine once had a secret type of its own under this name;
/// `Secret::new(..)` is kept so code written against it still compiles. New code uses
/// `SecretString::from(..)`.
pub struct Secret;

impl Secret {
    // A constructor of the type that replaced it: that is the point of this shim.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(secret: &str) -> SecretString {
        SecretString::from(secret)
    }
}
