//! Text from a phone is untrusted (issue 14): an event title and a device name with NUL, ESC, CR/LF, DEL, a
//! right-to-left override and a zero-width space, sent to the real headless app, reach none of their
//! destinations with a control, bidi or invisible format character: Slack's status, the status pushed to
//! another phone, the desktop notification, the security notice by DM (where `&`, `<` and `>` are also
//! escaped for Slack), the Phones window's device list (`devices --json` gives the window's data) and the
//! tray (its lines read the status Slack kept). Needs the desktop harness (keyring, notification daemon).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::notifications::NotificationMonitor;
use caret_e2e::{eventually, require_desktop_session};
use caret_relay::client::{PairingLink, PhoneConnection, pair_with_link};
use serde_json::json;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);

/// What issue 14 sent, and more of the same kind.
const HOSTILE_NAME: &str = "Ada\u{202E}s\u{0}Pixel\u{1b}[2J\r\n<b>&\u{7f}\u{200B}";
const HOSTILE_TITLE: &str = "Pay\u{0}roll\u{1b}[31m\r\nreview\u{7f} \u{202E}weiver\u{2066}\u{FEFF}";

/// A character no destination may show.
fn forbidden(c: char) -> bool {
    c.is_control() || caret_core::text::is_invisible_format(c)
}

fn assert_clean(what: &str, text: &str) {
    let bad: Vec<String> = text
        .chars()
        .filter(|c| forbidden(*c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(bad.is_empty(), "{what} carries {bad:?}: {text:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_from_a_phone_reaches_every_destination_clean() {
    require_desktop_session();
    let notifications = NotificationMonitor::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let mut features = FakeSlack::FULL_SCOPES.to_vec();
    features.push("chat:write");
    let token = slack.add_user("Acme", "ada", &features);
    let sandbox = Sandbox::new();
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Vip);
    let (id, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings);
    caret_store::Store::open(&sandbox.data_dir().join("caret.db"))
        .and_then(|store| store.set_security_notices(id, true))
        .expect("notices on");
    let mut app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("app", READY, SOON).await;

    // Another phone, listening to what the desktop pushes.
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    let watcher = pair_with_link(&link, "Watcher").await.expect("the watcher pairs");
    let mut watching = PhoneConnection::open(&watcher, "Watcher")
        .await
        .expect("connects");

    // The hostile phone.
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    let hostile = pair_with_link(&link, HOSTILE_NAME).await.expect("pairs");
    let mut phone = PhoneConnection::open(&hostile, HOSTILE_NAME)
        .await
        .expect("connects");
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let end = chrono::Utc::now() + chrono::Duration::minutes(40);
    phone
        .send_json(&json!({"type": "snapshot", "seq": 1, "state": {
            "kind": "event", "title": HOSTILE_TITLE,
            "start": start.to_rfc3339(), "end": end.to_rfc3339()}}))
        .await
        .expect("send");
    let answer = phone.receive_reply().await.expect("ack");
    assert_eq!(answer["type"], "ack", "{answer}");

    // 1. Slack.
    let shown = eventually(
        "Slack shows the event",
        SOON,
        || slack.status(&token).text,
        |text| text.contains("review"),
    )
    .await;
    assert_clean("Slack's status", &shown);
    assert!(
        shown.starts_with("Pay roll [31m review weiver (until "),
        "{shown}"
    );

    // 2. The other phone.
    let pushed = tokio::time::timeout(SOON, async {
        loop {
            let message = watching.receive().await.expect("a push");
            if message["type"] == "status" && message["effective"]["kind"] == "event" {
                return message;
            }
        }
    })
    .await
    .expect("the event is pushed to the other phone");
    let pushed_title = pushed["effective"]["title"].as_str().expect("a title");
    assert_clean("the title pushed to another phone", pushed_title);
    assert_eq!(pushed_title, "Pay roll [31m review weiver");
    for shown in pushed["shown"].as_array().expect("shown") {
        assert_clean(
            "a status pushed to another phone",
            shown["text"].as_str().unwrap_or_default(),
        );
    }

    // 3. The desktop notification.
    let seen = notifications.wait_for("New phone paired", "Pixel", SOON).await;
    assert_clean("the notification", &format!("{}{}", seen.summary, seen.body));
    assert!(seen.body.contains("Adas Pixel [2J &lt;b&gt;&amp;"), "{seen:?}");

    // 4. The security notice by DM.
    let dm = eventually(
        "the pairing DM",
        SOON,
        || slack.messages(),
        |messages| messages.iter().any(|message| message.text.contains("Pixel")),
    )
    .await;
    let dm = dm
        .iter()
        .find(|message| message.text.contains("Pixel"))
        .expect("the DM");
    assert_clean("the DM", &dm.text);
    assert!(
        dm.text.contains("\"Adas Pixel [2J &lt;b&gt;&amp;\""),
        "{}",
        dm.text
    );

    // 5. The Phones window's list (the same view `devices --json` prints).
    let (ok, stdout, stderr) = sandbox.cli("cli-devices", &["devices", "--json"]).await;
    assert!(ok, "{stderr}");
    // One JSON object a line.
    let devices: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    let names: Vec<&str> = devices
        .iter()
        .filter_map(|device| device["name"].as_str())
        .collect();
    assert!(names.contains(&"Adas Pixel [2J <b>&"), "{names:?}");
    for name in names {
        assert_clean("a device name in the Phones window", name);
    }

    // 6. The tray: its phone line says the state's name; its workspace lines say what Slack kept.
    let answer: serde_json::Value =
        serde_json::from_str(&control_request(&sandbox, r#"{"command":"status"}"#).await).expect("JSON");
    let state_line = answer["state_line"].as_str().expect("the tray's line").to_owned();
    assert!(state_line.contains("At an event"), "{state_line}");
    assert_clean("the tray's line", &state_line);
    let store = caret_store::Store::open(&sandbox.data_dir().join("caret.db")).expect("database");
    let applied = store
        .sync_state(id)
        .expect("sync state")
        .applied_status
        .expect("applied");
    assert_clean("the tray's workspace line", &applied.text);

    phone.close().await;
    watching.close().await;
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

/// One request on the app's control socket (the tray's line has no command of its own yet), its answer.
async fn control_request(sandbox: &Sandbox, request: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut stream = tokio::net::UnixStream::connect(sandbox.data_dir().join("control.sock"))
        .await
        .expect("the control socket");
    stream
        .write_all(format!("{request}\n").as_bytes())
        .await
        .expect("send");
    let mut answer = String::new();
    tokio::io::BufReader::new(stream)
        .read_line(&mut answer)
        .await
        .expect("answer");
    answer
}
