//! Whether the relay can be reached from the LAN, and the mDNS announcement that goes with pairing.
//!
//! The relay always listens on 127.0.0.1. On the LAN it listens on each of the machine's LAN addresses
//! ([`lan_addresses`]) while it is *open* ([`Lan::set_open`]), and on none while it is closed: the app opens
//! it on networks where the user paired a phone, or while a pairing window is open (docs/relay-threat-model.md,
//! "Which networks hear the relay"). Listening address by address, rather than on 0.0.0.0, lets the loopback
//! listener stay put while the LAN ones come and go, so the port is never left free for another program.
//!
//! The mDNS announcement is made only while a pairing window is open and the relay is open to the LAN: a phone
//! needs discovery to pair by typed code; a paired phone knows the desktop's addresses. Nothing is announced
//! otherwise, so the relay does not advertise a stable identity wherever the laptop goes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::advertise::Advertisement;
use crate::identity::Fingerprint;
use crate::server::Serving;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The relay's presence on the LAN: its listeners there and its announcement.
pub(crate) struct Lan {
    port: u16,
    /// Loopback only, whatever is asked (`RelayConfig::loopback_only`).
    forbidden: bool,
    advertise: bool,
    fingerprint: Fingerprint,
    serving: Serving,
    state: Mutex<LanState>,
    /// Shared with the task that withdraws it when the pairing window ends.
    announcement: Arc<Mutex<Option<Advertisement>>>,
}

#[derive(Default)]
struct LanState {
    open: bool,
    listeners: BTreeMap<IpAddr, JoinHandle<()>>,
    /// Withdraws the announcement when the pairing window it was made for ends.
    withdraw_at_end: Option<JoinHandle<()>>,
}

impl Lan {
    pub fn new(
        port: u16,
        forbidden: bool,
        advertise: bool,
        fingerprint: Fingerprint,
        serving: Serving,
    ) -> Lan {
        Lan {
            port,
            forbidden,
            advertise,
            fingerprint,
            serving,
            state: Mutex::new(LanState::default()),
            announcement: Arc::default(),
        }
    }

    /// Opens the relay to the LAN (listening on every LAN address; the ones it cannot bind are returned with
    /// why) or closes it (no LAN listener, no announcement). Opening again picks up addresses that came or
    /// went since. Phones already connected keep their connection until it ends.
    pub fn set_open(&self, open: bool) -> Vec<(SocketAddr, std::io::Error)> {
        let open = open && !self.forbidden;
        let mut state = lock(&self.state);
        state.open = open;
        let wanted: Vec<IpAddr> = if open { lan_addresses() } else { Vec::new() };
        state.listeners.retain(|ip, task| {
            let keep = wanted.contains(ip);
            if !keep {
                task.abort();
                tracing::info!("relay: no longer listening on {ip}");
            }
            keep
        });
        let mut failed = Vec::new();
        for ip in wanted {
            if state.listeners.contains_key(&ip) {
                continue;
            }
            let address = SocketAddr::new(ip, self.port);
            match bind(address) {
                Ok(listener) => {
                    tracing::info!("relay: listening on {address}");
                    let serving = self.serving.clone();
                    state
                        .listeners
                        .insert(ip, tokio::spawn(crate::server::accept_loop(listener, serving)));
                }
                Err(error) => {
                    tracing::warn!("relay: cannot listen on {address}: {error}");
                    failed.push((address, error));
                }
            }
        }
        if !open {
            if let Some(task) = state.withdraw_at_end.take() {
                task.abort();
            }
            lock(&self.announcement).take();
        }
        failed
    }

    pub fn is_open(&self) -> bool {
        lock(&self.state).open
    }

    /// The LAN addresses the relay listens on now, the default route's first.
    pub fn listening_on(&self) -> Vec<IpAddr> {
        let state = lock(&self.state);
        let mut addresses: Vec<IpAddr> = lan_addresses()
            .into_iter()
            .filter(|ip| state.listeners.contains_key(ip))
            .collect();
        // Listeners on an address that just went away still count until the next `set_open`.
        for ip in state.listeners.keys() {
            if !addresses.contains(ip) {
                addresses.push(*ip);
            }
        }
        addresses
    }

    /// A pairing window opened until `ends` (or until `window_closed` resolves): announce the relay on the LAN
    /// for that long, if it is open to the LAN.
    pub fn announce_for_pairing(
        &self,
        ends: tokio::time::Instant,
        window_closed: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let mut state = lock(&self.state);
        if let Some(task) = state.withdraw_at_end.take() {
            task.abort();
        }
        if !self.advertise || !state.open {
            return;
        }
        let mut announcement = lock(&self.announcement);
        if announcement.is_none() {
            // Not fatal: phones can still pair by the QR code or a typed address.
            *announcement = Advertisement::start(self.port, &self.fingerprint)
                .inspect_err(|error| tracing::warn!("{error}"))
                .ok();
        }
        let shared = self.announcement.clone();
        state.withdraw_at_end = Some(tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(ends) => {}
                () = window_closed => {}
            }
            // Dropping it sends the goodbye packets.
            lock(&shared).take();
        }));
    }

    /// The pairing window ended early (used, cancelled): withdraw the announcement.
    pub fn pairing_ended(&self) {
        if let Some(task) = lock(&self.state).withdraw_at_end.take() {
            task.abort();
        }
        lock(&self.announcement).take();
    }

    pub fn announced_as(&self) -> Option<String> {
        lock(&self.announcement)
            .as_ref()
            .map(|announcement| announcement.fullname().to_owned())
    }

    /// Stops every LAN listener and withdraws the announcement (the relay is stopping).
    pub fn stop(&self) {
        self.set_open(false);
    }
}

/// Binds a listening socket now (synchronously: the relay's callers are not always async).
fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// The machine's IPv4 addresses a phone on the LAN may reach, best first: the one the default route leaves
/// from (the LAN on a typical machine), then the others. Loopback, link-local (169.254/16) and the bridges
/// of containers and VMs (docker0, br-…, veth…, virbr…) are left out: a phone cannot reach them, and the
/// QR code's link uses the first address.
pub(crate) fn lan_addresses() -> Vec<IpAddr> {
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
    found
}

/// The local address the system would use to reach the wider network. A UDP "connect" only picks the
/// route; nothing is sent (192.0.2.1 is a documentation address).
fn default_route_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    socket.local_addr().ok().map(|address| address.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_addresses_put_the_default_route_first_and_leave_out_what_a_phone_cannot_reach() {
        let found = lan_addresses();
        for ip in &found {
            if let IpAddr::V4(v4) = ip {
                assert!(!v4.is_link_local() && !v4.is_loopback(), "{ip}");
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
