//! The desktop sources' figures of docs/performance.md, through the running app (`--headless`) on a real
//! PipeWire server of the bench's own (tests/support/audio.rs): what watching the microphone costs when
//! nothing happens (the app's wake-ups over a quiet window, with the source off, then on, in the same run),
//! and the time from a recording application starting to `users.profile.set` arriving at the local Slack.
//! Run inside the test harness's session (the session bus wireplumber needs):
//!
//!   tests/harness/desktop-session.sh bench-sources [--idle SECONDS] [--rounds N]
//!
//! (CARET_APP_BIN: the binary to measure; the release one for the figures.)

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, context_switches, terminate, wait_for_exit, wakeups_between};
use caret_e2e::audio::AudioServer;
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use tokio::time::Instant;

const SOON: Duration = Duration::from_secs(30);
const SET: &str = "users.profile.set";

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn sources(sandbox: &Sandbox, switch: &str) {
    let (ok, _, stderr) = sandbox
        .cli("cli-sources", &["sources", "microphone", switch])
        .await;
    assert!(ok, "caret-desktop sources microphone {switch}: {stderr}");
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
        .spawn()
        .expect("launch");
    sandbox
        .wait_for_log("app", "caret-desktop ready (headless)", SOON)
        .await;
    let pid = app.id().expect("the app's pid");

    // 1. Idle cost: the same app, the same quiet, the source off and then on.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let off = wakeups_per_hour(pid, idle).await;
    sources(&sandbox, "on").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let on = wakeups_per_hour(pid, idle).await;
    println!(
        "Idle, no recording, {} s each, the same app in the same run:",
        idle.as_secs()
    );
    println!("  microphone source off          {off:>8.0} wake-ups/h");
    println!(
        "  microphone source on           {on:>8.0} wake-ups/h  (+{:.0}/h)",
        on - off
    );

    // 2. A recording application starting → Slack's request, then its end → the status cleared.
    let mut calls = slack.subscribe_calls();
    let (mut to_call, mut to_clear) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        while calls.try_recv().is_ok() {}
        let started = Instant::now();
        let mut recorder = audio.record(None);
        let arrived = tokio::time::timeout(SOON, async {
            loop {
                let call = calls.recv().await.expect("the call feed");
                if call.method == SET && call.body["profile"]["status_text"] == "In a call" {
                    return call.at;
                }
            }
        })
        .await
        .expect("the call reaches Slack");
        to_call.push(arrived.duration_since(started));
        recorder.kill().await.expect("stop the recorder");
        let stopped = Instant::now();
        let cleared = tokio::time::timeout(SOON, async {
            loop {
                let call = calls.recv().await.expect("the call feed");
                if call.method == SET && call.body["profile"]["status_text"] == "" {
                    return call.at;
                }
            }
        })
        .await
        .expect("the status is cleared");
        to_clear.push(cleared.duration_since(stopped));
        // Two writes a round; Slack allows about ten a minute.
        tokio::time::sleep(Duration::from_secs(8)).await;
    }
    to_call.sort();
    to_clear.sort();
    println!(
        "A recording application (pw-record) through the running app to the local Slack, {rounds} rounds:"
    );
    println!(
        "  recorder started → users.profile.set   p50 {:>9.1?}  p90 {:>9.1?}  max {:>9.1?}",
        percentile(&to_call, 0.5),
        percentile(&to_call, 0.9),
        to_call.last().copied().unwrap_or_default()
    );
    println!(
        "  recorder stopped → cleared            p50 {:>9.1?}  p90 {:>9.1?}  max {:>9.1?}  (the 5 s hold included)",
        percentile(&to_clear, 0.5),
        percentile(&to_clear, 0.9),
        to_clear.last().copied().unwrap_or_default()
    );
    println!(
        "  429 answers: {}",
        slack.count(SET, "ratelimited") + slack.count("users.profile.get", "ratelimited")
    );
    terminate(&app);
    let _ = wait_for_exit(&mut app, SOON).await;
}
