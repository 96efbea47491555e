//! The vocabulary the rest of the engine speaks: entities and records, the scope of a run, the
//! states of runs and objects, counts, keys of objects the target already holds, rate buckets,
//! errors and the secret type.
//!
//! This layer imports nothing from the rest of the crate (see ARCHITECTURE.md, "Layers"); every
//! other folder may use it.

pub mod bytes;
pub mod conflict;
pub mod counts;
pub mod error;
pub mod files;
pub mod filter;
pub mod keys;
pub mod model;
pub mod plain_http;
pub mod rate;
pub mod scope;
pub mod secret;
pub mod state;
pub mod time;
pub mod url_credentials;

pub use counts::{Counters, EntityCounts};
pub use error::{ConnectionError, EngineError};
pub use keys::ExistingKey;
pub use model::{Dialect, Entity, Generation, Payloads, Platform, RawObject, Record, natural_key};
pub use rate::{Bucket, Budget, CloudPlan};
pub use scope::{CopyBackOf, EntitySelection, Scope};
pub use secret::{ExposeSecret, Secret, SecretString};
pub use state::{ObjectState, RunState};
