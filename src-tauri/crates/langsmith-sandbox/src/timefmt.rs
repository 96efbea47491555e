//! LangSmith's time formats: RFC 3339 with microseconds (the SDK sends `+00:00`, naive times, or
//! `Z`), and the `%Y%m%dT%H%M%S%fZ` stamps of `dotted_order` segments.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Microseconds since the epoch of an ISO time; a time without offset is UTC (as LangSmith reads it).
pub fn parse_us(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// `2026-03-02T09:00:00.123456Z`.
pub fn format_us(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// One `dotted_order` segment: `20260302T090000123456Z` + the run id.
pub fn dotted_segment(us: i64, id: &str) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    format!("{}Z{id}", t.format("%Y%m%dT%H%M%S%6f"))
}

pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}
