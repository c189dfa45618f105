//! The screen-lock source as the sources' loop keeps it: the D-Bus watcher while it runs, the retry while no
//! lock interface answers.

use caret_sources::screen_lock::{LockReading, ScreenLockWatcher};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use ts_rs::TS;

use super::Retry;

/// What the screen-lock source is doing, as Settings and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum ScreenLockView {
    /// Turned off: nothing is watched.
    Off,
    /// Watching the session's lock: locked now or not, and through which interfaces
    /// ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver", "logind").
    Watching { locked: bool, through: Vec<String> },
    /// Turned on, but no screen-lock interface answered on this session; tried again after 5 s, then less and
    /// less often, up to every 5 minutes.
    Unavailable { reason: String },
}

impl ScreenLockView {
    /// One line for the command line.
    pub fn describe(&self) -> String {
        match self {
            ScreenLockView::Off => "off".to_owned(),
            ScreenLockView::Watching { locked, through } => {
                let said = if *locked {
                    "locked: away in Slack"
                } else {
                    "unlocked"
                };
                format!("on, watching {}: {said}", through.join(", "))
            }
            ScreenLockView::Unavailable { reason } => format!("on, but not watching: {reason}"),
        }
    }
}

/// The screen-lock source: running or not, and why not.
pub(super) struct ScreenLockSource {
    running: Option<(ScreenLockWatcher, watch::Receiver<LockReading>)>,
    pub(super) retry: Retry,
    unavailable: Option<String>,
}

impl ScreenLockSource {
    pub(super) fn new() -> ScreenLockSource {
        ScreenLockSource {
            running: None,
            retry: Retry::new(),
            unavailable: None,
        }
    }

    /// Starts or stops as the user wants, trying to start again once the retry is due.
    pub(super) async fn follow(&mut self, wanted: bool) {
        if !wanted {
            *self = ScreenLockSource::new();
        } else if self.running.is_none() && self.retry.due() {
            match ScreenLockWatcher::start().await {
                Ok(watcher) => {
                    let readings = watcher.readings();
                    tracing::info!(
                        "the screen-lock source is watching {:?}",
                        readings.borrow().through
                    );
                    self.running = Some((watcher, readings));
                    self.unavailable = None;
                    self.retry.reset();
                }
                Err(error) => {
                    tracing::warn!("the screen-lock source cannot watch: {error}");
                    self.unavailable = Some(error.to_string());
                    self.retry.failed();
                }
            }
        }
    }

    /// Every interface it watched went away (the session's bus closed): tried again later.
    pub(super) fn lost(&mut self) {
        tracing::warn!("the screen-lock source lost the session's bus; trying again");
        self.running = None;
        self.unavailable = Some("the session's bus went away".to_owned());
        self.retry.failed();
    }

    /// Whether the session is locked now (never while the source is off).
    pub(super) fn reading(&mut self) -> LockReading {
        self.running
            .as_mut()
            .map(|(_, readings)| readings.borrow_and_update().clone())
            .unwrap_or_default()
    }

    pub(super) fn view(&self, reading: &LockReading) -> ScreenLockView {
        match (&self.running, &self.unavailable) {
            (Some(_), _) => ScreenLockView::Watching {
                locked: reading.locked,
                through: reading
                    .through
                    .iter()
                    .map(|interface| interface.name().to_owned())
                    .collect(),
            },
            (None, Some(reason)) => ScreenLockView::Unavailable {
                reason: reason.clone(),
            },
            (None, None) => ScreenLockView::Off,
        }
    }

    /// When the loop must try again by itself.
    pub(super) fn next_wake(&self, wanted: bool) -> Option<Instant> {
        (wanted && self.running.is_none())
            .then_some(self.retry.at)
            .flatten()
    }

    /// Waits for the next reading; `true` when the watcher's readings ended. Never returns while it is off.
    pub(super) async fn changed(&mut self) -> bool {
        match &mut self.running {
            Some((_, readings)) => readings.changed().await.is_err(),
            None => std::future::pending().await,
        }
    }
}
