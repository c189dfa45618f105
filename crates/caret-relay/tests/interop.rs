//! The typed-code pairing against a phone written in another language from docs/relay-protocol.md alone
//! (`tests/interop/spake2_phone.py`: python-spake2's `SPAKE2_Symmetric`, websockets, Python's ssl), over real
//! TLS and WebSocket on loopback. It proves the document names the SPAKE2 construction, the MACs and the
//! messages exactly enough for a third party.
//!
//! Needs python3 with spake2 0.9 and websockets (`scripts/setup.sh --test` installs them): without them
//! this test fails, saying so, rather than skip.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is the test failing

use std::path::PathBuf;
use std::time::Duration;

use caret_relay::client::{Credentials, PhoneConnection};
use caret_relay::{PairingMethod, Relay, RelayConfig, RelayEvent, RelayIdentity};
use caret_store::Store;
use serde_json::Value;

const PYTHON_PACKAGES: &str =
    "python3 with spake2 0.9 and websockets (scripts/setup.sh --test installs them)";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/spake2_phone.py")
}

/// Fails the test, clearly, when the Python side cannot run.
fn require_python() {
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m, websockets, spake2; assert m.version('spake2') == '0.9', m.version('spake2')",
        ])
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}): this test needs {PYTHON_PACKAGES}"));
    assert!(
        check.status.success(),
        "this test needs {PYTHON_PACKAGES}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Runs the Python phone; returns its one JSON line and whether it exited successfully.
async fn python_phone(relay: &Relay, code: &str, name: &str) -> (bool, Value) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(script())
            .args(["127.0.0.1", &relay.local_addr().port().to_string(), code, name])
            .output(),
    )
    .await
    .expect("the Python phone finished in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the Python phone printed no JSON line: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), answer)
}

#[tokio::test]
async fn a_phone_written_in_python_from_the_document_pairs_by_typed_code() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).unwrap();
    let store = Store::open(&dir.path().join("caret.db")).unwrap();
    let config = RelayConfig {
        port: 0,
        loopback_only: true,
        ..RelayConfig::default()
    };
    let relay = Relay::start(config, &identity, store.clone()).await.unwrap();
    let mut events = relay.events();
    let offer = relay.start_pairing().unwrap();

    // A wrong code: both ends derive different keys, the desktop's check of the phone's MAC fails.
    let wrong = if offer.short_code == "0000-0000" {
        "0000 0001"
    } else {
        "0000 0000"
    };
    let (paired, answer) = python_phone(&relay, wrong, "Python").await;
    assert!(!paired);
    assert_eq!(answer["refused"], "wrong_pairing_code", "{answer}");

    // The right code, typed with a space: the phone pairs, and checked the desktop's MAC and fingerprint.
    let typed = offer.short_code.replace('-', " ");
    let (paired, answer) = python_phone(&relay, &typed, "Python phone").await;
    assert!(paired, "{answer}");
    assert_eq!(answer["spake2_version"], "0.9");
    assert_eq!(answer["fingerprint"], identity.fingerprint.hex());
    let RelayEvent::DevicePaired { device, method, .. } = events.recv().await.unwrap() else {
        panic!("a pairing event")
    };
    assert_eq!(
        (device.name.as_str(), method),
        ("Python phone", PairingMethod::TypedCode)
    );

    // What it got works: the credentials open a phone connection.
    let credentials = Credentials {
        device_id: answer["device_id"].as_str().unwrap().to_owned(),
        token: answer["token"].as_str().unwrap().to_owned(),
        fingerprint: answer["fingerprint"].as_str().unwrap().to_owned(),
        address: relay.local_addr(),
    };
    assert_eq!(credentials.device_id, device.id);
    let phone = PhoneConnection::open(&credentials, "Python phone").await.unwrap();
    assert_eq!(phone.welcome["type"], "welcome");
    relay.shutdown();
}
