//! Follows the person's calendars: fetches each no more often than every [`Timing::refetch`], with backoff on
//! errors, and says which event is under way now, waking when one starts or ends rather than polling.
//!
//! A calendar that cannot be fetched keeps its last good document: a server down for an hour does not take the
//! afternoon's meetings away. Each calendar's state (when it was read, what went wrong) is part of the view, for
//! Settings to show.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fetch::{CalendarFetcher, CalendarLocation, Fetched, Validators};
use super::{CalendarOptions, Occurrence, happening_now, next_change};
use crate::SourceError;

/// One calendar to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarConfig {
    /// Names it among the calendars followed (the app gives each a random id; nothing secret).
    pub id: String,
    pub location: CalendarLocation,
    pub options: CalendarOptions,
}

/// How often calendars are asked again, and how the waits grow after errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two fetches of one calendar when all is well (and the shortest wait after an error).
    pub refetch: Duration,
    /// The longest wait after repeated errors.
    pub longest_backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            refetch: Duration::from_secs(5 * 60),
            longest_backoff: Duration::from_secs(60 * 60),
        }
    }
}

impl Timing {
    /// The wait after the `failures`th error in a row: the refetch interval doubled each time, up to the
    /// longest, and never shorter than the server asked.
    fn after_failures(&self, failures: u32, asked: Option<Duration>) -> Duration {
        let doubled = self
            .refetch
            .saturating_mul(1 << failures.saturating_sub(1).min(16));
        doubled.min(self.longest_backoff).max(asked.unwrap_or_default())
    }
}

/// One calendar as the watcher knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarState {
    pub id: String,
    /// When its document was last read (fetched or found unchanged).
    pub read_at: Option<DateTime<Utc>>,
    /// What went wrong the last time, if it did (the last good document is still used).
    pub problem: Option<String>,
    /// Its events in the coming day.
    pub events_today: usize,
    /// Parts of its document that could not be read (unknown zones, broken rules, events without a start).
    pub unreadable_parts: usize,
}

/// What the calendars say now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarView {
    /// The event under way now, across every calendar (see [`happening_now`]).
    pub now: Option<Occurrence>,
    pub calendars: Vec<CalendarState>,
}

/// Follows the calendars while it lives.
#[derive(Debug)]
pub struct CalendarWatcher {
    view: watch::Receiver<CalendarView>,
    calendars: watch::Sender<Vec<CalendarConfig>>,
    task: JoinHandle<()>,
}

impl Drop for CalendarWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CalendarWatcher {
    /// Starts following `calendars` (fetched at once).
    pub fn start(fetcher: CalendarFetcher, calendars: Vec<CalendarConfig>, timing: Timing) -> Self {
        let (view_tx, view) = watch::channel(CalendarView::default());
        let (calendars_tx, calendars_rx) = watch::channel(calendars);
        let task = tokio::spawn(follow(fetcher, calendars_rx, view_tx, timing));
        Self {
            view,
            calendars: calendars_tx,
            task,
        }
    }

    /// Follows these calendars from now on: new ones are fetched at once, the others keep their schedule.
    pub fn set_calendars(&self, calendars: Vec<CalendarConfig>) {
        self.calendars.send_replace(calendars);
    }

    /// What the calendars say, the first view once each calendar was tried.
    pub fn view(&self) -> watch::Receiver<CalendarView> {
        self.view.clone()
    }
}

/// How far around now occurrences are worked out: a day back (an event under way started before now) and a
/// week ahead. The window moves on as the days pass.
const LOOK_BACK: chrono::Duration = chrono::Duration::days(1);
const LOOK_AHEAD: chrono::Duration = chrono::Duration::days(7);

/// The longest wait a server's Retry-After can ask for: a day.
const LONGEST_ASKED_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A fetch's outcome, sent back by its task.
struct FetchDone {
    id: String,
    /// Which configuration of that calendar it was for: one fetched for an address since changed is dropped.
    generation: u64,
    outcome: crate::Result<Fetched>,
}

/// A calendar being followed.
struct Followed {
    config: CalendarConfig,
    generation: u64,
    validators: Validators,
    /// The last good document, read again as the window moves.
    document: Option<Arc<str>>,
    occurrences: Vec<Occurrence>,
    /// The window `occurrences` were worked out for.
    window_start: Option<DateTime<Utc>>,
    failures: u32,
    fetch_at: Instant,
    fetching: bool,
    state: CalendarState,
}

impl Followed {
    fn new(config: CalendarConfig, generation: u64) -> Self {
        Self {
            state: CalendarState {
                id: config.id.clone(),
                ..CalendarState::default()
            },
            config,
            generation,
            validators: Validators::default(),
            document: None,
            occurrences: Vec::new(),
            window_start: None,
            failures: 0,
            fetch_at: Instant::now(),
            fetching: false,
        }
    }

    /// Starts a fetch on a task of its own, which reports on `done`.
    fn start_fetch(&mut self, fetcher: &CalendarFetcher, done: &mpsc::UnboundedSender<FetchDone>) {
        self.fetching = true;
        let (fetcher, done) = (fetcher.clone(), done.clone());
        let (location, validators) = (self.config.location.clone(), self.validators.clone());
        let (id, generation) = (self.config.id.clone(), self.generation);
        tokio::spawn(async move {
            let outcome = fetcher.fetch(&location, &validators).await;
            let _ = done.send(FetchDone {
                id,
                generation,
                outcome,
            });
        });
    }

    fn fetched(&mut self, outcome: crate::Result<Fetched>, timing: &Timing, now: DateTime<Utc>) {
        self.fetching = false;
        match outcome {
            Ok(fetched) => {
                if let Fetched::Changed { document, validators } = fetched {
                    self.validators = validators;
                    self.document = Some(Arc::from(document));
                    self.window_start = None;
                }
                self.failures = 0;
                self.state.read_at = Some(now);
                self.state.problem = None;
                self.fetch_at = Instant::now() + timing.refetch;
            }
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                let asked = match &error {
                    SourceError::CalendarFetch { retry_after, .. } => {
                        retry_after.map(|asked| asked.min(LONGEST_ASKED_WAIT))
                    }
                    _ => None,
                };
                let wait = timing.after_failures(self.failures, asked);
                tracing::info!(
                    calendar = self.config.id,
                    "calendar not read ({error}); trying again in {} s",
                    wait.as_secs()
                );
                self.state.problem = Some(error.to_string());
                self.fetch_at = Instant::now() + wait;
            }
        }
    }

    /// Works the occurrences out again when the document changed or the window moved by a day, off the async
    /// threads (a large calendar takes a while).
    async fn read(&mut self, now: DateTime<Utc>) {
        let moved = self.window_start.is_none_or(|start| now - start > LOOK_BACK * 2);
        let Some(document) = self.document.clone().filter(|_| moved) else {
            return;
        };
        let window = (now - LOOK_BACK)..(now + LOOK_AHEAD);
        let (options, asked) = (self.config.options.clone(), window.clone());
        let reading = tokio::task::spawn_blocking(move || super::read(&document, asked, &options))
            .await
            .unwrap_or_else(|error| {
                Err(SourceError::CalendarUnreadable {
                    reason: format!("reading it failed ({error})"),
                })
            });
        match reading {
            Ok(reading) => {
                self.state.unreadable_parts =
                    reading.unknown_zones + reading.broken_rules + reading.unreadable_events;
                self.occurrences = reading.occurrences;
                if self.state.unreadable_parts > 0 {
                    tracing::info!(
                        calendar = self.config.id,
                        "{} parts of the calendar could not be read",
                        self.state.unreadable_parts
                    );
                }
            }
            Err(error) => {
                // Not a calendar (a sign-in page, say): the last good occurrences stay, the problem is said.
                self.state.problem = Some(error.to_string());
                self.document = None;
                self.validators = Validators::default();
            }
        }
        self.window_start = Some(window.start);
    }
}

async fn follow(
    fetcher: CalendarFetcher,
    mut calendars: watch::Receiver<Vec<CalendarConfig>>,
    view: watch::Sender<CalendarView>,
    timing: Timing,
) {
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut followed: Vec<Followed> = Vec::new();
    let mut generations = 0_u64;
    let mut reload = true;
    loop {
        if reload {
            reload = false;
            let configs = calendars.borrow_and_update().clone();
            followed = keep_or_add(followed, configs, &mut generations);
        }
        // Each fetch runs on a task of its own: a slow server holds up no other calendar, no start or end.
        let due = Instant::now();
        for calendar in followed
            .iter_mut()
            .filter(|calendar| !calendar.fetching && calendar.fetch_at <= due)
        {
            calendar.start_fetch(&fetcher, &done_tx);
        }
        let now = Utc::now();
        for calendar in &mut followed {
            calendar.read(now).await;
        }
        let next = publish(&followed, &view, Utc::now());
        // Woken at the next start or end, the next fetch, or 5 minutes at most: a machine that slept through
        // a meeting's start (its monotonic clock stopped) catches up then.
        let mut wake = Instant::now() + timing.refetch;
        if let Some(change) = next.and_then(|at| (at - Utc::now()).to_std().ok()) {
            wake = wake.min(Instant::now() + change);
        }
        if let Some(fetch) = followed
            .iter()
            .filter(|calendar| !calendar.fetching)
            .map(|calendar| calendar.fetch_at)
            .min()
        {
            wake = wake.min(fetch);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            changed = calendars.changed() => {
                if changed.is_err() {
                    return;
                }
                reload = true;
            }
            Some(finished) = done.recv() => {
                if let Some(calendar) = followed
                    .iter_mut()
                    .find(|calendar| calendar.config.id == finished.id && calendar.generation == finished.generation)
                {
                    calendar.fetched(finished.outcome, &timing, Utc::now());
                }
            }
        }
    }
}

/// The calendars in `configs`: those already followed keep what they know (unless their address or options
/// changed), new ones start fresh and are fetched at once.
fn keep_or_add(
    followed: Vec<Followed>,
    configs: Vec<CalendarConfig>,
    generations: &mut u64,
) -> Vec<Followed> {
    let mut known: HashMap<String, Followed> = followed
        .into_iter()
        .map(|calendar| (calendar.config.id.clone(), calendar))
        .collect();
    configs
        .into_iter()
        .map(|config| match known.remove(&config.id) {
            Some(calendar) if calendar.config == config => calendar,
            _ => {
                *generations += 1;
                Followed::new(config, *generations)
            }
        })
        .collect()
}

/// Publishes what the calendars say at `now`; returns when that may change next.
fn publish(
    followed: &[Followed],
    view: &watch::Sender<CalendarView>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let all: Vec<Occurrence> = followed
        .iter()
        .flat_map(|calendar| calendar.occurrences.iter().cloned())
        .collect();
    let day_ends = now + chrono::Duration::days(1);
    let calendars = followed
        .iter()
        .map(|calendar| CalendarState {
            events_today: calendar
                .occurrences
                .iter()
                .filter(|occurrence| occurrence.end > now && occurrence.start < day_ends)
                .count(),
            ..calendar.state.clone()
        })
        .collect();
    let current = CalendarView {
        now: happening_now(&all, now).cloned(),
        calendars,
    };
    view.send_if_modified(|shown| {
        let changed = *shown != current;
        *shown = current;
        changed
    });
    next_change(&all, now)
}

#[cfg(test)]
mod tests;
