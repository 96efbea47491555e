//! Certificates: trusting a private certificate authority through a CA file, and telling in a
//! plain sentence why a server's certificate was refused. Verification is never turned off.

use crate::vocab::ConnectionError;
use rustls::CertificateError;
use std::path::Path;

/// The certificates in a PEM file, to trust next to the system's authorities.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ConnectionError> {
    let refuse = |why: &str| ConnectionError::CaFile(path.display().to_string(), why.to_string());
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse("the file does not exist"),
        std::io::ErrorKind::PermissionDenied => refuse("this computer's user may not read it"),
        std::io::ErrorKind::IsADirectory => refuse("it is a folder, not a file"),
        _ => refuse(&format!("it cannot be read ({e})")),
    })?;
    let not_pem =
        "it holds no certificate in PEM format (text starting with -----BEGIN CERTIFICATE-----)";
    match reqwest::Certificate::from_pem_bundle(&bytes) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(refuse(not_pem)),
    }
}

/// The certificate problem behind a failed request, if there was one, as the sentence for it.
pub fn certificate_problem(
    url: &str,
    error: &(dyn std::error::Error + 'static),
) -> Option<ConnectionError> {
    let url = url.to_string();
    Some(match rustls_error(error)? {
        rustls::Error::InvalidCertificate(problem) => match problem {
            CertificateError::UnknownIssuer => ConnectionError::UntrustedCertificate(url),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                ConnectionError::ExpiredCertificate(url)
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                ConnectionError::CertificateNotYetValid(url)
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ConnectionError::CertificateForOtherName(url)
            }
            other => {
                ConnectionError::Tls(url, format!("the certificate was not accepted ({other:?})"))
            }
        },
        _ => return None,
    })
}

/// The rustls error somewhere in the chain. An `io::Error` does not list the error it wraps as
/// its source (and hyper wraps one `io::Error` in another), so each one is opened by hand.
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}
