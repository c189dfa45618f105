//! The desktop's own sources, one handle ([`DesktopSources`]): which are on (the preferences), what each sees
//! right now (for Settings and `caret-desktop sources`), and their readings fed to the sync engine as
//! [`DesktopSignals`]. The sources themselves live in the `caret-sources` crate; this room starts and stops
//! them as the user turns them on and off, and tries again when one cannot start. Calendars are on while the
//! person has added any ([`calendars`] keeps the list, their addresses in the keyring).

use std::sync::Arc;
use std::time::Duration;

use caret_core::{DesktopSignals, WorkingHours};
use caret_engine::Engine;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use ts_rs::TS;

use crate::config::AppPaths;
use crate::error::Result;
use crate::preferences::{SourceName, SourcePreferences};

mod calendar;
pub mod calendars;
mod microphone;
mod screen_lock;
mod working_hours;

pub use calendar::{CalendarRow, CalendarsView};
use calendar::{CalendarSetup, CalendarSource};
use calendars::NewCalendar;
pub use microphone::MicrophoneView;
use microphone::{MicrophoneSource, held_changed};
use screen_lock::ScreenLockSource;
pub use screen_lock::ScreenLockView;
pub use working_hours::WorkingHoursView;

/// The first wait before trying a source that could not start again; it doubles up to [`RETRY_CAP`].
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_CAP: Duration = Duration::from_secs(300);
/// How soon to connect again after the connection to PipeWire was lost (a restarted PipeWire is back at once).
const RETRY_AFTER_LOSS: Duration = Duration::from_secs(1);

/// Every source with what it does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourcesView {
    pub microphone: MicrophoneView,
    pub screen_lock: ScreenLockView,
    /// "Away from the desk" while locked is asked for (shown under Trusted and VIP, where nothing else sets a
    /// status, while the screen-lock source is on).
    pub screen_lock_status: bool,
    pub calendar: CalendarsView,
    pub working_hours: WorkingHoursView,
    /// The working week as saved (followed or not).
    pub working_week: WorkingHours,
}

impl SourcesView {
    /// For the command line: a line per source.
    pub fn describe(&self) -> String {
        format!(
            "microphone: {}\nscreen lock: {}{}\ncalendars: {}\nworking hours: {}\n",
            self.microphone.describe(),
            self.screen_lock.describe(),
            if self.screen_lock_status {
                " (\"Away from the desk\" shown while locked)"
            } else {
                ""
            },
            self.calendar.describe(),
            self.working_hours.describe()
        )
    }

    /// Whether the view is of the working week `hours`.
    fn working_hours_follow(&self, hours: &WorkingHours) -> bool {
        self.working_week == *hours && (self.working_hours != WorkingHoursView::Off) == hours.on
    }

    /// Whether each source is on or off as `wanted` says (on while waiting for its server counts as on).
    fn follows(&self, wanted: SourcePreferences) -> bool {
        (self.microphone != MicrophoneView::Off) == wanted.microphone
            && (self.screen_lock != ScreenLockView::Off) == wanted.screen_lock
            && self.screen_lock_status == wanted.screen_lock_status
            && (self.working_hours != WorkingHoursView::Off) == wanted.working_hours.on
    }
}

/// The running sources. Dropping it stops them.
#[derive(Debug, Clone)]
pub struct DesktopSources {
    wanted: watch::Sender<SourcePreferences>,
    calendars: watch::Sender<CalendarSetup>,
    /// Held from a change to the calendars' list until the loop has it, so that two changes at once (Settings
    /// and the command line) reach the loop in the order they were saved.
    calendar_changes: Arc<tokio::sync::Mutex<()>>,
    view: watch::Receiver<SourcesView>,
    signals: watch::Receiver<DesktopSignals>,
}

impl DesktopSources {
    /// Starts the sources `wanted` turns on and the calendars the person added, feeding `engine`.
    pub fn start(engine: Engine, wanted: SourcePreferences, paths: &AppPaths) -> DesktopSources {
        let (wanted_tx, wanted_rx) = watch::channel(wanted);
        let (calendars_tx, calendars_rx) = watch::channel(CalendarSetup::default());
        let (view_tx, view) = watch::channel(SourcesView {
            microphone: MicrophoneView::Off,
            screen_lock: ScreenLockView::Off,
            screen_lock_status: wanted.screen_lock_status,
            calendar: CalendarsView::default(),
            working_hours: WorkingHoursView::Off,
            working_week: wanted.working_hours,
        });
        let (signals_tx, signals) = watch::channel(DesktopSignals::default());
        let loop_inputs = Inputs {
            wanted: wanted_rx,
            calendars: calendars_rx,
        };
        tokio::spawn(run(engine, loop_inputs, view_tx, signals_tx));
        let sources = DesktopSources {
            wanted: wanted_tx,
            calendars: calendars_tx,
            calendar_changes: Arc::default(),
            view,
            signals,
        };
        tokio::spawn(follow_calendars_from_start(sources.clone(), paths.clone()));
        sources
    }

    /// Adds a calendar (its address to the keyring); answers once it was read or said why not, within five
    /// seconds.
    pub async fn add_calendar(&self, paths: &AppPaths, new: NewCalendar) -> Result<SourcesView> {
        let added = {
            let _in_order = self.calendar_changes.lock().await;
            let added = calendars::add(paths, new).await;
            // Whatever happened, the loop follows the list as it is now.
            self.calendars.send_replace(load_calendars(paths).await.0);
            added?
        };
        let tried = |view: &SourcesView| {
            view.calendar
                .calendars
                .iter()
                .any(|row| row.calendar.id == added.id && (row.read_at.is_some() || row.problem.is_some()))
        };
        let mut view = self.view.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), view.wait_for(tried)).await;
        Ok(self.view())
    }

    /// Removes the calendar named `name` (and its address from the keyring).
    pub async fn remove_calendar(&self, paths: &AppPaths, name: &str) -> Result<SourcesView> {
        let removed = {
            let _in_order = self.calendar_changes.lock().await;
            let removed = calendars::remove(paths, name).await;
            self.calendars.send_replace(load_calendars(paths).await.0);
            removed?
        };
        let gone = |view: &SourcesView| {
            !view
                .calendar
                .calendars
                .iter()
                .any(|row| row.calendar.id == removed.id)
        };
        let mut view = self.view.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), view.wait_for(gone)).await;
        Ok(self.view())
    }

    /// What the sources tell the engine, at every change (the tray shows it too).
    pub fn signals(&self) -> watch::Receiver<DesktopSignals> {
        self.signals.clone()
    }

    pub fn view(&self) -> SourcesView {
        self.view.borrow().clone()
    }

    pub fn changes(&self) -> watch::Receiver<SourcesView> {
        self.view.clone()
    }

    /// Turns one source on or off, the others as the user left them: saved in the preferences, then carried
    /// out. Answers with the view once the change has been carried out (a source that starts has said whether
    /// it could), within two seconds.
    pub async fn set_one(&self, paths: &AppPaths, source: SourceName, on: bool) -> Result<SourcesView> {
        let wanted = self.save_and_send(paths, |wanted| wanted.with(source, on))?;
        Ok(self.followed(wanted).await)
    }

    /// Saves the working week and follows it; answers with the view once the loop has it (within two seconds).
    pub async fn set_working_hours(&self, paths: &AppPaths, hours: WorkingHours) -> Result<SourcesView> {
        self.change_working_hours(
            paths,
            WorkingHoursChange {
                on: Some(hours.on),
                days: Some(hours.days),
                off_status: Some(hours.off_status),
            },
        )
        .await
    }

    /// Changes only what `change` names in the working week as it is saved, in one step with the save, so
    /// that the command line's `hours on` never undoes a week saved in Settings a moment before.
    pub async fn change_working_hours(
        &self,
        paths: &AppPaths,
        change: WorkingHoursChange,
    ) -> Result<SourcesView> {
        if let Some(days) = change.days {
            WorkingHours {
                days,
                ..WorkingHours::default()
            }
            .validate()?;
        }
        let wanted = self.save_and_send(paths, |mut wanted| {
            let hours = &mut wanted.working_hours;
            hours.on = change.on.unwrap_or(hours.on);
            hours.days = change.days.unwrap_or(hours.days);
            hours.off_status = change.off_status.unwrap_or(hours.off_status);
            wanted
        })?;
        let hours = wanted.working_hours;
        let mut view = self.view.clone();
        let shown = |view: &SourcesView| view.follows(wanted) && view.working_hours_follow(&hours);
        if !shown(&view.borrow_and_update()) {
            let _ = tokio::time::timeout(Duration::from_secs(2), view.wait_for(shown)).await;
        }
        Ok(self.view())
    }

    /// Reads the choices, changes them, saves them and hands them to the loop under the channel's lock, so
    /// that two changes at once (Settings and the command line) are applied one after the other and the file
    /// and the running sources never disagree.
    fn save_and_send(
        &self,
        paths: &AppPaths,
        change: impl FnOnce(SourcePreferences) -> SourcePreferences,
    ) -> Result<SourcePreferences> {
        let mut outcome = None;
        self.wanted.send_if_modified(|wanted| {
            let next = change(*wanted);
            let saved = crate::preferences::set_sources(paths, next).map(|_| next);
            let modified = saved.is_ok();
            if modified {
                *wanted = next;
            }
            outcome = Some(saved);
            // Sent even when unchanged: a choice made again retries a source that could not start.
            modified
        });
        outcome.unwrap_or_else(|| Ok(*self.wanted.borrow()))
    }

    /// The view once the sources follow `wanted`, or as it is after two seconds.
    async fn followed(&self, wanted: SourcePreferences) -> SourcesView {
        let mut view = self.view.clone();
        let followed = |view: &SourcesView| view.follows(wanted);
        if !followed(&view.borrow_and_update()) {
            let _ = tokio::time::timeout(Duration::from_secs(2), view.wait_for(followed)).await;
        }
        self.view()
    }
}

/// When to try a source that could not start again.
struct Retry {
    at: Option<Instant>,
    delay: Duration,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            at: None,
            delay: RETRY_FIRST,
        }
    }

    fn due(&self) -> bool {
        self.at.is_none_or(|at| at <= Instant::now())
    }

    fn failed(&mut self) {
        self.at = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(RETRY_CAP);
    }

    fn reset(&mut self) {
        *self = Retry::new();
    }
}

/// Hands the loop the calendars the person added; while the keyring cannot be read (not unlocked yet after
/// logging in, say), tries again after 5 s, then less and less often, up to every 5 minutes.
async fn follow_calendars_from_start(sources: DesktopSources, paths: AppPaths) {
    let mut retry = Retry::new();
    loop {
        let keyring_failed = {
            let _in_order = sources.calendar_changes.lock().await;
            let (setup, keyring_failed) = load_calendars(&paths).await;
            sources.calendars.send_replace(setup);
            keyring_failed
        };
        if !keyring_failed || sources.calendars.is_closed() {
            return;
        }
        retry.failed();
        sleep_until_some(retry.at).await;
    }
}

/// The calendars the person added, with their addresses from the keyring (off the async threads), and
/// whether the keyring could not be read for some.
async fn load_calendars(paths: &AppPaths) -> (CalendarSetup, bool) {
    let entries = calendars::load(paths).unwrap_or_else(|error| {
        tracing::warn!("the calendars cannot be read: {error}");
        Vec::new()
    });
    let listed = entries.clone();
    let (configs, missing, keyring_failed) =
        crate::blocking::run("reading the calendars' addresses", move || {
            calendars::configs_blocking(&listed)
        })
        .await
        .unwrap_or_default();
    let setup = CalendarSetup {
        entries,
        configs,
        missing,
    };
    (setup, keyring_failed)
}

/// A change to the working week: each part named is set, the others kept as saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHoursChange {
    #[serde(default)]
    pub on: Option<bool>,
    #[serde(default)]
    pub days: Option<[Option<caret_core::DayHours>; 7]>,
    #[serde(default)]
    pub off_status: Option<bool>,
}

/// What the loop follows: the sources turned on, the calendars added.
struct Inputs {
    wanted: watch::Receiver<SourcePreferences>,
    calendars: watch::Receiver<CalendarSetup>,
}

/// The sources, as the loop keeps them.
struct Running {
    microphone: MicrophoneSource,
    screen_lock: ScreenLockSource,
    calendar: CalendarSource,
}

impl Running {
    fn stop(&mut self) {
        self.microphone.stop();
        self.screen_lock = ScreenLockSource::new();
        self.calendar = CalendarSource::new();
    }

    /// What every source says now, and what each does, for Settings.
    fn read(
        &mut self,
        want: &SourcePreferences,
        now: chrono::DateTime<chrono::Local>,
    ) -> (DesktopSignals, SourcesView) {
        let hours = &want.working_hours;
        let capture = self.microphone.reading();
        let lock = self.screen_lock.reading();
        let (off_hours, hours_view) = working_hours::reading(hours, now);
        let signals = DesktopSignals {
            microphone_in_use: capture.microphone,
            camera_in_use: capture.camera,
            screen_locked: lock.locked,
            away_status: want.screen_lock_status,
            calendar_event: self.calendar.reading(),
            off_hours,
        };
        let view = SourcesView {
            microphone: MicrophoneView::of(
                self.microphone.running.is_some(),
                self.microphone.unavailable.as_deref(),
                capture,
            ),
            screen_lock: self.screen_lock.view(&lock),
            screen_lock_status: want.screen_lock_status,
            calendar: self.calendar.view(),
            working_hours: hours_view,
            working_week: *hours,
        };
        (signals, view)
    }
}

async fn run(
    engine: Engine,
    inputs: Inputs,
    view: watch::Sender<SourcesView>,
    told: watch::Sender<DesktopSignals>,
) {
    let Inputs {
        mut wanted,
        mut calendars,
    } = inputs;
    let mut sources = Running {
        microphone: MicrophoneSource::new(),
        screen_lock: ScreenLockSource::new(),
        calendar: CalendarSource::new(),
    };
    let mut signals = DesktopSignals::default();
    loop {
        let want = *wanted.borrow_and_update();
        sources.microphone.follow(want.microphone).await;
        sources.screen_lock.follow(want.screen_lock).await;
        sources.calendar.follow(calendars.borrow_and_update().clone());
        // One reading of the clock for what the hours say and when to look again: a change between two
        // readings would be waited for until the 5-minute look.
        let now = chrono::Local::now();
        let (next, shown) = sources.read(&want, now);
        if next != signals {
            signals = next;
            told.send_replace(signals.clone());
            if engine.set_desktop_signals(signals.clone()).is_err() {
                sources.stop();
                return; // the engine stopped: the app is ending
            }
        }
        view.send_if_modified(|current| {
            let changed = *current != shown;
            *current = shown;
            changed
        });

        let wake = [
            sources.microphone.next_wake(want.microphone),
            sources.screen_lock.next_wake(want.screen_lock),
            working_hours::next_wake(&want.working_hours, now),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            changed = wanted.changed() => {
                if changed.is_err() {
                    sources.stop();
                    return; // the handle is gone
                }
                // A choice made again (turned on while its server was missing) is tried at once.
                sources.microphone.retry.reset();
                sources.screen_lock.retry.reset();
            },
            lost = held_changed(&mut sources.microphone.running) => if lost {
                sources.microphone.lost();
            },
            lost = sources.screen_lock.changed() => if lost {
                sources.screen_lock.lost();
            },
            changed = calendars.changed() => if changed.is_err() {
                sources.stop();
                return; // the handle is gone
            },
            () = sources.calendar.changed() => {}
            () = sleep_until_some(wake) => {}
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
