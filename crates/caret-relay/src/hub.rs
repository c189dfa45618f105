//! What the relay's connections share: the device records, the pairing window, who is online, the phone
//! state the engine should see, and the status pushed back to phones.
//!
//! Everything here is quick and synchronous (a mutex held for a map lookup, a SQLite row); connections do
//! their waiting outside it.

mod pairing_slot;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caret_core::CaretState;
use caret_store::{Device, Store};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use tokio::time::Instant;
use ts_rs::TS;

use self::pairing_slot::PairingSlot;
use crate::error::{ProtocolError, RelayError};
use crate::identity::Fingerprint;
use crate::pairing::token_matches;
use crate::protocol::{DesktopMessage, ShownStatus};
use crate::session::RateLimiter;

/// How the relay listens and how patient it is.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The TCP port; 0 picks a free one (tests).
    pub port: u16,
    /// Listen on 127.0.0.1 only, whatever is asked later: nothing on the LAN can reach the relay (and nothing
    /// is advertised).
    pub loopback_only: bool,
    /// Open to the LAN from the start (listening on each LAN address as well as 127.0.0.1); the app opens and
    /// closes it later with `Relay::set_lan_open`. Ignored in loopback-only mode.
    pub on_lan: bool,
    /// Phones send a `ping` at least this often; three missed beats and the phone counts as offline.
    pub heartbeat: Duration,
    /// Open connections at most (TLS handshakes included); more are closed at once.
    pub max_connections: usize,
    /// How long a connection may take for its TLS handshake, its request headers or body, its `hello`,
    /// or a pairing step: slow or silent clients are cut off after this.
    pub patience: Duration,
    /// Consecutive refused messages after which a connection is closed.
    pub max_consecutive_errors: u32,
    /// How long a pairing window stays open (two minutes; tests shorten it).
    pub pairing_window: Duration,
    /// Announce the relay on the LAN with mDNS/DNS-SD (`_caret._tcp`) while a pairing window is open and the
    /// relay is open to the LAN. Never in loopback-only mode.
    pub advertise: bool,
    /// Each device's message budget: a burst, then one more every so often. Only benchmarks change it.
    pub device_rate: (u32, Duration),
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            port: DEFAULT_PORT,
            loopback_only: false,
            on_lan: true,
            heartbeat: Duration::from_secs(20),
            max_connections: 128,
            patience: Duration::from_secs(10),
            max_consecutive_errors: 16,
            pairing_window: crate::pairing::PAIRING_WINDOW,
            advertise: true,
            device_rate: crate::session::RateLimiter::DEVICE_RATE,
        }
    }
}

/// The relay's default port (unassigned by IANA).
pub const DEFAULT_PORT: u16 = 47_823;

/// What the engine should take as the phone's state: the newest state from any phone still online, or
/// `None` when every phone is gone (then the engine's rules take over: leases expire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneFeed {
    pub state: Option<CaretState>,
    /// The device that reported `state`.
    pub from_device: Option<String>,
    /// When `state` stops holding by itself: the end of an HTTPS post's `for_secs`. `None` for a state from a
    /// live connection (it holds while the connection lives).
    pub holds_until: Option<DateTime<Utc>>,
    /// Devices online now (a live connection, or an HTTP-posted state still holding), sorted.
    pub online: Vec<String>,
}

/// Things the app tells the user about (notifications) and tests wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum RelayEvent {
    DevicePaired {
        device: Device,
        method: PairingMethod,
        /// Paired from another machine (a phone on the LAN), not through 127.0.0.1 (a tunnel): only the
        /// former says the network the computer is on is one where phones are.
        from_lan: bool,
    },
    DeviceRevoked {
        device_id: String,
    },
    DeviceOnline {
        device_id: String,
    },
    DeviceOffline {
        device_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PairingMethod {
    QrCode,
    TypedCode,
}

impl PairingMethod {
    fn label(self) -> &'static str {
        match self {
            PairingMethod::QrCode => "QR code",
            PairingMethod::TypedCode => "typed code",
        }
    }
}

/// How a state reached the relay, which decides how long it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Holds while this connection lives.
    Connection(u64),
    /// Holds until then (and, on the wall clock, until `ends`), unless a newer post replaces it.
    Http { until: Instant, ends: DateTime<Utc> },
}

#[derive(Debug, Clone)]
struct Report {
    state: CaretState,
    at: Instant,
    via: Via,
}

struct LiveConnection {
    id: u64,
    kick: oneshot::Sender<ProtocolError>,
}

/// The relay's shared state.
pub(crate) struct Hub {
    pub config: RelayConfig,
    pub store: Store,
    pub fingerprint: Fingerprint,
    /// The open pairing window and its generation; see [`PairingSlot`].
    pairing: PairingSlot,
    /// Wakes the task that expires HTTP-posted states when a new one arrives.
    http_reports_changed: Notify,
    /// Set once, at shutdown: every WebSocket task watches it, so each can tell its phone `shutting_down`
    /// whatever step it is at (waiting for `hello`, mid-pairing, or connected).
    stopping: watch::Sender<bool>,
    /// How many phone and pairing WebSocket tasks are running (see [`SessionGuard`]), so shutdown can wait
    /// until each has said goodbye before the runtime ends.
    sessions: watch::Sender<usize>,
    connections: Mutex<HashMap<String, LiveConnection>>,
    reports: Mutex<HashMap<String, Report>>,
    limiters: Mutex<HashMap<String, RateLimiter>>,
    feed: watch::Sender<PhoneFeed>,
    status: watch::Sender<DesktopMessage>,
    events: broadcast::Sender<RelayEvent>,
    next_connection: AtomicU64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One running phone or pairing WebSocket task; see [`Hub::track_session`].
pub(crate) struct SessionGuard(Arc<Hub>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0
            .sessions
            .send_modify(|running| *running = running.saturating_sub(1));
    }
}

/// A device that passed `hello`.
pub(crate) struct Authenticated {
    pub connection: u64,
    pub kicked: oneshot::Receiver<ProtocolError>,
}

impl Hub {
    pub fn new(config: RelayConfig, store: Store, fingerprint: Fingerprint) -> Hub {
        Hub {
            config,
            store,
            fingerprint,
            pairing: PairingSlot::new(),
            http_reports_changed: Notify::new(),
            stopping: watch::Sender::new(false),
            sessions: watch::Sender::new(0),
            connections: Mutex::new(HashMap::new()),
            reports: Mutex::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
            feed: watch::Sender::new(PhoneFeed::default()),
            status: watch::Sender::new(DesktopMessage::Status {
                effective: None,
                shown: Vec::new(),
            }),
            events: broadcast::Sender::new(256),
            next_connection: AtomicU64::new(1),
        }
    }

    pub fn heartbeat_secs(&self) -> u32 {
        u32::try_from(self.config.heartbeat.as_secs())
            .unwrap_or(u32::MAX)
            .max(1)
    }

    pub fn feed(&self) -> watch::Receiver<PhoneFeed> {
        self.feed.subscribe()
    }

    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    pub fn status(&self) -> watch::Receiver<DesktopMessage> {
        self.status.subscribe()
    }

    /// Pushes the status to connected phones, if it changed.
    pub fn publish_status(&self, effective: Option<CaretState>, shown: Vec<ShownStatus>) {
        let status = DesktopMessage::Status { effective, shown };
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the relay is stopping (at once if it already is).
    pub async fn until_stopping(&self) {
        let mut stopping = self.stopping.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// Counts a WebSocket task as running until the guard is dropped. Taken before the upgrade, so a task
    /// about to start is already counted when shutdown looks.
    pub fn track_session(self: &Arc<Self>) -> SessionGuard {
        self.sessions.send_modify(|running| *running += 1);
        SessionGuard(self.clone())
    }

    /// Waits until no WebSocket task is left, or `deadline` passes; returns how many are still running.
    pub async fn sessions_ended(&self, deadline: Duration) -> usize {
        let mut sessions = self.sessions.subscribe();
        let _ = tokio::time::timeout(deadline, sessions.wait_for(|running| *running == 0)).await;
        *sessions.borrow()
    }

    // ----- devices -----

    /// The device a presented id and token belong to, if it is paired and not revoked.
    pub fn authenticate(&self, device_id: &str, token: &str) -> Result<Device, ProtocolError> {
        match self.store.active_device(device_id) {
            Ok(Some((device, hash))) if token_matches(token, &hash) => Ok(device),
            Ok(_) => Err(ProtocolError::Unauthorized),
            // The desktop's trouble, not the phone's: `unauthorized` would make a phone forget its pairing.
            Err(error) => {
                tracing::error!("relay: cannot read the devices: {error}");
                Err(ProtocolError::Internal)
            }
        }
    }

    /// The device a bearer token belongs to (the HTTPS endpoint has no device id).
    pub fn authenticate_bearer(&self, token: &str) -> Result<Device, ProtocolError> {
        let devices = self.store.devices().map_err(|error| {
            tracing::error!("relay: cannot read the devices: {error}");
            ProtocolError::Internal
        })?;
        // Every active device is checked (constant time each), so the answer takes as long for any token.
        let mut found = None;
        for device in devices
            .into_iter()
            .filter(|device| device.revoked_at_ms.is_none())
        {
            if let Ok(Some((device, hash))) = self.store.active_device(&device.id)
                && token_matches(token, &hash)
            {
                found = Some(device);
            }
        }
        found.ok_or(ProtocolError::Unauthorized)
    }

    /// Whether a device is still paired (not revoked); a database failure is the desktop's error.
    pub fn check_active(&self, device_id: &str) -> Result<(), ProtocolError> {
        match self.store.active_device(device_id) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ProtocolError::Unauthorized),
            Err(error) => {
                tracing::error!("relay: cannot read the devices: {error}");
                Err(ProtocolError::Internal)
            }
        }
    }

    /// Whether `connection` is still the device's live one (not replaced by a newer connection).
    pub fn is_current(&self, device_id: &str, connection: u64) -> bool {
        self.connections
            .lock()
            .get(device_id)
            .is_some_and(|live| live.id == connection)
    }

    /// Registers a live connection for a device, closing an older one of the same device.
    pub fn connect(&self, device: &Device) -> Authenticated {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let (kick, kicked) = oneshot::channel();
        let older = self
            .connections
            .lock()
            .insert(device.id.clone(), LiveConnection { id, kick });
        match older {
            Some(older) => {
                let _ = older.kick.send(ProtocolError::Replaced);
            }
            None => {
                let _ = self.events.send(RelayEvent::DeviceOnline {
                    device_id: device.id.clone(),
                });
            }
        }
        self.touch(&device.id, None);
        self.republish();
        Authenticated {
            connection: id,
            kicked,
        }
    }

    /// A connection ended: its state stops holding.
    pub fn disconnect(&self, device_id: &str, connection: u64) {
        let removed = {
            let mut connections = self.connections.lock();
            match connections.get(device_id) {
                Some(live) if live.id == connection => connections.remove(device_id).is_some(),
                _ => false,
            }
        };
        let still_reporting = {
            let mut reports = self.reports.lock();
            if reports.get(device_id).map(|report| report.via) == Some(Via::Connection(connection)) {
                reports.remove(device_id);
            }
            reports.contains_key(device_id)
        };
        // A device whose HTTP-posted state still holds stays online.
        if removed && !still_reporting {
            let _ = self.events.send(RelayEvent::DeviceOffline {
                device_id: device_id.to_owned(),
            });
        }
        self.republish();
    }

    /// Revokes a device: its token is refused from now on and its open connection is closed at once.
    pub fn revoke(&self, device_id: &str) -> Result<bool, RelayError> {
        let revoked = self.store.revoke_device(device_id, now_ms())?;
        if let Some(live) = self.connections.lock().remove(device_id) {
            let _ = live.kick.send(ProtocolError::Unauthorized);
        }
        self.reports.lock().remove(device_id);
        self.limiters.lock().remove(device_id);
        if revoked {
            let _ = self.events.send(RelayEvent::DeviceRevoked {
                device_id: device_id.to_owned(),
            });
        }
        self.republish();
        Ok(revoked)
    }

    /// Closes every connection (the relay is stopping): connected phones are kicked, and every WebSocket
    /// task (saying hello, pairing) sees `stopping`.
    pub fn kick_everyone(&self) {
        self.stopping.send_replace(true);
        for (_, live) in self.connections.lock().drain() {
            let _ = live.kick.send(ProtocolError::ShuttingDown);
        }
    }

    pub fn touch(&self, device_id: &str, last_seq: Option<u64>) {
        if let Err(error) = self.store.touch_device(device_id, now_ms(), last_seq) {
            tracing::warn!("relay: cannot record that {device_id} was seen: {error}");
        }
    }

    /// One message from a device, counted against its budget (shared by its connection and HTTP posts).
    pub fn check_rate(&self, device_id: &str) -> Result<(), ProtocolError> {
        self.limiters
            .lock()
            .entry(device_id.to_owned())
            .or_insert_with(|| RateLimiter::new(self.config.device_rate.0, self.config.device_rate.1))
            .check()
    }

    // ----- states -----

    /// A state accepted on a live connection.
    pub fn report_from_connection(&self, device_id: &str, connection: u64, state: CaretState) {
        self.report(device_id, state, Via::Connection(connection));
    }

    /// A state posted over HTTPS, holding for `for_secs` unless replaced.
    pub fn report_from_http(&self, device_id: &str, state: CaretState, hold: Duration) {
        let until = Instant::now() + hold;
        let ends = Utc::now() + chrono::Duration::from_std(hold).unwrap_or_default();
        // One lock at a time, here as everywhere in the hub.
        let connected = self.connections.lock().contains_key(device_id);
        let was_online = connected || self.reports.lock().contains_key(device_id);
        self.report(device_id, state, Via::Http { until, ends });
        if !was_online {
            let _ = self.events.send(RelayEvent::DeviceOnline {
                device_id: device_id.to_owned(),
            });
        }
        self.http_reports_changed.notify_one();
    }

    /// The earliest moment an HTTP-posted state stops holding.
    fn next_http_expiry(&self) -> Option<Instant> {
        self.reports
            .lock()
            .values()
            .filter_map(|report| match report.via {
                Via::Http { until, .. } => Some(until),
                Via::Connection(_) => None,
            })
            .min()
    }

    /// Drops the HTTP-posted states whose time is up.
    fn expire_http_reports_now(&self) {
        let now = Instant::now();
        let expired: Vec<String> = {
            let mut reports = self.reports.lock();
            let due: Vec<String> = reports
                .iter()
                .filter(|(_, report)| matches!(report.via, Via::Http { until, .. } if until <= now))
                .map(|(id, _)| id.clone())
                .collect();
            for id in &due {
                reports.remove(id);
            }
            due
        };
        if expired.is_empty() {
            return;
        }
        let still_connected: Vec<bool> = {
            let connections = self.connections.lock();
            expired.iter().map(|id| connections.contains_key(id)).collect()
        };
        for (device_id, connected) in expired.into_iter().zip(still_connected) {
            if !connected {
                let _ = self.events.send(RelayEvent::DeviceOffline { device_id });
            }
        }
        self.republish();
    }

    fn report(&self, device_id: &str, state: CaretState, via: Via) {
        self.reports.lock().insert(
            device_id.to_owned(),
            Report {
                state,
                at: Instant::now(),
                via,
            },
        );
        self.republish();
    }

    /// Recomputes what the engine sees; observers wake only if it changed.
    fn republish(&self) {
        let now = Instant::now();
        let connected: Vec<String> = self.connections.lock().keys().cloned().collect();
        let reports = self.reports.lock().clone();
        let live = |report: &Report| match report.via {
            Via::Connection(_) => true,
            Via::Http { until, .. } => until > now,
        };
        let newest = reports
            .iter()
            .filter(|(_, report)| live(report))
            .max_by_key(|(_, report)| report.at);
        let mut online: Vec<String> = connected;
        online.extend(
            reports
                .iter()
                .filter(|(_, report)| live(report))
                .map(|(id, _)| id.clone()),
        );
        online.sort();
        online.dedup();
        let feed = PhoneFeed {
            state: newest.map(|(_, report)| report.state.clone()),
            from_device: newest.map(|(id, _)| id.clone()),
            holds_until: newest.and_then(|(_, report)| match report.via {
                Via::Http { ends, .. } => Some(ends),
                Via::Connection(_) => None,
            }),
            online,
        };
        self.feed.send_if_modified(|current| {
            let changed = *current != feed;
            *current = feed;
            changed
        });
    }
}

/// Expires HTTP-posted states when their time is up: one task for the relay (not one per post, which a
/// device posting at its rate limit could pile up), sleeping until the earliest expiry. Stopped with the
/// relay ([`crate::Relay::shutdown`]).
pub(crate) async fn expire_http_reports(hub: Arc<Hub>) {
    loop {
        let changed = hub.http_reports_changed.notified();
        tokio::pin!(changed);
        // Registered before looking, so a post arriving meanwhile is not missed.
        changed.as_mut().enable();
        match hub.next_http_expiry() {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut changed => {}
                }
            }
            None => changed.await,
        }
        hub.expire_http_reports_now();
    }
}
