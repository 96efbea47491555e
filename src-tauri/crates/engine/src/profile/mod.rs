//! Connection profiles: how to reach a Langfuse project, a LangSmith workspace or an archive
//! folder. The non-secret part is a [`Profile`]; the secret (Langfuse secret key, LangSmith API
//! key) never lives in it. The app keeps secrets in the OS keychain and hands them to the engine
//! as [`Credentials`], so the UI never sees a saved secret again.

mod credentials;
mod model;
mod presets;
mod store;
mod validation;

pub use credentials::{Credentials, MissingSecret};
pub use model::{
    ArchiveSettings, Connection, ConnectionKind, LangSmithSettings, LangfuseSettings, Profile,
    ProfileDraft, ProfileId,
};
pub use presets::{EndpointPreset, Presets, langfuse_presets, langsmith_presets};
pub use store::{ProfileFile, ProfileStoreError};
pub use validation::{Field, Issue, Severity, ValidationReport, validate};
