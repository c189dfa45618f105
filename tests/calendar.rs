//! Calendars through the running app: a local server serving a calendar's secret address (as Google Calendar
//! does), the address given on standard input and kept in the desktop keyring only, and the event arriving at
//! the local Slack from its start to its end under each policy, its title under VIP only; events the person
//! declined or marked free do not count. Then what goes wrong: addresses and files refused, a server that
//! fails, redirects in a loop or serves something else, each said in the calendar's row. Needs the desktop
//! harness (the Secret Service).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, secret_tool_lookup, terminate, wait_for_exit};
use caret_e2e::calendar_server::{Answer, CalendarServer, calendar, event, ics_time};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::{eventually, require_desktop_session};
use chrono::{DateTime, Utc};

const SOON: Duration = Duration::from_secs(30);

fn settings(sharing: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(sharing);
    settings
}

/// Now plus `seconds`, in whole seconds (an iCalendar time has none smaller).
fn in_seconds(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp() + seconds, 0).expect("a time")
}

/// A weekly meeting in New York's time begun before New York's last change of clocks (the series' first
/// weeks at the other offset than today's): its wall time is the one `start` shows in New York today, so
/// today's occurrence is under way from `start` to `end` only if the series keeps its wall time across the
/// change.
fn weekly_in_new_york_across_the_last_change(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    use chrono::Offset as _;
    let new_york = chrono_tz::America::New_York;
    let offset = |at: DateTime<Utc>| at.with_timezone(&new_york).offset().fix();
    // New York changes its clocks at most 35 weeks apart.
    let weeks = (1..=40)
        .map(chrono::Duration::weeks)
        .find(|weeks| offset(start - *weeks) != offset(start))
        .expect("a change of clocks within 40 weeks");
    let wall = |at: DateTime<Utc>| at.with_timezone(&new_york).naive_local() - weeks;
    format!(
        "BEGIN:VEVENT\r\nUID:board@example.com\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Board review\r\n\
         DTSTART;TZID=America/New_York:{}\r\nDTEND;TZID=America/New_York:{}\r\nRRULE:FREQ=WEEKLY\r\n\
         END:VEVENT\r\n",
        wall(start).format("%Y%m%dT%H%M%S"),
        wall(end).format("%Y%m%dT%H%M%S"),
    )
}

/// Two weekly meetings whose occurrence today would be under way now, but for their exceptions: one skipped
/// this week (EXDATE), one moved to the day after tomorrow (RECURRENCE-ID).
fn weekly_with_todays_occurrence_skipped_or_moved() -> String {
    let today = in_seconds(-600);
    let weeks = chrono::Duration::weeks;
    let hour = chrono::Duration::hours(1);
    let skipped = event(
        "standup@example.com",
        "Standup",
        today - weeks(3),
        today - weeks(3) + hour,
        &format!("RRULE:FREQ=WEEKLY\r\nEXDATE:{}\r\n", ics_time(today)),
    );
    let series = event(
        "retro@example.com",
        "Retro",
        today - weeks(2),
        today - weeks(2) + hour,
        "RRULE:FREQ=WEEKLY\r\n",
    );
    let later = today + chrono::Duration::days(2);
    let moved = event(
        "retro@example.com",
        "Retro",
        later,
        later + hour,
        &format!("RECURRENCE-ID:{}\r\n", ics_time(today)),
    );
    format!("{skipped}{series}{moved}")
}

/// `caret-desktop calendars add NAME --json`, the address on standard input.
async fn add(sandbox: &Sandbox, name: &str, address: &str) -> (bool, serde_json::Value, String) {
    let (ok, stdout, stderr) = sandbox
        .cli_with_input(
            "cli-calendars-add",
            &["calendars", "add", name, "--json"],
            &format!("{address}\n"),
        )
        .await;
    let view = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (ok, view, stderr)
}

async fn calendars(sandbox: &Sandbox) -> serde_json::Value {
    let (ok, stdout, stderr) = sandbox.cli("cli-calendars", &["calendars", "--json"]).await;
    assert!(ok, "caret-desktop calendars: {stderr}");
    serde_json::from_str(stdout.trim()).expect("the calendars as JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_is_in_slack_from_its_start_to_its_end_its_title_under_vip_only_and_the_address_in_the_keyring_only()
 {
    require_desktop_session();
    let server = CalendarServer::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let vip = slack.add_user("Acme", "ana", &FakeSlack::FULL_SCOPES);
    let trusted = slack.add_user("Globex", "ana", &FakeSlack::FULL_SCOPES);
    let default = slack.add_user("Initech", "ana", &FakeSlack::FULL_SCOPES);
    let blocked = slack.add_user("Umbrella", "ana", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let _vip = sandbox.seed_workspace(&slack, &vip, &settings(SharingPolicy::Vip));
    let _trusted = sandbox.seed_workspace(&slack, &trusted, &settings(SharingPolicy::Trusted));
    let _default = sandbox.seed_workspace(&slack, &default, &settings(SharingPolicy::Default));
    let mut blocked_settings = settings(SharingPolicy::Vip);
    blocked_settings.policy.block_until_resumed();
    let _blocked = sandbox.seed_workspace(&slack, &blocked, &blocked_settings);
    let mut app = sandbox.launch_headless(&slack, "app").await;
    // Times from now on: the app is up, the calendar is added next.
    let (start, end) = (in_seconds(25), in_seconds(65));
    let (long_ago, later) = (in_seconds(-600), in_seconds(3600));
    server.answer(Answer::Document(calendar(&[
        weekly_in_new_york_across_the_last_change(start, end),
        weekly_with_todays_occurrence_skipped_or_moved(),
        // Under way now, but declined by the calendar's owner, and shown as free: neither counts.
        event(
            "declined",
            "Declined sync",
            long_ago,
            later,
            "ATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.com\r\n",
        ),
        event("free", "Focus time", long_ago, later, "TRANSP:TRANSPARENT\r\n"),
    ])));
    assert_eq!(calendars(&sandbox).await["calendars"], serde_json::json!([]));

    let (ok, view, stderr) = add(&sandbox, "Work", &format!("  {}  ", server.address())).await;
    assert!(ok, "calendars add: {stderr}");
    let row = &view["calendars"][0];
    assert_eq!(row["calendar"]["name"], "Work", "{view}");
    assert_eq!(row["calendar"]["place"]["kind"], "web", "{view}");
    assert_eq!(row["calendar"]["place"]["host"], "127.0.0.1", "{view}");
    assert!(
        row["read_at"].is_string() && row["problem"].is_null(),
        "read at once: {view}"
    );
    assert_eq!(
        row["events_today"], 1,
        "the declined, the free, the skipped and the moved events do not count today: {view}"
    );
    assert!(view["now"].is_null(), "nothing now: {view}");
    let id = row["calendar"]["id"].as_str().expect("an id").to_owned();
    let account = format!("calendar:{id}");
    assert_eq!(
        secret_tool_lookup(&account).await.as_deref(),
        Some(server.address())
    );
    assert!(
        slack.status(&vip).text.is_empty(),
        "nothing to say before it starts: the skipped and moved meetings stay out of it"
    );

    eventually(
        "VIP: the title",
        SOON,
        || slack.status(&vip).text,
        |text| text.starts_with("Board review (until "),
    )
    .await;
    assert!(Utc::now() >= start, "not before its start");
    eventually(
        "Trusted: the state",
        SOON,
        || slack.status(&trusted).text,
        |text| text == "In a meeting",
    )
    .await;
    eventually(
        "Default: busy",
        SOON,
        || slack.status(&default).text,
        |text| text == "Busy",
    )
    .await;
    assert_eq!(
        slack.status(&vip).expiration,
        end.timestamp(),
        "Slack clears it at the end by itself"
    );
    let now = calendars(&sandbox).await;
    assert_eq!(now["now"]["title"], "Board review", "{now}");
    let (ok, said, _) = sandbox.cli("cli-calendars-text", &["calendars"]).await;
    assert!(
        ok && said.contains("now: Board review")
            && said.contains("Work (127.0.0.1): 1 event in the next 24 h"),
        "{said}"
    );
    let (ok, shown, _) = sandbox.cli("cli-state", &["state"]).await;
    assert!(
        ok && shown.contains("(calendar)"),
        "the tray's line names the source: {shown}"
    );
    assert!(slack.status(&blocked).text.is_empty(), "Blocked shares nothing");
    assert!(
        !sandbox.input_rows("calendar").is_empty(),
        "the sync log has the calendar's input"
    );

    let until_the_end = (end - Utc::now()).to_std().unwrap_or_default();
    eventually(
        "VIP: cleared at the end",
        until_the_end + SOON,
        || slack.status(&vip).text,
        String::is_empty,
    )
    .await;
    eventually(
        "Trusted: cleared",
        SOON,
        || slack.status(&trusted).text,
        String::is_empty,
    )
    .await;
    assert!(Utc::now() >= end, "not before its end");
    let (requests, _) = server.requests();
    assert_eq!(
        requests, 1,
        "fetched once: the start and the end came from the document, not from asking again"
    );

    // A restart: the calendar is still there, its address from the keyring.
    terminate(&app);
    wait_for_exit(&mut app, SOON).await;
    let mut app = sandbox.launch_headless(&slack, "app-again").await;
    eventually(
        "read again after the restart",
        SOON,
        || server.requests().0,
        |requests| *requests == 2,
    )
    .await;
    let after = calendars(&sandbox).await;
    assert_eq!(after["calendars"][0]["calendar"]["name"], "Work", "{after}");

    sandbox.assert_secret_nowhere(CalendarServer::SECRET, "calendar's secret address");

    let (ok, stdout, stderr) = sandbox
        .cli("cli-calendars-remove", &["calendars", "remove", "work", "--json"])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"calendars\":[]"), "{stdout}");
    assert_eq!(
        secret_tool_lookup(&account).await,
        None,
        "its address left the keyring with it"
    );
    terminate(&app);
    wait_for_exit(&mut app, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_cannot_be_a_calendar_is_refused_and_what_cannot_be_read_is_said_in_its_row() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let sandbox = Sandbox::new();
    let mut app = sandbox.launch_headless(&slack, "app").await;

    let secret = CalendarServer::SECRET;
    for (address, says) in [
        (format!("ftp://example.com/{secret}.ics"), "starts with https://"),
        (format!("not an address {secret}"), "not a web address"),
        ("/no/such/calendar.ics".to_owned(), "no such file"),
    ] {
        let (ok, _, stderr) = add(&sandbox, "Refused", &address).await;
        assert!(!ok && stderr.contains(says), "{address}: {stderr}");
        assert!(
            !stderr.contains(secret),
            "the refusal repeats no address: {stderr}"
        );
    }

    let failing = CalendarServer::start().await;
    failing.answer(Answer::Status(503));
    let (ok, view, stderr) = add(&sandbox, "Failing", failing.address()).await;
    assert!(ok, "added all the same, to be read later: {stderr}");
    assert_eq!(
        view["calendars"][0]["problem"], "the calendar's server failed (HTTP 503)",
        "{view}"
    );

    let looping = CalendarServer::start().await;
    looping.answer(Answer::RedirectLoop);
    let (_, view, _) = add(&sandbox, "Looping", looping.address()).await;
    assert_eq!(
        view["calendars"][1]["problem"], "the address redirects too often, or from https to plain http",
        "{view}"
    );

    let sign_in = CalendarServer::start().await;
    sign_in.answer(Answer::Document("<html><body>Sign in</body></html>".to_owned()));
    let (_, view, _) = add(&sandbox, "Sign-in page", sign_in.address()).await;
    let problem = view["calendars"][2]["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        problem.contains("not an iCalendar document") && !problem.contains("Sign in"),
        "{view}"
    );

    let enormous = CalendarServer::start().await;
    enormous.answer(Answer::Document("X".repeat(17 * 1024 * 1024)));
    let (_, view, _) = add(&sandbox, "Enormous", enormous.address()).await;
    assert_eq!(
        view["calendars"][3]["problem"], "the calendar is larger than 16 MiB",
        "{view}"
    );

    let gone = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = gone.local_addr().expect("its address").port();
    drop(gone);
    let (_, view, _) = add(
        &sandbox,
        "Unreachable",
        &format!("https://127.0.0.1:{port}/{secret}/basic.ics"),
    )
    .await;
    assert_eq!(
        view["calendars"][4]["problem"], "the calendar's server cannot be reached",
        "{view}"
    );

    let file = sandbox.config_dir().join("broken.ics");
    std::fs::write(&file, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n").expect("written");
    let (ok, view, stderr) = add(&sandbox, "Broken file", &file.display().to_string()).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        view["calendars"][5]["calendar"]["place"]["kind"], "file",
        "{view}"
    );
    assert!(
        view["calendars"][5]["problem"]
            .as_str()
            .is_some_and(|problem| problem.contains("not an iCalendar document")),
        "{view}"
    );

    let (ok, _, stderr) = add(&sandbox, "failing", failing.address()).await;
    assert!(
        !ok && stderr.contains("already a calendar named \"failing\""),
        "{stderr}"
    );
    let (ok, _, stderr) = sandbox
        .cli("cli-calendars-remove", &["calendars", "remove", "Nope"])
        .await;
    assert!(
        !ok && stderr.contains("no calendar is named \"Nope\""),
        "{stderr}"
    );

    // Nothing went wrong for the app: it runs on, and every address stayed out of its files and log.
    assert!(app.try_wait().expect("poll").is_none(), "still running");
    sandbox.assert_secret_nowhere(secret, "calendar's secret address");
    for name in [
        "Failing",
        "Looping",
        "Sign-in page",
        "Enormous",
        "Unreachable",
        "Broken file",
    ] {
        let (ok, _, stderr) = sandbox
            .cli("cli-calendars-remove", &["calendars", "remove", name])
            .await;
        assert!(ok, "{name}: {stderr}");
    }
    terminate(&app);
    wait_for_exit(&mut app, SOON).await;
}
