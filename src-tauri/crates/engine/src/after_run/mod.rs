//! The work after a run, all of it driven by the run's journal: [`validate`] proves the target
//! holds what the source held, [`rollback`] removes what the run created, [`cutover`] points an
//! application's `.env` at the target and back. [`reconnect`] reopens a finished run's endpoints
//! for them. [`copy_missing`] copies what a validation found missing.

pub mod conflicts;
pub mod copy_missing;
pub mod cutover;
pub(crate) mod reconnect;
pub mod rollback;
pub mod validate;
