//! Which network the computer is on, and when that changes: what lets the relay open to the LAN only on
//! networks where the user paired a phone (docs/relay-threat-model.md, "Which networks hear the relay").
//!
//! A network is recognised by its default gateway's hardware (MAC) address together with the subnet the
//! computer has on it: a café's router and the home router differ even when both hand out 192.168.1.x. Both
//! are read from the kernel's own tables (`/proc/net/route`, `/proc/net/arp`, and the interface's address);
//! nothing is sent on the network to learn them. A network without a default gateway, or whose gateway the
//! kernel has not resolved yet, is not recognised (and so treated as a stranger's).
//!
//! Changes come from the kernel's routing netlink socket (links, IPv4 addresses and routes): the watcher
//! wakes only when something changed, never on a timer.

use std::net::Ipv4Addr;

#[cfg(target_os = "linux")]
use netlink_sys::protocols::NETLINK_ROUTE;
#[cfg(target_os = "linux")]
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use ring::digest;
use serde::{Deserialize, Serialize};

/// A network the computer is on, as far as the relay needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Network {
    /// SHA-256 (hex) of the gateway's hardware address and the subnet: what "known networks" keep.
    pub id: String,
    /// The subnet and gateway, for people: "192.168.1.0/24 via 192.168.1.1".
    pub label: String,
}

/// The default route from `/proc/net/route`: (interface, gateway).
fn default_gateway(route_table: &str) -> Option<(String, Ipv4Addr)> {
    route_table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (interface, destination, gateway, flags, mask) = (
            fields.first()?,
            fields.get(1)?,
            fields.get(2)?,
            fields.get(3)?,
            fields.get(7)?,
        );
        // RTF_UP (1) and RTF_GATEWAY (2); destination and mask 0: the default route.
        let flags = u32::from_str_radix(flags, 16).ok()?;
        if *destination != "00000000" || *mask != "00000000" || flags & 0x3 != 0x3 {
            return None;
        }
        // The kernel writes the address in the machine's byte order (little-endian on every Linux desktop).
        let gateway = Ipv4Addr::from(u32::from_str_radix(gateway, 16).ok()?.swap_bytes());
        Some(((*interface).to_owned(), gateway))
    })
}

/// The hardware address the kernel resolved for `ip` on `interface`, from `/proc/net/arp`.
fn hardware_address(arp_table: &str, ip: Ipv4Addr, interface: &str) -> Option<String> {
    arp_table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags, hardware, device) =
            (fields.first()?, fields.get(2)?, fields.get(3)?, fields.get(5)?);
        // ATF_COM (2): the entry is complete.
        let complete = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()? & 0x2 != 0;
        let resolved = complete && *hardware != "00:00:00:00:00:00";
        (address.parse::<Ipv4Addr>().ok()? == ip && *device == interface && resolved)
            .then(|| hardware.to_lowercase())
    })
}

/// The network described by the kernel's tables and the interface's IPv4 subnet, if it can be recognised.
fn network_from(
    route_table: &str,
    arp_table: &str,
    subnet_of: impl Fn(&str) -> Option<(Ipv4Addr, u8)>,
) -> Option<Network> {
    let (interface, gateway) = default_gateway(route_table)?;
    let hardware = hardware_address(arp_table, gateway, &interface)?;
    let (network, prefix) = subnet_of(&interface)?;
    let digest = digest::digest(
        &digest::SHA256,
        format!("caret network v1\n{hardware}\n{network}/{prefix}").as_bytes(),
    );
    let id = hex::encode(digest.as_ref());
    Some(Network {
        id,
        label: format!("{network}/{prefix} via {gateway}"),
    })
}

/// The IPv4 subnet (network address and prefix length) of an interface, from its addresses.
fn subnet_of(interface: &str) -> Option<(Ipv4Addr, u8)> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .filter(|found| found.name == interface)
        .find_map(|found| match found.addr {
            if_addrs::IfAddr::V4(v4) => {
                let mask = u32::from(v4.netmask);
                Some((
                    Ipv4Addr::from(u32::from(v4.ip) & mask),
                    u8::try_from(mask.count_ones()).ok()?,
                ))
            }
            if_addrs::IfAddr::V6(_) => None,
        })
}

/// The network the computer is on now, if it can be recognised (see the module's documentation).
pub fn current_network() -> Option<Network> {
    let route = std::fs::read_to_string("/proc/net/route").ok()?;
    let arp = std::fs::read_to_string("/proc/net/arp").ok()?;
    network_from(&route, &arp, subnet_of)
}

/// Wakes when the kernel's links, IPv4 addresses or routes change (a Wi-Fi joined or left, a new DHCP lease,
/// a cable plugged in). It says only that something changed: [`current_network`] says what.
#[cfg(target_os = "linux")]
pub struct NetworkWatch {
    socket: TokioSocket,
}

/// Elsewhere than Linux there are no routing notifications to watch: [`NetworkWatch::start`] says so.
#[cfg(not(target_os = "linux"))]
pub struct NetworkWatch;

#[cfg(not(target_os = "linux"))]
impl NetworkWatch {
    pub fn start() -> std::io::Result<NetworkWatch> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "network changes are watched on Linux only",
        ))
    }

    pub async fn changed(&mut self) -> std::io::Result<()> {
        std::future::pending().await
    }
}

// From linux/rtnetlink.h: the multicast groups of link, IPv4 address and IPv4 route changes.
#[cfg(target_os = "linux")]
const RTMGRP_LINK: u32 = 0x1;
#[cfg(target_os = "linux")]
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
#[cfg(target_os = "linux")]
const RTMGRP_IPV4_ROUTE: u32 = 0x40;

#[cfg(target_os = "linux")]
impl NetworkWatch {
    /// Subscribes to the kernel's routing notifications. Must be called inside a tokio runtime.
    pub fn start() -> std::io::Result<NetworkWatch> {
        let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
        socket.socket_mut().bind(&SocketAddr::new(
            0,
            RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE,
        ))?;
        Ok(NetworkWatch { socket })
    }

    /// Waits until something changed, then reads every notification queued (a change comes as a burst: the
    /// link, its addresses, its routes), so that one burst wakes the caller once or twice, not dozens of times.
    pub async fn changed(&mut self) -> std::io::Result<()> {
        let mut buffer = Vec::with_capacity(16 * 1024);
        match self.socket.recv(&mut buffer).await {
            Ok(()) => {}
            // The kernel dropped notifications because we were slow: something changed all the same.
            Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {}
            Err(error) => return Err(error),
        }
        // The socket does not block: read what else is queued until it says "would block".
        loop {
            buffer.clear();
            match self.socket.socket_ref().recv(&mut buffer, 0) {
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
        wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n";
    const ARP: &str = "IP address       HW type     Flags       HW address            Mask     Device\n\
        192.168.1.1      0x1         0x2         a4:2b:b0:11:22:33     *        wlan0\n\
        192.168.1.40     0x1         0x0         00:00:00:00:00:00     *        wlan0\n";

    fn home_subnet(interface: &str) -> Option<(Ipv4Addr, u8)> {
        (interface == "wlan0").then_some((Ipv4Addr::new(192, 168, 1, 0), 24))
    }

    #[test]
    fn the_default_gateway_is_read_from_the_route_table() {
        assert_eq!(
            default_gateway(ROUTE),
            Some(("wlan0".to_owned(), Ipv4Addr::new(192, 168, 1, 1)))
        );
        let no_default = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
            eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(default_gateway(no_default), None);
        // A default route that is down does not count.
        assert_eq!(default_gateway(&ROUTE.replace("\t0003\t", "\t0002\t")), None);
    }

    #[test]
    fn a_network_is_its_gateways_hardware_address_and_subnet() {
        let home = network_from(ROUTE, ARP, home_subnet).expect("recognised");
        assert_eq!(home.label, "192.168.1.0/24 via 192.168.1.1");
        assert_eq!(home.id.len(), 64);
        assert_eq!(
            network_from(ROUTE, ARP, home_subnet),
            Some(home.clone()),
            "stable"
        );
        // A café: the same addresses, another router.
        let cafe = network_from(
            ROUTE,
            &ARP.replace("a4:2b:b0:11:22:33", "f0:9f:c2:aa:bb:cc"),
            home_subnet,
        )
        .expect("recognised");
        assert_ne!(cafe.id, home.id);
        assert_eq!(
            cafe.label, home.label,
            "the label alone cannot tell them apart; the id can"
        );
        // The same router on another subnet is another network too.
        let other = network_from(ROUTE, ARP, |_| Some((Ipv4Addr::new(10, 0, 0, 0), 24))).expect("recognised");
        assert_ne!(other.id, home.id);
    }

    #[test]
    fn a_gateway_not_resolved_yet_or_absent_is_not_recognised() {
        let unresolved = ARP.replace("0x2 ", "0x0 ");
        assert_eq!(network_from(ROUTE, &unresolved, home_subnet), None);
        let elsewhere = ARP.replace("wlan0\n", "eth9\n");
        assert_eq!(
            network_from(ROUTE, &elsewhere, home_subnet),
            None,
            "resolved on another interface"
        );
        assert_eq!(network_from("Iface\n", ARP, home_subnet), None);
    }

    #[tokio::test]
    async fn the_watch_subscribes_to_the_kernels_notifications() {
        let watch = NetworkWatch::start();
        assert!(watch.is_ok(), "{:?}", watch.err());
    }
}
