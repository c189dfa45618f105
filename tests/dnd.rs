//! Slack's Do Not Disturb through the running app: a status set from the command line in a state whose rule is
//! to snooze pauses the person's notifications in Slack (a lease, looked at first with `dnd.info`) under
//! Trusted, never under Default (shown as Busy, whose rule is not to) nor Blocked; `settings ID set STATE.dnd`
//! turns a state's rule on and off; the state's end ends the snooze, after a restart too; a snooze the person
//! started is never ended; a token without the DND scopes keeps the status and says what it lacks. Needs the
//! desktop harness (the session bus, the Secret Service).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::eventually;
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::require_desktop_session;
use caret_store::{LogFilter, Store};

const SOON: Duration = Duration::from_secs(30);

fn settings(sharing: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(sharing);
    settings
}

async fn cli_ok(sandbox: &Sandbox, args: &[&str]) -> String {
    let (ok, stdout, stderr) = sandbox.cli("cli-dnd", args).await;
    assert!(ok, "caret-desktop {args:?}: {stderr}");
    stdout
}

/// Whether Slack runs a snooze for `token` now.
fn snoozed(slack: &FakeSlack, token: &str) -> bool {
    let now = slack.now_secs();
    slack.account(token).snooze_until.is_some_and(|until| until > now)
}

async fn snooze_is(slack: &FakeSlack, token: &str, what: &str, wanted: bool) {
    eventually(what, SOON, || snoozed(slack, token), |on| *on == wanted).await;
}

fn log_rows(sandbox: &Sandbox, text: &str) -> Vec<caret_store::LogEntry> {
    Store::open(&sandbox.data_dir().join("caret.db"))
        .and_then(|store| {
            store.query_log(&LogFilter {
                text: Some(text.into()),
                ..LogFilter::default()
            })
        })
        .expect("the sync log")
}

#[tokio::test(flavor = "multi_thread")]
async fn driving_pauses_notifications_under_trusted_only_until_it_ends_and_never_ends_the_persons_own() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let trusted = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let default = slack.add_user("Globex", "ada", &FakeSlack::FULL_SCOPES);
    let no_dnd: Vec<&str> = FakeSlack::FULL_SCOPES
        .into_iter()
        .filter(|scope| !scope.starts_with("dnd:"))
        .collect();
    let lacking = slack.add_user("Initech", "ada", &no_dnd);
    let sandbox = Sandbox::new();
    let (trusted_id, _trusted) = sandbox.seed_workspace(&slack, &trusted, &settings(SharingPolicy::Trusted));
    let (_, _default) = sandbox.seed_workspace(&slack, &default, &settings(SharingPolicy::Default));
    let (lacking_id, _lacking) = sandbox.seed_workspace(&slack, &lacking, &settings(SharingPolicy::Trusted));
    // What connecting keeps: the scopes Slack granted (auth.test's answer).
    let granted: Vec<String> = no_dnd.iter().map(|scope| (*scope).to_owned()).collect();
    Store::open(&sandbox.data_dir().join("caret.db"))
        .and_then(|store| store.set_granted_scopes(lacking_id, &granted))
        .expect("the grant kept");
    let trusted_id = trusted_id.to_string();
    let mut app = sandbox.launch_headless(&slack, "app").await;

    let shown = cli_ok(&sandbox, &["settings", &trusted_id, "get", "in_vehicle.dnd"]).await;
    assert_eq!(
        shown.trim(),
        "on",
        "Driving pauses notifications unless told otherwise"
    );
    cli_ok(&sandbox, &["status", "set", "in_vehicle", "--for", "forever"]).await;
    snooze_is(
        &slack,
        &trusted,
        "Trusted: notifications paused while driving",
        true,
    )
    .await;
    eventually(
        "the status too",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "Driving",
    )
    .await;
    eventually(
        "Default: Busy",
        SOON,
        || slack.status(&default).text,
        |text| text == "Busy",
    )
    .await;
    eventually(
        "Initech: Driving without DND",
        SOON,
        || slack.status(&lacking).text,
        |text| text == "Driving",
    )
    .await;
    assert!(
        !snoozed(&slack, &default),
        "Default shows Busy, and Busy does not pause notifications"
    );
    assert_eq!(
        slack.count("dnd.setSnooze", "ok"),
        1,
        "one snooze, in the Trusted workspace"
    );
    // "Until cleared": a snooze needs an end, so it is a lease (30 minutes) the app renews.
    let left = slack.account(&trusted).snooze_until.unwrap_or_default() - slack.now_secs();
    assert!((28 * 60..=30 * 60).contains(&left), "{left} s");
    let rows = log_rows(&sandbox, "dnd.setSnooze");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].source, "you");
    assert_eq!(rows[0].sent.as_deref(), Some(r#"{"num_minutes":30}"#));
    eventually(
        "Initech: the missing scopes said in the sync log",
        SOON,
        || log_rows(&sandbox, "Do Not Disturb not synced: the token lacks dnd:"),
        |rows| rows.len() == 1,
    )
    .await;

    // The workspace list (and Settings, from the same view) names what the grant lacks, and what suffers.
    let listed = cli_ok(&sandbox, &["workspace", "list", "--json"]).await;
    let views: Vec<serde_json::Value> = listed
        .lines()
        .map(|line| serde_json::from_str(line).expect("a workspace as JSON"))
        .collect();
    let initech = views
        .iter()
        .find(|view| view["team"] == "Initech")
        .expect("Initech listed");
    assert_eq!(
        initech["missing_scopes"],
        serde_json::json!(["dnd:write", "dnd:read"]),
        "{initech}"
    );
    assert!(
        initech["scope_problems"][0]
            .as_str()
            .is_some_and(|problem| problem.contains("Do Not Disturb")),
        "{initech}"
    );

    // Turned off for Driving: the snooze of ours ends at once.
    cli_ok(
        &sandbox,
        &["settings", &trusted_id, "set", "in_vehicle.dnd", "off"],
    )
    .await;
    snooze_is(&slack, &trusted, "Driving no longer pauses notifications", false).await;
    assert_eq!(slack.count("dnd.endSnooze", "ok"), 1);
    cli_ok(
        &sandbox,
        &["settings", &trusted_id, "set", "in_vehicle.dnd", "on"],
    )
    .await;
    snooze_is(&slack, &trusted, "on again", true).await;

    // A restart with the snooze running: the next start knows it is its own and ends it with the state.
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    app = sandbox.launch_headless(&slack, "app-again").await;
    cli_ok(&sandbox, &["status", "clear"]).await;
    snooze_is(&slack, &trusted, "the drive is over after a restart", false).await;
    assert_eq!(slack.count("dnd.endSnooze", "ok"), 2);

    // The person's own snooze: driving again changes nothing of it, and the end of the drive does not end it.
    slack.user_snoozes(&trusted, 90);
    let theirs = slack.account(&trusted).snooze_until;
    cli_ok(&sandbox, &["status", "set", "in_vehicle", "--for", "1h"]).await;
    eventually(
        "the person's snooze noted as theirs",
        SOON,
        || log_rows(&sandbox, "a snooze you started runs until"),
        |rows| !rows.is_empty(),
    )
    .await;
    cli_ok(&sandbox, &["status", "clear"]).await;
    eventually(
        "the status cleared",
        SOON,
        || slack.status(&trusted).text,
        |text| text.is_empty(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        slack.account(&trusted).snooze_until,
        theirs,
        "never changed nor ended"
    );
    assert_eq!(slack.count("dnd.setSnooze", "ok"), 2);
    assert_eq!(slack.count("dnd.endSnooze", "ok"), 2);
    for method in ["dnd.info", "dnd.setSnooze", "dnd.endSnooze"] {
        assert_eq!(slack.count(method, "ratelimited"), 0, "{method}");
    }
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
