//! The CLI phone against a real relay over TLS on loopback: pairing both ways, sending, posting, replaying
//! a scenario with a disconnect, and clear errors.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is the test failing

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use caret_core::StateKind;
use caret_relay::{PhoneFeed, Relay, RelayConfig, RelayIdentity};
use caret_store::Store;
use tokio::process::Command;
use tokio::sync::watch;

async fn start_relay(dir: &Path) -> (Relay, Store) {
    let identity = RelayIdentity::load_or_create(dir, &["localhost".into()]).unwrap();
    let store = Store::open(&dir.join("caret.db")).unwrap();
    let config = RelayConfig {
        port: 0,
        loopback_only: true,
        ..RelayConfig::default()
    };
    (
        Relay::start(config, &identity, store.clone()).await.unwrap(),
        store,
    )
}

async fn phone(credentials: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caret-phone"))
        .arg("--credentials")
        .arg(credentials)
        .args(["--name", "CLI phone"])
        .args(args)
        .output()
        .await
        .unwrap()
}

fn stdout_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn kind_reaches(feed: &mut watch::Receiver<PhoneFeed>, kind: StateKind) {
    tokio::time::timeout(
        Duration::from_secs(20),
        feed.wait_for(|feed| feed.state.as_ref().map(|state| state.kind()) == Some(kind)),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn pair_by_link_send_post_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, store) = start_relay(dir.path()).await;
    let credentials: PathBuf = dir.path().join("phone/credentials.json");

    let not_paired = phone(&credentials, &["send", "busy"]).await;
    assert!(!not_paired.status.success());
    assert!(String::from_utf8_lossy(&not_paired.stderr).contains("not paired yet"));

    let offer = relay.start_pairing().unwrap();
    let paired = phone(&credentials, &["pair", "--link", &offer.qr_url]).await;
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
    assert_eq!(stdout_lines(&paired)[0]["fingerprint"], relay.fingerprint().hex());
    assert!(
        stdout_lines(&paired)[0].get("token").is_none(),
        "the token is printed only when asked for"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the user's only");
    }
    assert_eq!(store.devices().unwrap()[0].name, "CLI phone");

    let mut feed = relay.phone_feed();
    let sent = phone(&credentials, &["send", "event", "\"Standup\"", "15m"]).await;
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let lines = stdout_lines(&sent);
    assert_eq!(lines[0]["type"], "welcome");
    assert!(lines.iter().any(|line| line["type"] == "ack"), "{lines:?}");

    let posted = phone(&credentials, &["post", "in_vehicle", "--for-secs", "120"]).await;
    assert!(
        posted.status.success(),
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );
    kind_reaches(&mut feed, StateKind::InVehicle).await;

    let scenario = dir.path().join("morning.txt");
    std::fs::write(
        &scenario,
        "in_call\nwait 1s\ndisconnect\nwalking\nwait 500ms # ms is not a unit\n",
    )
    .unwrap();
    let refused = phone(&credentials, &["replay", scenario.to_str().unwrap()]).await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 5: not a duration"));
    std::fs::write(&scenario, "in_call\nwait 1s\ndisconnect\nsleeping\n").unwrap();
    let replayed = phone(&credentials, &["replay", scenario.to_str().unwrap()]).await;
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let welcomes = stdout_lines(&replayed)
        .iter()
        .filter(|line| line["type"] == "welcome")
        .count();
    assert_eq!(welcomes, 2, "reconnected after the disconnect");
    assert_eq!(store.devices().unwrap().len(), 1);

    let bad = phone(&credentials, &["send", "driving"]).await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown state \"driving\""));
}

#[tokio::test]
async fn pair_by_code_and_a_wrong_code_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, store) = start_relay(dir.path()).await;
    let credentials = dir.path().join("credentials.json");
    let offer = relay.start_pairing().unwrap();
    let address = relay.local_addr().to_string();
    let wrong = if offer.short_code == "1111-1111" {
        "2222-2222"
    } else {
        "1111-1111"
    };
    let refused = phone(&credentials, &["pair", "--code", wrong, "--address", &address]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong_pairing_code"));
    assert!(!credentials.exists());
    let paired = phone(
        &credentials,
        &[
            "pair",
            "--code",
            &offer.short_code,
            "--address",
            &address,
            "--print-token",
        ],
    )
    .await;
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
    let token = stdout_lines(&paired)[0]["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64, "printed for an automation tool");
    assert_eq!(store.devices().unwrap().len(), 1);
    let sent = phone(&credentials, &["send", "busy"]).await;
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
}

#[tokio::test]
async fn a_desktop_is_discovered_on_the_lan_and_paired_by_code_without_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).unwrap();
    let store = Store::open(&dir.path().join("caret.db")).unwrap();
    let config = RelayConfig {
        port: 0,
        ..RelayConfig::default()
    };
    let relay = Relay::start(config, &identity, store.clone()).await.unwrap();
    assert!(relay.advertised_as().is_none(), "announced only while pairing");
    // The user opens a pairing window: the relay is announced on the LAN while it lasts.
    let offer = relay.start_pairing().unwrap();
    assert!(relay.advertised_as().is_some());
    let credentials = dir.path().join("credentials.json");

    let found = phone(&credentials, &["discover", "--wait", "3"]).await;
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let desktops = stdout_lines(&found);
    let ours = desktops
        .iter()
        .find(|desktop| desktop["fingerprint"] == identity.fingerprint.to_string())
        .unwrap_or_else(|| panic!("our desktop among {desktops:?}"));
    let port = relay.local_addr().port().to_string();
    assert!(ours["addresses"][0].as_str().unwrap().ends_with(&port));

    let paired = phone(&credentials, &["pair", "--code", &offer.short_code]).await;
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
    assert_eq!(store.devices().unwrap().len(), 1);
    relay.shutdown();
}

#[tokio::test]
async fn a_silent_desktop_is_a_clear_error_not_a_hang() {
    // Something that accepts connections and never answers: a hung desktop, or another program.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        serde_json::json!({"device_id": "d_0000000000000000", "token": "0".repeat(64),
            "fingerprint": "00".repeat(32), "address": address.to_string()})
        .to_string(),
    )
    .unwrap();
    let address = address.to_string();
    for args in [
        vec!["--timeout", "1", "send", "busy"],
        vec!["--timeout", "1", "post", "busy"],
        vec![
            "--timeout",
            "1",
            "pair",
            "--code",
            "1234-5678",
            "--address",
            &address,
        ],
    ] {
        let output = tokio::time::timeout(Duration::from_secs(20), phone(&credentials, &args))
            .await
            .expect("caret-phone gave up by itself");
        assert!(!output.status.success(), "{args:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            said.contains("did not answer in time (TLS handshake"),
            "{args:?}: {said}"
        );
    }
}
