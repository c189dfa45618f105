//! The write budget per Slack user: a token bucket on tokio time.
//!
//! Slack allows one token to update one user's profile at most 10 times per minute. With a burst of
//! `capacity` and one new token every `refill`, any 60-second window holds at most
//! `capacity + 60 s / refill` writes; the default (2 + 60/8 = 9.5, so 9) stays under 10 even when a clock
//! tick lands badly, so we never need Slack's 429 to slow us down. The first change after a quiet spell goes
//! out at once; a flapping phone is held to the budget, and the engine sends only the latest state when a
//! token frees up.

use std::time::Duration;

use caret_core::rate::TokenBucket;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Budget(TokenBucket);

impl Budget {
    pub const DEFAULT_CAPACITY: u32 = 2;
    pub const DEFAULT_REFILL: Duration = Duration::from_secs(8);

    pub fn new(capacity: u32, refill: Duration) -> Budget {
        Budget(TokenBucket::new(capacity, refill, Instant::now().into_std()))
    }

    /// Slack's per-user profile limit, with margin.
    pub fn for_profile_writes() -> Budget {
        Budget::new(Budget::DEFAULT_CAPACITY, Budget::DEFAULT_REFILL)
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self) -> bool {
        self.0.try_take(Instant::now().into_std())
    }

    /// When a token will be there (now, if one is).
    pub fn available_at(&mut self) -> Instant {
        Instant::from_std(self.0.available_at(Instant::now().into_std()))
    }

    /// After a 429, spend everything until Slack's `Retry-After` has passed.
    pub fn drain_until(&mut self, until: Instant) {
        self.0.drain_until(until.into_std());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spends tokens as fast as they come for `span`, returning when each was taken.
    async fn spend_greedily(budget: &mut Budget, span: Duration) -> Vec<Duration> {
        let start = Instant::now();
        let mut taken = Vec::new();
        while start.elapsed() < span {
            if budget.try_take() {
                taken.push(start.elapsed());
            } else {
                tokio::time::sleep_until(budget.available_at()).await;
            }
        }
        taken
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_writes_go_out_at_once() {
        let mut budget = Budget::for_profile_writes();
        assert!(budget.try_take());
        assert!(budget.try_take());
        assert!(!budget.try_take(), "the burst is two");
        assert_eq!(budget.available_at(), Instant::now() + Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn no_sixty_second_window_holds_more_than_ten_writes() {
        let mut budget = Budget::for_profile_writes();
        let taken = spend_greedily(&mut budget, Duration::from_secs(600)).await;
        for (index, at) in taken.iter().enumerate() {
            let in_window = taken[index..]
                .iter()
                .take_while(|later| **later < *at + Duration::from_secs(60))
                .count();
            assert!(in_window <= 10, "{in_window} writes in the minute from {at:?}");
        }
        assert!(
            taken.len() >= 70,
            "sustained rate is about 7.5 a minute: {}",
            taken.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_spell_refills_the_burst_but_no_more() {
        let mut budget = Budget::for_profile_writes();
        assert!(budget.try_take() && budget.try_take());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(budget.try_take() && budget.try_take());
        assert!(!budget.try_take());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_answer_holds_writes_until_retry_after() {
        let mut budget = Budget::for_profile_writes();
        budget.drain_until(Instant::now() + Duration::from_secs(30));
        assert!(!budget.try_take());
        assert_eq!(budget.available_at(), Instant::now() + Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(budget.try_take());
    }
}

/// A [`Budget`] shared between a workspace's successive workers, so that restarting a worker (reconnecting,
/// say) does not hand out a fresh burst inside the same minute. The lock is held only for a few arithmetic
/// steps, never across an `.await`, so a std `Mutex` fits.
#[derive(Debug, Clone)]
pub struct SharedBudget(std::sync::Arc<std::sync::Mutex<Budget>>);

impl SharedBudget {
    pub fn new(budget: Budget) -> SharedBudget {
        SharedBudget(std::sync::Arc::new(std::sync::Mutex::new(budget)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Budget) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub fn try_take(&self) -> bool {
        self.with(Budget::try_take)
    }

    pub fn available_at(&self) -> Instant {
        self.with(Budget::available_at)
    }

    pub fn drain_until(&self, until: Instant) {
        self.with(|budget| budget.drain_until(until));
    }
}
