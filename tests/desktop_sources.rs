//! The desktop's own sources through the running app: a real PipeWire server (with its session manager and a
//! virtual microphone) and real recording clients (`pw-record`), the app watching it once the user turns the
//! microphone source on, and the status arriving at the local Slack server. Needs the desktop harness (the
//! session bus, the Secret Service) and PipeWire (scripts/setup.sh --test installs it).

use std::time::Duration;

use caret_core::{SharingPolicy, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::audio::AudioServer;
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::{eventually, eventually_async, require_desktop_session};
use caret_store::{LogFilter, LogKind, Store};
use tokio::process::Child;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);
const SET: &str = "users.profile.set";

/// The app on `slack`, watching `audio` once the microphone source is on.
async fn launch(sandbox: &Sandbox, slack: &FakeSlack, audio: &AudioServer, name: &str) -> Child {
    let app = sandbox
        .command(name, &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .env("PIPEWIRE_RUNTIME_DIR", audio.runtime_dir())
        .spawn()
        .expect("launch");
    sandbox.wait_for_log(name, READY, SOON).await;
    app
}

fn trusted() -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Trusted);
    settings
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_application_is_a_call_in_slack_once_the_user_turns_the_microphone_on() {
    require_desktop_session();
    let audio = AudioServer::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &trusted());
    let mut app = launch(&sandbox, &slack, &audio, "app").await;

    // Off until the user turns it on: a recorder changes nothing.
    assert_eq!(sandbox.sources(&[]).await["microphone"]["state"], "off");
    let mut early = audio.record(None);
    audio.wait_for_running_recorders(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slack.count(SET, "ok"), 0, "nothing watched, nothing sent");
    early.kill().await.expect("stop the recorder");
    audio.wait_for_running_recorders(0).await;

    let on = sandbox.sources(&["microphone", "on"]).await;
    assert_eq!(on["microphone"]["state"], "watching", "{on}");
    assert_eq!(on["microphone"]["microphone_in_use"], false, "{on}");
    let (ok, said, _) = sandbox.cli("cli-sources-text", &["sources"]).await;
    assert!(ok && said.contains("microphone: on, watching PipeWire"), "{said}");

    // A level meter (a stream marked as monitoring, as pavucontrol opens) is nobody in a call.
    let mut meter = audio.record(Some("{ stream.monitor = true }"));
    audio.wait_for_running_recorders(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sandbox.sources(&[]).await["microphone"]["microphone_in_use"],
        false
    );
    assert_eq!(slack.status(&token).text, "", "a level meter shares nothing");

    // A recording application is: Slack shows the call, as Trusted shares it.
    let mut recorder = audio.record(None);
    let shown = eventually(
        "Slack shows the call from the microphone",
        SOON,
        || slack.status(&token),
        |status| status.text == "In a call",
    )
    .await;
    assert!(
        shown.expiration > 0,
        "a lease, renewed while the call lasts: {shown:?}"
    );
    let now = sandbox.sources(&[]).await;
    assert_eq!(now["microphone"]["microphone_in_use"], true, "{now}");
    let (_, said, _) = sandbox.cli("cli-sources-text", &["sources"]).await;
    assert!(said.contains("a microphone in use: in a call"), "{said}");
    // The tray's first line, as `caret-desktop state` prints it, says where the call comes from.
    let (ok, state, _) = sandbox.cli("cli-state", &["state", "--json"]).await;
    let state: serde_json::Value = serde_json::from_str(state.trim()).expect("the state as JSON");
    assert!(ok, "{state}");
    assert_eq!(state["state"], "in_call", "{state}");
    assert_eq!(state["source"], "microphone", "{state}");
    assert_eq!(state["lines"][0], "Status: In a call (microphone)", "{state}");
    // So does the sync log: the write that put the call in Slack names the microphone as its source.
    let store = Store::open(&sandbox.data_dir().join("caret.db")).expect("store");
    let writes = store.query_log(&LogFilter::default()).expect("log");
    assert!(
        writes.iter().any(|row| row.kind == LogKind::Call
            && row.method.as_deref() == Some(SET)
            && row.source == "microphone"
            && row.state.as_deref() == Some("in_call")),
        "the call's write in the sync log: {writes:?}"
    );

    // The call ends with the recording (after the few seconds' hold), and the status goes with it.
    recorder.kill().await.expect("stop the recorder");
    eventually(
        "the status cleared after the call",
        SOON,
        || slack.status(&token),
        |status| status.text.is_empty(),
    )
    .await;
    meter.kill().await.expect("stop the meter");
    assert_eq!(
        sandbox.input_rows("microphone"),
        ["microphone in use", "microphone no longer in use"]
    );

    // The choice outlives a restart: the next start watches again at once.
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    let mut app = launch(&sandbox, &slack, &audio, "app-again").await;
    let again = sandbox.sources(&[]).await;
    assert_eq!(again["microphone"]["state"], "watching", "{again}");
    let off = sandbox.sources(&["microphone", "off"]).await;
    assert_eq!(off["microphone"]["state"], "off", "{off}");
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_comes_and_goes_fifty_times_a_minute_is_one_call_within_slack_s_limits() {
    require_desktop_session();
    let audio = AudioServer::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &trusted());
    let mut app = launch(&sandbox, &slack, &audio, "app").await;
    sandbox.sources(&["microphone", "on"]).await;

    // 50 recordings in a minute, each 0.6 s long with 0.6 s between: a client re-opening its stream.
    for _ in 0..50 {
        let mut recorder = audio.record(None);
        tokio::time::sleep(Duration::from_millis(600)).await;
        recorder.kill().await.expect("stop the recorder");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    eventually_async(
        "the call over in Slack",
        SOON,
        || async { slack.status(&token) },
        |status| status.text.is_empty(),
    )
    .await;
    let rows = sandbox.input_rows("microphone");
    assert_eq!(
        rows,
        ["microphone in use", "microphone no longer in use"],
        "one call, not fifty"
    );
    assert_eq!(slack.count(SET, "ok"), 2, "the call, then clearing it");
    assert_eq!(slack.count(SET, "ratelimited"), 0);
    assert_eq!(slack.count("users.profile.get", "ratelimited"), 0);
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn pipewire_restarting_mid_call_is_no_end_of_the_call_when_the_recording_comes_back() {
    require_desktop_session();
    let mut audio = AudioServer::start().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    let (_, _cleanup) = sandbox.seed_workspace(&slack, &token, &trusted());
    let mut app = launch(&sandbox, &slack, &audio, "app").await;
    sandbox.sources(&["microphone", "on"]).await;
    let mut recorder = audio.record(None);
    eventually(
        "Slack shows the call",
        SOON,
        || slack.status(&token),
        |status| status.text == "In a call",
    )
    .await;
    let sets = slack.count(SET, "ok");

    // PipeWire goes away (the recorder with it) and comes back; the meeting application records again.
    audio.restart().await;
    let _ = recorder.kill().await;
    let mut again = audio.record(None);
    audio.wait_for_running_recorders(1).await;
    let watching = eventually_async(
        "the source watches the new PipeWire",
        SOON,
        || sandbox.sources(&[]),
        |view| view["microphone"]["state"] == "watching" && view["microphone"]["microphone_in_use"] == true,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        slack.count(SET, "ok"),
        sets,
        "the call was never cleared: {watching}"
    );
    assert_eq!(slack.status(&token).text, "In a call");
    assert_eq!(
        sandbox.input_rows("microphone"),
        ["microphone in use"],
        "one call throughout"
    );

    again.kill().await.expect("stop the recorder");
    eventually(
        "the status cleared after the call",
        SOON,
        || slack.status(&token),
        |status| status.text.is_empty(),
    )
    .await;
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
