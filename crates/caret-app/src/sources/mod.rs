//! The desktop's own sources, one handle ([`DesktopSources`]): which are on (the preferences), what each sees
//! right now (for Settings and `caret-desktop sources`), and their readings fed to the sync engine as
//! [`DesktopSignals`]. The sources themselves live in the `caret-sources` crate; this room starts and stops
//! them as the user turns them on and off, and tries again when one cannot start.

use std::time::Duration;

use caret_core::DesktopSignals;
use caret_engine::Engine;
use caret_sources::microphone::{CaptureReading, CaptureWatcher, DEFAULT_HOLD, hold_uses};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use ts_rs::TS;

use crate::config::AppPaths;
use crate::error::Result;
use crate::preferences::SourcePreferences;

/// The first wait before trying a source that could not start again; it doubles up to [`RETRY_CAP`].
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_CAP: Duration = Duration::from_secs(300);
/// How soon to connect again after the connection to PipeWire was lost (a restarted PipeWire is back at once).
const RETRY_AFTER_LOSS: Duration = Duration::from_secs(1);

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
    fn of(watching: bool, unavailable: Option<&str>, reading: CaptureReading) -> MicrophoneView {
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

/// Every source with what it does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourcesView {
    pub microphone: MicrophoneView,
}

impl SourcesView {
    /// For the command line: a line per source.
    pub fn describe(&self) -> String {
        format!("microphone: {}\n", self.microphone.describe())
    }
}

/// The running sources. Dropping it stops them.
#[derive(Debug, Clone)]
pub struct DesktopSources {
    wanted: watch::Sender<SourcePreferences>,
    view: watch::Receiver<SourcesView>,
    signals: watch::Receiver<DesktopSignals>,
}

impl DesktopSources {
    /// Starts the sources `wanted` turns on, feeding `engine`.
    pub fn start(engine: Engine, wanted: SourcePreferences) -> DesktopSources {
        let (wanted_tx, wanted_rx) = watch::channel(wanted);
        let (view_tx, view) = watch::channel(SourcesView {
            microphone: MicrophoneView::Off,
        });
        let (signals_tx, signals) = watch::channel(DesktopSignals::default());
        tokio::spawn(run(engine, wanted_rx, view_tx, signals_tx));
        DesktopSources {
            wanted: wanted_tx,
            view,
            signals,
        }
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

    /// Turns sources on or off: saved in the preferences, then carried out. Answers with the view once the
    /// change has been carried out (a source that starts has said whether it could), within two seconds.
    pub async fn set(&self, paths: &AppPaths, sources: SourcePreferences) -> Result<SourcesView> {
        crate::preferences::set_sources(paths, sources)?;
        let mut view = self.view.clone();
        view.mark_unchanged();
        self.wanted.send_replace(sources);
        let followed =
            |view: &SourcesView| matches!(view.microphone, MicrophoneView::Off) != sources.microphone;
        if !followed(&view.borrow()) {
            let _ = tokio::time::timeout(Duration::from_secs(2), view.wait_for(followed)).await;
        }
        Ok(self.view())
    }
}

/// The microphone source while it runs: the PipeWire watcher and the held readings.
struct Microphone {
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

/// The microphone source as the loop keeps it: running or not, and why not.
struct MicrophoneSource {
    running: Option<Microphone>,
    retry: Retry,
    unavailable: Option<String>,
    /// After the connection to PipeWire was lost: the last reading, kept until the hold would have ended it,
    /// so that a PipeWire restart mid-call is no more the call's end than a stream re-opened is.
    kept: Option<(CaptureReading, Instant)>,
}

impl MicrophoneSource {
    fn new() -> MicrophoneSource {
        MicrophoneSource {
            running: None,
            retry: Retry::new(),
            unavailable: None,
            kept: None,
        }
    }

    /// Stops watching. The watcher's thread is joined off the async workers.
    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(tokio::task::spawn_blocking(move || drop(running)));
        }
    }

    /// Starts or stops as the user wants, trying to start again once the retry is due.
    async fn follow(&mut self, wanted: bool) {
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
    fn lost(&mut self) {
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
    fn reading(&mut self) -> CaptureReading {
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
    fn next_wake(&self, wanted: bool) -> Option<Instant> {
        let retry = (wanted && self.running.is_none())
            .then_some(self.retry.at)
            .flatten();
        [retry, self.kept.map(|(_, until)| until)]
            .into_iter()
            .flatten()
            .min()
    }
}

async fn run(
    engine: Engine,
    mut wanted: watch::Receiver<SourcePreferences>,
    view: watch::Sender<SourcesView>,
    told: watch::Sender<DesktopSignals>,
) {
    let mut microphone = MicrophoneSource::new();
    let mut signals = DesktopSignals::default();
    loop {
        let want = *wanted.borrow_and_update();
        microphone.follow(want.microphone).await;
        let reading = microphone.reading();
        let next = DesktopSignals {
            microphone_in_use: reading.microphone,
            camera_in_use: reading.camera,
            ..signals.clone()
        };
        if next != signals {
            signals = next;
            told.send_replace(signals.clone());
            if engine.set_desktop_signals(signals.clone()).is_err() {
                microphone.stop();
                return; // the engine stopped: the app is ending
            }
        }
        let shown = MicrophoneView::of(
            microphone.running.is_some(),
            microphone.unavailable.as_deref(),
            reading,
        );
        view.send_if_modified(|current| {
            let changed = current.microphone != shown;
            current.microphone = shown;
            changed
        });

        let wake = microphone.next_wake(want.microphone);
        tokio::select! {
            changed = wanted.changed() => {
                if changed.is_err() {
                    microphone.stop();
                    return; // the handle is gone
                }
                // A choice made again (turned on while PipeWire was missing) is tried at once.
                microphone.retry.reset();
            },
            lost = held_changed(&mut microphone.running) => if lost {
                microphone.lost();
            },
            () = sleep_until_some(wake) => {}
        }
    }
}

/// Waits for the microphone's next held reading; `true` when the watcher is gone (PipeWire went away).
/// Never returns while the source is off.
async fn held_changed(microphone: &mut Option<Microphone>) -> bool {
    match microphone {
        Some(microphone) => microphone.held.changed().await.is_err(),
        None => std::future::pending().await,
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
