//! The working hours through the running app (its clock in New York): turned on from the command line with a
//! week the present falls outside of, they make Slack show the person away under every policy that shares
//! anything and, asked for, "Off for the day" until the next start under Trusted (its expiration that start);
//! Default only away, Blocked nothing. The person's own status beats them; a restart keeps them; the start of
//! work arrives by itself (the source wakes at it) and clears both; turned off, nothing is left. Needs the
//! desktop harness (the session bus, the Secret Service).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::{eventually, eventually_or_tell, require_desktop_session};
use caret_store::{LogFilter, LogKind, Store};
use chrono::{DateTime, Duration as Span, DurationRound, Timelike, Utc};
use chrono_tz::America::New_York;
use tokio::process::Child;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);
const PRESENCE: &str = "users.setPresence";
const ZONE: &str = "America/New_York";

async fn launch(sandbox: &Sandbox, slack: &FakeSlack, name: &str) -> Child {
    let app = sandbox
        .command(name, &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .env("TZ", ZONE)
        .spawn()
        .expect("launch");
    sandbox.wait_for_log(name, READY, SOON).await;
    app
}

fn settings(sharing: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(sharing);
    settings
}

/// `caret-desktop hours ARGS --json`, in the app's zone.
async fn hours(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["hours"];
    all.extend(args);
    all.push("--json");
    let (ok, stdout, stderr) = sandbox.cli("cli-hours", &all).await;
    assert!(ok, "caret-desktop hours {args:?}: {stderr}");
    serde_json::from_str(stdout.trim()).expect("the sources as JSON")
}

/// Every day from `start` to `end` (New York wall times), as `--week` takes it.
fn every_day(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let clock = |at: DateTime<Utc>| {
        let local = at.with_timezone(&New_York);
        format!("{:02}:{:02}", local.hour(), local.minute())
    };
    format!("mon-sun {}-{}", clock(start), clock(end))
}

async fn away(sandbox: &Sandbox, slack: &FakeSlack, token: &str, what: &str, wanted: bool) {
    eventually_or_tell(
        what,
        SOON,
        || slack.account(token).manual_away,
        |away| *away == wanted,
        || {
            let rows: Vec<String> = Store::open(&sandbox.data_dir().join("caret.db"))
                .and_then(|store| store.query_log(&LogFilter::default()))
                .map(|rows| rows.into_iter().rev().map(|row| format!("{row:?}")).collect())
                .unwrap_or_default();
            format!("the sync log:\n{}", rows.join("\n"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn off_work_is_away_and_off_for_the_day_until_the_next_start_which_comes_by_itself() {
    require_desktop_session();
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

    let off = hours(&sandbox, &[]).await;
    assert_eq!(off["working_hours"]["state"], "off", "off until turned on: {off}");

    // Work starts two hours from now every day and lasts an hour: now is off work, back at that start.
    let minute = Utc::now().duration_trunc(Span::minutes(1)).expect("a minute");
    let back_at = minute + Span::hours(2);
    let week = every_day(back_at, back_at + Span::hours(1));
    let on = hours(&sandbox, &["on", "--week", &week, "--off-status", "on"]).await;
    assert_eq!(on["working_hours"]["state"], "off_work", "{on}");
    assert_eq!(on["working_hours"]["off_status"], true, "{on}");
    let said_back: DateTime<Utc> = on["working_hours"]["back_at"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("a next start");
    assert_eq!(said_back, back_at, "{on}");
    assert_eq!(on["working_week"]["on"], true, "{on}");

    away(&sandbox, &slack, &trusted, "Trusted: away off work", true).await;
    away(&sandbox, &slack, &default, "Default: away off work", true).await;
    eventually(
        "Trusted: Off for the day until the next start",
        SOON,
        || slack.status(&trusted),
        |status| status.text == "Off for the day" && status.emoji == ":crescent_moon:",
    )
    .await;
    assert_eq!(
        slack.status(&trusted).expiration,
        back_at.timestamp(),
        "Slack clears it at the next start, even if this computer is off by then"
    );
    assert_eq!(slack.status(&default).text, "", "Default: only the presence");
    let (ok, state, _) = sandbox.cli("cli-state", &["state"]).await;
    assert!(
        ok && state.contains("No phone paired yet · away (off work)"),
        "{state}"
    );
    let (ok, said, _) = sandbox.cli("cli-hours-text", &["hours"]).await;
    assert!(ok && said.contains("week: mon-sun "), "{said}");
    assert!(said.contains("now: on: off work until "), "{said}");

    // The person's own status wins: their status, their presence.
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
    away(
        &sandbox,
        &slack,
        &trusted,
        "Trusted: not away under the person's own status",
        false,
    )
    .await;
    let (ok, _, stderr) = sandbox.cli("cli-clear", &["status", "clear"]).await;
    assert!(ok, "{stderr}");
    away(
        &sandbox,
        &slack,
        &trusted,
        "Trusted: away again once it is cleared",
        true,
    )
    .await;
    eventually(
        "Trusted: Off for the day again",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "Off for the day",
    )
    .await;

    // A restart keeps the week and what it says.
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    let mut app = launch(&sandbox, &slack, "app-again").await;
    let again = hours(&sandbox, &[]).await;
    assert_eq!(again["working_hours"]["state"], "off_work", "{again}");
    assert_eq!(again["working_week"], on["working_week"], "{again}");

    // Turned off while off work: automatic presence and no status at once; turned on again, the week kept.
    let off = hours(&sandbox, &["off"]).await;
    assert_eq!(off["working_hours"]["state"], "off", "{off}");
    away(
        &sandbox,
        &slack,
        &trusted,
        "Trusted: the hours off, not away",
        false,
    )
    .await;
    away(
        &sandbox,
        &slack,
        &default,
        "Default: the hours off, not away",
        false,
    )
    .await;
    eventually(
        "Trusted: Off for the day gone with the hours",
        SOON,
        || slack.status(&trusted).text,
        String::is_empty,
    )
    .await;
    let on_again = hours(&sandbox, &["on"]).await;
    assert_eq!(
        on_again["working_week"], on["working_week"],
        "the week is kept: {on_again}"
    );
    away(&sandbox, &slack, &trusted, "Trusted: away again", true).await;

    // Work starts at the next whole minute (at least 5 s away): the source wakes by itself and both clear.
    let mut start = Utc::now().duration_trunc(Span::minutes(1)).expect("a minute") + Span::minutes(1);
    if start - Utc::now() < Span::seconds(5) {
        start += Span::minutes(1);
    }
    let soon = hours(&sandbox, &["--week", &every_day(start, start + Span::hours(1))]).await;
    assert_eq!(soon["working_hours"]["state"], "off_work", "{soon}");
    eventually(
        "at work: Trusted's presence automatic at the start",
        Duration::from_secs(90),
        || slack.account(&trusted).manual_away,
        |away| !*away,
    )
    .await;
    assert!(Utc::now() >= start, "not before the start");
    away(&sandbox, &slack, &default, "Default: back at the start", false).await;
    eventually(
        "Trusted: Off for the day cleared at the start",
        SOON,
        || slack.status(&trusted).text,
        String::is_empty,
    )
    .await;
    let working = hours(&sandbox, &[]).await;
    assert_eq!(working["working_hours"]["state"], "at_work", "{working}");

    // Blocked shares nothing, not even away.
    assert!(!slack.account(&blocked).manual_away);
    assert_eq!(slack.status(&blocked).text, "");
    let blocked_user = slack.account(&blocked).user_id;
    assert!(
        !slack
            .calls()
            .iter()
            .any(|call| call.user_id.as_deref() == Some(blocked_user.as_str())
                && (call.method == PRESENCE || call.method == "users.profile.set")),
        "Blocked: not one write"
    );

    // The sync log: the source's rows, and the calls it caused name it.
    let rows = sandbox.input_rows("working hours");
    assert_eq!(
        rows.first().map(String::as_str),
        Some("outside working hours: away"),
        "{rows:?}"
    );
    assert_eq!(
        rows.last().map(String::as_str),
        Some("no longer off work"),
        "{rows:?}"
    );
    let store = Store::open(&sandbox.data_dir().join("caret.db")).expect("store");
    let acme_calls: Vec<(String, String, String)> = store
        .query_log(&LogFilter::default())
        .expect("log")
        .into_iter()
        .rev()
        .filter(|row| row.kind == LogKind::Call && row.workspace.as_deref() == Some("Acme"))
        .map(|row| {
            (
                row.method.unwrap_or_default(),
                row.source,
                row.sent.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        acme_calls.iter().any(|(method, source, sent)| method == PRESENCE
            && source == "working hours"
            && sent.contains("away")),
        "{acme_calls:#?}"
    );
    assert!(
        acme_calls
            .iter()
            .any(|(method, source, sent)| method == "users.profile.set"
                && source == "working hours"
                && sent.contains("Off for the day")),
        "{acme_calls:#?}"
    );

    // Turned off: nothing is left of them.
    let off = hours(&sandbox, &["off"]).await;
    assert_eq!(off["working_hours"]["state"], "off", "{off}");
    assert_eq!(slack.count(PRESENCE, "ratelimited"), 0, "within Slack's limits");
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_week_that_is_not_one_is_refused_and_changes_nothing() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings(SharingPolicy::Trusted));
    let mut app = launch(&sandbox, &slack, "app").await;
    for (week, reason) in [
        ("mon-fri 09:00-09:00", "not a day's"),
        ("mon-fri 9-17", "is not a time like 09:00"),
        ("someday 09:00-17:00", "is not a day"),
    ] {
        let (ok, _, stderr) = sandbox
            .cli("cli-hours-bad", &["hours", "on", "--week", week])
            .await;
        assert!(!ok, "{week} refused");
        assert!(stderr.contains(reason), "{week}: {stderr}");
    }
    let (ok, _, stderr) = sandbox.cli("cli-hours-bad", &["hours", "maybe"]).await;
    assert!(
        !ok && stderr.contains("hours is on or off, not \"maybe\""),
        "{stderr}"
    );
    let unchanged = hours(&sandbox, &[]).await;
    assert_eq!(unchanged["working_hours"]["state"], "off", "{unchanged}");
    assert_eq!(
        unchanged["working_week"]["days"][0]["start"], 540,
        "the default week is kept: {unchanged}"
    );
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
