//! Which networks hear the relay (issue 14), with the real headless app on a network of its own: a network
//! namespace joined to this one by a veth pair, whose other end is both the "router" and where the phone
//! stands. The app starts on a network it has never seen (the relay listens on 127.0.0.1 only), a pairing
//! opens it to the LAN and makes the network known, the laptop "moves" to another network (new subnet, new
//! gateway: a café) where the relay closes again, and back home it opens. The choices `any-network` and
//! `this-computer`, and forgetting a network, are checked on the way.
//!
//! Making namespaces needs root (CI runs as root) and iproute2; elsewhere the test says it was skipped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command as StdCommand;
use std::time::Duration;

use caret_e2e::app::{Sandbox, app_binary, free_port, terminate, wait_for_exit};
use caret_e2e::eventually_async;
use caret_relay::client::{PairingLink, PhoneConnection, pair_with_link};

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);

/// Runs `ip ARGS` (in the namespace with `netns`), panicking with its output if it fails.
fn ip(netns: Option<&str>, args: &str) {
    let mut command = StdCommand::new("ip");
    if let Some(netns) = netns {
        command.args(["netns", "exec", netns, "ip"]);
    }
    let output = command.args(args.split_whitespace()).output().expect("ip runs");
    assert!(
        output.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The namespace and its veth pair, removed when dropped.
struct Lan {
    netns: String,
    outside: String,
}

impl Lan {
    /// A namespace whose `lan0` is joined to `outside` here; `outside` holds the home router's address
    /// (10.77.0.1) and the café's (10.88.0.1).
    fn new() -> Lan {
        let id = std::process::id();
        let lan = Lan {
            netns: format!("caret-reach-{id}"),
            outside: format!("crr{id}"),
        };
        ip(None, &format!("netns add {}", lan.netns));
        ip(
            None,
            &format!("link add {} type veth peer name crl{id}", lan.outside),
        );
        ip(None, &format!("link set crl{id} netns {}", lan.netns));
        ip(Some(&lan.netns), &format!("link set crl{id} name lan0"));
        ip(Some(&lan.netns), "link set lo up");
        ip(Some(&lan.netns), "link set lan0 up");
        ip(None, &format!("addr add 10.77.0.1/24 dev {}", lan.outside));
        ip(None, &format!("addr add 10.88.0.1/24 dev {}", lan.outside));
        ip(None, &format!("link set {} up", lan.outside));
        lan
    }

    fn router_hardware_address(&self) -> String {
        std::fs::read_to_string(format!("/sys/class/net/{}/address", self.outside))
            .expect("the veth's address")
            .trim()
            .to_owned()
    }

    /// The laptop joins a network: its address there, and the router as its default gateway (resolved, as
    /// the first packets would resolve it).
    fn join(&self, subnet: u8) {
        ip(Some(&self.netns), "addr flush dev lan0");
        ip(
            Some(&self.netns),
            &format!("addr add 10.{subnet}.0.2/24 dev lan0"),
        );
        ip(
            Some(&self.netns),
            &format!("route replace default via 10.{subnet}.0.1"),
        );
        ip(
            Some(&self.netns),
            &format!(
                "neigh replace 10.{subnet}.0.1 lladdr {} dev lan0 nud permanent",
                self.router_hardware_address()
            ),
        );
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = StdCommand::new("ip").args(["netns", "del", &self.netns]).output();
        let _ = StdCommand::new("ip")
            .args(["link", "del", &self.outside])
            .output();
    }
}

/// What `caret-desktop reach --json` says.
async fn reach(sandbox: &Sandbox, choice: Option<&str>) -> serde_json::Value {
    let mut args = vec!["reach", "--json"];
    args.extend(choice);
    let (ok, stdout, stderr) = sandbox.cli("cli-reach", &args).await;
    assert!(ok, "{stderr}");
    serde_json::from_str(stdout.trim()).expect("JSON")
}

async fn settled_on(
    sandbox: &Sandbox,
    what: &str,
    condition: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually_async(what, SOON, || reach(sandbox, None), condition).await
}

/// Whether something answers TCP at `address` from here (the phone's side).
async fn answers(address: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(address)).await,
        Ok(Ok(_))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_opens_to_the_lan_only_on_networks_where_a_phone_was_paired() {
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root.ok() != Some(true) {
        eprintln!("skipped: network namespaces need root (CI runs the tests as root)");
        return;
    }
    let lan = Lan::new();
    lan.join(77);
    let port = free_port();
    let home = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)), port);
    let cafe = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)), port);

    let sandbox = Sandbox::new();
    let program = app_binary();
    let program = program.to_str().expect("utf-8 path");
    let mut app = sandbox
        .command_for(
            std::path::Path::new("ip"),
            "app",
            &["netns", "exec", &lan.netns, program, "--headless"],
        )
        .env("CARET_RELAY_LOOPBACK", "0")
        .env("CARET_RELAY_PORT", port.to_string())
        .spawn()
        .expect("launch in the namespace");
    sandbox.wait_for_log("app", READY, SOON).await;

    // 1. A network never seen: the relay listens on this computer only, and says why.
    let first = reach(&sandbox, None).await;
    assert_eq!(first["choice"], "known_networks");
    assert_eq!(first["network"], "10.77.0.0/24 via 10.77.0.1", "{first}");
    assert_eq!(
        (first["network_known"].as_bool(), first["open_to_lan"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(!answers(home).await, "nothing listens on the LAN");

    // 2. Pairing opens it for the window; the phone pairs over the LAN; the network becomes known.
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    assert_eq!(link.addresses, vec![home], "the QR code gives the LAN address");
    let credentials = pair_with_link(&link, "Ada's phone")
        .await
        .expect("pairs over the LAN");
    let known = settled_on(&sandbox, "the network is known", |view| {
        view["network_known"] == true
    })
    .await;
    assert_eq!(known["open_to_lan"], true);
    assert_eq!(known["known_networks"][0]["label"], "10.77.0.0/24 via 10.77.0.1");
    let phone = PhoneConnection::open(&credentials, "Ada's phone")
        .await
        .expect("connects at home");
    phone.close().await;

    // 3. The café: another subnet and router. Closed, and quiet.
    lan.join(88);
    let away = settled_on(&sandbox, "the café is a stranger", |view| {
        view["network"] == "10.88.0.0/24 via 10.88.0.1" && view["open_to_lan"] == false
    })
    .await;
    assert!(
        away["explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("not one where you paired a phone"),
        "{away}"
    );
    assert!(!answers(cafe).await, "nothing listens on the café's network");

    // "Any network" opens it here too, and back to the default closes it.
    assert_eq!(reach(&sandbox, Some("any-network")).await["open_to_lan"], true);
    assert!(answers(cafe).await);
    assert_eq!(
        reach(&sandbox, Some("known-networks")).await["open_to_lan"],
        false
    );
    assert!(!answers(cafe).await);

    // 4. Home again: open by itself; the phone connects.
    lan.join(77);
    settled_on(&sandbox, "home again", |view| {
        view["open_to_lan"] == true && view["network_known"] == true
    })
    .await;
    let phone = PhoneConnection::open(&credentials, "Ada's phone")
        .await
        .expect("connects at home again");
    phone.close().await;

    // "This computer" closes it even at home; forgetting the network closes it under the default.
    assert_eq!(reach(&sandbox, Some("this-computer")).await["open_to_lan"], false);
    assert!(!answers(home).await);
    assert_eq!(reach(&sandbox, Some("known-networks")).await["open_to_lan"], true);
    let (ok, _, stderr) = sandbox.cli("cli-forget", &["reach", "forget"]).await;
    assert!(ok, "{stderr}");
    let forgotten = settled_on(&sandbox, "forgotten", |view| view["open_to_lan"] == false).await;
    assert_eq!(forgotten["known_networks"], serde_json::json!([]));
    assert!(!answers(home).await);
    // The choice was saved with the preferences.
    let saved = std::fs::read_to_string(sandbox.config_dir().join("preferences.json")).expect("preferences");
    assert!(saved.contains("\"phone_reach\": \"known_networks\""), "{saved}");

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    if std::env::var_os("CARET_SHOW_LOG").is_some() {
        println!("{}", sandbox.log("app"));
    }
}
