//! The sync engine against the local Slack server, on paused tokio time: what Slack shows under every
//! policy, coalescing of a flapping phone within the write budget, never clobbering, revocation, outages,
//! rate limits and restart recovery.

use std::sync::Arc;
use std::time::Duration;

use caret_core::{
    CaretState, DesktopSignals, EventDetails, ManualStatus, PhoneNumber, SharingPolicy, WorkspaceSettings,
};
use caret_e2e::fake_slack::{FakeSlack, Fault, Status, TestClock};
use caret_engine::{Engine, EngineConfig, EngineEvent, Source, StaticTokens, TokioClock};
use caret_slack::{SlackClient, SlackToken};
use caret_store::{LogFilter, LogKind, Store, WorkspaceId};
use chrono::{DateTime, FixedOffset, Utc};

const SET: &str = "users.profile.set";
const GET: &str = "users.profile.get";

struct Rig {
    slack: FakeSlack,
    store: Store,
    tokens: StaticTokens,
    clock: TokioClock,
    engine: Engine,
}

fn tokio_clock(test_clock: &TestClock) -> TokioClock {
    let start = DateTime::<Utc>::from_timestamp_millis(test_clock.unix_millis()).expect("valid time");
    TokioClock::starting_at(start, FixedOffset::east_opt(3600).expect("offset"))
}

fn settings(policy: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(policy);
    settings
}

fn add_workspace(
    slack: &FakeSlack,
    store: &Store,
    tokens: &StaticTokens,
    team: &str,
    settings: &WorkspaceSettings,
) -> (WorkspaceId, String) {
    add_workspace_with_scopes(slack, store, tokens, team, settings, &FakeSlack::FULL_SCOPES)
}

fn add_workspace_with_scopes(
    slack: &FakeSlack,
    store: &Store,
    tokens: &StaticTokens,
    team: &str,
    settings: &WorkspaceSettings,
    scopes: &[&str],
) -> (WorkspaceId, String) {
    let raw = slack.add_user(team, "ada", scopes);
    let id = store
        .upsert_workspace(&format!("T-{team}"), "U1", team, "ada", settings, 0)
        .expect("workspace");
    tokens.insert(id, SlackToken::parse(&raw).expect("token"));
    (id, raw)
}

fn start_engine(slack: &FakeSlack, store: &Store, tokens: &StaticTokens, clock: TokioClock) -> Engine {
    start_engine_with(slack, store, tokens, clock, |_| {})
}

fn start_engine_with(
    slack: &FakeSlack,
    store: &Store,
    tokens: &StaticTokens,
    clock: TokioClock,
    adjust: impl FnOnce(&mut EngineConfig),
) -> Engine {
    let client =
        SlackClient::new(slack.base_url().parse().expect("url"), Duration::from_secs(10)).expect("client");
    let mut config = EngineConfig::new(client, store.clone(), Arc::new(clock), Arc::new(tokens.clone()));
    adjust(&mut config);
    Engine::start(config).expect("engine starts")
}

/// What a test needs before it starts an engine itself (to restart it, or to configure it).
struct Parts {
    test_clock: TestClock,
    slack: FakeSlack,
    store: Store,
    tokens: StaticTokens,
}

async fn parts(store: Store) -> Parts {
    let test_clock = TestClock::new();
    let slack = FakeSlack::start(test_clock).await;
    Parts {
        test_clock,
        slack,
        store,
        tokens: StaticTokens::default(),
    }
}

/// Every event received so far.
fn drain(events: &mut tokio::sync::broadcast::Receiver<EngineEvent>) -> Vec<EngineEvent> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

async fn rig(policy: SharingPolicy) -> (Rig, WorkspaceId, String) {
    rig_on(Store::open_in_memory().expect("store"), policy, |_| {}).await
}

/// [`rig`] on a given store, with the engine's configuration adjusted.
async fn rig_on(
    store: Store,
    policy: SharingPolicy,
    adjust: impl FnOnce(&mut EngineConfig),
) -> (Rig, WorkspaceId, String) {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(store).await;
    let (id, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(policy));
    let clock = tokio_clock(&test_clock);
    let engine = start_engine_with(&slack, &store, &tokens, clock, adjust);
    (
        Rig {
            slack,
            store,
            tokens,
            clock,
            engine,
        },
        id,
        raw,
    )
}

/// Lets the engine work for `duration` of (paused) time.
async fn run_for(duration: Duration) {
    let step = Duration::from_millis(100);
    let mut elapsed = Duration::ZERO;
    while elapsed < duration {
        tokio::time::sleep(step).await;
        elapsed += step;
    }
}

/// A phone flapping through `states` in turn, a change every 500 ms, 120 changes (a minute), then settling on
/// `last`; the engine then works for `settle`.
async fn flap(engine: &Engine, states: &[CaretState], last: CaretState, settle: Duration) {
    for change in 0..120 {
        engine
            .set_phone_state(Some(states[change % states.len()].clone()))
            .expect("the engine runs");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    engine.set_phone_state(Some(last)).expect("the engine runs");
    run_for(settle).await;
}

fn text(slack: &FakeSlack, raw: &str) -> String {
    slack.status(raw).text
}

#[tokio::test(start_paused = true)]
async fn each_policy_shows_what_it_should_in_slack() {
    let cases = [
        (SharingPolicy::Default, "Busy", ":no_entry:"),
        (SharingPolicy::Trusted, "Driving", ":car:"),
        (SharingPolicy::Vip, "Driving", ":car:"),
    ];
    for (policy, expected_text, expected_emoji) in cases {
        let (rig, _, raw) = rig(policy).await;
        rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
        run_for(Duration::from_secs(1)).await;
        let status = rig.slack.status(&raw);
        assert_eq!(
            (status.text.as_str(), status.emoji.as_str()),
            (expected_text, expected_emoji),
            "{policy:?}"
        );
        let lease_end = rig.clock_now_secs() + 30 * 60;
        assert!(
            (status.expiration - lease_end).abs() <= 2,
            "a 30-minute lease: {} vs {lease_end}",
            status.expiration
        );
    }
}

impl Rig {
    fn clock_now_secs(&self) -> i64 {
        use caret_engine::Clock;
        self.clock.now().timestamp()
    }
}

#[tokio::test(start_paused = true)]
async fn vip_shows_the_event_title_and_ends_at_the_event_end() {
    let (rig, _, raw) = rig(SharingPolicy::Vip).await;
    use caret_engine::Clock;
    let now = rig.clock.now();
    let event = EventDetails::new("Board meeting", now, now + chrono::Duration::minutes(45)).unwrap();
    rig.engine
        .set_phone_state(Some(CaretState::Event(event.clone())))
        .unwrap();
    run_for(Duration::from_secs(1)).await;
    let status = rig.slack.status(&raw);
    assert!(
        status.text.starts_with("Board meeting (until "),
        "{}",
        status.text
    );
    assert_eq!(status.expiration, event.end.timestamp());
}

#[tokio::test(start_paused = true)]
async fn blocked_clears_our_status_and_sends_nothing_more() {
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(text(&rig.slack, &raw), "In a call");
    let mut blocked = settings(SharingPolicy::Trusted);
    blocked.policy.block_until_resumed();
    rig.engine.set_settings(id, blocked, Source::Ui).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert!(rig.slack.status(&raw).text.is_empty(), "our status was cleared");
    let writes = rig.slack.accepted(SET);
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(30)).await;
    assert_eq!(rig.slack.accepted(SET), writes, "nothing sent while blocked");
}

#[tokio::test(start_paused = true)]
async fn a_timed_block_ends_by_itself_and_sharing_resumes() {
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    let mut events = rig.engine.subscribe();
    let mut blocked = settings(SharingPolicy::Trusted);
    use caret_engine::Clock;
    blocked
        .policy
        .block_for(chrono::Duration::minutes(60), rig.clock.now());
    rig.engine.set_settings(id, blocked, Source::Tray).unwrap();
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(59 * 60)).await;
    assert!(rig.slack.status(&raw).text.is_empty());
    run_for(Duration::from_secs(2 * 60)).await;
    assert_eq!(text(&rig.slack, &raw), "Walking");
    let mut saw_block_end = false;
    while let Ok(event) = events.try_recv() {
        saw_block_end |= matches!(event, EngineEvent::BlockEnded { .. });
    }
    assert!(saw_block_end);
}

#[tokio::test(start_paused = true)]
async fn a_manual_status_wins_until_it_expires_then_the_phone_is_back() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    use caret_engine::Clock;
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    let until = rig.clock.now() + chrono::Duration::minutes(30);
    rig.engine
        .set_manual(
            Some(ManualStatus {
                state: CaretState::InCall,
                until: Some(until),
            }),
            Source::Shortcut,
        )
        .unwrap();
    run_for(Duration::from_secs(1)).await;
    let status = rig.slack.status(&raw);
    assert_eq!(status.text, "In a call");
    assert_eq!(status.expiration, until.timestamp());
    run_for(Duration::from_secs(30 * 60)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "Walking",
        "the phone state is back after the manual status ended"
    );
}

/// The desktop's own sources through the engine: a microphone in use beats what the phone senses, a calendar
/// event beats a phone that only says busy, and each policy shares the winner as it would the phone's state.
#[tokio::test(start_paused = true)]
async fn the_desktop_s_sources_speak_in_the_documented_order_under_each_policy() {
    // (policy, microphone over a walking phone, calendar event over a busy phone)
    let cases = [
        (SharingPolicy::Default, "Busy", "Busy"),
        (SharingPolicy::Trusted, "In a call", "In a meeting"),
        (SharingPolicy::Vip, "In a call", "Board meeting (until "),
    ];
    for (policy, in_a_call, in_the_meeting) in cases {
        let (rig, _, raw) = rig(policy).await;
        use caret_engine::Clock;
        let now = rig.clock.now();
        rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
        run_for(Duration::from_secs(10)).await;
        let walking = if policy == SharingPolicy::Default {
            "Busy"
        } else {
            "Walking"
        };
        assert_eq!(text(&rig.slack, &raw), walking, "{policy:?}");

        let microphone = DesktopSignals {
            microphone_in_use: true,
            ..DesktopSignals::default()
        };
        let sets_before = rig.slack.calls().iter().filter(|call| call.method == SET).count();
        rig.engine.set_desktop_signals(microphone.clone()).unwrap();
        run_for(Duration::from_secs(10)).await;
        let status = rig.slack.status(&raw);
        assert_eq!(status.text, in_a_call, "{policy:?}");
        let sets = rig.slack.calls().iter().filter(|call| call.method == SET).count() - sets_before;
        if policy == SharingPolicy::Default {
            // Walking and a call are both "Busy": Slack is told nothing new, so nothing tells them apart.
            assert_eq!(sets, 0, "Default: the same Busy, not written again");
        } else {
            assert_eq!(sets, 1, "{policy:?}");
            let lease_end = rig.clock_now_secs() + 30 * 60;
            assert!((status.expiration - lease_end).abs() <= 12, "a lease, {policy:?}");
        }

        // The same reading again is no news: no row, no call.
        let calls_before = rig.slack.calls().len();
        rig.engine.set_desktop_signals(microphone).unwrap();
        run_for(Duration::from_secs(10)).await;
        assert_eq!(rig.slack.calls().len(), calls_before, "{policy:?}");

        rig.engine.set_desktop_signals(DesktopSignals::default()).unwrap();
        run_for(Duration::from_secs(10)).await;
        assert_eq!(
            text(&rig.slack, &raw),
            walking,
            "the phone speaks again, {policy:?}"
        );

        let meeting = EventDetails::new("Board meeting", now, now + chrono::Duration::minutes(45)).unwrap();
        rig.engine.set_phone_state(Some(CaretState::Busy)).unwrap();
        rig.engine
            .set_desktop_signals(DesktopSignals {
                calendar_event: Some(meeting.clone()),
                ..DesktopSignals::default()
            })
            .unwrap();
        run_for(Duration::from_secs(10)).await;
        let status = rig.slack.status(&raw);
        assert!(
            status.text.starts_with(in_the_meeting),
            "{policy:?}: {}",
            status.text
        );
        if policy == SharingPolicy::Vip {
            assert_eq!(status.expiration, meeting.end.timestamp(), "VIP: the event's end");
        } else {
            assert!(!status.text.contains("Board meeting"), "the title only under VIP");
        }

        let mut rows = rig.store.query_log(&LogFilter::default()).unwrap();
        rows.reverse();
        let desktop_rows: Vec<(String, String)> = rows
            .iter()
            .filter(|row| row.kind == caret_store::LogKind::Input)
            .filter(|row| ["microphone", "camera", "calendar"].contains(&row.source.as_str()))
            .map(|row| (row.source.clone(), row.outcome.clone()))
            .collect();
        let row = |source: &str, outcome: &str| (source.to_owned(), outcome.to_owned());
        assert_eq!(
            desktop_rows,
            [
                row("microphone", "microphone in use"),
                row("microphone", "microphone no longer in use"),
                row("calendar", "calendar event now"),
            ],
            "{policy:?}"
        );
        // Each write names the input its state came from, in the order they spoke: the phone walking, the
        // microphone's call, the phone again, the calendar's meeting (under Default all of them are the same
        // Busy, written once).
        let writes: Vec<(String, String)> = rows
            .iter()
            .filter(|row| row.kind == caret_store::LogKind::Call && row.method.as_deref() == Some(SET))
            .map(|row| (row.source.clone(), row.state.clone().unwrap_or_default()))
            .collect();
        let write = |source: &str, state: &str| (source.to_owned(), state.to_owned());
        let expected = if policy == SharingPolicy::Default {
            vec![write("phone", "walking")]
        } else {
            vec![
                write("phone", "walking"),
                write("microphone", "in_call"),
                write("phone", "walking"),
                write("calendar", "event"),
            ]
        };
        assert_eq!(writes, expected, "{policy:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_phone_number_appears_only_when_shared() {
    let mut with_number = settings(SharingPolicy::Trusted);
    with_number.phone.share = true;
    with_number.phone.number = Some(PhoneNumber::parse("+1 555 0100").unwrap());
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_settings(id, with_number, Source::Ui).unwrap();
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(text(&rig.slack, &raw), "In a call · +1 555 0100");
}

#[tokio::test(start_paused = true)]
async fn sleeping_sets_away_and_waking_sets_auto_each_once() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert!(rig.slack.account(&raw).manual_away);
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(
        rig.slack.accepted("users.setPresence"),
        1,
        "presence is sent only when it changes"
    );
    rig.engine.set_phone_state(Some(CaretState::Available)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert!(!rig.slack.account(&raw).manual_away);
    assert!(rig.slack.status(&raw).text.is_empty());
    assert_eq!(rig.slack.accepted("users.setPresence"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_flapping_phone_costs_at_most_ten_writes_a_minute_and_ends_exact() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    let states = [
        CaretState::InCall,
        CaretState::Walking,
        CaretState::InVehicle,
        CaretState::Busy,
    ];
    flap(&rig.engine, &states, CaretState::Silent, Duration::from_secs(20)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "Phone on silent",
        "the settled state is exact"
    );
    assert_eq!(
        rig.slack.count(SET, "ratelimited"),
        0,
        "our budget, not Slack's 429, held us back"
    );
    let writes = rig.slack.accepted(SET);
    assert!(
        writes <= 11,
        "{writes} writes for a 60 s storm + the settled state"
    );
    let calls = rig.slack.calls();
    for (index, call) in calls.iter().enumerate().filter(|(_, c)| c.method == SET) {
        let window = calls[index..]
            .iter()
            .filter(|c| c.method == SET && c.at < call.at + Duration::from_secs(60))
            .count();
        assert!(window <= 10, "{window} writes within a minute");
    }
}

#[tokio::test(start_paused = true)]
async fn a_status_held_for_the_write_budget_then_replaced_is_named_in_the_sync_log() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    // The burst is two writes: the next states wait for the budget, and each is replaced while waiting.
    for state in [
        CaretState::InCall,
        CaretState::Walking,
        CaretState::Busy,
        CaretState::InVehicle,
        CaretState::Silent,
    ] {
        rig.engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_millis(300)).await;
    }
    run_for(Duration::from_secs(30)).await;
    assert_eq!(text(&rig.slack, &raw), "Phone on silent");
    let log = rig
        .store
        .query_log(&caret_store::LogFilter::default())
        .expect("log");
    let mut held: Vec<_> = log
        .iter()
        .filter(|row| row.outcome.starts_with("not sent: replaced by a newer state"))
        .map(|row| {
            assert!(row.outcome.contains("write budget"), "{}", row.outcome);
            row.state.as_deref().unwrap_or_default()
        })
        .collect();
    held.sort_unstable();
    // The two sent at once and the last one (sent when the budget allowed) are not named.
    assert_eq!(held, ["busy", "in_vehicle"], "{log:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_status_set_by_the_user_is_left_alone_and_we_resume_when_it_is_gone() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    rig.slack.user_sets_status(
        &raw,
        Status {
            text: "Lunch".into(),
            emoji: ":coffee:".into(),
            expiration: 0,
        },
    );
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(text(&rig.slack, &raw), "Lunch", "never clobber");
    rig.engine.set_phone_state(Some(CaretState::Available)).unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(text(&rig.slack, &raw), "Lunch", "we clear only what we set");
    let notes = rig
        .store
        .query_log(&LogFilter {
            text: Some("left alone".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert!(!notes.is_empty(), "the log says why");

    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    rig.slack.user_sets_status(&raw, Status::default());
    run_for(Duration::from_secs(70)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "Driving",
        "resumed once the user's status was cleared"
    );
}

#[tokio::test(start_paused = true)]
async fn a_revoked_token_disconnects_the_workspace_and_stops_its_calls() {
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    let mut events = rig.engine.subscribe();
    rig.slack.revoke(&raw);
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(2)).await;
    let workspace = rig.store.workspace(id).unwrap();
    assert!(!workspace.connected);
    assert_eq!(workspace.disconnect_reason.as_deref(), Some("token_revoked"));
    let calls = rig.slack.calls().len();
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(600)).await;
    assert_eq!(rig.slack.calls().len(), calls, "no retries against a dead token");
    let mut disconnected = false;
    while let Ok(event) = events.try_recv() {
        disconnected |=
            matches!(event, EngineEvent::Disconnected { ref reason, .. } if reason == "token_revoked");
    }
    assert!(disconnected);
}

#[tokio::test(start_paused = true)]
async fn a_ten_minute_outage_is_ridden_out_and_the_latest_state_arrives_after() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    let mut events = rig.engine.subscribe();
    rig.slack.outage_for(Duration::from_secs(600));
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(300)).await;
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(300)).await;
    assert!(rig.slack.status(&raw).text.is_empty());
    run_for(Duration::from_secs(360)).await;
    assert_eq!(text(&rig.slack, &raw), "Driving");
    let failed = rig.slack.count("users.profile.get", "http_503");
    assert!(
        (3..=20).contains(&failed),
        "backoff, not a hammering: {failed} attempts in 10 minutes"
    );
    let mut unreachable = false;
    let mut reachable = false;
    while let Ok(event) = events.try_recv() {
        unreachable |= matches!(event, EngineEvent::Unreachable { .. });
        reachable |= matches!(event, EngineEvent::Reachable { .. });
    }
    assert!(unreachable && reachable);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_answer_is_waited_out_exactly() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack
        .inject(Fault::rate_limited(Duration::from_secs(30), 1).on(SET));
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(29)).await;
    assert!(
        rig.slack.status(&raw).text.is_empty(),
        "nothing before Retry-After"
    );
    assert_eq!(
        rig.slack.calls().iter().filter(|c| c.method == SET).count(),
        1,
        "no retry before Retry-After"
    );
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&rig.slack, &raw), "In a call");
    let sets: Vec<_> = rig
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == SET)
        .collect();
    assert_eq!(sets.len(), 2);
    let waited = sets[1].at - sets[0].at;
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "waited {waited:?}"
    );
    let rows = rig
        .store
        .query_log(&LogFilter {
            outcome: Some("ratelimited".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(rows.len(), 1, "the 429 is in the sync log");
}

#[tokio::test(start_paused = true)]
async fn a_restart_converges_without_sending_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    engine.shutdown().await;
    let writes = slack.accepted(SET);

    let store = Store::open(&path).unwrap();
    let _engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    run_for(Duration::from_secs(5)).await;
    assert_eq!(
        slack.accepted(SET),
        writes,
        "Slack already shows it: nothing sent twice"
    );
    assert_eq!(text(&slack, &raw), "In a call");
}

#[tokio::test(start_paused = true)]
async fn an_input_is_committed_and_logged_before_anything_it_causes() {
    // A database on disk: the input's sync runs on a blocking thread beside the look at Slack, and the write
    // waits for it. The input's row still comes before the rows of the calls it causes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let (
        Rig {
            slack, store, engine, ..
        },
        _,
        raw,
    ) = rig_on(Store::open(&path).unwrap(), SharingPolicy::Trusted, |_| {}).await;
    for state in [CaretState::InCall, CaretState::Walking, CaretState::InVehicle] {
        engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_secs(10)).await;
    }
    assert_eq!(text(&slack, &raw), "Driving");
    let mut rows = store.query_log(&LogFilter::default()).unwrap();
    rows.reverse();
    let story: Vec<String> = rows
        .iter()
        .filter_map(|row| match row.method.as_deref() {
            Some(method) if method == GET || method == SET => Some(method.to_owned()),
            Some(_) => None,
            None => (row.outcome == "phone state").then(|| row.state.clone().unwrap_or_default()),
        })
        .collect();
    assert_eq!(
        story,
        ["in_call", GET, SET, "walking", GET, SET, "in_vehicle", GET, SET],
        "each input before its look and its write"
    );
    // Another connection (the app after a kill -9) reads the last input.
    let reopened = Store::open(&path).unwrap();
    assert!(
        reopened
            .load_input::<serde_json::Value>("phone")
            .unwrap()
            .is_some()
    );
}

/// Waits in real time until `done`, failing after 20 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what} within 20 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An input reaches the disk beside the look at Slack, and no write leaves before it: the sync is held back
/// here (as a slow disk would), the look goes out, the write waits, and follows once the sync is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_reaches_slack_before_the_input_is_on_the_disk() {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let syncs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = syncs.clone();
    let (Rig { slack, engine, .. }, _, raw) = rig_on(
        Store::open_in_memory().unwrap(),
        SharingPolicy::Trusted,
        move |config| {
            config.sync_inputs = Some(Arc::new(move || {
                // The sync at start (nothing restored waits for it) goes through; the input's waits.
                if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                    let _ = released.lock().expect("lock").recv();
                }
                Ok(())
            }))
        },
    )
    .await;
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    eventually("the look at Slack", || {
        slack.calls().iter().any(|call| call.method == GET)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        syncs.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the input's sync is under way"
    );
    assert_eq!(slack.accepted(SET), 0, "no write before the input is on the disk");
    release.send(()).unwrap();
    eventually("the write", || text(&slack, &raw) == "In a call").await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_in_the_middle_of_a_write_is_settled_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (id, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    // The next write lands at Slack, but the answer hangs; the app dies before hearing back.
    slack.inject(Fault::hang(Duration::from_secs(3), 1).on(SET));
    engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_millis(500)).await;
    engine.shutdown().await;
    assert!(
        store.sync_state(id).unwrap().in_flight.is_some(),
        "the write was recorded as in flight"
    );

    let writes = slack.accepted(SET);
    assert_eq!(
        text(&slack, &raw),
        "Driving",
        "Slack applied the write the app never heard back about"
    );

    let store = Store::open(&path).unwrap();
    let _engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    run_for(Duration::from_secs(10)).await;
    assert_eq!(text(&slack, &raw), "Driving", "converged to the desired state");
    assert_eq!(slack.accepted(SET), writes, "recognised as ours: not sent again");
    assert!(store.sync_state(id).unwrap().in_flight.is_none());
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let adopted = store
        .query_log(&LogFilter {
            outcome: Some(caret_store::OUTCOME_REACHED_BEFORE_RESTART.into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(adopted.len(), 1, "the write cut off by the crash has its row");
    assert_eq!(adopted[0].method.as_deref(), Some(SET));
    assert!(adopted[0].sent.as_deref().unwrap_or("").contains("Driving"));
    assert!(!adopted[0].problem);
}

#[tokio::test(start_paused = true)]
async fn pause_stops_all_writes_and_resume_sends_what_is_due() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_paused(true, Source::Tray).unwrap();
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(10)).await;
    assert_eq!(rig.slack.calls().len(), 0);
    rig.engine.set_paused(false, Source::Tray).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(text(&rig.slack, &raw), "In a call");
}

#[tokio::test(start_paused = true)]
async fn a_lease_is_renewed_while_the_state_lasts_and_lapses_when_we_stop() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(90 * 60)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "Driving",
        "still there after three lease lengths"
    );
    let renewals = rig.slack.accepted(SET);
    assert!(
        (4..=6).contains(&renewals),
        "renewed about every 20 minutes: {renewals}"
    );
    rig.engine.shutdown().await;
    run_for(Duration::from_secs(31 * 60)).await;
    assert!(
        rig.slack.status(&raw).text.is_empty(),
        "a dead desktop's status expires in Slack by itself"
    );
}

#[tokio::test(start_paused = true)]
async fn every_call_is_in_the_sync_log_without_a_token() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    let rows = rig.store.query_log(&LogFilter::default()).unwrap();
    let call = rows
        .iter()
        .find(|r| r.method.as_deref() == Some(SET))
        .expect("a call row");
    assert_eq!(call.outcome, "ok");
    assert_eq!(call.policy.as_deref(), Some("trusted"));
    assert_eq!(call.state.as_deref(), Some("in_call"));
    assert!(call.sent.as_deref().unwrap_or("").contains("In a call"));
    assert!(
        rows.iter()
            .any(|r| r.kind == caret_store::LogKind::Input && r.source == "phone"),
        "the input row"
    );
    let mut export = Vec::new();
    rig.store
        .export_log_jsonl(&LogFilter::default(), &mut export)
        .unwrap();
    assert!(
        !String::from_utf8(export).unwrap().contains(&raw),
        "no token in the log"
    );
    let _ = &rig.tokens;
}

#[tokio::test(start_paused = true)]
async fn always_override_replaces_a_status_set_elsewhere() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    slack.user_sets_status(
        &raw,
        Status {
            text: "Lunch".into(),
            emoji: ":coffee:".into(),
            expiration: 0,
        },
    );
    let engine = start_engine_with(&slack, &store, &tokens, tokio_clock(&test_clock), |c| {
        c.always_override = true
    });
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(text(&slack, &raw), "In a call");
    let notes = store
        .query_log(&LogFilter {
            text: Some("always override".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(notes.len(), 1, "the log says why it overwrote");
}

#[tokio::test(start_paused = true)]
async fn a_token_without_the_write_scope_is_reported_and_not_retried() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    add_workspace_with_scopes(
        &slack,
        &store,
        &tokens,
        "Acme",
        &settings(SharingPolicy::Trusted),
        &["users.profile:read", "users:read", "users:write"],
    );
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    let mut events = engine.subscribe();
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(120)).await;
    assert_eq!(
        slack.count(SET, "missing_scope"),
        1,
        "one try, then wait for the user"
    );
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, EngineEvent::MissingScope { scope, .. } if scope == "users.profile:write"))
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_presence_scope_the_status_still_syncs() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    let (_, raw) = add_workspace_with_scopes(
        &slack,
        &store,
        &tokens,
        "Acme",
        &settings(SharingPolicy::Trusted),
        &["users.profile:read", "users.profile:write"],
    );
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&slack, &raw), "Sleeping");
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&slack, &raw), "In a call", "syncing carries on");
    assert_eq!(
        slack.count("users.setPresence", "missing_scope"),
        1,
        "presence tried once, then skipped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_retried_with_backoff() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack
        .inject(Fault::hang(Duration::from_secs(60), 2).on("users.profile.get"));
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(40)).await;
    assert_eq!(text(&rig.slack, &raw), "In a call");
    let timeouts = rig
        .store
        .query_log(&LogFilter {
            outcome: Some("timeout".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(timeouts.len(), 2, "each timeout is logged");
    assert!(
        timeouts.iter().any(|row| row.retries >= 1),
        "with its retry count"
    );
}

/// Issue 18: three HTTP 500s and a timeout on users.profile.set showed `retries=0` on every row, as the look
/// before each retry reset the count. The rows of one intended write count its failed attempts, the looks
/// between them included; the next write starts again at 0.
#[tokio::test(start_paused = true)]
async fn the_sync_log_counts_the_retries_of_one_write_across_the_looks_between_them() {
    // A first retry after 10 s rather than 2, so that the backoff, not the write budget (a write per 8 s after
    // a burst of two), sets the pace of the attempts.
    let (
        Rig {
            slack, store, engine, ..
        },
        _,
        raw,
    ) = rig_on(
        Store::open_in_memory().unwrap(),
        SharingPolicy::Trusted,
        |config| {
            config.retry_base = Duration::from_secs(10);
        },
    )
    .await;
    slack.inject(Fault::server_error(500, 3).on(SET));
    // A timeout whose write landed anyway: the look that follows finds it there, and nothing more is sent.
    slack.inject(Fault::hang(Duration::from_secs(60), 1).on(SET));
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(180)).await;
    assert_eq!(text(&slack, &raw), "In a call");
    engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(10)).await;
    assert_eq!(text(&slack, &raw), "Walking");

    let mut rows = store.query_log(&LogFilter::default()).unwrap();
    rows.reverse();
    // The backoff doubles across the looks between attempts (10 s, 20 s, 40 s nominal, each drawn between
    // half and all of it): the gaps between the failed writes say so. A look that reset it kept them all
    // between 5 and 10 s.
    let failed_sets: Vec<i64> = rows
        .iter()
        .filter(|row| row.method.as_deref() == Some(SET) && row.outcome == "http_500")
        .map(|row| row.at_ms)
        .collect();
    let gaps: Vec<i64> = failed_sets.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert_eq!(gaps.len(), 2, "{failed_sets:?}");
    assert!(
        (5_000..=10_100).contains(&gaps[0]),
        "first retry after 5–10 s: {gaps:?}"
    );
    assert!(
        (10_000..=20_100).contains(&gaps[1]),
        "second after 10–20 s: {gaps:?}"
    );
    // The timed-out write's row is written when it gives up: it started `latency_ms` before.
    let timed_out_started = rows
        .iter()
        .find(|row| row.method.as_deref() == Some(SET) && row.outcome == "timeout")
        .map(|row| row.at_ms - row.latency_ms.unwrap_or_default())
        .expect("the timed-out write");
    let third = timed_out_started - failed_sets[2];
    assert!((20_000..=40_100).contains(&third), "third after 20–40 s: {third}");
    let calls: Vec<(String, String, i64)> = rows
        .into_iter()
        .filter_map(|row| {
            let method = row.method?;
            (method == GET || method == SET).then_some((method, row.outcome, row.retries))
        })
        .collect();
    let row = |method: &str, outcome: &str, retries: i64| (method.to_owned(), outcome.to_owned(), retries);
    assert_eq!(
        calls,
        [
            row(GET, "ok", 0),
            row(SET, "http_500", 0),
            row(GET, "ok", 1),
            row(SET, "http_500", 1),
            row(GET, "ok", 2),
            row(SET, "http_500", 2),
            row(GET, "ok", 3),
            row(SET, "timeout", 3),
            row(GET, "ok", 4),
            // The next write.
            row(GET, "ok", 0),
            row(SET, "ok", 0),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_sync_log_is_pruned_to_its_retention() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let engine = start_engine_with(&slack, &store, &tokens, tokio_clock(&test_clock), |c| {
        c.retention = caret_store::Retention {
            max_age_ms: 30 * 24 * 3600 * 1000,
            max_rows: 5,
        };
        c.prune_every = Duration::from_secs(60);
    });
    for n in 0..20 {
        let state = if n % 2 == 0 {
            CaretState::InCall
        } else {
            CaretState::Walking
        };
        engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_secs(10)).await;
    }
    run_for(Duration::from_secs(61)).await;
    assert_eq!(store.query_log(&LogFilter::default()).unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn we_resume_when_a_status_set_elsewhere_expires() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let expires = test_clock.unix_seconds() + 120;
    slack.user_sets_status(
        &raw,
        Status {
            text: "Focus time".into(),
            emoji: ":headphones:".into(),
            expiration: expires,
        },
    );
    // Only the expiry can wake it in time: the periodic look is an hour away.
    let engine = start_engine_with(&slack, &store, &tokens, tokio_clock(&test_clock), |c| {
        c.foreign_recheck = Duration::from_secs(3600)
    });
    engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(110)).await;
    assert_eq!(text(&slack, &raw), "Focus time");
    run_for(Duration::from_secs(20)).await;
    assert_eq!(
        text(&slack, &raw),
        "Driving",
        "resumed when the other status expired"
    );
    assert!(
        slack.count("users.profile.get", "ok") <= 3,
        "no spinning while waiting"
    );
}

#[tokio::test(start_paused = true)]
async fn our_status_is_recognised_as_ours_even_as_slack_rewrote_it() {
    let (rig, id, raw) = rig(SharingPolicy::Vip).await;
    use caret_engine::Clock;
    let now = rig.clock.now();
    let event = EventDetails::new("R&D <review>", now, now + chrono::Duration::hours(2)).unwrap();
    rig.engine
        .set_phone_state(Some(CaretState::Event(event)))
        .unwrap();
    run_for(Duration::from_secs(1)).await;
    assert!(
        text(&rig.slack, &raw).starts_with("R&amp;D &lt;review&gt; (until "),
        "Slack keeps it escaped"
    );
    // The user blocks sharing: the title must go, because it is ours.
    let mut blocked = settings(SharingPolicy::Vip);
    blocked.policy.block_until_resumed();
    rig.engine.set_settings(id, blocked, Source::Tray).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert!(
        rig.slack.status(&raw).text.is_empty(),
        "our own (escaped) status was cleared, not left alone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_template_without_emoji_is_still_ours_after_slack_adds_its_default() {
    let mut plain = settings(SharingPolicy::Trusted);
    plain.templates.insert(
        caret_core::StateKind::Walking,
        caret_core::StateTemplate {
            text: "Out walking".into(),
            emoji: String::new(),
            detailed_text: None,
        },
    );
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_settings(id, plain, Source::Ui).unwrap();
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(rig.slack.status(&raw).emoji, ":speech_balloon:");
    run_for(Duration::from_secs(3 * 3600)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "Out walking",
        "its lease was renewed for three hours"
    );
    let writes = rig.slack.accepted(SET);
    assert!(
        (8..=12).contains(&writes),
        "renewed every 20 minutes, not re-sent in a loop: {writes} writes"
    );
    rig.engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(10)).await;
    assert_eq!(
        text(&rig.slack, &raw),
        "In a call",
        "replaced, not left alone as someone else's"
    );
}

#[tokio::test(start_paused = true)]
async fn a_presence_failure_does_not_stop_lease_renewals() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack
        .inject(Fault::server_error(500, 1000).on("users.setPresence"));
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(2 * 3600)).await;
    assert_eq!(text(&rig.slack, &raw), "Sleeping", "the lease kept being renewed");
}

#[tokio::test(start_paused = true)]
async fn a_worker_restart_does_not_get_a_fresh_burst() {
    let (rig, id, raw) = rig(SharingPolicy::Trusted).await;
    let states = [CaretState::InCall, CaretState::Walking];
    for n in 0..40 {
        rig.engine.set_phone_state(Some(states[n % 2].clone())).unwrap();
        if n % 10 == 9 {
            rig.engine.start_workspace(id).unwrap(); // as reconnecting does
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    run_for(Duration::from_secs(30)).await;
    let calls = rig.slack.calls();
    for (index, call) in calls.iter().enumerate().filter(|(_, c)| c.method == SET) {
        let window = calls[index..]
            .iter()
            .filter(|c| c.method == SET && c.at < call.at + Duration::from_secs(60))
            .count();
        assert!(window <= 10, "{window} writes within a minute");
    }
    assert_eq!(rig.slack.count(SET, "ratelimited"), 0);
    assert_eq!(text(&rig.slack, &raw), "Walking");
}

/// A token source whose token rotates: the first token is expired at Slack; a refresh hands out the second
/// (or fails, when told to).
struct Rotating {
    current: std::sync::Mutex<String>,
    fresh: String,
    refresh_succeeds: bool,
    /// Refreshes that fail as if Slack were unreachable, before the outcome above.
    transient_failures: usize,
    refreshes: std::sync::atomic::AtomicUsize,
}

impl caret_engine::TokenSource for Rotating {
    fn token(&self, _workspace: WorkspaceId) -> Option<SlackToken> {
        SlackToken::parse(&self.current.lock().expect("lock"))
    }

    fn can_refresh(&self, _workspace: WorkspaceId) -> bool {
        true
    }

    fn refresh(
        &self,
        _workspace: WorkspaceId,
        stale: SlackToken,
    ) -> Option<caret_engine::tokens::RefreshFuture<'_>> {
        Some(Box::pin(async move {
            let attempt = self.refreshes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(
                Some(stale),
                self.token(0),
                "the refused token is the one handed out"
            );
            if attempt < self.transient_failures {
                return Err(caret_engine::EngineError::TokenRefresh {
                    reason: "oauth.v2.access: no answer from Slack in time".into(),
                    may_recover: true,
                });
            }
            if !self.refresh_succeeds {
                return Err(caret_engine::EngineError::TokenRefresh {
                    reason: "invalid_refresh_token".into(),
                    may_recover: false,
                });
            }
            *self.current.lock().expect("lock") = self.fresh.clone();
            Ok(())
        }))
    }
}

/// An engine whose workspace's token is expired at Slack and rotates on refresh.
async fn rotating_rig(
    refresh_succeeds: bool,
    transient_failures: usize,
) -> (FakeSlack, Store, Engine, Arc<Rotating>, WorkspaceId, String) {
    let Parts {
        test_clock,
        slack,
        store,
        ..
    } = parts(Store::open_in_memory().expect("store")).await;
    let expired = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    slack.expire_token(&expired);
    let fresh = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let id = store
        .upsert_workspace(
            "T-Acme",
            "U1",
            "Acme",
            "ada",
            &settings(SharingPolicy::Trusted),
            0,
        )
        .expect("workspace");
    let tokens = Arc::new(Rotating {
        current: std::sync::Mutex::new(expired),
        fresh: fresh.clone(),
        refresh_succeeds,
        transient_failures,
        refreshes: std::sync::atomic::AtomicUsize::new(0),
    });
    let client =
        SlackClient::new(slack.base_url().parse().expect("url"), Duration::from_secs(10)).expect("client");
    let config = EngineConfig::new(
        client,
        store.clone(),
        Arc::new(tokio_clock(&test_clock)),
        tokens.clone(),
    );
    let engine = Engine::start(config).expect("engine starts");
    (slack, store, engine, tokens, id, fresh)
}

#[tokio::test(start_paused = true)]
async fn an_expired_rotating_token_is_refreshed_once_and_the_new_one_carries_on() {
    let (slack, store, engine, tokens, id, fresh) = rotating_rig(true, 0).await;
    let mut events = engine.subscribe();
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(tokens.refreshes.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        text(&slack, &fresh).to_lowercase().contains("call"),
        "the new token set the status"
    );
    assert!(store.workspace(id).unwrap().connected, "no reconnect needed");
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, EngineEvent::Disconnected { .. })),
        "not disconnected"
    );
    let notes = store.query_log(&LogFilter::default()).unwrap();
    assert!(
        notes
            .iter()
            .any(|row| row.outcome == "token expired; refreshed it and trying again")
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_that_fails_disconnects_after_one_try_and_asks_for_a_reconnect() {
    let (slack, store, engine, tokens, id, _) = rotating_rig(false, 0).await;
    let mut events = engine.subscribe();
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(5)).await;
    let workspace = store.workspace(id).unwrap();
    assert!(!workspace.connected);
    assert_eq!(workspace.disconnect_reason.as_deref(), Some("token_expired"));
    let calls = slack.calls().len();
    engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(600)).await;
    assert_eq!(
        tokens.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one refresh, not a loop"
    );
    assert_eq!(slack.calls().len(), calls, "nothing more with a dead token");
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, EngineEvent::Disconnected { reason, .. } if reason == "token_expired"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_that_fails_for_now_is_tried_again_with_backoff_and_never_disconnects() {
    let (slack, store, engine, tokens, id, fresh) = rotating_rig(true, 3).await;
    let mut events = engine.subscribe();
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    run_for(Duration::from_secs(120)).await;
    assert_eq!(
        tokens.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "three failures, then it works"
    );
    assert!(
        store.workspace(id).unwrap().connected,
        "Slack's trouble is not the user's to fix"
    );
    assert!(text(&slack, &fresh).to_lowercase().contains("call"));
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, EngineEvent::Disconnected { .. }))
    );
    let rows = store.query_log(&LogFilter::default()).unwrap();
    assert_eq!(
        rows.iter()
            .filter(|row| row
                .outcome
                .starts_with("token expired; renewing it failed for now"))
            .count(),
        3
    );
}

/// The most calls of `method` by `user_id` that any sixty seconds held.
fn most_in_a_minute(calls: &[caret_e2e::fake_slack::RecordedCall], method: &str, user_id: &str) -> usize {
    let mine: Vec<_> = calls
        .iter()
        .filter(|c| c.method == method && c.user_id.as_deref() == Some(user_id))
        .map(|c| c.at)
        .collect();
    (0..mine.len())
        .map(|index| {
            mine[index..]
                .iter()
                .take_while(|at| **at < mine[index] + Duration::from_secs(60))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Issue 14's storm: a phone flapping through states that change presence, for a minute, with three
/// workspaces under the three sharing policies (Default with Busy set to away, so that it has presence
/// changes too). Slack's limits are the fake's: 10 `users.profile.set` a minute per user, tier 2 (20 a
/// minute) for `users.setPresence`. Not one 429 from any method, and every workspace ends exact.
#[tokio::test(start_paused = true)]
async fn a_presence_storm_under_every_policy_never_meets_a_429_and_ends_exact() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    let mut default = settings(SharingPolicy::Default);
    default
        .presence
        .insert(caret_core::StateKind::Busy, caret_core::PresenceRule::Away);
    let (_, acme) = add_workspace(&slack, &store, &tokens, "Acme", &default);
    let (_, beta) = add_workspace(&slack, &store, &tokens, "Beta", &settings(SharingPolicy::Trusted));
    let (_, gamma) = add_workspace(&slack, &store, &tokens, "Gamma", &settings(SharingPolicy::Vip));
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    let states = [
        CaretState::Sleeping,
        CaretState::Available,
        CaretState::Busy,
        CaretState::InCall,
        CaretState::Available,
    ];
    flap(&engine, &states, CaretState::Sleeping, Duration::from_secs(30)).await;

    let calls = slack.calls();
    let limited: Vec<_> = calls.iter().filter(|c| c.outcome == "ratelimited").collect();
    assert!(limited.is_empty(), "429s: {limited:?}");
    for raw in [&acme, &beta, &gamma] {
        let user = slack.account(raw).user_id;
        let presence_calls = calls
            .iter()
            .filter(|c| c.method == "users.setPresence" && c.user_id.as_deref() == Some(&user))
            .count();
        assert!(
            presence_calls >= 4,
            "presence was synced during the storm: {presence_calls}"
        );
        assert!(most_in_a_minute(&calls, "users.setPresence", &user) <= 18);
        assert!(most_in_a_minute(&calls, SET, &user) <= 9);
    }
    // Settled on Sleeping: Default shows Busy and (Busy being away here) away; Trusted and VIP Sleeping, away.
    assert_eq!(text(&slack, &acme), "Busy");
    assert_eq!(text(&slack, &beta), "Sleeping");
    assert_eq!(text(&slack, &gamma), "Sleeping");
    for raw in [&acme, &beta, &gamma] {
        assert!(slack.account(raw).manual_away, "the final presence is exact");
    }
}

/// Issue 14: Default must not tell Sleeping from Busy by presence. A phone alternating between them under
/// Default changes nothing Slack shows after the first write: one status, no presence call at all.
#[tokio::test(start_paused = true)]
async fn under_default_sleeping_and_busy_look_the_same_in_slack_presence_included() {
    let (rig, _, raw) = rig(SharingPolicy::Default).await;
    for state in [
        CaretState::Busy,
        CaretState::Sleeping,
        CaretState::InCall,
        CaretState::Sleeping,
    ] {
        rig.engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_secs(20)).await;
        assert_eq!(text(&rig.slack, &raw), "Busy");
        assert!(!rig.slack.account(&raw).manual_away, "never away under Default");
    }
    assert_eq!(
        rig.slack
            .calls()
            .iter()
            .filter(|c| c.method == "users.setPresence")
            .count(),
        0
    );
    assert_eq!(
        rig.slack.accepted(SET),
        1,
        "the same status for every one of them"
    );
}

/// A 429 on presence holds every call with that token for Retry-After, however many inputs wake the
/// worker in between (issue 14 saw 8 more calls within the 7 seconds).
#[tokio::test(start_paused = true)]
async fn retry_after_on_presence_holds_every_call_whatever_wakes_the_worker() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack
        .inject(Fault::rate_limited(Duration::from_secs(7), 1).on("users.setPresence"));
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(1)).await;
    let limited_at = rig
        .slack
        .calls()
        .iter()
        .find(|c| c.outcome == "ratelimited")
        .map(|c| c.at)
        .expect("the 429");
    let states = [CaretState::InCall, CaretState::Sleeping, CaretState::Walking];
    for n in 0..12 {
        rig.engine.set_phone_state(Some(states[n % 3].clone())).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(20)).await;
    let early: Vec<_> = rig
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.at > limited_at && c.at < limited_at + Duration::from_secs(7))
        .collect();
    assert!(early.is_empty(), "calls inside Retry-After: {early:?}");
    assert_eq!(text(&rig.slack, &raw), "Sleeping");
    assert!(rig.slack.account(&raw).manual_away);
}

/// Issue 14: three restarts within 16 s gave 11 write attempts in one minute. The attempts are recorded
/// before they are sent, and a restarted engine's budget counts them.
#[tokio::test(start_paused = true)]
async fn restarts_cannot_add_bursts_to_the_write_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let user = slack.account(&raw).user_id;
    let states = [CaretState::InCall, CaretState::Walking, CaretState::InVehicle];
    let mut change = 0;
    for _restart in 0..6 {
        let store = Store::open(&path).unwrap();
        let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
        for _ in 0..10 {
            engine.set_phone_state(Some(states[change % 3].clone())).unwrap();
            change += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Killed, as a crash or a quick restart would.
        engine.shutdown().await;
    }
    let store = Store::open(&path).unwrap();
    let _engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    run_for(Duration::from_secs(90)).await;
    let calls = slack.calls();
    let most = most_in_a_minute(&calls, SET, &user);
    assert!(most <= 9, "{most} attempts in one minute across restarts");
    assert_eq!(slack.count(SET, "ratelimited"), 0);
    assert_eq!(
        text(&slack, &raw),
        ["In a call", "Walking", "Driving"][(change - 1) % 3]
    );
}

/// Issue 14: a token granted without `users:write` is never sent a presence call; the log says why, once.
#[tokio::test(start_paused = true)]
async fn presence_is_not_tried_with_a_token_granted_without_users_write() {
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open_in_memory().unwrap()).await;
    let (id, raw) = add_workspace_with_scopes(
        &slack,
        &store,
        &tokens,
        "Acme",
        &settings(SharingPolicy::Trusted),
        &["users.profile:read", "users.profile:write", "users:read"],
    );
    store
        .set_granted_scopes(
            id,
            &[
                "users.profile:read".into(),
                "users.profile:write".into(),
                "users:read".into(),
            ],
        )
        .unwrap();
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    for state in [CaretState::Sleeping, CaretState::InCall, CaretState::Sleeping] {
        engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_secs(20)).await;
    }
    assert_eq!(text(&slack, &raw), "Sleeping");
    assert_eq!(
        slack
            .calls()
            .iter()
            .filter(|c| c.method == "users.setPresence")
            .count(),
        0
    );
    let notes = store
        .query_log(&LogFilter {
            text: Some("presence not synced".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(notes.len(), 1, "said once: {notes:?}");
}

/// Issue 14: the sync log shows every Slack call: each call the local Slack received (looks included) has
/// its row, with the method and the outcome Slack gave.
#[tokio::test(start_paused = true)]
async fn every_call_slack_received_has_its_row_in_the_sync_log() {
    let (rig, _, _) = rig(SharingPolicy::Trusted).await;
    rig.slack
        .inject(Fault::server_error(503, 2).on("users.profile.get"));
    rig.slack
        .inject(Fault::rate_limited(Duration::from_secs(3), 1).on("users.setPresence"));
    let states = [
        CaretState::Sleeping,
        CaretState::InCall,
        CaretState::Available,
        CaretState::Walking,
    ];
    for n in 0..40 {
        rig.engine.set_phone_state(Some(states[n % 4].clone())).unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    run_for(Duration::from_secs(60)).await;
    // Per method: how many calls, and how many Slack accepted.
    let tally = |rows: Vec<(String, bool)>| {
        let mut tally = std::collections::BTreeMap::<String, (usize, usize)>::new();
        for (method, ok) in rows {
            let entry = tally.entry(method).or_default();
            entry.0 += 1;
            entry.1 += usize::from(ok);
        }
        tally
    };
    let received = tally(
        rig.slack
            .calls()
            .into_iter()
            .map(|c| (c.method, c.outcome == "ok"))
            .collect(),
    );
    let logged = tally(
        rig.store
            .query_log(&LogFilter {
                limit: Some(10_000),
                ..LogFilter::default()
            })
            .unwrap()
            .into_iter()
            .filter(|row| row.kind == caret_store::LogKind::Call)
            .map(|row| (row.method.unwrap_or_default(), row.outcome == "ok"))
            .collect(),
    );
    assert!(received.contains_key("users.profile.get"));
    assert!(received.contains_key("users.setPresence"));
    assert_eq!(received, logged, "every call has its row, with its outcome");
}

/// Issue 14: after a restart the phone state kept from before holds (nothing cleared, nothing sent again)
/// until a phone reports; with no phone back, it runs out 30 minutes after it was last known to hold (for a
/// clean stop: the stop).
#[tokio::test(start_paused = true)]
async fn a_restored_phone_state_holds_until_a_phone_reports_or_it_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    engine.set_phone_state(Some(CaretState::InCall)).unwrap();
    // In a call for 40 minutes (the lease renewed meanwhile), then the app restarts.
    run_for(Duration::from_secs(40 * 60)).await;
    engine.shutdown().await;
    let calls_before = slack.calls().len();

    let store = Store::open(&path).unwrap();
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    run_for(Duration::from_secs(20 * 60)).await;
    assert_eq!(text(&slack, &raw), "In a call", "kept across the restart");
    assert!(
        slack.calls()[calls_before..]
            .iter()
            .all(|c| c.method != SET || !c.body.to_string().contains("\"status_text\":\"\"")),
        "never cleared while the phone was away"
    );
    run_for(Duration::from_secs(11 * 60)).await;
    assert_eq!(
        text(&slack, &raw),
        "",
        "no phone 30 minutes after the stop: cleared"
    );
    let dropped = store
        .query_log(&LogFilter {
            text: Some("has not reported since the restart".into()),
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(dropped.len(), 1);

    // Once more, and this time the phone comes back: it replaces the restored state at once.
    engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(5)).await;
    engine.shutdown().await;
    let store = Store::open(&path).unwrap();
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    run_for(Duration::from_secs(5)).await;
    let sets_before = slack.accepted(SET);
    engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(40 * 60)).await;
    assert_eq!(
        text(&slack, &raw),
        "Walking",
        "the phone's report holds, no running out"
    );
    assert!(slack.accepted(SET) > sets_before, "its lease renewed");
}

/// Issue 14's review: while a status set outside Caret Desktop is showing, the worker writes nothing, so
/// only presence follows a flapping phone. Slack's limits still hold: the looks at Slack wait for their
/// recheck instead of following every input, and presence keeps to its own budget (tier 2: 20 a minute).
#[tokio::test(start_paused = true)]
async fn a_presence_storm_behind_a_status_set_elsewhere_keeps_every_method_under_its_limit() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack.user_sets_status(
        &raw,
        Status {
            text: "Lunch".into(),
            emoji: ":coffee:".into(),
            expiration: 0,
        },
    );
    let user = rig.slack.account(&raw).user_id;
    flap(
        &rig.engine,
        &[CaretState::Sleeping, CaretState::InCall],
        CaretState::Sleeping,
        Duration::from_secs(30),
    )
    .await;
    let calls = rig.slack.calls();
    let limited: Vec<_> = calls.iter().filter(|c| c.outcome == "ratelimited").collect();
    assert!(limited.is_empty(), "429s: {limited:?}");
    let presence = most_in_a_minute(&calls, "users.setPresence", &user);
    assert!(
        (10..=18).contains(&presence),
        "{presence} presence calls in a minute"
    );
    let looks = most_in_a_minute(&calls, "users.profile.get", &user);
    assert!(
        looks <= 3,
        "{looks} looks at Slack in a minute behind someone else's status"
    );
    assert_eq!(text(&rig.slack, &raw), "Lunch", "left alone");
    assert!(rig.slack.account(&raw).manual_away, "the final presence is exact");
}

/// A state posted over HTTPS holds for its `for_secs` only, across a restart too (issue 14's review).
#[tokio::test(start_paused = true)]
async fn a_restored_state_posted_for_a_time_holds_no_longer_than_that() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let clock = tokio_clock(&test_clock);
    let engine = start_engine(&slack, &store, &tokens, clock);
    let until = caret_engine::Clock::now(&clock) + chrono::Duration::minutes(2);
    engine
        .set_phone_state_until(Some(CaretState::InVehicle), Some(until))
        .unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(text(&slack, &raw), "Driving");
    engine.shutdown().await;

    let store = Store::open(&path).unwrap();
    let _engine = start_engine(&slack, &store, &tokens, clock);
    run_for(Duration::from_secs(60)).await;
    assert_eq!(text(&slack, &raw), "Driving", "still within its two minutes");
    run_for(Duration::from_secs(70)).await;
    assert_eq!(text(&slack, &raw), "", "its two minutes are over: not 30 more");
}

/// On a clock that moves (not paused), a lease status decided while the screen is locked is the input's, not
/// the lock's: the desk's comparison decides at the same moment as the decision itself, so the lease's end is
/// the same in both (a second reading of the clock made every lease differ, and the sync log named the screen
/// lock as the source of the phone's status).
#[tokio::test]
async fn a_lease_status_while_locked_names_its_input_and_the_presence_the_lock() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine
        .set_desktop_signals(DesktopSignals {
            screen_locked: true,
            ..DesktopSignals::default()
        })
        .unwrap();
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (text(&rig.slack, &raw) != "Walking" || !rig.slack.account(&raw).manual_away)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text(&rig.slack, &raw), "Walking");
    assert!(rig.slack.account(&raw).manual_away, "away while locked");
    let calls: Vec<(String, String)> = rig
        .store
        .query_log(&LogFilter::default())
        .unwrap()
        .into_iter()
        .filter(|row| row.kind == LogKind::Call)
        .filter(|row| matches!(row.method.as_deref(), Some(SET) | Some("users.setPresence")))
        .map(|row| (row.method.unwrap_or_default(), row.source))
        .collect();
    assert!(
        calls.contains(&(SET.to_owned(), "phone".to_owned())),
        "the status call names the phone: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .all(|(method, source)| method != SET || source == "phone"),
        "{calls:?}"
    );
    assert!(
        calls.contains(&("users.setPresence".to_owned(), "screen lock".to_owned())),
        "{calls:?}"
    );
}

/// The end of the snooze Slack runs, in seconds from Slack's now (`None`: no snooze).
fn snooze_left(slack: &FakeSlack, raw: &str) -> Option<i64> {
    let now = slack.now_secs();
    slack
        .account(raw)
        .snooze_until
        .filter(|until| *until > now)
        .map(|until| until - now)
}

fn log_with(store: &Store, text: &str) -> Vec<caret_store::LogEntry> {
    store
        .query_log(&LogFilter {
            text: Some(text.into()),
            ..LogFilter::default()
        })
        .expect("log")
}

#[tokio::test(start_paused = true)]
async fn driving_pauses_notifications_on_a_renewed_lease_and_the_end_of_the_drive_ends_it() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&rig.slack, &raw), "Driving");
    let left = snooze_left(&rig.slack, &raw).expect("notifications paused");
    assert!((29 * 60..=30 * 60).contains(&left), "a 30-minute lease: {left} s");
    let calls: Vec<String> = rig
        .slack
        .calls()
        .into_iter()
        .filter(|call| call.method.starts_with("dnd."))
        .map(|call| call.method)
        .collect();
    assert_eq!(calls, ["dnd.info", "dnd.setSnooze"], "looked at first");
    let rows = log_with(&rig.store, "dnd.setSnooze");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].sent.as_deref(), Some(r#"{"num_minutes":30}"#));
    assert_eq!(rows[0].state.as_deref(), Some("in_vehicle"));

    // Renewed in the lease's last third, like the status: the snooze never runs out during the drive.
    run_for(Duration::from_secs(50 * 60)).await;
    let left = snooze_left(&rig.slack, &raw).expect("still paused after 50 minutes of driving");
    assert!(left > 60, "{left}");
    assert!(rig.slack.accepted("dnd.setSnooze") >= 3);

    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&rig.slack, &raw), "Walking");
    assert_eq!(
        snooze_left(&rig.slack, &raw),
        None,
        "the drive is over: notifications back"
    );
    assert_eq!(rig.slack.accepted("dnd.endSnooze"), 1);
    let calls_before = rig.slack.calls().len();
    rig.engine.set_phone_state(Some(CaretState::Busy)).unwrap();
    run_for(Duration::from_secs(2)).await;
    let dnd_after: Vec<_> = rig.slack.calls()[calls_before..]
        .iter()
        .filter(|call| call.method.starts_with("dnd."))
        .map(|call| call.method.clone())
        .collect();
    assert!(
        dnd_after.is_empty(),
        "no snooze of ours, none wanted: nothing to call: {dnd_after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_snooze_the_person_started_is_never_changed_nor_ended_and_ours_follows_it() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.slack.user_snoozes(&raw, 60);
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 0, "theirs is left as it is");
    assert_eq!(snooze_left(&rig.slack, &raw), Some(3600 - 2));
    assert_eq!(log_with(&rig.store, "a snooze you started runs until").len(), 1);
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(rig.slack.accepted("dnd.endSnooze"), 0, "never ended");
    assert!(snooze_left(&rig.slack, &raw).is_some());

    // Driving again while theirs runs: nothing until theirs ends, then ours, for as long as the drive.
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(50 * 60)).await;
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 0);
    run_for(Duration::from_secs(15 * 60)).await;
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 1, "ours once theirs ended");
    assert!(snooze_left(&rig.slack, &raw).is_some());
    assert_eq!(rig.slack.count("dnd.info", "ratelimited"), 0);
    assert!(rig.slack.accepted("dnd.info") <= 4, "no look while theirs runs");
}

#[tokio::test(start_paused = true)]
async fn a_snooze_the_person_ends_is_not_started_again_while_the_state_lasts() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert!(snooze_left(&rig.slack, &raw).is_some());
    rig.slack.user_snoozes(&raw, 0);
    // At the renewal the look finds it gone early: the person's word.
    run_for(Duration::from_secs(40 * 60)).await;
    assert_eq!(snooze_left(&rig.slack, &raw), None);
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 1);
    assert_eq!(log_with(&rig.store, "you ended the snooze in Slack").len(), 1);
    assert_eq!(text(&rig.slack, &raw), "Sleeping", "the status goes on");
    // Another state, then sleeping again: a new state snoozes again.
    rig.engine.set_phone_state(Some(CaretState::Available)).unwrap();
    run_for(Duration::from_secs(10)).await;
    rig.engine.set_phone_state(Some(CaretState::Sleeping)).unwrap();
    run_for(Duration::from_secs(10)).await;
    assert!(snooze_left(&rig.slack, &raw).is_some());
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 2);
}

#[tokio::test(start_paused = true)]
async fn default_and_blocked_never_pause_notifications_and_a_manual_end_is_the_snooze_s() {
    for policy in [SharingPolicy::Default, SharingPolicy::Vip] {
        let (rig, id, raw) = rig(policy).await;
        rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
        run_for(Duration::from_secs(2)).await;
        if policy == SharingPolicy::Default {
            assert_eq!(text(&rig.slack, &raw), "Busy");
            assert!(
                rig.slack
                    .calls()
                    .iter()
                    .all(|call| !call.method.starts_with("dnd.")),
                "Default shows Busy, whose rule is not to snooze"
            );
            continue;
        }
        assert!(snooze_left(&rig.slack, &raw).is_some());
        // Blocked shares nothing: our snooze is ended.
        let mut blocked = settings(policy);
        blocked.policy.block_until_resumed();
        rig.engine.set_settings(id, blocked, Source::Ui).unwrap();
        run_for(Duration::from_secs(2)).await;
        assert_eq!(snooze_left(&rig.slack, &raw), None);
        let mut vip = settings(policy);
        vip.policy.choose(SharingPolicy::Vip);
        rig.engine.set_settings(id, vip, Source::Ui).unwrap();
        // A status chosen until a time: the snooze ends then too, without a renewal.
        let until = DateTime::<Utc>::from_timestamp(rig.clock_now_secs(), 0).expect("now")
            + chrono::Duration::minutes(90);
        rig.engine
            .set_manual(
                Some(ManualStatus {
                    state: CaretState::InVehicle,
                    until: Some(until),
                }),
                Source::Ui,
            )
            .unwrap();
        // Three snooze calls so far (start, end, start again): the fourth waits for the budget's next token.
        run_for(Duration::from_secs(6)).await;
        let left = snooze_left(&rig.slack, &raw).expect("paused until the chosen end");
        assert!((90 * 60 - 6..=91 * 60).contains(&left), "{left}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_ends_the_snooze_it_started_and_a_token_without_dnd_scopes_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caret.sqlite3");
    let Parts {
        test_clock,
        slack,
        store,
        tokens,
    } = parts(Store::open(&path).unwrap()).await;
    let (_, raw) = add_workspace(&slack, &store, &tokens, "Acme", &settings(SharingPolicy::Trusted));
    let no_dnd: Vec<&str> = FakeSlack::FULL_SCOPES
        .into_iter()
        .filter(|scope| !scope.starts_with("dnd:"))
        .collect();
    let (_, lacking) = add_workspace_with_scopes(
        &slack,
        &store,
        &tokens,
        "Globex",
        &settings(SharingPolicy::Trusted),
        &no_dnd,
    );
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    let mut events = engine.subscribe();
    engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert!(snooze_left(&slack, &raw).is_some());
    assert_eq!(
        text(&slack, &lacking),
        "Driving",
        "the status syncs without the DND scopes"
    );
    assert!(drain(&mut events).iter().any(
        |event| matches!(event, EngineEvent::MissingScope { team, scope, .. } if team == "Globex" && scope == "dnd:read")
    ));
    engine.shutdown().await;

    let store = Store::open(&path).unwrap();
    let engine = start_engine(&slack, &store, &tokens, tokio_clock(&test_clock));
    engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(
        snooze_left(&slack, &raw),
        None,
        "the restarted engine knew the snooze was its own"
    );
    for state in [CaretState::InVehicle, CaretState::Walking, CaretState::Sleeping] {
        engine.set_phone_state(Some(state)).unwrap();
        run_for(Duration::from_secs(10)).await;
    }
    assert_eq!(
        slack.count("dnd.info", "missing_scope"),
        2,
        "asked once by each start (neither knew the grant), not at every change"
    );
    let notes = log_with(&store, "Do Not Disturb not synced");
    assert!(!notes.is_empty() && notes.len() <= 2, "{notes:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_phone_flapping_in_and_out_of_the_car_costs_no_429_and_ends_exact() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    flap(
        &rig.engine,
        &[CaretState::InVehicle, CaretState::Walking],
        CaretState::Walking,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(snooze_left(&rig.slack, &raw), None, "settled walking: no snooze");
    for method in ["dnd.info", "dnd.setSnooze", "dnd.endSnooze"] {
        assert_eq!(rig.slack.count(method, "ratelimited"), 0, "{method}");
    }
    let calls = rig.slack.calls();
    for (index, call) in calls.iter().enumerate() {
        if !matches!(call.method.as_str(), "dnd.setSnooze" | "dnd.endSnooze") {
            continue;
        }
        let window = calls[index..]
            .iter()
            .filter(|c| c.method == call.method && c.at < call.at + Duration::from_secs(60))
            .count();
        assert!(window <= 18, "{window} {} within a minute", call.method);
    }
}

#[tokio::test(start_paused = true)]
async fn a_snooze_for_a_status_until_cleared_is_renewed_though_nothing_else_wakes_the_worker() {
    let (rig, _, raw) = rig(SharingPolicy::Trusted).await;
    rig.engine
        .set_manual(
            Some(ManualStatus {
                state: CaretState::InVehicle,
                until: None,
            }),
            Source::Ui,
        )
        .unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(
        slack_status_expiration(&rig.slack, &raw),
        0,
        "the status never ends by itself"
    );
    run_for(Duration::from_secs(100 * 60)).await;
    assert!(
        snooze_left(&rig.slack, &raw).is_some(),
        "still paused after 100 minutes"
    );
    assert!(rig.slack.accepted("dnd.setSnooze") >= 5, "renewed on its lease");
}

fn slack_status_expiration(slack: &FakeSlack, raw: &str) -> i64 {
    slack.status(raw).expiration
}

#[tokio::test(start_paused = true)]
async fn under_default_a_declined_snooze_stays_declined_whatever_state_is_behind_busy() {
    let (rig, id, raw) = rig(SharingPolicy::Default).await;
    let mut busy_snoozes = settings(SharingPolicy::Default);
    busy_snoozes
        .dnd
        .insert(caret_core::StateKind::Busy, caret_core::DndRule::Snooze);
    rig.engine.set_settings(id, busy_snoozes, Source::Ui).unwrap();
    rig.engine.set_phone_state(Some(CaretState::InVehicle)).unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(text(&rig.slack, &raw), "Busy");
    assert!(
        snooze_left(&rig.slack, &raw).is_some(),
        "Busy snoozes, so every state shown as Busy does"
    );
    rig.slack.user_snoozes(&raw, 0);
    run_for(Duration::from_secs(25 * 60)).await;
    assert_eq!(log_with(&rig.store, "you ended the snooze in Slack").len(), 1);
    // Walking is Busy too: starting a snooze again would tell that the state behind Busy changed.
    rig.engine.set_phone_state(Some(CaretState::Walking)).unwrap();
    run_for(Duration::from_secs(10)).await;
    assert_eq!(snooze_left(&rig.slack, &raw), None);
    assert_eq!(rig.slack.accepted("dnd.setSnooze"), 1);
}

#[tokio::test(start_paused = true)]
async fn an_event_s_end_kept_by_a_vip_snooze_is_replaced_by_a_lease_under_default() {
    let (rig, id, raw) = rig(SharingPolicy::Vip).await;
    let mut vip = settings(SharingPolicy::Vip);
    vip.dnd
        .insert(caret_core::StateKind::Event, caret_core::DndRule::Snooze);
    vip.dnd
        .insert(caret_core::StateKind::Busy, caret_core::DndRule::Snooze);
    rig.engine.set_settings(id, vip.clone(), Source::Ui).unwrap();
    let now = DateTime::<Utc>::from_timestamp(rig.clock_now_secs(), 0).expect("now");
    let event = EventDetails::new("Board meeting", now, now + chrono::Duration::minutes(50)).unwrap();
    rig.engine
        .set_phone_state(Some(CaretState::Event(event)))
        .unwrap();
    run_for(Duration::from_secs(2)).await;
    let left = snooze_left(&rig.slack, &raw).expect("paused for the meeting");
    assert!(
        (49 * 60..=51 * 60).contains(&left),
        "until the event's end: {left}"
    );
    let mut default = vip;
    default.policy.choose(SharingPolicy::Default);
    rig.engine.set_settings(id, default, Source::Ui).unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(text(&rig.slack, &raw), "Busy");
    let left = snooze_left(&rig.slack, &raw).expect("still paused");
    assert!(
        (29 * 60..=30 * 60).contains(&left),
        "a lease, not the event's end: {left}"
    );
}
