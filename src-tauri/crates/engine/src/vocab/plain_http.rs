//! Plain `http://` to another computer: keys sent that way cross the network unencrypted, so it
//! needs the user's explicit confirmation. This computer (loopback) needs none: a local server
//! and the test sandboxes are reached that way.

use std::net::IpAddr;

/// Whether `raw` is an `http://` address of a host other than this computer. Addresses that do
/// not parse are left to the URL checks that name the problem.
pub fn to_another_host(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return false;
    };
    url.scheme() == "http" && !is_loopback(&url)
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_to_another_host_counts() {
        for raw in [
            "http://langfuse.internal:3000",
            "http://10.0.0.5",
            "http://[2001:db8::1]:3000",
            "http://localhost.example.com",
        ] {
            assert!(to_another_host(raw), "{raw}");
        }
        for raw in [
            "http://127.0.0.1:3000",
            "http://127.0.0.2",
            "http://localhost:3000",
            "http://LOCALHOST",
            "http://[::1]:3000",
            "https://langfuse.internal",
            "not a url",
        ] {
            assert!(!to_another_host(raw), "{raw}");
        }
    }
}
