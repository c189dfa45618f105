//! Benchmarks of the sync engine against the local Slack server. Prints figures; asserts nothing.
//!
//!   cargo run --release -p caret-e2e --bin bench-engine [-- --samples N]
//!
//! 1. Latency: from an input event (`Engine::set_phone_state`) to the `users.profile.set` request arriving at
//!    the server, through the real path (SQLite file store with its fsyncs, the never-clobber
//!    `users.profile.get`, HTTP over loopback). Slack's limits and our budget are lifted for this run, so it
//!    measures the pipeline, not the rate limit.
//! 2. Storm: 120 phone changes in 60 s with the real limits and budgets (on paused tokio time), through states
//!    that change presence, with three workspaces under Default (Busy set to away, so that Default has
//!    presence changes too), Trusted and VIP: per workspace how many `users.profile.set`, `users.profile.get`
//!    and `users.setPresence` calls, how many 429s from any method, and whether Slack ends on the exact final
//!    status and presence.

use std::sync::Arc;
use std::time::Duration;

use caret_core::{CaretState, PresenceRule, SharingPolicy, StateKind, WorkspaceSettings};
use caret_e2e::bench::{ms, percentile};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_engine::{Engine, EngineConfig, StaticTokens, SystemClock, TokioClock};
use caret_slack::{SlackClient, SlackToken};
use caret_store::Store;
use chrono::{DateTime, FixedOffset, Utc};
use tokio::time::Instant;

const SET: &str = "users.profile.set";

fn under(policy: SharingPolicy) -> WorkspaceSettings {
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(policy);
    settings
}

/// An engine syncing one workspace per entry of `workspaces` (team name, settings); returns their tokens.
fn engine_for(
    slack: &FakeSlack,
    store: &Store,
    clock: Arc<dyn caret_engine::Clock>,
    lift: bool,
    workspaces: &[(&str, WorkspaceSettings)],
) -> (Engine, Vec<String>) {
    let tokens = StaticTokens::default();
    let mut raws = Vec::new();
    for (index, (team, settings)) in workspaces.iter().enumerate() {
        let raw = slack.add_user(team, "ada", &FakeSlack::FULL_SCOPES);
        let id = store
            .upsert_workspace(&format!("T{index}"), "U1", team, "ada", settings, 0)
            .expect("workspace");
        tokens.insert(id, SlackToken::parse(&raw).expect("token"));
        raws.push(raw);
    }
    let client =
        SlackClient::new(slack.base_url().parse().expect("url"), Duration::from_secs(10)).expect("client");
    let mut config = EngineConfig::new(client, store.clone(), clock, Arc::new(tokens));
    if lift {
        config.profile_budget = (u32::MAX, Duration::from_millis(1));
        config.presence_budget = (u32::MAX, Duration::from_millis(1));
    }
    (Engine::start(config).expect("engine"), raws)
}

async fn latency(samples: usize) {
    let slack = FakeSlack::start(TestClock::new()).await;
    slack.lift_limits();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("caret.sqlite3")).expect("store");
    let (engine, _) = engine_for(
        &slack,
        &store,
        Arc::new(SystemClock),
        true,
        &[("Acme", under(SharingPolicy::Trusted))],
    );
    let mut feed = slack.subscribe_calls();
    let states = [CaretState::InCall, CaretState::Walking];
    let mut latencies = Vec::with_capacity(samples);
    for sample in 0..samples + 20 {
        let started = Instant::now();
        engine
            .set_phone_state(Some(states[sample % 2].clone()))
            .expect("input");
        let arrived = loop {
            let call = feed.recv().await.expect("call feed");
            if call.method == SET {
                break call.at;
            }
        };
        if sample >= 20 {
            latencies.push(arrived - started);
        }
        // Let the answer reach the engine before the next change, as a person's changes would.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort_unstable();
    println!(
        "input → users.profile.set arriving: n={} p50={} p90={} p99={} max={}",
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().expect("samples")),
    );
    engine.shutdown().await;
}

async fn storm() {
    let test_clock = TestClock::new();
    let slack = FakeSlack::start(test_clock).await;
    let store = Store::open_in_memory().expect("store");
    let start = DateTime::<Utc>::from_timestamp_millis(test_clock.unix_millis()).expect("time");
    let clock = TokioClock::starting_at(start, FixedOffset::east_opt(0).expect("utc"));
    let mut default = under(SharingPolicy::Default);
    default.presence.insert(StateKind::Busy, PresenceRule::Away);
    let (engine, raws) = engine_for(
        &slack,
        &store,
        Arc::new(clock),
        false,
        &[
            ("Default", default),
            ("Trusted", under(SharingPolicy::Trusted)),
            ("VIP", under(SharingPolicy::Vip)),
        ],
    );
    // Presence changes with every other state here: Sleeping and (under Default) Busy are away.
    let cycle = [
        CaretState::Sleeping,
        CaretState::Available,
        CaretState::InCall,
        CaretState::Walking,
        CaretState::Busy,
        CaretState::Available,
    ];
    for change in 0..120 {
        engine
            .set_phone_state(Some(cycle[change % cycle.len()].clone()))
            .expect("input");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    engine.set_phone_state(Some(CaretState::Sleeping)).expect("input");
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = slack.calls();
    let limited = calls.iter().filter(|call| call.outcome == "ratelimited").count();
    println!(
        "storm of 120 changes in 60 s through presence changes, then one settled state (Sleeping); {limited} × 429 \
         from any method"
    );
    for (raw, (policy, wanted)) in
        raws.iter()
            .zip([("Default", "Busy"), ("Trusted", "Sleeping"), ("VIP", "Sleeping")])
    {
        let account = slack.account(raw);
        let mine = |method: &str| {
            calls
                .iter()
                .filter(|call| call.method == method && call.user_id.as_deref() == Some(&account.user_id))
                .count()
        };
        let exact = account.status.text == wanted && account.manual_away;
        println!(
            "  {policy}: {} users.profile.set, {} users.profile.get, {} users.setPresence; final status and \
             presence exact: {}",
            mine(SET),
            mine("users.profile.get"),
            mine("users.setPresence"),
            if exact { "yes" } else { "NO" }
        );
    }
    engine.shutdown().await;
}

fn main() {
    let samples = std::env::args()
        .skip_while(|arg| arg != "--samples")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    println!(
        "caret-engine benchmark ({} build)",
        if cfg!(debug_assertions) {
            "DEBUG — use --release"
        } else {
            "release"
        }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(latency(samples));
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    paused.block_on(storm());
}
