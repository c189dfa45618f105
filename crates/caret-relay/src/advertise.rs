//! DNS-SD over mDNS: the relay announces itself on the LAN as `_caret._tcp` (with the `server` feature), so a
//! phone app (or `caret-phone discover`, through [`discover`]) finds the desktop without typing an address. The announcement carries nothing
//! secret: the protocol version, the WebSocket path and the certificate fingerprint (which the phone still
//! checks against the QR code or the PAKE confirmation; discovery alone is never trusted).

use mdns_sd::ServiceDaemon;
#[cfg(feature = "server")]
use mdns_sd::{IfKind, ServiceInfo};

use crate::error::{MdnsStep, RelayError};
use crate::identity::Fingerprint;

/// The error for a failed mDNS `step`.
fn failed(step: MdnsStep) -> impl Fn(mdns_sd::Error) -> RelayError {
    move |source| RelayError::Advertise { step, source }
}

/// The DNS-SD service type.
pub const SERVICE_TYPE: &str = "_caret._tcp.local.";

#[cfg(feature = "server")]
/// A running announcement; withdrawn (goodbye packets) when dropped.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

#[cfg(feature = "server")]
impl std::fmt::Debug for Advertisement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertisement")
            .field("fullname", &self.fullname)
            .finish()
    }
}

#[cfg(feature = "server")]
/// This machine's host name ("ada-laptop"), if it has one: the announcement's label and the relay
/// certificate's `.local` name.
pub fn hostname() -> Option<String> {
    let name = gethostname::gethostname().to_string_lossy().trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(feature = "server")]
/// The machine's name for the instance label ("Caret Desktop on ada-laptop").
fn machine_name() -> String {
    hostname().unwrap_or_else(|| "this computer".to_owned())
}

#[cfg(feature = "server")]
/// "Caret Desktop on ada-laptop", with the port when it is not the default one, so that two relays on one
/// machine (two users; tests running side by side) are told apart.
fn instance_name(machine: &str, port: u16) -> String {
    if port == crate::hub::DEFAULT_PORT {
        format!("Caret Desktop on {machine}")
    } else {
        format!("Caret Desktop on {machine} ({port})")
    }
}

#[cfg(feature = "server")]
impl Advertisement {
    /// Announces the relay on `port` on every non-loopback interface (addresses follow interface changes).
    pub fn start(port: u16, fingerprint: &Fingerprint) -> Result<Advertisement, RelayError> {
        let daemon = ServiceDaemon::new().map_err(failed(MdnsStep::StartDaemon))?;
        // mdns-sd uses loopback too unless told otherwise, and would then announce 127.0.0.1 and ::1: no
        // phone can reach the desktop there, and a phone trying those first only finds itself. Set before
        // `register`, which the daemon handles after it.
        daemon
            .disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
            .map_err(failed(MdnsStep::SkipLoopback))?;
        let machine = machine_name();
        let host = format!(
            "{}.local.",
            machine.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
        );
        let properties = [
            ("v", "1".to_owned()),
            ("path", "/v1/ws".to_owned()),
            ("fp", fingerprint.hex()),
        ];
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &instance_name(&machine, port),
            &host,
            "",
            port,
            &properties[..],
        )
        .map_err(failed(MdnsStep::DescribeService))?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info).map_err(failed(MdnsStep::Register))?;
        tracing::info!("relay announced on the LAN as {fullname}");
        Ok(Advertisement { daemon, fullname })
    }

    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

#[cfg(feature = "server")]
impl Drop for Advertisement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// A desktop found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub name: String,
    pub addresses: Vec<std::net::SocketAddr>,
    /// As announced: a hint, never trusted (the QR code or the PAKE confirmation is).
    pub fingerprint: Option<Fingerprint>,
}

/// Looks for desktops on the LAN for `wait` (blocking: call it off the async threads); returns each once.
pub fn discover(wait: std::time::Duration) -> Result<Vec<Discovered>, RelayError> {
    let daemon = ServiceDaemon::new().map_err(failed(MdnsStep::StartDaemon))?;
    let events = daemon.browse(SERVICE_TYPE).map_err(failed(MdnsStep::Browse))?;
    let deadline = std::time::Instant::now() + wait;
    let mut found: Vec<Discovered> = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else {
            break;
        };
        if let mdns_sd::ServiceEvent::ServiceResolved(service) = event {
            let mut addresses: Vec<std::net::SocketAddr> = service
                .addresses
                .iter()
                .map(|ip| std::net::SocketAddr::new(ip.to_ip_addr(), service.port))
                .filter(|address| address.is_ipv4())
                .collect();
            addresses.sort();
            let name = service
                .fullname
                .strip_suffix(&format!(".{SERVICE_TYPE}"))
                .unwrap_or(&service.fullname)
                .replace("\\ ", " ");
            let fingerprint = service
                .txt_properties
                .get_property_val_str("fp")
                .and_then(Fingerprint::parse);
            // A service can resolve more than once (an address record arriving after the first answer):
            // keep every address seen.
            match found.iter_mut().find(|known| known.name == name) {
                Some(known) => {
                    known.addresses.extend(addresses);
                    known.addresses.sort();
                    known.addresses.dedup();
                    known.fingerprint = known.fingerprint.or(fingerprint);
                }
                None => found.push(Discovered {
                    name,
                    addresses,
                    fingerprint,
                }),
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(found)
}
