//! Whether the relay can be reached from the LAN, and the mDNS announcement that goes with pairing.
//!
//! The relay always listens on 127.0.0.1. On the LAN it listens on each of the machine's LAN addresses
//! ([`lan_addresses`]) while it is *open* ([`Lan::set_open`]), and on none while it is closed: the app opens
//! it on networks where the user paired a phone, or while a pairing window is open (docs/relay-threat-model.md,
//! "Which networks hear the relay"). Listening address by address, rather than on 0.0.0.0, lets the loopback
//! listener stay put while the LAN ones come and go, so 127.0.0.1's port is never left free for another
//! program. A LAN address's port is free while the relay is closed; one another program took meanwhile is
//! reported by [`Lan::set_open`] (the app says so), and phones pinning the certificate refuse that program.
//!
//! The mDNS announcement is made only while a pairing window is open and the relay is open to the LAN: a phone
//! needs discovery to pair by typed code; a paired phone knows the desktop's addresses. Nothing is announced
//! otherwise, so the relay does not advertise a stable identity wherever the laptop goes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::Mutex;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::advertise::Advertisement;
use crate::hub::Hub;
use crate::identity::Fingerprint;
use crate::server::Serving;

/// The relay's presence on the LAN: its listeners there and its announcement.
pub(crate) struct Lan {
    /// The runtime the relay was started on: opening to the LAN binds and spawns, and the app may ask from a
    /// thread that is not the runtime's (the tray's main thread, when the user chooses "Pair phone…").
    runtime: tokio::runtime::Handle,
    hub: Arc<Hub>,
    port: u16,
    /// Loopback only, whatever is asked (`RelayConfig::loopback_only`).
    forbidden: bool,
    advertise: bool,
    fingerprint: Fingerprint,
    serving: Serving,
    /// Shared with the task that withdraws the announcement when its pairing window ends. The lock is held
    /// for binds and bookkeeping only, never across an `.await`.
    state: Arc<Mutex<LanState>>,
}

#[derive(Default)]
struct LanState {
    open: bool,
    listeners: BTreeMap<IpAddr, JoinHandle<()>>,
    announcement: Option<Advertisement>,
    /// The end of the pairing window being announced for, while it lasts: reopening to the LAN during it
    /// announces again.
    window_ends: Option<Instant>,
    /// Withdraws the announcement when the pairing window ends.
    withdraw_at_end: Option<JoinHandle<()>>,
    /// Counts pairing windows: the withdrawal meant for an older one leaves a newer one's announcement alone.
    window: u64,
}

impl LanState {
    fn withdraw(&mut self) {
        if let Some(task) = self.withdraw_at_end.take() {
            task.abort();
        }
        // Dropping it sends the goodbye packets.
        self.announcement = None;
    }
}

impl Lan {
    pub fn new(hub: Arc<Hub>, port: u16, fingerprint: Fingerprint, serving: Serving) -> Lan {
        Lan {
            runtime: tokio::runtime::Handle::current(),
            forbidden: hub.config.loopback_only,
            advertise: hub.config.advertise,
            hub,
            port,
            fingerprint,
            serving,
            state: Arc::default(),
        }
    }

    /// Opens the relay to the LAN (listening on every LAN address; the ones it cannot bind are returned with
    /// why) or closes it (no LAN listener, no announcement). Opening again picks up addresses that came or
    /// went since, and announces again if a pairing window is open. Phones already connected keep their
    /// connection until it ends. Callable from any thread.
    pub fn set_open(&self, open: bool) -> Vec<(SocketAddr, std::io::Error)> {
        let open = open && !self.forbidden;
        let mut state = self.state.lock();
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
            match self.bind(address) {
                Ok(listener) => {
                    tracing::info!("relay: listening on {address}");
                    let serving = self.serving.clone();
                    let task = self.runtime.spawn(crate::server::accept_loop(listener, serving));
                    state.listeners.insert(ip, task);
                }
                Err(error) => {
                    tracing::warn!("relay: cannot listen on {address}: {error}");
                    failed.push((address, error));
                }
            }
        }
        if !open {
            state.withdraw();
        } else if state.announcement.is_none() && state.window_ends.is_some_and(|ends| ends > Instant::now())
        {
            self.announce(&mut state);
        }
        failed
    }

    /// Binds a listening socket now, on the relay's runtime.
    fn bind(&self, address: SocketAddr) -> std::io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let _runtime = self.runtime.enter();
        TcpListener::from_std(listener)
    }

    pub fn is_open(&self) -> bool {
        self.state.lock().open
    }

    /// The LAN addresses the relay listens on now, the default route's first.
    pub fn listening_on(&self) -> Vec<IpAddr> {
        let state = self.state.lock();
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

    /// A pairing window opened until `ends`: announce the relay on the LAN for as long as it is open (until
    /// it ends, or is used, locked out or cancelled), whenever the relay is open to the LAN meanwhile.
    pub fn announce_for_pairing(&self, ends: Instant) {
        let mut state = self.state.lock();
        state.withdraw();
        state.window += 1;
        state.window_ends = Some(ends);
        if state.open {
            self.announce(&mut state);
        }
        let window = state.window;
        let (hub, shared) = (self.hub.clone(), self.state.clone());
        state.withdraw_at_end = Some(self.runtime.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(ends) => {}
                () = hub.pairing_closed() => {}
            }
            let mut state = shared.lock();
            // A newer window has its own announcement and its own task.
            if state.window == window {
                state.window_ends = None;
                state.announcement = None;
            }
        }));
    }

    /// Announces the relay (the lock held): not fatal if it cannot, since phones can still pair by the QR code
    /// or a typed address.
    fn announce(&self, state: &mut LanState) {
        if !self.advertise || state.announcement.is_some() {
            return;
        }
        state.announcement = Advertisement::start(self.port, &self.fingerprint)
            .inspect_err(|error| tracing::warn!("{error}"))
            .ok();
    }

    /// The pairing window ended early (cancelled): withdraw the announcement.
    pub fn pairing_ended(&self) {
        let mut state = self.state.lock();
        state.window += 1;
        state.window_ends = None;
        state.withdraw();
    }

    pub fn announced_as(&self) -> Option<String> {
        self.state
            .lock()
            .announcement
            .as_ref()
            .map(|announcement| announcement.fullname().to_owned())
    }

    /// Stops every LAN listener and withdraws the announcement (the relay is stopping).
    pub fn stop(&self) {
        self.pairing_ended();
        self.set_open(false);
    }
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
