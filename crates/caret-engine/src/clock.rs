//! Where the engine gets the time. Production reads the system clock; tests use [`TokioClock`], whose wall
//! time moves with tokio's clock, so `tokio::time::pause()` + `advance` drive leases and expirations.

use chrono::{DateTime, FixedOffset, Local, Utc};
use tokio::time::Instant;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// The user's UTC offset now, for writing times into a status.
    fn local_offset(&self) -> FixedOffset;

    fn now_local(&self) -> DateTime<FixedOffset> {
        self.now().with_timezone(&self.local_offset())
    }

    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn local_offset(&self) -> FixedOffset {
        *Local::now().offset()
    }
}

/// Wall time = a fixed start + the tokio time elapsed since; the offset is fixed.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    start_instant: Instant,
    offset: FixedOffset,
}

impl TokioClock {
    pub fn starting_at(start: DateTime<Utc>, offset: FixedOffset) -> TokioClock {
        TokioClock {
            start,
            start_instant: Instant::now(),
            offset,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed =
            chrono::Duration::from_std(self.start_instant.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.start + elapsed
    }

    fn local_offset(&self) -> FixedOffset {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_only_with_tokio_time() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = TokioClock::starting_at(start, FixedOffset::east_opt(3600).unwrap());
        assert_eq!(clock.now(), start);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
        assert_eq!(clock.now_local().offset().local_minus_utc(), 3600);
        assert_eq!(clock.now_ms(), (start.timestamp() + 90) * 1000);
    }
}
