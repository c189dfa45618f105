//! The desktop sources' figures of docs/performance.md, through the running app (`--headless`) on a real
//! PipeWire server of the bench's own (tests/support/audio.rs) and a screen saver on the session bus
//! (tests/support/screensaver.rs): what watching costs when nothing happens (the app's wake-ups over a quiet
//! window with the sources off, the microphone on, then the screen lock on too, then the working hours, in
//! the same run), the time from a recording application starting to `users.profile.set` arriving at the
//! local Slack, and from the
//! screen locking to `users.setPresence`; then a calendar (on a local calendar server): its idle cost over a
//! longer window (it asks its server every 5 minutes) and the time from an event's start to
//! `users.profile.set`. Run inside the test harness's session (the session bus wireplumber, the screen saver
//! and the keyring need):
//!
//!   tests/harness/desktop-session.sh bench-sources [--idle SECONDS] [--calendar-idle SECONDS] [--rounds N]
//!
//! (CARET_APP_BIN: the binary to measure; the release one for the figures.)

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, context_switches, terminate, wait_for_exit, wakeups_between};
use caret_e2e::audio::AudioServer;
use caret_e2e::calendar_server::{Answer, CalendarServer, calendar, event};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::screensaver::{FakeScreenSaver, Flavour};
use tokio::time::Instant;

const SOON: Duration = Duration::from_secs(30);
const PRESENCE: &str = "users.setPresence";
const SET: &str = "users.profile.set";

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn sources(sandbox: &Sandbox, source: &str, switch: &str) {
    let (ok, _, stderr) = sandbox.cli("cli-sources", &["sources", source, switch]).await;
    assert!(ok, "caret-desktop sources {source} {switch}: {stderr}");
}

fn print_spread(what: &str, sorted: &[Duration], note: &str) {
    println!(
        "  {what:<38} p50 {:>9.1?}  p90 {:>9.1?}  max {:>9.1?}{note}",
        percentile(sorted, 0.5),
        percentile(sorted, 0.9),
        sorted.last().copied().unwrap_or_default()
    );
}

/// Waits for the next call of `method` whose body `wanted` accepts; when it arrived.
async fn next_call(
    calls: &mut tokio::sync::broadcast::Receiver<caret_e2e::fake_slack::RecordedCall>,
    method: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Instant {
    tokio::time::timeout(SOON, async {
        loop {
            let call = calls.recv().await.expect("the call feed");
            if call.method == method && wanted(&call.body) {
                return call.at;
            }
        }
    })
    .await
    .expect("the call reaches Slack")
}

/// The app's wake-ups per hour over `window` of quiet.
async fn wakeups_per_hour(pid: u32, window: Duration) -> f64 {
    let before = context_switches(pid);
    tokio::time::sleep(window).await;
    let after = context_switches(pid);
    wakeups_between(&before, &after) as f64 * 3600.0 / window.as_secs_f64()
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let idle = Duration::from_secs(flag("--idle", 120));
    let rounds = flag("--rounds", 10) as usize;
    let audio = AudioServer::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Trusted);
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings);
    let mut app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .env("PIPEWIRE_RUNTIME_DIR", audio.runtime_dir())
        // The sources' and the engine's own account, for a phase that fails.
        .env("CARET_LOG", "info,caret_sources=debug,caret_app=debug")
        .spawn()
        .expect("launch");
    sandbox
        .wait_for_log("app", "caret-desktop ready (headless)", SOON)
        .await;
    let pid = app.id().expect("the app's pid");

    // 1. Idle cost: the same app, the same quiet, the sources off, the microphone on, the screen lock too.
    let screen = FakeScreenSaver::start(Flavour::Freedesktop, false).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let off = wakeups_per_hour(pid, idle).await;
    sources(&sandbox, "microphone", "on").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let microphone = wakeups_per_hour(pid, idle).await;
    sources(&sandbox, "screen-lock", "on").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let both = wakeups_per_hour(pid, idle).await;
    println!(
        "Idle, no recording, screen unlocked, {} s each, the same app in the same run:",
        idle.as_secs()
    );
    println!("  sources off                    {off:>8.0} wake-ups/h");
    println!(
        "  microphone on                  {microphone:>8.0} wake-ups/h  (+{:.0}/h)",
        microphone - off
    );
    println!(
        "  microphone and screen lock on  {both:>8.0} wake-ups/h  (+{:.0}/h)",
        both - off
    );
    // The working hours on top, off work now (every day's work starts in two hours): the source looks again
    // every 5 minutes at most.
    let start = chrono::Local::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::hours(1);
    let week = format!("mon-sun {}-{}", start.format("%H:%M"), end.format("%H:%M"));
    let (ok, _, stderr) = sandbox.cli("cli-hours", &["hours", "on", "--week", &week]).await;
    assert!(ok, "caret-desktop hours on: {stderr}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let hours = wakeups_per_hour(pid, idle).await;
    println!(
        "  and working hours on (off work) {hours:>7.0} wake-ups/h  (+{:.0}/h against the two)",
        hours - both
    );
    let (ok, _, stderr) = sandbox.cli("cli-hours", &["hours", "off"]).await;
    assert!(ok, "caret-desktop hours off: {stderr}");

    // 2. A recording application starting → Slack's request, then its end → the status cleared. Rounds 20 s
    // apart: Slack's profile-write budget (2 at once, one more every 8 s) is full at each start, so the
    // figures are the source's and the engine's, not the budget's.
    let mut calls = slack.subscribe_calls();
    let (mut to_call, mut to_clear) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        while calls.try_recv().is_ok() {}
        let started = Instant::now();
        let mut recorder = audio.record(None);
        let arrived = next_call(&mut calls, SET, |body| {
            body["profile"]["status_text"] == "In a call"
        })
        .await;
        to_call.push(arrived.duration_since(started));
        recorder.kill().await.expect("stop the recorder");
        let stopped = Instant::now();
        let cleared = next_call(&mut calls, SET, |body| body["profile"]["status_text"] == "").await;
        to_clear.push(cleared.duration_since(stopped));
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    to_call.sort();
    to_clear.sort();
    println!(
        "A recording application (pw-record) through the running app to the local Slack, {rounds} rounds:"
    );
    print_spread("recorder started → users.profile.set", &to_call, "");
    print_spread(
        "recorder stopped → cleared",
        &to_clear,
        "  (the 5 s hold included)",
    );

    // 3. The screen locking → users.setPresence away, unlocking → auto; rounds 10 s apart (presence budget:
    // 3 at once, one more every 4 s).
    let (mut to_away, mut to_back) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        while calls.try_recv().is_ok() {}
        let locked = Instant::now();
        screen.lock().await;
        let away = next_call(&mut calls, PRESENCE, |body| body["presence"] == "away").await;
        to_away.push(away.duration_since(locked));
        let unlocked = Instant::now();
        screen.unlock().await;
        let back = next_call(&mut calls, PRESENCE, |body| body["presence"] == "auto").await;
        to_back.push(back.duration_since(unlocked));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    to_away.sort();
    to_back.sort();
    println!("The screen saver's ActiveChanged through the running app to the local Slack, {rounds} rounds:");
    print_spread("locked → users.setPresence away", &to_away, "");
    print_spread("unlocked → users.setPresence auto", &to_back, "");
    println!(
        "  429 answers: {}",
        slack.count(SET, "ratelimited")
            + slack.count("users.profile.get", "ratelimited")
            + slack.count(PRESENCE, "ratelimited")
    );
    calendar_figures(&sandbox, &slack, &mut calls, pid, both, rounds).await;
    terminate(&app);
    let _ = wait_for_exit(&mut app, SOON).await;
}

/// `caret-desktop calendars add Bench` with `server`'s address; fails the bench if it is not read at once.
async fn add_calendar(sandbox: &Sandbox, server: &CalendarServer) {
    let (ok, stdout, stderr) = sandbox
        .cli_with_input(
            "cli-calendars",
            &["calendars", "add", "Bench", "--json"],
            &format!("{}\n", server.address()),
        )
        .await;
    assert!(
        ok && stdout.contains("\"problem\":null"),
        "calendars add: {stdout} {stderr}"
    );
}

/// Step 4, a calendar on top of the other sources: the idle cost over `--calendar-idle` (10 minutes by default, two
/// of its fetches), against the figure with the other sources on; then events a few seconds apart, each
/// start → `users.profile.set` "In a meeting" (Trusted).
async fn calendar_figures(
    sandbox: &Sandbox,
    slack: &FakeSlack,
    calls: &mut tokio::sync::broadcast::Receiver<caret_e2e::fake_slack::RecordedCall>,
    pid: u32,
    without: f64,
    rounds: usize,
) {
    let window = Duration::from_secs(flag("--calendar-idle", 600));
    let server = CalendarServer::start().await;
    let whole_seconds =
        |from_now: i64| chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + from_now, 0);
    let tomorrow = whole_seconds(86_400).expect("a time");
    server.answer(Answer::Document(calendar(&[event(
        "later", "Tomorrow", tomorrow, tomorrow, "",
    )])));
    add_calendar(sandbox, &server).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (fetched_before, _) = server.requests();
    let idle = wakeups_per_hour(pid, window).await;
    let (fetched_after, unchanged) = server.requests();
    println!(
        "A calendar on top of the microphone and the screen lock, {} s:",
        window.as_secs()
    );
    println!(
        "  calendar on                    {idle:>8.0} wake-ups/h  (+{:.0}/h; {} requests to its server, {unchanged} answered 304)",
        idle - without,
        fetched_after - fetched_before
    );

    // Events 20 s apart, 4 s long, in a document read once: each start is the watcher waking by itself. Each
    // event is two writes (its start, its end): 12 s apart that is one every 6 s, beyond Slack's profile-write
    // budget (2 at once, one more every 8 s), and the engine rightly dropped a start replaced by its end while
    // it waited, so a round waited for a call that never came (the "release-only" failure of two sessions).
    let (ok, _, stderr) = sandbox
        .cli("cli-calendars", &["calendars", "remove", "Bench"])
        .await;
    assert!(ok, "calendars remove: {stderr}");
    let first = whole_seconds(15).expect("a time");
    let starts: Vec<_> = (0..rounds)
        .map(|round| first + chrono::Duration::seconds(20 * i64::try_from(round).unwrap_or(0)))
        .collect();
    let events: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(round, start)| {
            event(
                &format!("e{round}"),
                "Bench event",
                *start,
                *start + chrono::Duration::seconds(4),
                "",
            )
        })
        .collect();
    server.answer(Answer::Document(calendar(&events)));
    add_calendar(sandbox, &server).await;
    let mut to_call = Vec::new();
    for (round, start) in starts.into_iter().enumerate() {
        let mut feed = calls.resubscribe();
        let waited = tokio::spawn(async move {
            next_call(&mut feed, SET, |body| {
                body["profile"]["status_text"] == "In a meeting"
            })
            .await
        })
        .await;
        let Ok(arrived) = waited else {
            let log = sandbox.log("app");
            let mut tail: Vec<&str> = log.lines().rev().take(60).collect();
            tail.reverse();
            panic!(
                "round {round}: the event of {start} did not reach Slack; the app's log ends:\n{}",
                tail.join("\n")
            );
        };
        let arrived_at =
            chrono::Utc::now() - chrono::Duration::from_std(arrived.elapsed()).unwrap_or_default();
        to_call.push((arrived_at - start).to_std().unwrap_or_default());
    }
    to_call.sort();
    println!("Calendar events through the running app to the local Slack, {rounds} rounds:");
    print_spread("event start → users.profile.set", &to_call, "");
    println!("  429 answers: {}", slack.count(SET, "ratelimited"));
    let (ok, _, stderr) = sandbox
        .cli("cli-calendars", &["calendars", "remove", "Bench"])
        .await;
    assert!(ok, "calendars remove: {stderr}");
}
