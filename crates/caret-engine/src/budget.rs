//! What one Slack method may spend per workspace: a token bucket on tokio time, and a one-minute window of
//! the attempts themselves, kept in the database so that a restart cannot add a burst.
//!
//! Slack allows one token to update one user's profile at most 10 times per minute. With a burst of
//! `capacity` and one new token every `refill`, any 60-second window holds at most
//! `capacity + 60 s / refill` writes; the default (2 + 60/8 = 9.5, so 9) stays under 10 even when a clock
//! tick lands badly, so we never need Slack's 429 to slow us down. The first change after a quiet spell goes
//! out at once; a flapping phone is held to the budget, and the engine sends only the latest state when a
//! token frees up. `users.setPresence` is Slack's tier 2 (20 a minute per workspace): a burst of 3 and one
//! more every 4 s holds any minute to 18. Do Not Disturb has the same budget: one token pays for a `dnd.info`
//! (tier 3, 50 a minute) and the `dnd.setSnooze` or `dnd.endSnooze` (tier 2) that follows it.
//!
//! A bucket lives in memory and starts full, so a process that restarts would get a fresh burst each time.
//! Every attempt is therefore also written to the database *before* it is sent (a `kill -9` during the call
//! still counts it), and the window refuses an attempt when the minute before it already holds the method's
//! most: `capacity + 60 s / refill` attempts, whatever restarts happened in that minute.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use caret_core::rate::TokenBucket;
use caret_store::{Store, WorkspaceId};
use tokio::time::Instant;

use crate::clock::Clock;

/// The window Slack's per-minute limits are counted over.
const WINDOW_MS: i64 = 60_000;

/// A Slack method the engine spends a budget on, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetKind {
    /// `users.profile.set`: Slack's 10 a minute per user.
    ProfileWrites,
    /// `users.setPresence`: Slack's tier 2, 20 a minute per workspace.
    Presence,
    /// `dnd.setSnooze` and `dnd.endSnooze` (Slack's tier 2), each with the `dnd.info` (tier 3) before it.
    Dnd,
}

impl BudgetKind {
    /// The method name the attempts are recorded under.
    pub fn method(self) -> &'static str {
        match self {
            BudgetKind::ProfileWrites => "users.profile.set",
            BudgetKind::Presence => "users.setPresence",
            BudgetKind::Dnd => "dnd.snooze",
        }
    }

    /// (burst, one more every).
    pub fn default_limits(self) -> (u32, Duration) {
        match self {
            BudgetKind::ProfileWrites => (Budget::DEFAULT_CAPACITY, Budget::DEFAULT_REFILL),
            BudgetKind::Presence | BudgetKind::Dnd => (3, Duration::from_secs(4)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Budget {
    bucket: TokenBucket,
    /// Wall-clock milliseconds of the attempts in the last minute (those before a restart included).
    recent_ms: VecDeque<i64>,
    /// The most attempts any minute may hold.
    per_minute: usize,
}

impl Budget {
    pub const DEFAULT_CAPACITY: u32 = 2;
    pub const DEFAULT_REFILL: Duration = Duration::from_secs(8);

    pub fn new(capacity: u32, refill: Duration) -> Budget {
        let refills_per_minute = Duration::from_millis(WINDOW_MS.unsigned_abs())
            .as_nanos()
            .checked_div(refill.as_nanos())
            .unwrap_or(u128::MAX);
        let per_minute = usize::try_from(refills_per_minute.saturating_add(u128::from(capacity.max(1))))
            .unwrap_or(usize::MAX);
        Budget {
            bucket: TokenBucket::new(capacity, refill, Instant::now().into_std()),
            recent_ms: VecDeque::new(),
            per_minute,
        }
    }

    /// Slack's per-user profile limit, with margin.
    pub fn for_profile_writes() -> Budget {
        Budget::new(Budget::DEFAULT_CAPACITY, Budget::DEFAULT_REFILL)
    }

    /// A budget that knows the attempts made at `attempts_ms` (wall-clock milliseconds, any order; from the
    /// database after a restart): they fill the window, and spend the bucket as they would have.
    pub fn restored(capacity: u32, refill: Duration, attempts_ms: &[i64], now_ms: i64) -> Budget {
        let mut budget = Budget::new(capacity, refill);
        let mut recent: Vec<i64> = attempts_ms
            .iter()
            // A clock that went back makes "future" attempts: count them as made now.
            .map(|at| (*at).min(now_ms))
            .filter(|at| now_ms - at < WINDOW_MS)
            .collect();
        recent.sort_unstable();
        let start = Instant::now().into_std();
        let before = |at: i64| Duration::from_millis((now_ms - at).unsigned_abs());
        // Replay the bucket from a full one a minute ago: it can only be fuller than it really was, which the
        // window makes up for.
        let mut bucket = TokenBucket::new(
            capacity,
            refill,
            start.checked_sub(before(now_ms - WINDOW_MS)).unwrap_or(start),
        );
        for at in &recent {
            // An attempt the bucket had no token for (made by an older version, say) leaves it empty.
            let _ = bucket.try_take(start.checked_sub(before(*at)).unwrap_or(start));
        }
        budget.bucket = bucket;
        budget.recent_ms = recent.into();
        budget
    }

    fn forget_old(&mut self, now_ms: i64) {
        // A wall clock set back leaves attempts "in the future": count them from now, so that they age out
        // within a minute rather than holding every write until the clock catches up with them.
        for at in &mut self.recent_ms {
            *at = (*at).min(now_ms);
        }
        while self.recent_ms.front().is_some_and(|at| now_ms - at >= WINDOW_MS) {
            self.recent_ms.pop_front();
        }
    }

    /// When the window lets one more attempt in (`None`: it does now).
    fn window_free_in(&mut self, now_ms: i64) -> Option<Duration> {
        self.forget_old(now_ms);
        if self.recent_ms.len() < self.per_minute {
            return None;
        }
        let oldest = *self.recent_ms.front()?;
        Some(Duration::from_millis(
            (oldest + WINDOW_MS - now_ms).max(1).unsigned_abs(),
        ))
    }

    /// Takes a token if one is there and the last minute has room; the attempt counts from `now_ms`.
    pub fn try_take(&mut self, now_ms: i64) -> bool {
        if self.window_free_in(now_ms).is_some() || !self.bucket.try_take(Instant::now().into_std()) {
            return false;
        }
        self.recent_ms.push_back(now_ms);
        true
    }

    /// When a token will be there (now, if one is).
    pub fn available_at(&mut self, now_ms: i64) -> Instant {
        let bucket = Instant::from_std(self.bucket.available_at(Instant::now().into_std()));
        match self.window_free_in(now_ms) {
            Some(wait) => bucket.max(Instant::now() + wait),
            None => bucket,
        }
    }

    /// After a 429, spend everything until Slack's `Retry-After` has passed.
    pub fn drain_until(&mut self, until: Instant) {
        self.bucket.drain_until(until.into_std());
    }
}

/// Where a budget writes its attempts, so that the next start knows them.
#[derive(Clone)]
pub(crate) struct AttemptLog {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub clock: Arc<dyn Clock>,
}

/// A [`Budget`] shared between a workspace's successive workers, so that restarting a worker (reconnecting,
/// say) does not hand out a fresh burst inside the same minute, and recorded in the database, so that
/// restarting the app does not either. The lock is held only for a few arithmetic steps and one small
/// SQLite insert, never across an `.await`, so a blocking (parking_lot) `Mutex` fits.
#[derive(Clone)]
pub struct SharedBudget {
    budget: Arc<parking_lot::Mutex<Budget>>,
    kind: BudgetKind,
    log: Option<AttemptLog>,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SharedBudget {
    /// A budget kept in memory only (tests of the budget itself).
    pub fn new(budget: Budget) -> SharedBudget {
        SharedBudget {
            budget: Arc::new(parking_lot::Mutex::new(budget)),
            kind: BudgetKind::ProfileWrites,
            log: None,
        }
    }

    /// The budget of one method for one workspace, rebuilt from the attempts the database remembers.
    pub(crate) fn recorded(
        kind: BudgetKind,
        (capacity, refill): (u32, Duration),
        log: AttemptLog,
    ) -> SharedBudget {
        let now_ms = log.clock.now_ms();
        let attempts = log
            .store
            .recent_attempts(log.workspace, kind.method(), now_ms - WINDOW_MS)
            .unwrap_or_else(|error| {
                tracing::error!(
                    workspace = log.workspace,
                    "cannot read the recent Slack calls: {error}"
                );
                Vec::new()
            });
        SharedBudget {
            budget: Arc::new(parking_lot::Mutex::new(Budget::restored(
                capacity, refill, &attempts, now_ms,
            ))),
            kind,
            log: Some(log),
        }
    }

    fn now_ms(&self) -> i64 {
        self.log
            .as_ref()
            .map_or_else(|| chrono::Utc::now().timestamp_millis(), |log| log.clock.now_ms())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Budget) -> T) -> T {
        f(&mut self.budget.lock())
    }

    /// Takes a token for an attempt about to be sent, and records the attempt first. An attempt the
    /// database cannot record is not made: a restart would not know of it.
    pub fn try_take(&self) -> bool {
        let now_ms = self.now_ms();
        self.with(|budget| {
            if !budget.try_take(now_ms) {
                return false;
            }
            let Some(log) = &self.log else { return true };
            match log
                .store
                .record_attempt(log.workspace, self.kind.method(), now_ms)
            {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!(
                        workspace = log.workspace,
                        "cannot record a Slack call, not making it: {error}"
                    );
                    false
                }
            }
        })
    }

    /// Takes a token for an attempt that the caller records itself, in the same transaction as the rest of
    /// what it writes before sending ([`caret_store::Store::begin_write_after_look`]): one commit, not two.
    pub fn try_take_recorded_by_caller(&self) -> Option<i64> {
        let now_ms = self.now_ms();
        self.with(|budget| budget.try_take(now_ms)).then_some(now_ms)
    }

    pub fn available_at(&self) -> Instant {
        let now_ms = self.now_ms();
        self.with(|budget| budget.available_at(now_ms))
    }

    pub fn drain_until(&self, until: Instant) {
        self.with(|budget| budget.drain_until(until));
    }
}

/// Everything that paces one workspace's calls to Slack, kept by the coordinator across that workspace's
/// workers: a budget per method the engine writes, and Slack's own word after a 429.
#[derive(Clone, Debug)]
pub(crate) struct WorkspaceLimits {
    pub profile: SharedBudget,
    pub presence: SharedBudget,
    pub dnd: SharedBudget,
    /// Slack answered 429 with `Retry-After`: until then no method is called with this workspace's token,
    /// whatever wakes the worker.
    hold: Arc<parking_lot::Mutex<Option<Instant>>>,
}

impl WorkspaceLimits {
    pub fn new(profile: SharedBudget, presence: SharedBudget, dnd: SharedBudget) -> WorkspaceLimits {
        WorkspaceLimits {
            profile,
            presence,
            dnd,
            hold: Arc::default(),
        }
    }

    /// Until when Slack asked us to wait, if that is still ahead.
    pub fn held_until(&self) -> Option<Instant> {
        let hold = *self.hold.lock();
        hold.filter(|until| *until > Instant::now())
    }

    /// Slack answered 429: hold every call until `until`.
    pub fn hold_until(&self, until: Instant) {
        let mut hold = self.hold.lock();
        *hold = Some(hold.map_or(until, |held| held.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall clock that moves with paused tokio time, as the engine's test clock does.
    fn wall_clock() -> impl Fn() -> i64 + Copy {
        let origin = Instant::now();
        move || 1_800_000_000_000 + i64::try_from(origin.elapsed().as_millis()).unwrap_or(0)
    }

    /// Spends tokens as fast as they come for `span`, returning when each was taken.
    async fn spend_greedily(
        budget: &mut Budget,
        span: Duration,
        clock_ms: impl Fn() -> i64,
    ) -> Vec<Duration> {
        let start = Instant::now();
        let mut taken = Vec::new();
        while start.elapsed() < span {
            if budget.try_take(clock_ms()) {
                taken.push(start.elapsed());
            } else {
                tokio::time::sleep_until(budget.available_at(clock_ms())).await;
            }
        }
        taken
    }

    fn most_in_a_minute(taken: &[Duration]) -> usize {
        (0..taken.len())
            .map(|index| {
                taken[index..]
                    .iter()
                    .take_while(|later| **later < taken[index] + Duration::from_secs(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_writes_go_out_at_once() {
        let clock = wall_clock();
        let mut budget = Budget::for_profile_writes();
        assert!(budget.try_take(clock()));
        assert!(budget.try_take(clock()));
        assert!(!budget.try_take(clock()), "the burst is two");
        assert_eq!(
            budget.available_at(clock()),
            Instant::now() + Duration::from_secs(8)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_sixty_second_window_holds_more_than_ten_writes() {
        let clock = wall_clock();
        let mut budget = Budget::for_profile_writes();
        let taken = spend_greedily(&mut budget, Duration::from_secs(600), clock).await;
        assert!(most_in_a_minute(&taken) <= 9, "{}", most_in_a_minute(&taken));
        assert!(
            taken.len() >= 70,
            "sustained rate is about 7.5 a minute: {}",
            taken.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn presence_stays_under_slacks_tier_two() {
        let clock = wall_clock();
        let (capacity, refill) = BudgetKind::Presence.default_limits();
        let mut budget = Budget::new(capacity, refill);
        let taken = spend_greedily(&mut budget, Duration::from_secs(600), clock).await;
        assert!(most_in_a_minute(&taken) <= 18, "{}", most_in_a_minute(&taken));
        assert!(
            taken.len() >= 150,
            "sustained rate is 15 a minute: {}",
            taken.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_spell_refills_the_burst_but_no_more() {
        let now_ms = wall_clock();
        let mut budget = Budget::for_profile_writes();
        assert!(budget.try_take(now_ms()) && budget.try_take(now_ms()));
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(budget.try_take(now_ms()) && budget.try_take(now_ms()));
        assert!(!budget.try_take(now_ms()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_answer_holds_writes_until_retry_after() {
        let now_ms = wall_clock();
        let mut budget = Budget::for_profile_writes();
        budget.drain_until(Instant::now() + Duration::from_secs(30));
        assert!(!budget.try_take(now_ms()));
        assert_eq!(
            budget.available_at(now_ms()),
            Instant::now() + Duration::from_secs(30)
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(budget.try_take(now_ms()));
    }

    /// The defect this module was changed for: three restarts within 16 s each got a fresh burst, and one
    /// minute held 11 attempts. Restarting (a new budget from the recorded attempts) every few seconds while
    /// spending greedily never puts more than 9 in any minute.
    #[tokio::test(start_paused = true)]
    async fn restarts_do_not_add_bursts() {
        let clock = wall_clock();
        let origin = Instant::now();
        let mut attempts_ms: Vec<i64> = Vec::new();
        let mut taken = Vec::new();
        for restart in 0..40 {
            let (capacity, refill) = BudgetKind::ProfileWrites.default_limits();
            let mut budget = Budget::restored(capacity, refill, &attempts_ms, clock());
            // Each "process" lives 2 to 7 s before it is killed.
            let life = Duration::from_millis(2000 + (restart * 1237) % 5000);
            // (40 lives of 2-7 s: about three and a half minutes of restarts.)
            let born = Instant::now();
            while born.elapsed() < life {
                if budget.try_take(clock()) {
                    attempts_ms.push(clock());
                    taken.push(origin.elapsed());
                } else {
                    let wake = budget.available_at(clock()).min(born + life);
                    tokio::time::sleep_until(wake).await;
                }
            }
        }
        assert!(
            most_in_a_minute(&taken) <= 9,
            "{} in one minute",
            most_in_a_minute(&taken)
        );
        assert!(taken.len() >= 8, "it still sends: {}", taken.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_set_back_holds_writes_a_minute_at_most() {
        let now = wall_clock()();
        let mut budget = Budget::for_profile_writes();
        for i in 0..9 {
            // Nine attempts, a full window, stamped by a clock an hour ahead.
            budget.recent_ms.push_back(now + 3_600_000 + i);
        }
        assert!(!budget.try_take(now), "the window is full");
        let wait = budget.available_at(now) - Instant::now();
        assert!(wait <= Duration::from_secs(60), "held {wait:?}, not an hour");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(budget.try_take(now + 61_000), "free a minute later");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restored_budget_counts_attempts_from_the_last_minute_only() {
        let now = wall_clock()();
        let old: Vec<i64> = (0..9).map(|i| now - 70_000 - i).collect();
        let mut fresh = Budget::restored(2, Duration::from_secs(8), &old, now);
        assert!(
            fresh.try_take(now) && fresh.try_take(now),
            "attempts over a minute old do not count"
        );
        let full: Vec<i64> = (0..9).map(|i| now - 50_000 + i * 1000).collect();
        let mut held = Budget::restored(2, Duration::from_secs(8), &full, now);
        assert!(!held.try_take(now), "nine in the last minute: the window is full");
        assert_eq!(
            held.available_at(now),
            Instant::now() + Duration::from_secs(10),
            "free when the oldest of them is a minute old"
        );
    }
}
