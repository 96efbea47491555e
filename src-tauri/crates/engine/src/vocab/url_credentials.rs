//! A user name or password inside a server address (`https://user:pass@host`). Langfuse is
//! reached with its keys, so such an address is refused; and because whatever is refused is
//! shown back to the user, every message uses the address with that part cut out.

/// The `user:pass@` part of an address's authority, if it has one.
fn userinfo_span(raw: &str) -> Option<(usize, usize)> {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let authority_end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    let at = raw[start..authority_end].rfind('@')?;
    Some((start, start + at + 1))
}

/// Whether the address carries a user name or password.
pub fn has_credentials(raw: &str) -> bool {
    userinfo_span(raw).is_some()
}

/// The address with any `user:pass@` replaced by `…@`, safe to show and to write down.
pub fn redacted(raw: &str) -> String {
    match userinfo_span(raw) {
        Some((from, to)) => format!("{}…@{}", &raw[..from], &raw[to..]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_survives_redaction() {
        for raw in [
            "https://admin:hunter2@langfuse.example.com",
            "https://admin:hunter2@langfuse.example.com/path?q=a@b",
            "admin:hunter2@langfuse.example.com",
            "http://:hunter2@127.0.0.1:3000",
            "https://a:b@c:hunter2@host",
        ] {
            assert!(has_credentials(raw), "{raw}");
            assert!(!redacted(raw).contains("hunter2"), "{}", redacted(raw));
        }
        assert_eq!(
            redacted("https://admin:hunter2@langfuse.example.com/x"),
            "https://…@langfuse.example.com/x"
        );
        for raw in ["https://langfuse.example.com/a@b", "http://127.0.0.1:3000"] {
            assert!(!has_credentials(raw), "{raw}");
            assert_eq!(redacted(raw), raw);
        }
    }
}
