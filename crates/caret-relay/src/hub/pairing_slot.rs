//! The hub's pairing window: opening and closing it, the steps of an exchange run on it, and the device a
//! used window makes. The window lives in [`PairingSlot`], which only the methods here touch.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use caret_store::{Device, LogKind, NewLogEntry};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Hub, PairingMethod, RelayEvent, now_ms};
use crate::error::{ProtocolError, RelayError};
use crate::pairing::{NewDevice, PairingWindow};

/// The open pairing window, numbered: each window opened gets the next generation, so an exchange begun on
/// one window neither uses nor counts against a newer one.
pub(super) struct PairingSlot {
    window: Mutex<Option<(u64, PairingWindow)>>,
    next_generation: AtomicU64,
    /// Rung whenever the pairing window may have changed (used, a failed attempt, closed).
    changed: Notify,
}

impl PairingSlot {
    pub(super) fn new() -> PairingSlot {
        PairingSlot {
            window: Mutex::new(None),
            next_generation: AtomicU64::new(1),
            changed: Notify::new(),
        }
    }
}

impl Hub {
    /// Opens a new pairing window (replacing any older one).
    pub fn open_pairing(&self) -> Result<(String, String, Instant), RelayError> {
        let window = PairingWindow::open_for(self.config.pairing_window)?;
        let offer = (
            window.secret().to_owned(),
            window.short_code().to_owned(),
            window.expires_at(),
        );
        let generation = self.pairing.next_generation.fetch_add(1, Ordering::Relaxed);
        *self.pairing.window.lock() = Some((generation, window));
        Ok(offer)
    }

    pub fn close_pairing(&self) {
        *self.pairing.window.lock() = None;
        self.pairing.changed.notify_waiters();
    }

    /// Resolves once no pairing window is open (it was used, locked out by failures, or closed). An expired
    /// window counts as closed only when something looks at it: callers also wait for its end.
    pub async fn pairing_closed(&self) {
        loop {
            let changed = self.pairing.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a change meanwhile is not missed.
            changed.as_mut().enable();
            // Looked at directly: `with_pairing` rings the bell this loop waits on.
            let open = self
                .pairing
                .window
                .lock()
                .as_mut()
                .is_some_and(|(_, window)| window.ensure_open().is_ok());
            if !open {
                return;
            }
            changed.await;
        }
    }

    /// Runs `step` on the open pairing window, or refuses if there is none.
    pub fn with_pairing<T>(
        &self,
        step: impl FnOnce(&mut PairingWindow) -> Result<T, ProtocolError>,
    ) -> Result<T, ProtocolError> {
        self.with_pairing_generation(None, step).map(|(_, result)| result)
    }

    /// Runs `step` on the open pairing window if it is the `expected` one (any, for `None`), and says
    /// which it was; a window opened since counts as closed for this attempt.
    pub fn with_pairing_generation<T>(
        &self,
        expected: Option<u64>,
        step: impl FnOnce(&mut PairingWindow) -> Result<T, ProtocolError>,
    ) -> Result<(u64, T), ProtocolError> {
        let outcome = match self.pairing.window.lock().as_mut() {
            Some((generation, window)) if expected.is_none_or(|expected| expected == *generation) => {
                step(window).map(|result| (*generation, result))
            }
            _ => Err(ProtocolError::PairingClosed),
        };
        // The step may have used the window or counted a failure.
        self.pairing.changed.notify_waiters();
        outcome
    }

    /// After a pairing window was used: makes the device, records it, tells the app.
    pub fn complete_pairing(
        &self,
        name: Option<String>,
        method: PairingMethod,
        peer: SocketAddr,
    ) -> Result<NewDevice, RelayError> {
        let new_device = NewDevice::generate()?;
        let name = name.unwrap_or_else(|| "Phone".to_owned());
        let at = now_ms();
        self.store
            .add_device(&new_device.id, &name, &new_device.token_hash, at)?;
        let entry = NewLogEntry {
            at_ms: at,
            kind: Some(LogKind::Note),
            source: "relay".to_owned(),
            outcome: format!(
                "paired a new device \"{name}\" ({}) by {} from {}",
                new_device.id,
                method.label(),
                peer.ip()
            ),
            ..NewLogEntry::default()
        };
        if let Err(error) = self.store.append_log(&entry) {
            tracing::error!("relay: cannot write the sync log: {error}");
        }
        tracing::info!(device = %new_device.id, "relay: paired a new device by {}", method.label());
        let device = Device {
            id: new_device.id.clone(),
            name,
            paired_at_ms: at,
            last_seen_ms: None,
            last_seq: None,
            revoked_at_ms: None,
        };
        let _ = self.events.send(RelayEvent::DevicePaired {
            device,
            method,
            from_lan: !peer.ip().is_loopback(),
        });
        Ok(new_device)
    }
}
