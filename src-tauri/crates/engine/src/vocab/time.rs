//! Timestamps as the engine writes them: RFC 3339 in UTC with milliseconds (what Langfuse's
//! APIs accept and what the journal stores).

use chrono::{DateTime, SecondsFormat, Utc};

/// `t` as `2026-01-02T03:04:05.678Z`.
pub fn iso_millis(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Now, as [`iso_millis`] writes it.
pub fn now_iso_millis() -> String {
    iso_millis(&Utc::now())
}

/// `t` to the second (`2026-01-02T03:04:05Z`), for times people read (reports, records).
pub fn iso_secs(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Now, as [`iso_secs`] writes it.
pub fn now_iso_secs() -> String {
    iso_secs(&Utc::now())
}
