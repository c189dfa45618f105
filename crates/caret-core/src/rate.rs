//! A token bucket, with the time passed in: a burst of `capacity`, then one more every `refill`. The sync
//! engine's write budget and the relay's per-device message limit are both this, on tokio time.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: u32,
    refill: Duration,
    tokens: u32,
    /// When the next token is added (meaningful only while below capacity).
    next_refill: Instant,
}

impl TokenBucket {
    /// A full bucket. A capacity of 0 is taken as 1: a bucket that never lets anything through is a mistake.
    pub fn new(capacity: u32, refill: Duration, now: Instant) -> TokenBucket {
        let capacity = capacity.max(1);
        TokenBucket {
            capacity,
            refill,
            tokens: capacity,
            next_refill: now + refill,
        }
    }

    fn top_up(&mut self, now: Instant) {
        while self.tokens < self.capacity && now >= self.next_refill {
            self.tokens += 1;
            self.next_refill += self.refill;
        }
        if self.tokens == self.capacity && now >= self.next_refill {
            // Full: the next token is counted from when one is next spent.
            self.next_refill = now + self.refill;
        }
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.top_up(now);
        if self.tokens == 0 {
            return false;
        }
        if self.tokens == self.capacity {
            self.next_refill = now + self.refill;
        }
        self.tokens -= 1;
        true
    }

    /// When a token will be there (`now`, if one is).
    pub fn available_at(&mut self, now: Instant) -> Instant {
        self.top_up(now);
        if self.tokens > 0 { now } else { self.next_refill }
    }

    /// Spends everything until `until` (after a rate-limit answer that said when).
    pub fn drain_until(&mut self, until: Instant) {
        self.tokens = 0;
        self.next_refill = self.next_refill.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut bucket = TokenBucket::new(2, second, start);
        assert!(bucket.try_take(start) && bucket.try_take(start));
        assert!(!bucket.try_take(start));
        assert_eq!(bucket.available_at(start), start + second);
        assert!(bucket.try_take(start + second));
        assert!(!bucket.try_take(start + second));
    }

    #[test]
    fn a_long_quiet_spell_refills_only_to_capacity() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2, Duration::from_secs(1), start);
        assert!(bucket.try_take(start) && bucket.try_take(start));
        let later = start + Duration::from_secs(3600);
        assert!(bucket.try_take(later) && bucket.try_take(later));
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn draining_holds_until_the_given_time() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5, Duration::from_secs(1), start);
        bucket.drain_until(start + Duration::from_secs(30));
        assert!(!bucket.try_take(start + Duration::from_secs(29)));
        assert!(bucket.try_take(start + Duration::from_secs(30)));
    }

    #[test]
    fn zero_capacity_still_lets_one_through() {
        let start = Instant::now();
        assert!(TokenBucket::new(0, Duration::from_secs(1), start).try_take(start));
    }
}
