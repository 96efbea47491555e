//! Typed errors. Every message is a plain sentence a user can act on and never contains a secret
//! (URLs are printed without credentials; keys are never part of any message).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("The plan is not valid: {0}")]
    InvalidPlan(String),
    #[error("A secret key is missing: {0}")]
    MissingSecret(String),
    #[error("{0}")]
    Connection(#[from] ConnectionError),
    #[error("The server at {url} answered {status} to {what}: {message}")]
    Http {
        url: String,
        what: String,
        status: u16,
        message: String,
    },
    #[error("The server at {url} sent a response that could not be understood ({what}): {detail}")]
    Protocol {
        url: String,
        what: String,
        detail: String,
    },
    #[error("The archive at {path} is not usable: {detail}")]
    Archive { path: String, detail: String },
    #[error("The run journal could not be used: {0}")]
    Journal(String),
    #[error(
        "This run's journal was written by a newer version of Langfuse Migrator: it names {what} \"{value}\", which this version does not know. Open the run with that newer version."
    )]
    NewerJournal { what: String, value: String },
    #[error("Run {0} does not exist in this data folder")]
    UnknownRun(String),
    #[error(
        "The plan of run {0} has changed since the run started in what it copies (sides, kinds of objects, time window, filters, existing-object policy or run tag); start a new run instead of resuming. Concurrency, batch sizes, timeouts and rate budgets may change on resume."
    )]
    PlanChanged(String),
    #[error(
        "Run {0} is running in another window or process right now. Let it finish there, or stop it there before resuming it here."
    )]
    RunBusy(String),
    #[error("The run was stopped because {0}")]
    Stopped(String),
    #[error("The run was cancelled")]
    Cancelled,
    #[error("{0} is not supported: {1}")]
    Unsupported(String, String),
}

impl From<rusqlite::Error> for EngineError {
    fn from(e: rusqlite::Error) -> Self {
        EngineError::Journal(e.to_string())
    }
}

/// Why a connection check failed, in terms a user can act on.
#[derive(Debug, Error, Clone, serde::Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ConnectionError {
    #[error(
        "The keys were rejected by {0} (401). Check the public and secret key of this project."
    )]
    WrongKeys(String),
    #[error("The keys for {0} are not allowed to use this API (403). Use a project API key.")]
    Forbidden(String),
    #[error("{0} could not be reached: {1}. Check the URL and that the server is running.")]
    Unreachable(String, String),
    #[error(
        "A secure (TLS) connection to {0} failed: {1}. Check the certificate or use the right http/https scheme."
    )]
    Tls(String, String),
    #[error(
        "The certificate of {0} is not signed by an authority this computer trusts: it is self-signed or issued by a private certificate authority. To trust it, choose that authority's certificate (for a self-signed one, the server's own certificate) as this connection's CA file, a PEM file (ca_file in a plan file)."
    )]
    UntrustedCertificate(String),
    #[error(
        "The certificate of {0} has expired. Ask the server's administrator to renew it, and check that this computer's date is right."
    )]
    ExpiredCertificate(String),
    #[error(
        "The certificate of {0} is not valid yet. Check that this computer's date and time are right."
    )]
    CertificateNotYetValid(String),
    #[error(
        "The certificate of {0} was issued for a different host name. Use the address the certificate names, or ask the server's administrator for a certificate for this one."
    )]
    CertificateForOtherName(String),
    #[error(
        "The CA file {0} cannot be used: {1}. Choose the PEM file with the certificate of the authority that signed the server's certificate."
    )]
    CaFile(String, String),
    #[error(
        "{0} uses plain http://, so the keys would travel unencrypted to another computer. Use https://, or confirm plain http for this connection (the checkbox in the connection form; allow_plain_http = true in a plan file)."
    )]
    PlainHttp(String),
    #[error("{0} answered, but it is not a Langfuse server: {1}")]
    NotLangfuse(String, String),
    #[error(
        "The address {0} carries a user name or password (the part before @). Remove it: Langfuse is reached with the project's public and secret key."
    )]
    CredentialsInUrl(String),
    #[error(
        "{0} could not say which project the keys belong to (it answered {1} to /api/public/projects). Check the server, or the proxy in front of it, and try again."
    )]
    ProjectLookup(String, String),
    #[error("{0} did not answer in time. Check the network or try again later.")]
    Timeout(String),
    #[error("{0} is unhealthy right now ({1}). Try again later.")]
    Unhealthy(String, String),
    #[error("{0} answered, but it is not a LangSmith server: {1}")]
    NotLangsmith(String, String),
    #[error("The API key was rejected by {0} (401). Check the LangSmith API key.")]
    LangsmithKeyRejected(String),
    #[error(
        "The API key is not allowed to read {0} (403). It may belong to another region (US or EU) or another workspace."
    )]
    LangsmithForbidden(String),
}
