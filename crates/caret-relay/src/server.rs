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

use crate::advertise::Advertisement;
use crate::error::RelayError;
use crate::hub::{Hub, PhoneFeed, RelayConfig, RelayEvent};
use crate::identity::{Fingerprint, RelayIdentity};
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
    local_addr: SocketAddr,
    accept_loop: JoinHandle<()>,
    expiry: JoinHandle<()>,
    advertisement: Mutex<Option<Advertisement>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Binds and starts serving. Must be called inside a tokio runtime.
    pub async fn start(
        config: RelayConfig,
        identity: &RelayIdentity,
        store: Store,
    ) -> Result<Relay, RelayError> {
        let ip = if config.loopback_only {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let address = SocketAddr::new(ip, config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| RelayError::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RelayError::Listen { address, source })?;
        let acceptor = TlsAcceptor::from(identity.server_config()?);
        let hub = Arc::new(Hub::new(config, store, identity.fingerprint));
        let expiry = tokio::spawn(crate::hub::expire_http_reports(hub.clone()));
        let accept_loop = tokio::spawn(accept_loop(listener, acceptor, hub.clone()));
        tracing::info!(
            "relay listening on {local_addr} (certificate {})",
            identity.fingerprint
        );
        let advertisement = if hub.config.advertise && !hub.config.loopback_only {
            // Not fatal: phones can still pair by the QR code or a typed address.
            Advertisement::start(local_addr.port(), &identity.fingerprint)
                .inspect_err(|error| tracing::warn!("{error}"))
                .ok()
        } else {
            None
        };
        Ok(Relay {
            hub,
            local_addr,
            accept_loop,
            expiry,
            advertisement: Mutex::new(advertisement),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.hub.fingerprint
    }

    /// The DNS-SD instance name the relay is announced as, if it is.
    pub fn advertised_as(&self) -> Option<String> {
        self.advertisement
            .lock()
            .ok()
            .and_then(|advertisement| advertisement.as_ref().map(|a| a.fullname().to_owned()))
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

    /// Opens a pairing window (two minutes, single use) and returns what to show the user.
    pub fn start_pairing(&self) -> Result<PairingOffer, RelayError> {
        let (secret, short_code, expires_at) = self.hub.open_pairing()?;
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

    /// The addresses a phone can reach the relay at: the loopback address in loopback-only mode, otherwise
    /// the machine's non-loopback IPv4 addresses (the relay listens on IPv4 only: every phone on a home
    /// LAN has it, and one family keeps the QR code short).
    pub fn addresses(&self) -> Vec<IpAddr> {
        if self.hub.config.loopback_only || !self.local_addr.ip().is_unspecified() {
            return vec![self.local_addr.ip()];
        }
        lan_addresses()
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
        if let Ok(mut advertisement) = self.advertisement.lock() {
            // Dropping it sends the goodbye packets.
            advertisement.take();
        }
        self.hub.kick_everyone();
    }
}

/// The machine's IPv4 addresses a phone on the LAN may reach, best first: the one the default route leaves
/// from (the LAN on a typical machine), then the others. Loopback, link-local (169.254/16) and the bridges
/// of containers and VMs (docker0, br-…, veth…, virbr…) are left out: a phone cannot reach them, and the
/// QR code's link uses the first address.
fn lan_addresses() -> Vec<IpAddr> {
    let virtual_interface = |name: &str| {
        [
            "docker", "br-", "veth", "virbr", "lxcbr", "podman", "cni", "flannel",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
    };
    let mut found: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|interface| !virtual_interface(&interface.name))
        .map(|interface| interface.ip())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
            IpAddr::V6(_) => false,
        })
        .collect();
    found.sort();
    found.dedup();
    if let Some(preferred) = default_route_address()
        && let Some(at) = found.iter().position(|ip| *ip == preferred)
    {
        found[..=at].rotate_right(1);
    }
    if found.is_empty() {
        found.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    found
}

/// The local address the system would use to reach the wider network. A UDP "connect" only picks the
/// route; nothing is sent (192.0.2.1 is a documentation address).
fn default_route_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    socket.local_addr().ok().map(|address| address.ip())
}

/// The HTTP read buffer, and so the largest request head (request line and headers) the relay reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, hub: Arc<Hub>) {
    let slots = Arc::new(Semaphore::new(hub.config.max_connections));
    let router = routes::router(hub.clone());
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
        let (acceptor, router, patience) = (acceptor.clone(), router.clone(), hub.config.patience);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_addresses_put_the_default_route_first_and_leave_out_what_a_phone_cannot_reach() {
        let found = lan_addresses();
        assert!(!found.is_empty());
        for ip in &found {
            if let IpAddr::V4(v4) = ip {
                assert!(!v4.is_link_local(), "{ip}");
            }
        }
        if let Some(preferred) = default_route_address().filter(|ip| !ip.is_loopback())
            && found.contains(&preferred)
        {
            assert_eq!(
                found[0], preferred,
                "the default route's address leads: {found:?}"
            );
        }
    }
}
