//! The calendar source as the sources' loop keeps it: the watcher while there are calendars to follow, and
//! what each calendar's row in Settings says.

use std::time::Duration;

use caret_core::EventDetails;
use caret_sources::calendar::fetch::CalendarFetcher;
use caret_sources::calendar::watcher::{CalendarConfig, CalendarView, CalendarWatcher, Timing};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use ts_rs::TS;

use super::calendars::CalendarEntry;

/// How long one request for a calendar may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The calendars to follow: the person's list, those whose address could be had, and why the others could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CalendarSetup {
    pub(super) entries: Vec<CalendarEntry>,
    pub(super) configs: Vec<CalendarConfig>,
    /// (calendar id, why it is not followed).
    pub(super) missing: Vec<(String, String)>,
}

/// One calendar as Settings and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CalendarRow {
    pub calendar: CalendarEntry,
    /// When it was last read (fetched, or found unchanged).
    pub read_at: Option<DateTime<Utc>>,
    /// What went wrong the last time (its last good events still count), or why it is not followed.
    pub problem: Option<String>,
    /// Its events in the coming 24 hours that count.
    pub events_today: u32,
    /// Parts of it that could not be read (unknown time zones, broken recurrence rules, events without a start).
    pub unreadable_parts: u32,
}

/// The calendars, and the event they say the person is in now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CalendarsView {
    pub calendars: Vec<CalendarRow>,
    pub now: Option<EventDetails>,
}

impl CalendarsView {
    /// Lines for the command line, one per calendar.
    pub fn describe(&self) -> String {
        if self.calendars.is_empty() {
            return "none\n".to_owned();
        }
        let now = self.now.as_ref().map_or_else(
            || "no event now".to_owned(),
            |event| format!("now: {} (until {} UTC)", event.title, event.end.format("%H:%M")),
        );
        let rows: String = self
            .calendars
            .iter()
            .map(|row| {
                let place = match &row.calendar.place {
                    super::calendars::CalendarPlace::Web { host } => host.clone(),
                    super::calendars::CalendarPlace::File { path } => path.clone(),
                };
                let state = match (&row.problem, row.read_at) {
                    (Some(problem), _) => format!("not read: {problem}"),
                    (None, Some(at)) => {
                        let events = match row.events_today {
                            1 => "1 event".to_owned(),
                            count => format!("{count} events"),
                        };
                        format!("{events} in the next 24 h, read {}", at.format("%H:%M UTC"))
                    }
                    (None, None) => "not read yet".to_owned(),
                };
                format!("  {} ({place}): {state}\n", row.calendar.name)
            })
            .collect();
        format!("{now}\n{rows}")
    }
}

/// The calendar source: running while there are calendars.
pub(super) struct CalendarSource {
    running: Option<(CalendarWatcher, watch::Receiver<CalendarView>)>,
    setup: CalendarSetup,
    /// The watcher stopped by itself (a bug): started again with the next change to the calendars, not in a
    /// loop.
    stopped: bool,
}

impl CalendarSource {
    pub(super) fn new() -> CalendarSource {
        CalendarSource {
            running: None,
            setup: CalendarSetup::default(),
            stopped: false,
        }
    }

    /// Follows the calendars of `setup`: starts the watcher for the first, stops it with the last.
    pub(super) fn follow(&mut self, setup: CalendarSetup) {
        if setup == self.setup && (self.running.is_some() || setup.configs.is_empty() || self.stopped) {
            return;
        }
        self.stopped = false;
        if setup.configs.is_empty() {
            self.running = None;
        } else if let Some((watcher, _)) = &self.running {
            watcher.set_calendars(setup.configs.clone());
        } else {
            match CalendarFetcher::new(FETCH_TIMEOUT) {
                Ok(fetcher) => {
                    let watcher = CalendarWatcher::start(fetcher, setup.configs.clone(), Timing::default());
                    let view = watcher.view();
                    self.running = Some((watcher, view));
                }
                Err(error) => tracing::warn!("the calendar source cannot start: {error}"),
            }
        }
        self.setup = setup;
    }

    fn current(&self) -> CalendarView {
        self.running
            .as_ref()
            .map(|(_, view)| view.borrow().clone())
            .unwrap_or_default()
    }

    /// The event under way now, as the engine takes it.
    pub(super) fn reading(&mut self) -> Option<EventDetails> {
        let view = match &mut self.running {
            Some((_, view)) => view.borrow_and_update().clone(),
            None => return None,
        };
        event_details(view.now)
    }

    pub(super) fn view(&self) -> CalendarsView {
        let current = self.current();
        let calendars = self
            .setup
            .entries
            .iter()
            .map(|entry| {
                let state = current.calendars.iter().find(|state| state.id == entry.id);
                let missing = self.setup.missing.iter().find(|(id, _)| *id == entry.id);
                CalendarRow {
                    calendar: entry.clone(),
                    read_at: state.and_then(|state| state.read_at),
                    problem: missing
                        .map(|(_, why)| why.clone())
                        .or_else(|| state.and_then(|state| state.problem.clone())),
                    events_today: state
                        .map_or(0, |state| u32::try_from(state.events_today).unwrap_or(u32::MAX)),
                    unreadable_parts: state.map_or(0, |state| {
                        u32::try_from(state.unreadable_parts).unwrap_or(u32::MAX)
                    }),
                }
            })
            .collect();
        CalendarsView {
            calendars,
            now: event_details(current.now),
        }
    }

    /// Waits for the calendars' next change; never returns while none is followed.
    pub(super) async fn changed(&mut self) {
        match &mut self.running {
            Some((_, view)) => {
                if view.changed().await.is_err() {
                    // The watcher's task ended, which it never does while it lives.
                    tracing::error!("the calendar source stopped; it starts again when the calendars change");
                    self.running = None;
                    self.stopped = true;
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// The engine's event from the calendar's occurrence under way (none when its times do not make an event).
fn event_details(now: Option<caret_sources::calendar::Occurrence>) -> Option<EventDetails> {
    now.and_then(|event| EventDetails::new(event.title, event.start, event.end).ok())
}
