//! The listener: TCP, TLS (rustls), HTTP/1.1 (hyper) and the routes (axum).
//!
//! Each connection runs in its own task with a deadline on every step (TLS handshake, request headers, body,
//! `hello`), and the number of open connections is capped, so slow or piled-up clients cannot starve the
//! phones that behave.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use caret_core::CaretState;
use caret_store::{Device, Store};
use chrono::{DateTime, Utc};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::error::RelayError;
use crate::hub::{Hub, PhoneFeed, RelayConfig, RelayEvent};
use crate::identity::{Fingerprint, RelayIdentity};
use crate::lan::Lan;
use crate::protocol::ShownStatus;
use crate::routes;

/// The remote address of a connection, for the routes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// The slot a connection holds among `max_connections`. A WebSocket takes it over from the HTTP connection
/// that upgraded, so the cap counts live phones too.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(pub Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl ConnectionSlot {
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A pairing window as the desktop shows it: the QR code's contents and the short code.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingOffer {
    /// What the QR code encodes: the phone page's address, with the secret and the fingerprint in the
    /// fragment (a browser never sends the fragment over the network).
    pub qr_url: String,
    pub short_code: String,
    pub fingerprint: Fingerprint,
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for PairingOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingOffer")
            .field("addresses", &self.addresses)
            .field("port", &self.port)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How long [`Relay::shutdown_gracefully`] should wait for phones to be told: a phone on a working LAN
/// reads its goodbye in milliseconds, and quitting should not hang on one that does not.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// The running relay. Dropping it does not stop it; call [`Relay::shutdown_gracefully`].
pub struct Relay {
    hub: Arc<Hub>,
    /// The loopback listener's address (its port is the LAN listeners' too).
    local_addr: SocketAddr,
    accept_loop: JoinHandle<()>,
    expiry: JoinHandle<()>,
    /// The LAN listeners and the announcement, opened and closed as the app decides.
    lan: Lan,
}

/// What every listener's accept loop shares: the TLS acceptor, the routes, and the connection slots (one cap
/// over every listener).
#[derive(Clone)]
pub(crate) struct Serving {
    acceptor: TlsAcceptor,
    router: axum::Router,
    slots: Arc<Semaphore>,
    patience: Duration,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Binds 127.0.0.1 (and the LAN addresses, with `config.on_lan`) and starts serving. Must be called inside
    /// a tokio runtime.
    pub async fn start(
        config: RelayConfig,
        identity: &RelayIdentity,
        store: Store,
    ) -> Result<Relay, RelayError> {
        let address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| RelayError::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RelayError::Listen { address, source })?;
        let hub = Arc::new(Hub::new(config, store, identity.fingerprint));
        let serving = Serving {
            acceptor: TlsAcceptor::from(identity.server_config()?),
            router: routes::router(hub.clone()),
            slots: Arc::new(Semaphore::new(hub.config.max_connections)),
            patience: hub.config.patience,
        };
        let expiry = tokio::spawn(crate::hub::expire_http_reports(hub.clone()));
        let accept_loop = tokio::spawn(accept_loop(listener, serving.clone()));
        tracing::info!(
            "relay listening on {local_addr} (certificate {})",
            identity.fingerprint
        );
        let lan = Lan::new(hub.clone(), local_addr.port(), identity.fingerprint, serving);
        if hub.config.on_lan && !hub.config.loopback_only {
            // An address that cannot be bound is logged; the others serve.
            lan.set_open(true);
        }
        Ok(Relay {
            hub,
            local_addr,
            accept_loop,
            expiry,
            lan,
        })
    }

    /// Opens the relay to the LAN (it listens on each LAN address as well as on 127.0.0.1) or closes it
    /// (127.0.0.1 only, nothing announced). Opening again picks up the addresses that came or went since.
    /// Returns the LAN addresses it could not listen on, with why. Never opens in loopback-only mode.
    pub fn set_lan_open(&self, open: bool) -> Vec<(SocketAddr, std::io::Error)> {
        self.lan.set_open(open)
    }

    /// Whether the relay is open to the LAN now.
    pub fn lan_open(&self) -> bool {
        self.lan.is_open()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.hub.fingerprint
    }

    /// The DNS-SD instance name the relay is announced as, if it is (only while a pairing window is open and
    /// the relay is open to the LAN).
    pub fn advertised_as(&self) -> Option<String> {
        self.lan.announced_as()
    }

    /// The phone state for the engine, updated as phones report, connect and go away.
    pub fn phone_feed(&self) -> watch::Receiver<PhoneFeed> {
        self.hub.feed()
    }

    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.hub.events()
    }

    /// What the desktop makes of it now; pushed to every connected phone.
    pub fn publish_status(&self, effective: Option<CaretState>, shown: Vec<ShownStatus>) {
        self.hub.publish_status(effective, shown);
    }

    /// A handle that publishes the status from another task (the relay itself stays with its owner).
    pub fn status_publisher(&self) -> impl Fn(Option<CaretState>, Vec<ShownStatus>) + Send + Sync + 'static {
        let hub = self.hub.clone();
        move |effective, shown| hub.publish_status(effective, shown)
    }

    /// Opens a pairing window (two minutes, single use) and returns what to show the user. While it is open,
    /// and if the relay is open to the LAN, the relay is announced there (mDNS).
    pub fn start_pairing(&self) -> Result<PairingOffer, RelayError> {
        let (secret, short_code, expires_at) = self.hub.open_pairing()?;
        self.lan.announce_for_pairing(expires_at);
        let remaining = expires_at.saturating_duration_since(tokio::time::Instant::now());
        let addresses = self.addresses();
        let port = self.local_addr.port();
        let fingerprint = self.hub.fingerprint;
        let hosts: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        let first = hosts.first().cloned().unwrap_or_else(|| "127.0.0.1".to_owned());
        let qr_url = format!(
            "https://{first}:{port}/#pair={secret}&fp={}&hosts={}",
            fingerprint.hex(),
            hosts.join(",")
        );
        Ok(PairingOffer {
            qr_url,
            short_code,
            fingerprint,
            addresses,
            port,
            expires_at: Utc::now() + chrono::Duration::from_std(remaining).unwrap_or_default(),
        })
    }

    pub fn cancel_pairing(&self) {
        self.hub.close_pairing();
        self.lan.pairing_ended();
    }

    /// Whether the pairing window is still open (not used, locked out, expired or cancelled).
    pub fn pairing_open(&self) -> bool {
        self.hub.with_pairing(|window| window.ensure_open()).is_ok()
    }

    /// Revokes a device; its open connection is closed at once. Returns whether it was active.
    pub fn revoke(&self, device_id: &str) -> Result<bool, RelayError> {
        self.hub.revoke(device_id)
    }

    pub fn devices(&self) -> Result<Vec<Device>, RelayError> {
        Ok(self.hub.store.devices()?)
    }

    /// The addresses a phone can reach the relay at: the LAN addresses it listens on while open to the LAN
    /// (IPv4 only: every phone on a home LAN has it, and one family keeps the QR code short), otherwise (or
    /// with no LAN address) the loopback address.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let lan = self.lan.listening_on();
        if lan.is_empty() {
            vec![self.local_addr.ip()]
        } else {
            lan
        }
    }

    /// Stops the relay and waits, at most `deadline`, until every phone and pairing WebSocket has been told:
    /// each gets the `shutting_down` error, then a close frame 1001. Returns how many were still going when
    /// the deadline passed (a phone that stopped reading can hold its task up to its send deadline).
    ///
    /// Call this, not [`Relay::shutdown`] alone, before the runtime ends: a runtime that ends first cancels
    /// the connection tasks before they write, and the phones see a bare TCP end.
    pub async fn shutdown_gracefully(&self, deadline: Duration) -> usize {
        self.shutdown();
        let left = self.hub.sessions_ended(deadline).await;
        if left > 0 {
            tracing::warn!("relay: {left} phone connection(s) not closed within {deadline:?}; dropped");
        }
        left
    }

    /// Stops listening and starts closing every connection, without waiting (see
    /// [`Relay::shutdown_gracefully`]): connected phones get `shutting_down` only if the runtime lives on
    /// long enough for their tasks to write it.
    pub fn shutdown(&self) {
        self.accept_loop.abort();
        self.expiry.abort();
        self.lan.stop();
        self.hub.kick_everyone();
    }
}

/// The HTTP read buffer, and so the largest request head (request line and headers) the relay reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// Accepts connections on one listener until aborted (which also ends its connections' HTTP parts; upgraded
/// WebSockets live in their own tasks).
pub(crate) async fn accept_loop(listener: TcpListener, serving: Serving) {
    let Serving {
        acceptor,
        router,
        slots,
        patience,
    } = serving;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("relay: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("relay: too many connections; closed one from {peer}");
            drop(tcp);
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        connections.spawn(async move {
            let slot = ConnectionSlot(Arc::new(Mutex::new(Some(permit))));
            let _ = tcp.set_nodelay(true);
            let tls = match tokio::time::timeout(patience, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!("relay: TLS handshake with {peer} failed: {error}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("relay: TLS handshake with {peer} timed out");
                    return;
                }
            };
            let service =
                TowerToHyperService::new(router.layer(Extension(Peer(peer))).layer(Extension(slot.clone())));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(patience)
                // A phone's request head is a few hundred bytes; hyper's default buffer (about 400 KiB) would
                // let each of the 128 connections make the relay hold that much. 8 KiB is hyper's smallest;
                // a larger head is answered 431.
                .max_buf_size(MAX_REQUEST_HEAD)
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades();
            // The HTTP part of a connection is short: a phone upgrades to a WebSocket at once (the future
            // ends there and the WebSocket lives on in its own task), an automation tool posts a state.
            // A client that lingers (keep-alive, a body trickling in) is cut off after a few deadlines.
            match tokio::time::timeout(patience * 3, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!("relay: connection from {peer} ended: {error}"),
                Err(_) => tracing::debug!("relay: connection from {peer} lingered; closed"),
            }
            drop(slot);
        });
    }
}
