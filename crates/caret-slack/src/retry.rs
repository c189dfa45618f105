//! Capped exponential backoff with jitter, for transient failures (5xx, timeouts, network).
//!
//! Delays double from `base` up to `cap`; each is drawn uniformly from the upper half of that range ("equal
//! jitter"), so many desktops recovering from the same outage do not hit Slack in lockstep, yet no retry comes
//! sooner than half the nominal delay.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// Reproducible jitter, for tests.
    pub fn with_seed(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exponent = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let nominal = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let half = nominal / 2;
        let jitter_millis = self
            .rng
            .u64(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
        half + Duration::from_millis(jitter_millis)
    }

    /// How many delays were handed out since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// After a success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_their_jitter_band_and_stop_at_the_cap() {
        let mut backoff = Backoff::with_seed(Duration::from_secs(1), Duration::from_secs(60), 7);
        let nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for expected in nominal {
            let delay = backoff.next_delay();
            let nominal = Duration::from_secs(expected);
            assert!(
                delay >= nominal / 2 && delay <= nominal,
                "{delay:?} outside [{:?}, {nominal:?}]",
                nominal / 2
            );
        }
        assert_eq!(backoff.attempts(), 9);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::with_seed(Duration::from_secs(2), Duration::from_secs(300), 1);
        for _ in 0..10 {
            backoff.next_delay();
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(2));
    }

    #[test]
    fn many_attempts_never_overflow() {
        let mut backoff = Backoff::with_seed(Duration::from_secs(1), Duration::from_secs(300), 3);
        for _ in 0..1000 {
            assert!(backoff.next_delay() <= Duration::from_secs(300));
        }
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let delays: Vec<Duration> = (0..20)
            .map(|seed| {
                Backoff::with_seed(Duration::from_secs(8), Duration::from_secs(60), seed).next_delay()
            })
            .collect();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 10, "{delays:?}");
    }
}
