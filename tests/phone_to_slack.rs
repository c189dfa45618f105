//! The whole product path on the real app: a phone paired through `caret-desktop pair`, its state through
//! the relay (real TLS) into the sync engine, the workspace's token read from the OS keyring (the harness's
//! gnome-keyring), and the status arriving at the local Slack server; then what Slack shows is pushed back
//! to the phone. Needs the desktop harness (D-Bus and the Secret Service).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{KeyringCleanup, Sandbox, set_in_keyring, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::notifications::NotificationMonitor;
use caret_e2e::{eventually, require_desktop_session};
use caret_relay::client::{PairingLink, PhoneConnection, pair_with_link};
use caret_store::Store;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_state_reaches_slack_through_the_running_app_and_what_slack_shows_comes_back() {
    require_desktop_session();
    let notifications = NotificationMonitor::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);

    // A connected workspace, as the connect flow leaves it: a row in the database, the token in the keyring.
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.data_dir()).expect("data dir");
    let store = Store::open(&sandbox.data_dir().join("caret.db")).expect("store");
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Trusted);
    // A unique team id per run: the keyring is shared by the harness session's tests.
    let team_id = format!("T{}", std::process::id());
    store
        .upsert_workspace(&team_id, "U1", "Acme", "ada", &settings, 0)
        .expect("workspace");
    drop(store);
    let account = caret_app::slack::tokens::keyring_account(&team_id, "U1");
    let _cleanup = KeyringCleanup(account.clone());
    set_in_keyring(&account, &token);

    let mut app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("app", READY, SOON).await;

    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    let phone_name = format!("Pixel {}", std::process::id());
    let credentials = pair_with_link(&link, &phone_name).await.expect("pairs");
    // The pairing is announced on the desktop, as the notification daemon receives it.
    notifications
        .wait_for("New phone paired", &phone_name, SOON)
        .await;
    let mut phone = PhoneConnection::open(&credentials, &phone_name)
        .await
        .expect("connects");
    phone
        .send_json(&serde_json::json!({"type": "snapshot", "seq": 1, "state": "in_call"}))
        .await
        .expect("send");

    // Trusted shares the exact state: Slack shows the call, with a lease expiration.
    let shown = eventually(
        "Slack shows the call",
        SOON,
        || slack.status(&token),
        |status| !status.text.is_empty(),
    )
    .await;
    assert!(shown.text.to_lowercase().contains("call"), "{shown:?}");
    assert!(
        shown.expiration > 0,
        "a lease, so nothing stale stays if the desktop goes away: {shown:?}"
    );

    // What Slack shows comes back to the phone.
    let pushed = tokio::time::timeout(SOON, async {
        loop {
            let message = phone.receive().await.expect("a message");
            if message["type"] == "status" && message["shown"][0]["workspace"] == "Acme" {
                return message;
            }
        }
    })
    .await
    .expect("the status with what Slack shows is pushed to the phone");
    assert_eq!(pushed["shown"][0]["text"], shown.text.as_str());
    assert_eq!(pushed["effective"]["kind"], "in_call");

    // The token is revoked in Slack: at the next change the workspace is disconnected and the user told.
    slack.revoke(&token);
    phone
        .send_json(&serde_json::json!({"type": "state", "seq": 2, "state": "busy"}))
        .await
        .expect("send");
    let told = notifications
        .wait_for("Slack disconnected: Acme", "Settings", SOON)
        .await;
    assert_eq!(told.app, "Caret Desktop");
    // After all that (errors and the sync log included), the token is in no file the app wrote, nor a log.
    sandbox.assert_secret_nowhere(&token, "Slack token");

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
