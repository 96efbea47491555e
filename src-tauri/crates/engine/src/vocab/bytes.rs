//! Sizes as people read them, for messages.

/// `n` bytes as "1.2 MB" or "3 KB".
pub fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.0} KB", (n as f64 / 1e3).ceil())
    }
}
