//! Holding "in use" a few seconds after the use ends. A meeting application re-opens its recording stream
//! when the user switches headsets or the server re-negotiates the format; without a hold each re-opening
//! would end the call in Slack and start it again. A use that starts is passed on at once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::graph::CaptureReading;

/// How long a use is held after it ends, unless the caller chooses otherwise.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(5);

/// One device's use: in use now, or when it last ended.
#[derive(Debug, Clone, Copy, Default)]
struct Use {
    in_use: bool,
    ended_at: Option<Instant>,
}

impl Use {
    fn seen(&mut self, in_use: bool, now: Instant) {
        if self.in_use && !in_use {
            self.ended_at = Some(now);
        }
        if in_use {
            self.ended_at = None;
        }
        self.in_use = in_use;
    }

    fn held(&self, hold: Duration, now: Instant) -> bool {
        self.in_use || self.ended_at.is_some_and(|ended| now < ended + hold)
    }

    /// When the hold runs out, if one is running.
    fn hold_ends(&self, hold: Duration, now: Instant) -> Option<Instant> {
        self.ended_at.map(|ended| ended + hold).filter(|end| *end > now)
    }
}

/// The held reading of both devices.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    microphone: Use,
    camera: Use,
}

impl Held {
    fn seen(&mut self, reading: CaptureReading, now: Instant) {
        self.microphone.seen(reading.microphone, now);
        self.camera.seen(reading.camera, now);
    }

    fn reading(&self, hold: Duration, now: Instant) -> CaptureReading {
        CaptureReading {
            microphone: self.microphone.held(hold, now),
            camera: self.camera.held(hold, now),
        }
    }

    fn next_change(&self, hold: Duration, now: Instant) -> Option<Instant> {
        [
            self.microphone.hold_ends(hold, now),
            self.camera.hold_ends(hold, now),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Passes `raw` readings on to `held`, each use held `hold` after it ends. Returns when `raw`'s sender is
/// gone (the watcher stopped) or nobody listens to `held` any more.
pub async fn hold_uses(
    mut raw: watch::Receiver<CaptureReading>,
    hold: Duration,
    held: watch::Sender<CaptureReading>,
) {
    let mut state = Held::default();
    loop {
        let now = Instant::now();
        state.seen(*raw.borrow_and_update(), now);
        let reading = state.reading(hold, now);
        held.send_if_modified(|current| {
            let changed = *current != reading;
            *current = reading;
            changed
        });
        if held.is_closed() {
            return;
        }
        let next = state.next_change(hold, now);
        tokio::select! {
            changed = raw.changed() => if changed.is_err() {
                return;
            },
            () = sleep_until_some(next) => {}
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(in_use: bool) -> CaptureReading {
        CaptureReading {
            microphone: in_use,
            camera: false,
        }
    }

    /// Starts the hold between two channels; returns the raw sender and the held receiver.
    fn start(hold: Duration) -> (watch::Sender<CaptureReading>, watch::Receiver<CaptureReading>) {
        let (raw_tx, raw_rx) = watch::channel(CaptureReading::default());
        let (held_tx, held_rx) = watch::channel(CaptureReading::default());
        tokio::spawn(hold_uses(raw_rx, hold, held_tx));
        (raw_tx, held_rx)
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_use_starts_at_once_and_ends_only_after_the_hold() {
        let (raw, held) = start(DEFAULT_HOLD);
        raw.send(mic(true)).unwrap();
        settle().await;
        assert!(held.borrow().microphone, "at once");
        raw.send(mic(false)).unwrap();
        tokio::time::sleep(DEFAULT_HOLD - Duration::from_millis(100)).await;
        assert!(held.borrow().microphone, "still held");
        tokio::time::sleep(Duration::from_millis(200)).await;
        settle().await;
        assert!(!held.borrow().microphone, "ended after the hold");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_flapping_fifty_times_a_minute_is_one_use() {
        let (raw, mut held) = start(DEFAULT_HOLD);
        let mut changes = 0;
        let counter = tokio::spawn(async move {
            while held.changed().await.is_ok() {
                changes += 1;
            }
            changes
        });
        for _ in 0..50 {
            raw.send(mic(true)).unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
            raw.send(mic(false)).unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        tokio::time::sleep(DEFAULT_HOLD * 2).await;
        drop(raw);
        let changes = counter.await.unwrap();
        assert_eq!(
            changes, 2,
            "in use once, and not in use once, 5 s after the last stream"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_camera_and_the_microphone_are_held_each_on_its_own() {
        let (raw, held) = start(DEFAULT_HOLD);
        raw.send(CaptureReading {
            microphone: true,
            camera: true,
        })
        .unwrap();
        settle().await;
        raw.send(mic(true)).unwrap();
        tokio::time::sleep(DEFAULT_HOLD + Duration::from_millis(100)).await;
        settle().await;
        assert_eq!(
            *held.borrow(),
            mic(true),
            "the camera's hold ran out, the microphone is still in use"
        );
    }
}
