//! The relay over real TLS sockets on loopback: pairing (QR and typed code), devices, protocol v1, the
//! HTTPS endpoint, and every kind of bad input, with well-behaved phones checked alongside.

// The helpers below are test code too: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use caret_core::{CaretState, StateKind};
use caret_relay::client::{
    ClientError, Credentials, PairingLink, PhoneConnection, connect_tls, https_request, pair_with_code,
    pair_with_link,
};
use caret_relay::{Fingerprint, PairingMethod, PhoneFeed, Relay, RelayConfig, RelayEvent, RelayIdentity};
use caret_store::Store;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as RawMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as RawCloseFrame;

struct TestRelay {
    relay: Relay,
    store: Store,
    _dir: tempfile::TempDir,
}

impl TestRelay {
    /// A relay on 127.0.0.1 only (loopback-only), on a free port.
    async fn start(config: RelayConfig) -> TestRelay {
        TestRelay::start_on_lan_with(RelayConfig {
            loopback_only: true,
            ..config
        })
        .await
    }

    async fn default() -> TestRelay {
        TestRelay::start(RelayConfig::default()).await
    }

    /// A relay that may open to the LAN (not loopback-only), open there from the start or not.
    async fn start_on_lan(on_lan: bool) -> TestRelay {
        TestRelay::start_on_lan_with(RelayConfig {
            on_lan,
            ..RelayConfig::default()
        })
        .await
    }

    async fn start_on_lan_with(config: RelayConfig) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        let store = Store::open(&dir.path().join("caret.db")).unwrap();
        let relay = Relay::start(RelayConfig { port: 0, ..config }, &identity, store.clone())
            .await
            .unwrap();
        TestRelay {
            relay,
            store,
            _dir: dir,
        }
    }

    fn address(&self) -> SocketAddr {
        self.relay.local_addr()
    }

    async fn pair(&self, name: &str) -> Credentials {
        let offer = self.relay.start_pairing().unwrap();
        pair_with_link(&PairingLink::parse(&offer.qr_url).unwrap(), name)
            .await
            .unwrap()
    }
}

fn refusal_code(error: &ClientError) -> &str {
    match error {
        ClientError::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other}"),
    }
}

async fn wait_for_feed(
    feed: &mut watch::Receiver<PhoneFeed>,
    wanted: impl Fn(&PhoneFeed) -> bool,
) -> PhoneFeed {
    tokio::time::timeout(Duration::from_secs(20), feed.wait_for(|feed| wanted(feed)))
        .await
        .expect("the phone feed reached the expected value in time")
        .unwrap()
        .clone()
}

/// Reads messages until the connection closes; returns the last error code and the close reason.
async fn until_closed(connection: &mut PhoneConnection) -> Vec<String> {
    let mut codes = Vec::new();
    while let Ok(message) = tokio::time::timeout(Duration::from_secs(20), connection.receive())
        .await
        .expect("closed in time")
    {
        if message["type"] == "error" {
            codes.push(message["code"].as_str().unwrap().to_owned());
        }
    }
    codes
}

type RawSocket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// A WebSocket on `path` with nothing said yet, for sending what `caret_relay::client` never would.
async fn raw_socket(relay: &TestRelay, path: &str) -> RawSocket {
    let (tls, _) = connect_tls(relay.address(), None).await.unwrap();
    let url = format!("wss://{}{path}", relay.address());
    tokio_tungstenite::client_async(url, tls).await.unwrap().0
}

/// A raw `/v1/ws` socket past `hello`, `welcome` and the first `status`.
async fn raw_phone(relay: &TestRelay, credentials: &Credentials) -> RawSocket {
    use futures_util::SinkExt;
    let mut socket = raw_socket(relay, "/v1/ws").await;
    let hello = json!({"type": "hello", "protocol": 1, "device_id": credentials.device_id,
        "token": credentials.token});
    socket
        .send(RawMessage::Text(hello.to_string().into()))
        .await
        .unwrap();
    let (messages, close) = read_raw(&mut socket, 2).await;
    assert_eq!(close, None, "{messages:?}");
    assert_eq!(
        (messages[0]["type"].as_str(), messages[1]["type"].as_str()),
        (Some("welcome"), Some("status"))
    );
    socket
}

/// Reads until `count` JSON messages have come or the desktop sends a close frame (or the connection ends):
/// the messages, and the close frame's code and reason.
async fn read_raw(socket: &mut RawSocket, count: usize) -> (Vec<Value>, Option<(u16, String)>) {
    use futures_util::StreamExt;
    let mut messages = Vec::new();
    while messages.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("the desktop answered in time");
        match next {
            Some(Ok(RawMessage::Text(text))) => messages.push(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(RawMessage::Close(frame))) => {
                let close = frame.map(|RawCloseFrame { code, reason }| (u16::from(code), reason.to_string()));
                return (messages, Some(close.unwrap_or((0, String::new()))));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    (messages, None)
}

/// A data frame carrying any bytes at all, even a text frame that is not UTF-8.
fn raw_frame(text: bool, payload: &[u8]) -> RawMessage {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
    RawMessage::Frame(Frame::message(payload.to_vec(), opcode, true))
}

fn state(seq: u64, name: &str) -> Value {
    json!({"type": "state", "seq": seq, "state": name})
}

#[tokio::test]
async fn qr_pairing_then_states_reach_the_engine_feed_with_acks_and_sequence_rules() {
    let relay = TestRelay::default().await;
    let mut events = relay.relay.events();
    let credentials = relay.pair("Ada's Pixel").await;
    assert!(credentials.device_id.starts_with("d_"));
    assert_eq!(credentials.token.len(), 64);
    assert_eq!(credentials.fingerprint, relay.relay.fingerprint().hex());

    let RelayEvent::DevicePaired {
        device,
        method,
        from_lan,
    } = events.recv().await.unwrap()
    else {
        panic!("a pairing event first")
    };
    assert_eq!(
        (device.name.as_str(), method),
        ("Ada's Pixel", PairingMethod::QrCode)
    );
    assert!(
        !from_lan,
        "paired through 127.0.0.1 (a tunnel, as far as the relay knows)"
    );
    let log = relay.store.query_log(&Default::default()).unwrap();
    assert!(
        log.iter()
            .any(|entry| entry.outcome.contains("paired a new device \"Ada's Pixel\"")),
        "a sync-log entry: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|entry| format!("{entry:?}").contains(&credentials.token)),
        "the token is not in the log"
    );

    let mut feed = relay.relay.phone_feed();
    let mut phone = PhoneConnection::open(&credentials, "Ada's Pixel").await.unwrap();
    assert_eq!(phone.welcome["protocol"], 1);
    assert_eq!(phone.welcome["last_seq"], Value::Null);
    phone
        .send_json(&json!({"type": "snapshot", "seq": 1, "state": "walking"}))
        .await
        .unwrap();
    assert_eq!(
        phone.receive_reply().await.unwrap(),
        json!({"type": "ack", "seq": 1})
    );
    let seen = wait_for_feed(&mut feed, |feed| feed.state.is_some()).await;
    assert_eq!(seen.state.unwrap().kind(), StateKind::Walking);
    assert_eq!(seen.online, vec![credentials.device_id.clone()]);

    phone.send_json(&state(2, "in_call")).await.unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["type"], "ack");
    wait_for_feed(&mut feed, |feed| {
        feed.state.as_ref().map(CaretState::kind) == Some(StateKind::InCall)
    })
    .await;

    // A replayed and an out-of-order state are refused and change nothing.
    for seq in [2, 1] {
        phone.send_json(&state(seq, "sleeping")).await.unwrap();
        let answer = phone.receive_reply().await.unwrap();
        assert_eq!(
            (answer["code"].as_str(), answer["seq"].as_u64()),
            (Some("stale_seq"), Some(seq))
        );
    }
    assert_eq!(
        feed.borrow().state.as_ref().map(CaretState::kind),
        Some(StateKind::InCall)
    );

    // An event with its details; a ping.
    phone
        .send_json(
            &json!({"type": "state", "seq": 3, "state": {"kind": "event", "title": "Standup",
            "start": "2026-11-23T09:00:00Z", "end": "2026-11-23T09:15:00Z"}}),
        )
        .await
        .unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["seq"], 3);
    phone.send_json(&json!({"type": "ping"})).await.unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["type"], "pong");
    let seen = wait_for_feed(&mut feed, |feed| {
        feed.state.as_ref().map(CaretState::kind) == Some(StateKind::Event)
    })
    .await;
    let Some(CaretState::Event(details)) = seen.state else {
        panic!()
    };
    assert_eq!(details.title, "Standup");

    // The phone leaves: its state stops holding. On reconnect the desktop says where it was.
    phone.close().await;
    wait_for_feed(&mut feed, |feed| feed.state.is_none() && feed.online.is_empty()).await;
    let mut phone = PhoneConnection::open(&credentials, "Ada's Pixel").await.unwrap();
    assert_eq!(phone.welcome["last_seq"], 3);
    phone.send_json(&state(3, "busy")).await.unwrap();
    assert_eq!(
        phone.receive_reply().await.unwrap()["code"],
        "stale_seq",
        "remembered across connections"
    );
    phone
        .send_json(&json!({"type": "snapshot", "seq": 1, "state": "busy"}))
        .await
        .unwrap();
    assert_eq!(
        phone.receive_reply().await.unwrap()["seq"],
        1,
        "a snapshot resets the baseline"
    );
    wait_for_feed(&mut feed, |feed| {
        feed.state.as_ref().map(CaretState::kind) == Some(StateKind::Busy)
    })
    .await;
    let stored = relay.store.devices().unwrap();
    assert_eq!(stored[0].last_seq, Some(1));
    assert!(stored[0].last_seen_ms.is_some());
    relay.relay.shutdown();
}

#[tokio::test]
async fn the_status_the_desktop_publishes_is_pushed_to_connected_phones() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Pixel").await;
    let mut phone = PhoneConnection::open(&credentials, "Pixel").await.unwrap();
    let first = phone.receive().await.unwrap();
    assert_eq!(
        first,
        json!({"type": "status", "effective": null, "shown": []}),
        "sent after welcome"
    );
    relay.relay.publish_status(
        CaretState::without_details(StateKind::InCall),
        vec![caret_relay::protocol::ShownStatus {
            workspace: "Acme".into(),
            text: "In a call".into(),
            emoji: ":telephone_receiver:".into(),
        }],
    );
    let pushed = phone.receive().await.unwrap();
    assert_eq!(pushed["type"], "status");
    assert_eq!(pushed["shown"][0]["text"], "In a call");
}

#[tokio::test]
async fn typed_code_pairing_works_and_pins_the_certificate_it_confirmed() {
    let relay = TestRelay::default().await;
    let offer = relay.relay.start_pairing().unwrap();
    assert_eq!(offer.short_code.len(), 9);
    let typed = offer.short_code.replace('-', " ");
    let credentials = pair_with_code(relay.address(), &typed, "Termux").await.unwrap();
    assert_eq!(credentials.fingerprint, relay.relay.fingerprint().hex());
    let phone = PhoneConnection::open(&credentials, "Termux").await.unwrap();
    assert_eq!(phone.welcome["type"], "welcome");
    assert_eq!(relay.store.devices().unwrap()[0].name, "Termux");
    // Single use: the same code (or the QR secret of the same window) pairs nothing more.
    let again = pair_with_code(relay.address(), &offer.short_code, "Again")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&again), "pairing_closed");
    let link = PairingLink::parse(&offer.qr_url).unwrap();
    assert_eq!(
        refusal_code(&pair_with_link(&link, "Replay").await.unwrap_err()),
        "pairing_closed"
    );
    assert_eq!(relay.store.devices().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_codes_count_down_then_lock_the_window_even_for_the_right_code() {
    let relay = TestRelay::default().await;
    let offer = relay.relay.start_pairing().unwrap();
    let wrong = if offer.short_code == "0000-0000" {
        "0000-0001"
    } else {
        "0000-0000"
    };
    for left in (1..=4).rev() {
        let error = pair_with_code(relay.address(), wrong, "Guess").await.unwrap_err();
        let ClientError::Refused { code, message } = &error else {
            panic!("{error}")
        };
        assert_eq!(code, "wrong_pairing_code");
        assert!(message.contains(&format!("{left} attempt")), "{message}");
    }
    let error = pair_with_code(relay.address(), wrong, "Guess").await.unwrap_err();
    assert_eq!(refusal_code(&error), "pairing_locked_out");
    let error = pair_with_code(relay.address(), &offer.short_code, "Right")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&error), "pairing_locked_out");
    let link = PairingLink::parse(&offer.qr_url).unwrap();
    assert_eq!(
        refusal_code(&pair_with_link(&link, "Right").await.unwrap_err()),
        "pairing_locked_out"
    );
    assert!(relay.store.devices().unwrap().is_empty());
}

#[tokio::test]
async fn wrong_qr_secrets_count_too_and_nothing_pairs_without_an_open_window() {
    let relay = TestRelay::default().await;
    let fingerprint = relay.relay.fingerprint();
    let post = |secret: &str| {
        let body = json!({"type": "pair", "secret": secret, "name": "x"})
            .to_string()
            .into_bytes();
        https_request(relay.address(), fingerprint, "POST", "/v1/pair", None, body)
    };
    let (status, answer) = post("00000000000000000000000000000000").await.unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("pairing_closed")),
        "no window open"
    );
    let offer = relay.relay.start_pairing().unwrap();
    let (status, answer) = post("00000000000000000000000000000000").await.unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("wrong_pairing_code"))
    );
    relay.relay.cancel_pairing();
    let link = PairingLink::parse(&offer.qr_url).unwrap();
    assert_eq!(
        refusal_code(&pair_with_link(&link, "Late").await.unwrap_err()),
        "pairing_closed"
    );
}

#[tokio::test]
async fn an_expired_window_pairs_nothing() {
    let relay = TestRelay::start(RelayConfig {
        pairing_window: Duration::from_millis(300),
        ..RelayConfig::default()
    })
    .await;
    let offer = relay.relay.start_pairing().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let link = PairingLink::parse(&offer.qr_url).unwrap();
    assert_eq!(
        refusal_code(&pair_with_link(&link, "Late").await.unwrap_err()),
        "pairing_expired"
    );
    let error = pair_with_code(relay.address(), &offer.short_code, "Late")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&error), "pairing_expired");
}

/// A LAN attacker that terminates TLS with its own certificate and relays everything to the desktop.
async fn start_tls_interceptor(target: SocketAddr) -> (SocketAddr, Fingerprint) {
    let dir = tempfile::tempdir().unwrap();
    let identity = RelayIdentity::load_or_create(dir.path(), &["attacker".into()]).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _dir = dir;
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut phone_side) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok((mut desktop_side, _)) = connect_tls(target, None).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut phone_side, &mut desktop_side).await;
            });
        }
    });
    (address, identity.fingerprint)
}

#[tokio::test]
async fn a_man_in_the_middle_can_neither_pair_by_code_nor_pass_the_qr_pin() {
    let relay = TestRelay::default().await;
    let (attacker, attacker_fingerprint) = start_tls_interceptor(relay.address()).await;
    assert_ne!(attacker_fingerprint, relay.relay.fingerprint());
    let offer = relay.relay.start_pairing().unwrap();

    // The typed code through the attacker: the right code, yet the desktop refuses (the phone confirmed the
    // attacker's certificate), and it counts as a wrong attempt.
    let error = pair_with_code(attacker, &offer.short_code, "Victim")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&error), "wrong_pairing_code");

    // The QR link pointed at the attacker: the pinned fingerprint stops the handshake before the secret
    // leaves the phone.
    let mut link = PairingLink::parse(&offer.qr_url).unwrap();
    link.addresses = vec![attacker];
    let error = pair_with_link(&link, "Victim").await.unwrap_err();
    assert!(matches!(error, ClientError::Tls(_)), "{error}");

    // The window is still usable by the real phone on the direct path.
    let direct = pair_with_code(relay.address(), &offer.short_code, "Real")
        .await
        .unwrap();
    assert_eq!(relay.store.devices().unwrap().len(), 1);
    assert_eq!(relay.store.devices().unwrap()[0].id, direct.device_id);
}

#[tokio::test]
async fn a_revoked_device_is_cut_off_at_once_everywhere() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Lost phone").await;
    let other = relay.pair("Other").await;
    let mut feed = relay.relay.phone_feed();
    let mut phone = PhoneConnection::open(&credentials, "Lost phone").await.unwrap();
    let mut other_phone = PhoneConnection::open(&other, "Other").await.unwrap();
    phone.send_json(&state(1, "in_vehicle")).await.unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["type"], "ack");
    wait_for_feed(&mut feed, |feed| feed.state.is_some()).await;

    assert!(relay.relay.revoke(&credentials.device_id).unwrap());
    assert_eq!(until_closed(&mut phone).await, ["unauthorized"]);
    wait_for_feed(&mut feed, |feed| feed.state.is_none()).await;
    let error = PhoneConnection::open(&credentials, "Lost phone")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&error), "unauthorized");
    let (status, _) = https_request(
        relay.address(),
        relay.relay.fingerprint(),
        "POST",
        "/v1/state",
        Some(&credentials.token),
        br#"{"state": "busy"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 401);
    // The other phone never noticed.
    other_phone.send_json(&state(1, "busy")).await.unwrap();
    assert_eq!(other_phone.receive_reply().await.unwrap()["type"], "ack");
}

#[tokio::test]
async fn hello_is_checked_first_and_wrong_credentials_get_one_answer() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Pixel").await;
    for wrong in [
        Credentials {
            token: "0".repeat(64),
            ..credentials.clone()
        },
        Credentials {
            device_id: "d_0000000000000000".into(),
            ..credentials.clone()
        },
    ] {
        assert_eq!(
            refusal_code(&PhoneConnection::open(&wrong, "x").await.unwrap_err()),
            "unauthorized"
        );
    }
    // A state before hello; an unsupported protocol version.
    let pinned = relay.relay.fingerprint();
    for (first, expected) in [
        (state(1, "busy"), "hello_required"),
        (
            json!({"type": "hello", "protocol": 2, "device_id": credentials.device_id, "token": credentials.token}),
            "unsupported_version",
        ),
        // A malformed hello is not `invalid_field` as a first message: the phone has to start over.
        (
            json!({"type": "hello", "protocol": 1, "device_id": "d_/", "token": credentials.token}),
            "hello_required",
        ),
        (
            json!({"type": "hello", "protocol": "1", "device_id": credentials.device_id, "token": credentials.token}),
            "hello_required",
        ),
    ] {
        let (tls, _) = connect_tls(relay.address(), Some(pinned)).await.unwrap();
        let (mut socket, _) =
            tokio_tungstenite::client_async(format!("wss://{}/v1/ws", relay.address()), tls)
                .await
                .unwrap();
        use futures_util::{SinkExt, StreamExt};
        socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                first.to_string().into(),
            ))
            .await
            .unwrap();
        let answer = socket.next().await.unwrap().unwrap();
        let answer: Value = serde_json::from_str(answer.to_text().unwrap()).unwrap();
        assert_eq!(answer["code"], expected);
    }
    // After a good hello, another one (well-formed or not) is `invalid_field`, and the connection stays.
    let mut phone = raw_phone(&relay, &credentials).await;
    for again in [
        json!({"type": "hello", "protocol": 1, "device_id": credentials.device_id, "token": credentials.token}),
        json!({"type": "hello", "protocol": 1, "device_id": "d_/", "token": credentials.token}),
        json!({"type": "ping"}),
    ] {
        use futures_util::SinkExt;
        phone
            .send(RawMessage::Text(again.to_string().into()))
            .await
            .unwrap();
        let (answer, close) = read_raw(&mut phone, 1).await;
        assert_eq!(close, None);
        let expected = if again["type"] == "ping" { "pong" } else { "error" };
        assert_eq!(answer[0]["type"], expected, "{answer:?}");
        if expected == "error" {
            assert_eq!(answer[0]["code"], "invalid_field");
        }
    }
}

#[tokio::test]
async fn every_bad_frame_gets_its_code_and_the_connection_and_other_phones_carry_on() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Hostile").await;
    let calm = relay.pair("Calm").await;
    let mut hostile = PhoneConnection::open(&credentials, "Hostile").await.unwrap();
    let mut calm_phone = PhoneConnection::open(&calm, "Calm").await.unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![b' '; 9 * 1024], "frame_too_large"),
        (b"{not json".to_vec(), "malformed_json"),
        (vec![0xff, 0xfe, 0x00], "malformed_json"),
        (b"[1, 2]".to_vec(), "missing_type"),
        (br#"{"type": "teleport"}"#.to_vec(), "unknown_type"),
        (
            br#"{"type": "state", "seq": "one", "state": "busy"}"#.to_vec(),
            "invalid_field",
        ),
        (
            br#"{"type": "state", "seq": 1, "state": "driving"}"#.to_vec(),
            "unknown_state",
        ),
        (
            br#"{"type": "state", "seq": 1, "state": "event"}"#.to_vec(),
            "invalid_event",
        ),
        (
            format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes(),
            "malformed_json",
        ),
        (
            br#"{"type": "state", "seq": 9223372036854775808, "state": "busy"}"#.to_vec(),
            "invalid_field",
        ),
    ];
    for (frame, code) in cases {
        hostile.send_raw(frame).await.unwrap();
        let answer = hostile.receive_reply().await.unwrap();
        assert_eq!(answer["code"], code, "{answer}");
        calm_phone.send_json(&json!({"type": "ping"})).await.unwrap();
        assert_eq!(calm_phone.receive_reply().await.unwrap()["type"], "pong");
    }
    hostile.send_json(&state(1, "busy")).await.unwrap();
    assert_eq!(
        hostile.receive_reply().await.unwrap()["type"],
        "ack",
        "still usable after refusals"
    );
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed_and_a_huge_frame_closes_the_socket() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Flood").await;
    let mut flooder = PhoneConnection::open(&credentials, "Flood").await.unwrap();
    for _ in 0..40 {
        flooder.send_json(&json!({"type": "ping"})).await.unwrap();
    }
    let codes = until_closed(&mut flooder).await;
    assert!(codes.iter().any(|code| code == "rate_limited"), "{codes:?}");
    assert_eq!(codes.last().map(String::as_str), Some("too_many_errors"));

    let mut big = PhoneConnection::open(&credentials, "Flood").await.unwrap();
    big.send_raw(vec![b'x'; 200 * 1024]).await.unwrap();
    assert_eq!(
        until_closed(&mut big).await,
        ["frame_too_large"],
        "a frame over the WebSocket limit is answered, then the connection closed"
    );
}

#[tokio::test]
async fn silent_and_slow_clients_are_cut_off() {
    let relay = TestRelay::start(RelayConfig {
        patience: Duration::from_millis(500),
        ..RelayConfig::default()
    })
    .await;
    let credentials = relay.pair("Phone").await;
    let mut phone = PhoneConnection::open(&credentials, "Phone").await.unwrap();

    // Slow-loris: TCP open, no TLS handshake; TLS done, no request; WebSocket open, no hello.
    let mut silent = TcpStream::connect(relay.address()).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buffer))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed without a handshake");
    let (mut tls, _) = connect_tls(relay.address(), Some(relay.relay.fingerprint()))
        .await
        .unwrap();
    tls.write_all(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buffer))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)) || buffer.starts_with(b"HTTP/1.1 408"),
        "cut off mid-headers"
    );
    let (tls, _) = connect_tls(relay.address(), Some(relay.relay.fingerprint()))
        .await
        .unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(format!("wss://{}/v1/ws", relay.address()), tls)
        .await
        .unwrap();
    use futures_util::StreamExt;
    let answer = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(answer.to_text().unwrap().contains("\"timeout\""), "{answer}");

    // The phone carries on throughout.
    phone.send_json(&json!({"type": "ping"})).await.unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["type"], "pong");
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once_and_the_phone_carries_on() {
    // A patience far longer than the wait below: a connection closed within that wait was refused by the
    // cap, not cut off for being slow.
    let relay = TestRelay::start(RelayConfig {
        patience: Duration::from_secs(60),
        max_connections: 4,
        ..RelayConfig::default()
    })
    .await;
    let credentials = relay.pair("Phone").await;
    let mut phone = PhoneConnection::open(&credentials, "Phone").await.unwrap();
    // With the phone holding one slot, three silent connections fill the cap; the next is closed.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(relay.address()).await.unwrap());
    }
    let mut buffer = [0u8; 16];
    let mut extra = TcpStream::connect(relay.address()).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(20), extra.read(&mut buffer))
        .await
        .expect("closed long before the 60 s patience");
    assert!(matches!(read, Ok(0) | Err(_)), "refused over the cap");
    phone.send_json(&json!({"type": "ping"})).await.unwrap();
    assert_eq!(phone.receive_reply().await.unwrap()["type"], "pong");
    // A slot freed is a slot usable again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = relay.pair("Other").await;
    assert!(PhoneConnection::open(&other, "Other").await.is_ok());
}

#[tokio::test]
async fn missed_heartbeats_mark_the_phone_offline_and_its_state_stops_holding() {
    let relay = TestRelay::start(RelayConfig {
        heartbeat: Duration::from_secs(1),
        ..RelayConfig::default()
    })
    .await;
    let credentials = relay.pair("Sleepy").await;
    let mut events = relay.relay.events();
    let mut feed = relay.relay.phone_feed();
    let mut phone = PhoneConnection::open(&credentials, "Sleepy").await.unwrap();
    assert_eq!(phone.welcome["heartbeat_secs"], 1);
    phone.send_json(&state(1, "in_vehicle")).await.unwrap();
    wait_for_feed(&mut feed, |feed| feed.state.is_some()).await;
    // Silent from now on: after three beats the desktop gives up, however busily it pushes statuses to
    // the phone meanwhile (only what the phone sends counts as a beat).
    let publish = relay.relay.status_publisher();
    let pushing = tokio::spawn(async move {
        for round in 0u32.. {
            let state = if round % 2 == 0 {
                StateKind::Busy
            } else {
                StateKind::Walking
            };
            publish(CaretState::without_details(state), Vec::new());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(until_closed(&mut phone).await, ["timeout"]);
    pushing.abort();
    wait_for_feed(&mut feed, |feed| feed.state.is_none() && feed.online.is_empty()).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    assert!(seen.contains(&RelayEvent::DeviceOffline {
        device_id: credentials.device_id.clone()
    }));
}

#[tokio::test]
async fn the_https_endpoint_takes_states_from_automation_tools_with_clear_errors() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Tasker").await;
    let fingerprint = relay.relay.fingerprint();
    let mut feed = relay.relay.phone_feed();
    let post = |bearer: Option<String>, body: Vec<u8>| {
        let address = relay.address();
        async move {
            https_request(address, fingerprint, "POST", "/v1/state", bearer.as_deref(), body)
                .await
                .unwrap()
        }
    };
    let token = Some(credentials.token.clone());
    let (status, answer) = post(
        token.clone(),
        br#"{"state": "in_vehicle", "for_secs": 60}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, answer),
        (200, json!({"type": "accepted", "for_secs": 60}))
    );
    let seen = wait_for_feed(&mut feed, |feed| feed.state.is_some()).await;
    assert_eq!(seen.from_device.as_deref(), Some(credentials.device_id.as_str()));

    for (bearer, body, status, code) in [
        (None, br#"{"state": "busy"}"#.to_vec(), 401, "unauthorized"),
        (
            Some("nope".to_owned()),
            br#"{"state": "busy"}"#.to_vec(),
            401,
            "unauthorized",
        ),
        (token.clone(), b"{oops".to_vec(), 400, "malformed_json"),
        (
            token.clone(),
            br#"{"state": "flying"}"#.to_vec(),
            400,
            "unknown_state",
        ),
        (
            token.clone(),
            br#"{"state": "busy", "for_secs": 5}"#.to_vec(),
            400,
            "invalid_field",
        ),
        (token.clone(), vec![b' '; 20 * 1024], 413, "frame_too_large"),
    ] {
        let (got, answer) = post(bearer, body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    let (status, _) = https_request(relay.address(), fingerprint, "GET", "/nowhere", None, Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 404);
    // Posting faster than the budget: 429 with Retry-After-like advice in the body.
    let mut limited = 0;
    for _ in 0..30 {
        let (status, answer) = post(token.clone(), br#"{"state": "busy"}"#.to_vec()).await;
        if status == 429 {
            assert_eq!(answer["code"], "rate_limited");
            limited += 1;
        }
    }
    assert!(limited > 0, "the per-device budget applies to HTTPS too");
}

#[tokio::test]
async fn an_http_state_holds_for_its_time_then_the_phone_counts_as_offline() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Shortcuts").await;
    let mut feed = relay.relay.phone_feed();
    let body = br#"{"state": "busy", "for_secs": 60}"#.to_vec();
    let (status, _) = https_request(
        relay.address(),
        relay.relay.fingerprint(),
        "POST",
        "/v1/state",
        Some(&credentials.token),
        body,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    wait_for_feed(&mut feed, |feed| feed.state.is_some()).await;
    // Paused only now: the sockets above need real time for their deadlines.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(61)).await;
    wait_for_feed(&mut feed, |feed| feed.state.is_none()).await;
}

#[tokio::test]
async fn fifty_phones_at_once_each_get_their_acks_and_the_newest_state_wins() {
    let relay = Arc::new(TestRelay::default().await);
    let mut all = Vec::new();
    for index in 0..50 {
        all.push(relay.pair(&format!("Phone {index}")).await);
    }
    let mut connections = Vec::new();
    for credentials in &all {
        connections.push(PhoneConnection::open(credentials, "x").await.unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        tasks.spawn(async move {
            for seq in 1..=5u64 {
                let name = if index % 2 == 0 { "busy" } else { "walking" };
                connection.send_json(&state(seq, name)).await.unwrap();
                let answer = connection.receive_reply().await.unwrap();
                assert_eq!(answer, json!({"type": "ack", "seq": seq}));
            }
            connection
        });
    }
    let mut connections = Vec::new();
    while let Some(done) = tasks.join_next().await {
        connections.push(done.unwrap());
    }
    let mut feed = relay.relay.phone_feed();
    let seen = wait_for_feed(&mut feed, |feed| feed.online.len() == 50).await;
    assert!(seen.state.is_some());
    let last = &mut connections[0];
    last.send_json(&state(6, "sleeping")).await.unwrap();
    last.receive_reply().await.unwrap();
    wait_for_feed(&mut feed, |feed| {
        feed.state.as_ref().map(CaretState::kind) == Some(StateKind::Sleeping)
    })
    .await;
    assert_eq!(relay.store.devices().unwrap().len(), 50);
}

#[tokio::test]
async fn a_second_connection_replaces_the_first_and_shutdown_closes_everyone() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Pixel").await;
    let mut events = relay.relay.events();
    let mut first = PhoneConnection::open(&credentials, "Pixel").await.unwrap();
    let mut second = PhoneConnection::open(&credentials, "Pixel").await.unwrap();
    assert_eq!(until_closed(&mut first).await, ["replaced"]);
    second.send_json(&state(1, "busy")).await.unwrap();
    assert_eq!(second.receive_reply().await.unwrap()["type"], "ack");
    relay.relay.shutdown();
    assert_eq!(until_closed(&mut second).await, ["shutting_down"]);
    // Online once: the replacement is not a new arrival.
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let online = seen
        .iter()
        .filter(|event| matches!(event, RelayEvent::DeviceOnline { .. }))
        .count();
    assert_eq!(online, 1, "{seen:?}");
}

#[tokio::test]
async fn an_automation_post_brings_the_device_online_and_counts_as_seen() {
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Home Assistant").await;
    let mut events = relay.relay.events();
    let (status, _) = https_request(
        relay.address(),
        relay.relay.fingerprint(),
        "POST",
        "/v1/state",
        Some(&credentials.token),
        br#"{"state": "sleeping"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        events.recv().await.unwrap(),
        RelayEvent::DeviceOnline {
            device_id: credentials.device_id.clone()
        }
    );
    assert!(relay.store.devices().unwrap()[0].last_seen_ms.is_some());
}

#[tokio::test]
async fn the_relay_is_announced_on_the_lan_as_caret_tcp_with_its_fingerprint_only_while_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).unwrap();
    let store = Store::open(&dir.path().join("caret.db")).unwrap();
    let relay = Relay::start(
        RelayConfig {
            port: 0,
            ..RelayConfig::default()
        },
        &identity,
        store,
    )
    .await
    .unwrap();
    assert_eq!(
        relay.advertised_as(),
        None,
        "nothing announced outside a pairing window"
    );
    // Opened from a thread outside the runtime, as the tray's "Pair phone…" does.
    std::thread::scope(|scope| scope.spawn(|| relay.start_pairing().map(|_| ())).join())
        .expect("no panic outside the runtime")
        .unwrap();
    let announced = relay.advertised_as().expect("announced while pairing");
    let browser = mdns_sd::ServiceDaemon::new().unwrap();
    let found = browser.browse(caret_relay::advertise::SERVICE_TYPE).unwrap();
    let wanted = announced.clone();
    // Each interface answers on its own, so the record resolves more than once: after the first answer,
    // every further one within a few seconds is gathered too, and the addresses are their union.
    let resolved = tokio::task::spawn_blocking(move || {
        let mut deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut resolved: Option<Box<mdns_sd::ResolvedService>> = None;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(mdns_sd::ServiceEvent::ServiceResolved(service)) = found.recv_timeout(left) else {
                continue;
            };
            if service.fullname != wanted {
                continue;
            }
            match resolved.as_mut() {
                Some(first) => first.addresses.extend(service.addresses),
                None => {
                    deadline = std::time::Instant::now() + Duration::from_secs(3);
                    resolved = Some(service);
                }
            }
        }
        resolved
    })
    .await
    .unwrap()
    .expect("found on the LAN in time");
    assert_eq!(resolved.port, relay.local_addr().port());
    assert_eq!(
        resolved.txt_properties.get_property_val_str("fp"),
        Some(identity.fingerprint.hex().as_str())
    );
    assert_eq!(resolved.txt_properties.get_property_val_str("v"), Some("1"));
    assert!(!resolved.addresses.is_empty());
    // Announced on every interface but loopback: a phone can never reach the desktop at 127.0.0.1 or ::1,
    // and an address it cannot reach would only slow its discovery down.
    let loopback: Vec<_> = resolved
        .addresses
        .iter()
        .map(|ip| ip.to_ip_addr())
        .filter(|ip| ip.is_loopback())
        .collect();
    assert!(
        loopback.is_empty(),
        "no loopback address in the announcement: {:?}",
        resolved.addresses
    );
    // The window ends (cancelled here; used or expired alike): the announcement is withdrawn.
    relay.cancel_pairing();
    assert_eq!(relay.advertised_as(), None);
    relay.shutdown();
    let _ = browser.shutdown();

    // Loopback-only announces nothing, even while pairing; nor does a relay closed to the LAN.
    let quiet = TestRelay::default().await;
    quiet.relay.start_pairing().unwrap();
    assert_eq!(quiet.relay.advertised_as(), None);
    let closed = TestRelay::start_on_lan(false).await;
    closed.relay.start_pairing().unwrap();
    assert_eq!(closed.relay.advertised_as(), None);
    // Opened to the LAN during the window: announced then, for the rest of it.
    closed.relay.set_lan_open(true);
    assert!(
        closed.relay.advertised_as().is_some(),
        "announced once open, while the window lasts"
    );
    closed.relay.set_lan_open(false);
    assert_eq!(closed.relay.advertised_as(), None);
}

#[tokio::test]
async fn an_announcement_ends_with_its_pairing_window() {
    let relay = TestRelay::start_on_lan_with(RelayConfig {
        pairing_window: Duration::from_millis(400),
        ..RelayConfig::default()
    })
    .await;
    relay.relay.start_pairing().unwrap();
    assert!(relay.relay.advertised_as().is_some());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        relay.relay.advertised_as(),
        None,
        "withdrawn when the window expired"
    );
    // Used: withdrawn at once.
    let offer = relay.relay.start_pairing().unwrap();
    assert!(relay.relay.advertised_as().is_some());
    pair_with_link(&PairingLink::parse(&offer.qr_url).unwrap(), "Pixel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        relay.relay.advertised_as(),
        None,
        "withdrawn once the window was used"
    );
}

/// The machine's first non-loopback IPv4 address: where a phone on the LAN reaches the relay.
fn lan_address() -> std::net::IpAddr {
    if_addrs::get_if_addrs()
        .unwrap()
        .into_iter()
        .map(|interface| interface.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
        .expect("this test needs a non-loopback IPv4 address (a LAN interface)")
}

/// Issue 14: the relay listens on the LAN only while the app has it open there; 127.0.0.1 always.
#[tokio::test]
async fn the_relay_opens_to_the_lan_and_closes_again_and_loopback_always_answers() {
    let relay = TestRelay::start_on_lan(false).await;
    let port = relay.address().port();
    let lan = SocketAddr::new(lan_address(), port);
    assert!(!relay.relay.lan_open());
    assert!(
        TcpStream::connect(lan).await.is_err(),
        "closed to the LAN: nothing listens on {lan}"
    );
    assert_eq!(
        relay.relay.addresses(),
        vec![relay.address().ip()],
        "the QR code says 127.0.0.1"
    );
    let local = relay.pair("Local").await;
    let mut local_phone = PhoneConnection::open(&local, "Local").await.unwrap();

    // Asked from a thread outside the runtime, as the tray's main thread does.
    let failed = std::thread::scope(|scope| scope.spawn(|| relay.relay.set_lan_open(true)).join())
        .expect("no panic outside the runtime");
    assert!(failed.is_empty(), "{failed:?}");
    let mut events = relay.relay.events();
    assert!(relay.relay.lan_open());
    assert!(
        relay.relay.addresses().contains(&lan.ip()),
        "{:?}",
        relay.relay.addresses()
    );
    // A phone on the LAN pairs through the QR code's LAN address and talks.
    let offer = relay.relay.start_pairing().unwrap();
    let link = PairingLink::parse(&offer.qr_url).unwrap();
    assert_eq!(link.addresses[0].ip(), lan.ip(), "{}", offer.qr_url);
    let remote = pair_with_link(&link, "Remote").await.unwrap();
    let paired = events.recv().await.unwrap();
    assert!(
        matches!(paired, RelayEvent::DevicePaired { from_lan: true, .. }),
        "paired from the LAN: {paired:?}"
    );
    let mut remote_phone = PhoneConnection::open(&remote, "Remote").await.unwrap();
    remote_phone
        .send_json(&json!({"type": "snapshot", "seq": 1, "state": "walking"}))
        .await
        .unwrap();
    assert_eq!(remote_phone.receive_reply().await.unwrap()["type"], "ack");

    relay.relay.set_lan_open(false);
    assert!(!relay.relay.lan_open());
    assert!(
        TcpStream::connect(lan).await.is_err(),
        "closed again: {lan} refuses"
    );
    assert!(PhoneConnection::open(&remote, "Remote").await.is_err());
    // 127.0.0.1 answered throughout: the loopback phone's connection carries on.
    local_phone
        .send_json(&json!({"type": "snapshot", "seq": 1, "state": "busy"}))
        .await
        .unwrap();
    assert_eq!(local_phone.receive_reply().await.unwrap()["type"], "ack");

    // Loopback-only never opens, whatever is asked.
    let forced = TestRelay::default().await;
    forced.relay.set_lan_open(true);
    assert!(!forced.relay.lan_open());
    let forced_lan = SocketAddr::new(lan.ip(), forced.address().port());
    assert!(TcpStream::connect(forced_lan).await.is_err());
}

#[tokio::test]
async fn a_text_message_that_is_not_utf8_is_answered_then_closed_1007_but_binary_stays_open() {
    use futures_util::SinkExt;
    let relay = TestRelay::default().await;
    let credentials = relay.pair("Pixel").await;
    let not_utf8: &[u8] = &[b'{', 0xff, 0xfe, b'}'];

    // Binary: read as UTF-8 JSON like any frame; refused, and the connection carries on.
    let mut phone = raw_phone(&relay, &credentials).await;
    phone.send(raw_frame(false, not_utf8)).await.unwrap();
    let (answer, close) = read_raw(&mut phone, 1).await;
    assert_eq!(
        (answer[0]["code"].as_str(), close),
        (Some("malformed_json"), None)
    );
    phone
        .send(RawMessage::Text(json!({"type": "ping"}).to_string().into()))
        .await
        .unwrap();
    let (answer, _) = read_raw(&mut phone, 1).await;
    assert_eq!(answer[0]["type"], "pong", "still open after a binary frame");

    // Text: RFC 6455 says fail the connection. The phone is told why, then the close frame says 1007.
    phone.send(raw_frame(true, not_utf8)).await.unwrap();
    let (answer, close) = read_raw(&mut phone, 2).await;
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0]["code"], "malformed_json");
    assert_eq!(close, Some((1007, "malformed_json".to_owned())));

    // The same before `hello`, and as the first message of a typed-code pairing (which does not count).
    for path in ["/v1/ws", "/v1/pair/code"] {
        let mut socket = raw_socket(&relay, path).await;
        socket.send(raw_frame(true, not_utf8)).await.unwrap();
        let (answer, close) = read_raw(&mut socket, 2).await;
        assert_eq!(answer.len(), 1, "{path}: {answer:?}");
        assert_eq!(answer[0]["code"], "malformed_json", "{path}");
        assert_eq!(close, Some((1007, "malformed_json".to_owned())), "{path}");
    }

    // After the phone's `pake`, it is one more message that is not a good `confirm`: a failed attempt.
    let offer = relay.relay.start_pairing().unwrap();
    let mut socket = raw_socket(&relay, "/v1/pair/code").await;
    let (_exchange, outbound) = caret_relay::pake::PakeExchange::start(&offer.short_code);
    let pake = json!({"type": "pake", "msg": caret_relay::pake::to_hex(&outbound)});
    socket
        .send(RawMessage::Text(pake.to_string().into()))
        .await
        .unwrap();
    socket.send(raw_frame(true, not_utf8)).await.unwrap();
    let (answer, close) = read_raw(&mut socket, 3).await;
    assert_eq!(answer[1]["code"], "wrong_pairing_code", "{answer:?}");
    assert_eq!(close, Some((1008, "wrong_pairing_code".to_owned())));
}

#[tokio::test]
async fn a_pairing_step_not_answered_in_time_is_a_timeout_that_counts_and_the_fifth_locks() {
    use futures_util::SinkExt;
    let relay = TestRelay::start(RelayConfig {
        patience: Duration::from_millis(300),
        ..RelayConfig::default()
    })
    .await;
    let offer = relay.relay.start_pairing().unwrap();
    // A phone that sends its `pake` with the right code, reads the desktop's, then never confirms.
    let abandon = || async {
        let mut socket = raw_socket(&relay, "/v1/pair/code").await;
        let (_exchange, outbound) = caret_relay::pake::PakeExchange::start(&offer.short_code);
        let pake = json!({"type": "pake", "msg": caret_relay::pake::to_hex(&outbound)});
        socket
            .send(RawMessage::Text(pake.to_string().into()))
            .await
            .unwrap();
        read_raw(&mut socket, 3).await
    };
    for left in (1..=4).rev() {
        let (messages, close) = abandon().await;
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["type"], "pake");
        let error = &messages[1];
        assert_eq!(error["code"], "timeout", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("{left} attempt")), "{message}");
        assert_eq!(close, Some((1008, "timeout".to_owned())));
    }
    // The fifth failed attempt, whatever made it fail, says the window is locked.
    let (messages, close) = abandon().await;
    assert_eq!(messages[1]["code"], "pairing_locked_out", "{messages:?}");
    assert_eq!(close, Some((1008, "pairing_locked_out".to_owned())));
    let error = pair_with_code(relay.address(), &offer.short_code, "Right")
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&error), "pairing_locked_out");

    // Silence before the `pake` is a timeout too, but it does not count: the phone had not guessed.
    let offer = relay.relay.start_pairing().unwrap();
    for _ in 0..6 {
        let mut socket = raw_socket(&relay, "/v1/pair/code").await;
        let (messages, close) = read_raw(&mut socket, 2).await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["code"], "timeout");
        assert_eq!(close, Some((1008, "timeout".to_owned())));
    }
    assert!(
        pair_with_code(relay.address(), &offer.short_code, "Patient")
            .await
            .is_ok()
    );
}

/// Shutdown as the app does it: the relay's runtime ends right after. Every phone must still be told, a
/// connection waiting for its `hello` and a pairing in progress too, and a phone that stopped reading must
/// not hold the shutdown past its deadline.
#[test]
fn shutdown_tells_every_phone_before_the_runtime_ends_and_a_deaf_phone_cannot_hold_it() {
    use futures_util::StreamExt;
    let relay_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let phones = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relay = relay_runtime.block_on(TestRelay::default());

    // Three phones that read everything, each reporting every status it sees; one that never reads; a
    // connection that has not said hello; a typed-code pairing that has not started.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut readers = Vec::new();
    for index in 0..3 {
        let credentials = phones.block_on(relay.pair(&format!("Reader {index}")));
        let mut socket = phones.block_on(raw_phone(&relay, &credentials));
        let seen_tx = seen_tx.clone();
        readers.push(phones.spawn(async move {
            let mut errors = Vec::new();
            while let Some(Ok(message)) = socket.next().await {
                match message {
                    RawMessage::Text(text) => {
                        let message: Value = serde_json::from_str(text.as_str()).unwrap();
                        match message["type"].as_str() {
                            Some("status") => {
                                let _ = seen_tx.send(message["shown"][0]["workspace"].to_string());
                            }
                            _ => errors.push(message["code"].as_str().unwrap_or_default().to_owned()),
                        }
                    }
                    RawMessage::Close(frame) => {
                        let frame = frame.unwrap();
                        return (errors, Some((u16::from(frame.code), frame.reason.to_string())));
                    }
                    _ => {}
                }
            }
            (errors, None)
        }));
    }
    let deaf_credentials = phones.block_on(relay.pair("Deaf"));
    let _deaf = phones.block_on(raw_phone(&relay, &deaf_credentials));
    let mut before_hello = phones.block_on(raw_socket(&relay, "/v1/ws"));
    relay.relay.start_pairing().unwrap();
    let mut pairing = phones.block_on(raw_socket(&relay, "/v1/pair/code"));

    // Statuses of 1 MB, each one sent once the readers have it: the deaf phone's socket buffers (a few MB on
    // loopback) fill up, and its task ends up stuck sending.
    for round in 0..32 {
        let shown = vec![caret_relay::protocol::ShownStatus {
            workspace: format!("round {round}"),
            text: "x".repeat(1 << 20),
            emoji: String::new(),
        }];
        relay.relay.publish_status(None, shown);
        let wanted = format!("\"round {round}\"");
        phones.block_on(async {
            let mut readers_seen = 0;
            while readers_seen < 3 {
                let got = tokio::time::timeout(Duration::from_secs(20), seen.recv())
                    .await
                    .expect("the readers keep up")
                    .unwrap();
                readers_seen += usize::from(got == wanted);
            }
        });
    }

    let deadline = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let left = relay_runtime.block_on(relay.relay.shutdown_gracefully(deadline));
    let took = started.elapsed();
    // What the app does next: its runtime ends, and with it every task still running.
    drop(relay_runtime);
    assert_eq!(left, 1, "only the deaf phone's task was still going");
    assert!(
        took < deadline + Duration::from_secs(1),
        "shutdown took {took:?}, past its deadline of {deadline:?}"
    );

    for reader in readers {
        let (errors, close) = phones.block_on(reader).unwrap();
        assert_eq!(errors, ["shutting_down"]);
        assert_eq!(close, Some((1001, "shutting_down".to_owned())));
    }
    for socket in [&mut before_hello, &mut pairing] {
        let (messages, close) = phones.block_on(read_raw(socket, 2));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["code"], "shutting_down");
        assert_eq!(close, Some((1001, "shutting_down".to_owned())));
    }
    assert!(
        relay.relay.pairing_open(),
        "a pairing cut short by shutdown did not count"
    );
}

/// Runs `openssl s_client` against the relay with one TLS version allowed; returns whether the handshake
/// worked, and what openssl said.
async fn openssl_handshake(relay: &TestRelay, version: &'static str) -> (bool, String) {
    let address = relay.address().to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("openssl")
            .args(["s_client", "-brief", version, "-connect", &address])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl is installed by scripts/setup.sh --test")
    })
    .await
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[tokio::test]
async fn the_relay_speaks_tls_1_3_only_and_refuses_a_tls_1_2_client() {
    let relay = TestRelay::default().await;
    let (worked, said) = openssl_handshake(&relay, "-tls1_3").await;
    assert!(worked && said.contains("TLSv1.3"), "{said}");
    let (worked, said) = openssl_handshake(&relay, "-tls1_2").await;
    assert!(!worked, "a TLS 1.2 client is refused: {said}");
    assert!(said.contains("protocol version"), "{said}");
}

/// Sends one raw HTTP request over pinned TLS and returns the start of the answer (or "" if the connection
/// just closed).
async fn raw_http(relay: &TestRelay, request: Vec<u8>) -> String {
    let (mut tls, _) = connect_tls(relay.address(), Some(relay.relay.fingerprint()))
        .await
        .unwrap();
    // The relay may answer before it has read it all; what matters is the answer.
    let _ = tls.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn request_headers_over_8_kib_are_refused_and_the_phone_page_still_loads() {
    let relay = TestRelay::default().await;
    let request = |padding: usize| {
        format!(
            "GET /nowhere HTTP/1.1\r\nHost: caret.local\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(padding)
        )
        .into_bytes()
    };
    // A phone's headers are a few hundred bytes; 6 KiB still passes.
    let answer = raw_http(&relay, request(6 * 1024)).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // A header block over the 8 KiB buffer: 431, and the connection closes.
    let answer = raw_http(&relay, request(12 * 1024)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // The buffer also bounds what is queued for writing: the page's files, larger than that, go out whole.
    for (path, file) in [
        ("/", include_str!("../phone/index.html")),
        ("/page.js", include_str!("../phone/page.js")),
        ("/page.css", include_str!("../phone/page.css")),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: caret.local\r\nConnection: close\r\n\r\n");
        let answer = raw_http(&relay, request.into_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert!(answer.ends_with(file), "{path} arrives whole");
    }
}

/// How far a silent server goes before it says nothing more.
#[derive(Clone, Copy)]
enum SilentAfter {
    TcpAccept,
    TlsHandshake,
    WebSocketHandshake,
}

/// Something on the desktop's port that stops answering at `after`: a hung desktop, or another program.
async fn silent_server(after: SilentAfter) -> (SocketAddr, Fingerprint) {
    let dir = tempfile::tempdir().unwrap();
    let identity = RelayIdentity::load_or_create(dir.path(), &["silent".into()]).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _dir = dir;
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Each connection is held open, and never answered past its stage.
                let _held: Box<dyn std::any::Any + Send> = match after {
                    SilentAfter::TcpAccept => Box::new(tcp),
                    SilentAfter::TlsHandshake => Box::new(acceptor.accept(tcp).await),
                    SilentAfter::WebSocketHandshake => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        Box::new(tokio_tungstenite::accept_async(tls).await)
                    }
                };
                std::future::pending::<()>().await;
            });
        }
    });
    (address, identity.fingerprint)
}

#[tokio::test]
async fn a_silent_desktop_never_hangs_the_phone_client_each_step_has_a_deadline() {
    use caret_relay::client::with_step_deadline;
    let deadline = Duration::from_millis(300);
    let timed_out_at = |result: Result<(), ClientError>| match result {
        Err(ClientError::Timeout { step, after }) => {
            assert_eq!(after, deadline);
            step
        }
        other => panic!("expected a timeout, got {other:?}"),
    };
    for (after, open_step, pair_step, http_step) in [
        (
            SilentAfter::TcpAccept,
            "TLS handshake",
            "TLS handshake",
            Some("TLS handshake"),
        ),
        (
            SilentAfter::TlsHandshake,
            "WebSocket handshake",
            "WebSocket handshake",
            Some("HTTP answer"),
        ),
        // (A server that speaks WebSocket only turns a POST away: no HTTP case there.)
        (
            SilentAfter::WebSocketHandshake,
            "welcome",
            "the desktop's pake",
            None,
        ),
    ] {
        let (address, fingerprint) = silent_server(after).await;
        let credentials = Credentials {
            device_id: "d_0000000000000000".into(),
            token: "0".repeat(64),
            fingerprint: fingerprint.hex(),
            address,
        };
        // An outer limit far above the deadline, so a client that hangs fails the test rather than hang it.
        let outer = Duration::from_secs(20);
        let opened = tokio::time::timeout(
            outer,
            with_step_deadline(deadline, PhoneConnection::open(&credentials, "x")),
        )
        .await
        .expect("the client gave up by itself");
        assert_eq!(timed_out_at(opened.map(drop)), open_step);
        let paired = tokio::time::timeout(
            outer,
            with_step_deadline(deadline, pair_with_code(address, "1234-5678", "x")),
        )
        .await
        .expect("the client gave up by itself");
        assert_eq!(timed_out_at(paired.map(drop)), pair_step);
        let Some(http_step) = http_step else { continue };
        let posted = tokio::time::timeout(
            outer,
            with_step_deadline(
                deadline,
                https_request(address, fingerprint, "POST", "/v1/state", None, Vec::new()),
            ),
        )
        .await
        .expect("the client gave up by itself");
        assert_eq!(timed_out_at(posted.map(drop)), http_step);
    }
}
