//! The screen-lock source through the running app: a screen saver on the test session bus (the interface KDE
//! and GNOME provide, emitting `ActiveChanged` as the desktop does), the app watching it once the user turns
//! the source on, and the presence arriving at the local Slack: away while locked under every policy that
//! shares anything, nothing at all under Blocked, the status left to the other inputs. Needs the desktop
//! harness (the session bus, the Secret Service). One test at a time: each owns the screen saver's name.

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::logind::FakeLogind;
use caret_e2e::screensaver::{FakeScreenSaver, Flavour};
use caret_e2e::{eventually, require_desktop_session};
use caret_store::{LogFilter, LogKind, Store};
use tokio::process::Child;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);
const PRESENCE: &str = "users.setPresence";

async fn launch(sandbox: &Sandbox, slack: &FakeSlack, name: &str) -> Child {
    launch_with(sandbox, slack, name, &[]).await
}

async fn launch_with(sandbox: &Sandbox, slack: &FakeSlack, name: &str, env: &[(&str, &str)]) -> Child {
    let mut command = sandbox.command(name, &["--headless"]);
    command.env("CARET_SLACK_API_URL", slack.base_url());
    for (key, value) in env {
        command.env(key, value);
    }
    let app = command.spawn().expect("launch");
    sandbox.wait_for_log(name, READY, SOON).await;
    app
}

async fn state(sandbox: &Sandbox) -> serde_json::Value {
    let (ok, stdout, stderr) = sandbox.cli("cli-state", &["state", "--json"]).await;
    assert!(ok, "caret-desktop state: {stderr}");
    serde_json::from_str(stdout.trim()).expect("the state as JSON")
}

fn settings(sharing: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(sharing);
    settings
}

async fn away(slack: &FakeSlack, token: &str, what: &str, wanted: bool) {
    eventually(
        what,
        SOON,
        || slack.account(token).manual_away,
        |away| *away == wanted,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_screen_is_away_in_slack_under_each_policy_but_blocked_and_the_status_stays() {
    require_desktop_session();
    let screen = FakeScreenSaver::start(Flavour::Freedesktop, false).await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let trusted = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let default = slack.add_user("Globex", "ada", &FakeSlack::FULL_SCOPES);
    let blocked = slack.add_user("Initech", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _trusted) = sandbox.seed_workspace(&slack, &trusted, &settings(SharingPolicy::Trusted));
    let (_, _default) = sandbox.seed_workspace(&slack, &default, &settings(SharingPolicy::Default));
    let mut blocked_settings = settings(SharingPolicy::Vip);
    blocked_settings.policy.block_until_resumed();
    let (_, _blocked) = sandbox.seed_workspace(&slack, &blocked, &blocked_settings);
    let mut app = launch(&sandbox, &slack, "app").await;

    // Off until the user turns it on: locking changes nothing.
    assert_eq!(sandbox.sources(&[]).await["screen_lock"]["state"], "off");
    screen.lock().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !slack.account(&trusted).manual_away,
        "nothing watched, nothing sent"
    );
    screen.unlock().await;

    let on = sandbox.sources(&["screen-lock", "on"]).await;
    assert_eq!(on["screen_lock"]["state"], "watching", "{on}");
    assert_eq!(on["screen_lock"]["locked"], false, "{on}");
    assert_eq!(
        on["screen_lock"]["through"][0], "org.freedesktop.ScreenSaver",
        "{on}"
    );
    assert_eq!(
        on["microphone"]["state"], "off",
        "one source turned on leaves the other as it was"
    );
    let (ok, said, _) = sandbox.cli("cli-sources-text", &["sources"]).await;
    assert!(
        ok && said.contains("screen lock: on, watching org.freedesktop.ScreenSaver: unlocked"),
        "{said}"
    );

    // A status of the user's own: the lock leaves it as it is.
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "in_call", "--for", "1h"])
        .await;
    assert!(ok, "{stderr}");
    eventually(
        "the call in Slack",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "In a call",
    )
    .await;

    screen.lock().await;
    away(&slack, &trusted, "Trusted: away while locked", true).await;
    away(&slack, &default, "Default: away while locked", true).await;
    assert_eq!(
        slack.status(&trusted).text,
        "In a call",
        "the status stays the inputs' own"
    );
    assert_eq!(slack.status(&default).text, "Busy", "Default: still only Busy");
    let now = sandbox.sources(&[]).await;
    assert_eq!(now["screen_lock"]["locked"], true, "{now}");
    let shown = state(&sandbox).await;
    assert_eq!(
        shown["lines"][0], "Status: In a call (set by you) · away (screen locked)",
        "{shown}"
    );

    // A malformed signal from a buggy locker is ignored: still locked, still away.
    screen.send_malformed().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(slack.account(&trusted).manual_away);

    screen.unlock().await;
    away(&slack, &trusted, "Trusted: back when unlocked", false).await;
    away(&slack, &default, "Default: back when unlocked", false).await;
    assert_eq!(slack.status(&trusted).text, "In a call");

    // Blocked shares nothing, not even away: no presence call, no status, at any moment.
    assert!(!slack.account(&blocked).manual_away);
    assert_eq!(slack.status(&blocked).text, "");
    let blocked_user = slack.account(&blocked).user_id;
    let blocked_presence_calls = slack
        .calls()
        .iter()
        .filter(|call| call.method == PRESENCE && call.user_id.as_deref() == Some(blocked_user.as_str()))
        .count();
    assert_eq!(blocked_presence_calls, 0, "Blocked: not one presence call");
    assert_eq!(
        sandbox.input_rows("screen lock"),
        ["screen locked: away", "screen unlocked"]
    );
    // The presence calls the lock caused name it as their source (the status calls name the user's choice).
    let store = Store::open(&sandbox.data_dir().join("caret.db")).expect("store");
    let presence_calls: Vec<(String, String)> = store
        .query_log(&LogFilter::default())
        .expect("log")
        .into_iter()
        .rev()
        .filter(|row| row.kind == LogKind::Call && row.method.as_deref() == Some(PRESENCE))
        .filter(|row| row.workspace.as_deref() == Some("Acme"))
        .map(|row| (row.source, row.sent.unwrap_or_default()))
        .collect();
    assert_eq!(
        presence_calls,
        [
            ("screen lock".to_owned(), r#"{"presence":"away"}"#.to_owned()),
            ("screen lock".to_owned(), r#"{"presence":"auto"}"#.to_owned()),
        ],
        "the lock's presence calls"
    );

    // The desktop's shell restarts while locked: the lock is gone with it, then read again from the new one.
    screen.lock().await;
    away(&slack, &trusted, "away again", true).await;
    screen.quit().await;
    away(
        &slack,
        &trusted,
        "a screen saver gone cannot keep anyone away",
        false,
    )
    .await;
    let screen = FakeScreenSaver::start(Flavour::Freedesktop, true).await;
    away(&slack, &trusted, "the new screen saver says locked", true).await;

    // The choice outlives a restart, and a screen locked at start is away at once.
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    let mut app = launch(&sandbox, &slack, "app-again").await;
    let again = sandbox.sources(&[]).await;
    assert_eq!(again["screen_lock"]["state"], "watching", "{again}");
    assert_eq!(again["screen_lock"]["locked"], true, "{again}");
    screen.unlock().await;
    away(&slack, &trusted, "unlocked after the restart", false).await;

    // Turned off while locked: back to automatic at once.
    screen.lock().await;
    away(&slack, &trusted, "locked once more", true).await;
    let off = sandbox.sources(&["screen-lock", "off"]).await;
    assert_eq!(off["screen_lock"]["state"], "off", "{off}");
    away(&slack, &trusted, "the source off: not away", false).await;
    assert_eq!(slack.count(PRESENCE, "ratelimited"), 0, "within Slack's limits");
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_screen_saver_the_source_says_so_and_watches_one_that_appears() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings(SharingPolicy::Vip));
    let mut app = launch(&sandbox, &slack, "app").await;

    let on = sandbox.sources(&["screen-lock", "on"]).await;
    assert_eq!(on["screen_lock"]["state"], "unavailable", "{on}");
    let reason = on["screen_lock"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("no screen-lock interface"), "{reason}");
    let (_, said, _) = sandbox.cli("cli-sources-text", &["sources"]).await;
    assert!(said.contains("screen lock: on, but not watching"), "{said}");

    // GNOME's flavour appears (the shell started late): the next try finds it (5 s after the first).
    let screen = FakeScreenSaver::start(Flavour::Gnome, false).await;
    let watching = eventually_sources(&sandbox, |view| view["screen_lock"]["state"] == "watching").await;
    assert_eq!(
        watching["screen_lock"]["through"][0], "org.gnome.ScreenSaver",
        "{watching}"
    );
    screen.lock().await;
    away(&slack, &token, "VIP: away while locked", true).await;
    screen.unlock().await;
    away(&slack, &token, "VIP: back when unlocked", false).await;
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn logind_s_lock_hint_is_watched_beside_the_screen_saver_and_either_one_locked_is_away() {
    require_desktop_session();
    let logind = FakeLogind::start(false).await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings(SharingPolicy::Trusted));
    let mut app = launch_with(
        &sandbox,
        &slack,
        "app",
        &[("DBUS_SYSTEM_BUS_ADDRESS", logind.address())],
    )
    .await;

    // logind alone (a session whose locker tells logind, with no screen saver interface).
    let on = sandbox.sources(&["screen-lock", "on"]).await;
    assert_eq!(on["screen_lock"]["state"], "watching", "{on}");
    assert_eq!(
        on["screen_lock"]["through"],
        serde_json::json!(["logind"]),
        "{on}"
    );
    logind.lock().await;
    away(&slack, &token, "away with logind's hint", true).await;
    logind.unlock().await;
    away(&slack, &token, "back with logind's hint", false).await;

    // A screen saver appearing later (the shell started after the app) is watched too, as on GNOME or KDE:
    // either one saying locked is away, both unlocked is back.
    let screen = FakeScreenSaver::start(Flavour::Freedesktop, false).await;
    eventually_sources(&sandbox, |view| {
        view["screen_lock"]["through"] == serde_json::json!(["org.freedesktop.ScreenSaver", "logind"])
    })
    .await;
    logind.lock().await;
    away(&slack, &token, "logind locked, the screen saver not yet", true).await;
    screen.lock().await;
    logind.unlock().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        slack.account(&token).manual_away,
        "the screen saver still says locked"
    );
    screen.unlock().await;
    away(&slack, &token, "both unlocked", false).await;
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

async fn eventually_sources(
    sandbox: &Sandbox,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let view = sandbox.sources(&[]).await;
        if wanted(&view) {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sources never became so: {view}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Issue 19, point 2's option: with "Away from the desk" turned on, a locked screen also shows that status under
/// Trusted (a lease: renewed while locked), nothing more under Default than away, never over the person's own
/// status; unlocked, it is cleared. The status call names the screen lock as its source.
#[tokio::test(flavor = "multi_thread")]
async fn away_from_the_desk_is_shown_while_locked_where_asked_and_nothing_else_sets_a_status() {
    require_desktop_session();
    let screen = FakeScreenSaver::start(Flavour::Freedesktop, false).await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let trusted = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let default = slack.add_user("Globex", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _trusted) = sandbox.seed_workspace(&slack, &trusted, &settings(SharingPolicy::Trusted));
    let (_, _default) = sandbox.seed_workspace(&slack, &default, &settings(SharingPolicy::Default));
    let mut app = launch(&sandbox, &slack, "app").await;
    sandbox.sources(&["screen-lock", "on"]).await;
    let asked = sandbox.sources(&["screen-lock-status", "on"]).await;
    assert_eq!(asked["screen_lock_status"], true, "{asked}");
    let (_, said, _) = sandbox.cli("cli-sources-text", &["sources"]).await;
    assert!(
        said.contains("\"Away from the desk\" shown while locked"),
        "{said}"
    );

    screen.lock().await;
    away(&slack, &trusted, "Trusted: away while locked", true).await;
    let shown = eventually(
        "Trusted: Away from the desk",
        SOON,
        || slack.status(&trusted),
        |status| status.text == "Away from the desk" && status.emoji == ":coffee:",
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    assert!(
        shown.expiration > now && shown.expiration <= now + 61 * 60,
        "a lease, renewed while locked: {shown:?}"
    );
    away(&slack, &default, "Default: away while locked", true).await;
    assert_eq!(slack.status(&default).text, "", "Default: only away");

    // The person's own status is not replaced, and takes the status back when it goes.
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "busy", "--for", "1h"])
        .await;
    assert!(ok, "{stderr}");
    eventually(
        "Trusted: the person's Busy",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "Busy",
    )
    .await;
    let (ok, _, stderr) = sandbox.cli("cli-clear", &["status", "clear"]).await;
    assert!(ok, "{stderr}");
    eventually(
        "Trusted: Away from the desk again",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "Away from the desk",
    )
    .await;

    // Taken back while locked: the status goes at once, the presence stays away.
    let taken_back = sandbox.sources(&["screen-lock-status", "off"]).await;
    assert_eq!(taken_back["screen_lock_status"], false, "{taken_back}");
    eventually(
        "Trusted: Away from the desk taken back while locked",
        SOON,
        || slack.status(&trusted).text,
        String::is_empty,
    )
    .await;
    assert!(slack.account(&trusted).manual_away, "still away while locked");
    sandbox.sources(&["screen-lock-status", "on"]).await;
    eventually(
        "Trusted: Away from the desk asked for again while locked",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "Away from the desk",
    )
    .await;

    screen.unlock().await;
    away(&slack, &trusted, "Trusted: back when unlocked", false).await;
    eventually(
        "Trusted: cleared when unlocked",
        SOON,
        || slack.status(&trusted).text,
        String::is_empty,
    )
    .await;
    let store = Store::open(&sandbox.data_dir().join("caret.db")).expect("store");
    let away_calls = store
        .query_log(&LogFilter::default())
        .expect("log")
        .into_iter()
        .filter(|row| row.kind == LogKind::Call && row.method.as_deref() == Some("users.profile.set"))
        .filter(|row| {
            row.sent
                .as_deref()
                .is_some_and(|sent| sent.contains("Away from the desk"))
        })
        .map(|row| row.source)
        .collect::<Vec<_>>();
    assert!(
        !away_calls.is_empty() && away_calls.iter().all(|source| source == "screen lock"),
        "{away_calls:?}"
    );
    assert_eq!(slack.count("users.profile.set", "ratelimited"), 0);
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
