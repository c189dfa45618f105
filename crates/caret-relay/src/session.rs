//! Per-connection rules that need memory.

use std::time::Duration;

use caret_core::rate::TokenBucket;
use tokio::time::Instant;

use crate::error::{ProtocolError, Result};

/// Sequence numbers of one device. A `state` must come after the last accepted one (a stale or replayed
/// message is refused, so an old state never overwrites a newer one); a `snapshot` is accepted whatever its
/// number and becomes the new baseline, because a phone that restarted may have started counting again.
#[derive(Debug, Clone, Default)]
pub struct SequenceTracker {
    last: Option<u64>,
}

impl SequenceTracker {
    /// Continues from what the device record remembers.
    pub fn resume(last: Option<u64>) -> SequenceTracker {
        SequenceTracker { last }
    }

    pub fn last(&self) -> Option<u64> {
        self.last
    }

    pub fn accept_state(&mut self, seq: u64) -> Result<()> {
        if let Some(last) = self.last
            && seq <= last
        {
            return Err(ProtocolError::StaleSequence { seq, last });
        }
        self.last = Some(seq);
        Ok(())
    }

    pub fn accept_snapshot(&mut self, seq: u64) {
        self.last = Some(seq);
    }
}

/// A per-device message budget (token bucket on tokio time): a burst, then a steady rate. A phone changes
/// state a few times a minute; a flood is refused without touching the engine or other devices.
#[derive(Debug, Clone)]
pub struct RateLimiter(TokenBucket);

impl RateLimiter {
    /// 20 at once, then 2 a second: far above any real phone, far below what would load the desktop.
    pub const DEVICE_RATE: (u32, Duration) = (20, Duration::from_millis(500));

    pub fn for_device() -> RateLimiter {
        RateLimiter::new(Self::DEVICE_RATE.0, Self::DEVICE_RATE.1)
    }

    pub fn new(capacity: u32, refill: Duration) -> RateLimiter {
        RateLimiter(TokenBucket::new(capacity, refill, Instant::now().into_std()))
    }

    /// Counts one message; refuses it, saying when to try again, if over budget.
    pub fn check(&mut self) -> Result<()> {
        let now = Instant::now().into_std();
        if self.0.try_take(now) {
            return Ok(());
        }
        let wait = self.0.available_at(now).saturating_duration_since(now);
        Err(ProtocolError::RateLimited {
            retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_must_move_forward_and_snapshots_reset_the_baseline() {
        let mut tracker = SequenceTracker::default();
        tracker.accept_state(5).unwrap();
        tracker.accept_state(6).unwrap();
        assert_eq!(
            tracker.accept_state(6),
            Err(ProtocolError::StaleSequence { seq: 6, last: 6 }),
            "a replay"
        );
        assert_eq!(
            tracker.accept_state(3),
            Err(ProtocolError::StaleSequence { seq: 3, last: 6 }),
            "out of order"
        );
        assert_eq!(tracker.last(), Some(6), "a refusal changes nothing");
        tracker.accept_snapshot(1); // the phone restarted and counts from 1 again
        tracker.accept_state(2).unwrap();
        assert_eq!(
            SequenceTracker::resume(Some(9))
                .accept_state(9)
                .unwrap_err()
                .code(),
            "stale_seq"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_is_refused_with_a_retry_time_and_a_calm_device_is_not() {
        let mut limiter = RateLimiter::for_device();
        for _ in 0..20 {
            limiter.check().unwrap();
        }
        let Err(ProtocolError::RateLimited { retry_after_ms }) = limiter.check() else {
            panic!("the 21st is refused")
        };
        assert!(retry_after_ms <= 500, "{retry_after_ms}");
        tokio::time::advance(Duration::from_millis(500)).await;
        limiter.check().unwrap();
        assert!(limiter.check().is_err());

        let mut calm = RateLimiter::for_device();
        for _ in 0..200 {
            calm.check().unwrap();
            tokio::time::advance(Duration::from_secs(1)).await;
        }
    }
}
