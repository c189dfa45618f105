//! What the benchmark programs (tests/bin) share: reading their flags and summing up samples.

use std::time::Duration;

/// The value after `--name` on the command line, or `default`.
pub fn flag(name: &str, default: u64) -> u64 {
    std::env::args()
        .skip_while(|arg| arg != name)
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The `p`-th percentile (nearest rank) of samples sorted ascending.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Milliseconds with microseconds shown.
pub fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}
