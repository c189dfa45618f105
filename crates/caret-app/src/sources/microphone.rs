//! The microphone source as the sources' loop keeps it: the PipeWire watcher while it runs, the retry while
//! it cannot, and the last reading kept across a PipeWire restart.

use caret_sources::microphone::{CaptureReading, CaptureWatcher, DEFAULT_HOLD, hold_uses};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use ts_rs::TS;

use super::{RETRY_AFTER_LOSS, Retry};

/// What the microphone source is doing, as Settings and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum MicrophoneView {
    /// Turned off: nothing is watched.
    Off,
    /// Watching the audio server: what it sees now (a use is held a few seconds after it ends).
    Watching {
        microphone_in_use: bool,
        camera_in_use: bool,
    },
    /// Turned on, but the audio server (PipeWire) could not be reached; tried again after 5 s, then less and
    /// less often, up to every 5 minutes.
    Unavailable { reason: String },
}

impl MicrophoneView {
    /// What the source does: watching (and what it sees), or not, and why.
    pub(super) fn of(watching: bool, unavailable: Option<&str>, reading: CaptureReading) -> MicrophoneView {
        match (watching, unavailable) {
            (true, _) => MicrophoneView::Watching {
                microphone_in_use: reading.microphone,
                camera_in_use: reading.camera,
            },
            (false, Some(reason)) => MicrophoneView::Unavailable {
                reason: reason.to_owned(),
            },
            (false, None) => MicrophoneView::Off,
        }
    }

    /// One line for the command line.
    pub fn describe(&self) -> String {
        match self {
            MicrophoneView::Off => "off".to_owned(),
            MicrophoneView::Watching {
                microphone_in_use,
                camera_in_use,
            } => {
                let said = match (microphone_in_use, camera_in_use) {
                    (false, false) => "no microphone or camera in use",
                    (true, false) => "a microphone in use: in a call",
                    (false, true) => "a camera in use: in a call",
                    (true, true) => "a microphone and a camera in use: in a call",
                };
                format!("on, watching PipeWire: {said}")
            }
            MicrophoneView::Unavailable { reason } => format!("on, but not watching: {reason}"),
        }
    }
}

/// The microphone source while it runs: the PipeWire watcher and the held readings.
pub(super) struct Microphone {
    _watcher: CaptureWatcher,
    held: watch::Receiver<CaptureReading>,
}

impl Microphone {
    async fn start() -> std::result::Result<Microphone, String> {
        let own_process = std::process::id();
        let watcher = tokio::task::spawn_blocking(move || CaptureWatcher::start(own_process))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| error.to_string())?;
        let (held_tx, held) = watch::channel(CaptureReading::default());
        tokio::spawn(hold_uses(watcher.readings(), DEFAULT_HOLD, held_tx));
        Ok(Microphone {
            _watcher: watcher,
            held,
        })
    }
}

/// The microphone source as the loop keeps it: running or not, and why not.
pub(super) struct MicrophoneSource {
    pub(super) running: Option<Microphone>,
    pub(super) retry: Retry,
    pub(super) unavailable: Option<String>,
    /// After the connection to PipeWire was lost: the last reading, kept until the hold would have ended it,
    /// so that a PipeWire restart mid-call is no more the call's end than a stream re-opened is.
    kept: Option<(CaptureReading, Instant)>,
}

impl MicrophoneSource {
    pub(super) fn new() -> MicrophoneSource {
        MicrophoneSource {
            running: None,
            retry: Retry::new(),
            unavailable: None,
            kept: None,
        }
    }

    /// Stops watching. The watcher's thread is joined off the async workers.
    pub(super) fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(tokio::task::spawn_blocking(move || drop(running)));
        }
    }

    /// Starts or stops as the user wants, trying to start again once the retry is due.
    pub(super) async fn follow(&mut self, wanted: bool) {
        if !wanted {
            self.stop();
            *self = MicrophoneSource::new();
        } else if self.running.is_none() && self.retry.due() {
            match Microphone::start().await {
                Ok(started) => {
                    tracing::info!("the microphone source is watching PipeWire");
                    self.running = Some(started);
                    self.unavailable = None;
                    self.retry.reset();
                }
                Err(reason) => {
                    tracing::warn!("the microphone source cannot watch PipeWire: {reason}");
                    self.unavailable = Some(reason);
                    if self.kept.is_some() {
                        // Just lost, a call perhaps held: PipeWire restarting is back within a second or two.
                        self.retry.at = Some(Instant::now() + RETRY_AFTER_LOSS);
                    } else {
                        self.retry.failed();
                    }
                }
            }
        }
    }

    /// The connection to PipeWire ended: keep the last reading for the hold, and try again soon.
    pub(super) fn lost(&mut self) {
        tracing::warn!("the microphone source lost PipeWire; trying again");
        let last = self
            .running
            .as_ref()
            .map(|running| *running.held.borrow())
            .unwrap_or_default();
        self.kept = Some((last, Instant::now() + DEFAULT_HOLD));
        self.stop();
        self.unavailable = Some("the connection to PipeWire ended".to_owned());
        self.retry.at = Some(Instant::now() + RETRY_AFTER_LOSS);
    }

    /// What the source says now: the watcher's held reading, and what was kept from before a loss.
    pub(super) fn reading(&mut self) -> CaptureReading {
        let now = self
            .running
            .as_mut()
            .map(|running| *running.held.borrow_and_update())
            .unwrap_or_default();
        self.kept = self.kept.filter(|(_, until)| *until > Instant::now());
        let kept = self.kept.map(|(reading, _)| reading).unwrap_or_default();
        CaptureReading {
            microphone: now.microphone || kept.microphone,
            camera: now.camera || kept.camera,
        }
    }

    /// When the loop must look again by itself: a retry due, or a kept reading running out.
    pub(super) fn next_wake(&self, wanted: bool) -> Option<Instant> {
        let retry = (wanted && self.running.is_none())
            .then_some(self.retry.at)
            .flatten();
        [retry, self.kept.map(|(_, until)| until)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Waits for the microphone's next held reading; `true` when the watcher is gone (PipeWire went away).
/// Never returns while the source is off.
pub(super) async fn held_changed(microphone: &mut Option<Microphone>) -> bool {
    match microphone {
        Some(microphone) => microphone.held.changed().await.is_err(),
        None => std::future::pending().await,
    }
}
