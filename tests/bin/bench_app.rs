//! End-to-end figures through the running app: a phone's state over the relay (real TLS) into
//! `caret-desktop --headless`, its sync engine, and the Slack client, to the request arriving at the local
//! Slack server (which keeps Slack's real limits). Prints figures; asserts nothing.
//!
//!   bench-app [--rounds N] [--workspaces W]     (CARET_APP_BIN: the binary; scripts/perf.sh passes the release one)
//!
//! 1. Latency: a state every 8.3 s (the write budget refills one write per 8 s), W workspaces each writing it:
//!    state sent → `users.profile.set` arriving, per workspace (the never-clobber `users.profile.get` comes
//!    first, as always). The baseline in the same run: the same message → its `ack` back at the phone (the
//!    relay alone).
//! 2. A flapping phone: 120 changes in 60 s through states that change presence, then one settled state, with
//!    the workspaces under Default (Busy set to away, so that Default has presence changes too), Trusted and
//!    VIP in turn: the Slack calls it cost per workspace and method, the 429s from any method, and the time
//!    from the last change to the settled state (status and presence) in Slack. Needs the desktop harness
//!    (keyring).

use std::time::Duration;

use caret_core::{PresenceRule, SharingPolicy, StateKind, WorkspaceSettings};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::bench::{flag, ms, percentile};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_relay::client::{PairingLink, PhoneConnection, pair_with_link};
use serde_json::json;
use tokio::time::Instant;

const SOON: Duration = Duration::from_secs(60);
/// Distinct texts under Trusted, so each round's write is recognised.
const ROUND_STATES: [(&str, &str); 4] = [
    ("busy", "Busy"),
    ("in_call", "In a call"),
    ("walking", "Walking"),
    ("in_vehicle", "Driving"),
];

fn report(label: &str, samples: &mut [Duration]) -> Duration {
    samples.sort();
    let p50 = percentile(samples, 50.0);
    println!(
        "  {label:<46} p50 {:>10}  p99 {:>10}  max {:>10}  (n = {})",
        ms(p50),
        ms(percentile(samples, 99.0)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
    p50
}

#[tokio::main]
async fn main() {
    let rounds = flag("--rounds", 20) as usize;
    let workspaces = flag("--workspaces", 3) as usize;
    let slack = FakeSlack::start(TestClock::new()).await;
    let sandbox = Sandbox::new();
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Trusted);
    // Busy is away in every workspace: under Default (the storm below) that is Default's presence rule.
    settings.presence.insert(StateKind::Busy, PresenceRule::Away);
    let mut tokens = Vec::new();
    let mut cleanups = Vec::new();
    for index in 0..workspaces {
        let token = slack.add_user(&format!("Team {index}"), "ada", &FakeSlack::FULL_SCOPES);
        let (_, cleanup) = sandbox.seed_workspace(&slack, &token, &settings);
        cleanups.push(cleanup);
        let user_id = slack.account(&token).user_id;
        tokens.push((token, user_id));
    }

    let mut app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .spawn()
        .expect("launch");
    sandbox
        .wait_for_log("app", "caret-desktop ready (headless)", SOON)
        .await;
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    let credentials = pair_with_link(&link, "bench").await.expect("pairs");
    let mut phone = PhoneConnection::open(&credentials, "bench")
        .await
        .expect("connects");
    let mut calls = slack.subscribe_calls();
    let mut seq = phone.welcome["last_seq"].as_u64().unwrap_or(0);

    // 1. Latency, one state per round.
    let (mut to_slack, mut to_look, mut to_ack) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + 1 {
        let (state, text) = ROUND_STATES[round % ROUND_STATES.len()];
        seq += 1;
        while calls.try_recv().is_ok() {}
        let sent = Instant::now();
        phone
            .send_json(&json!({"type": "state", "seq": seq, "state": state}))
            .await
            .expect("send");
        let answer = phone.receive_reply().await.expect("ack");
        assert_eq!(answer["type"], "ack", "{answer}");
        let acked = sent.elapsed();
        let (mut arrived, mut looked) = (Vec::new(), Vec::new());
        let deadline = sent + SOON;
        while arrived.len() < workspaces {
            let call = tokio::time::timeout_at(deadline, calls.recv())
                .await
                .expect("every workspace writes the state within a minute")
                .expect("the call feed");
            if call.method == "users.profile.set" && call.body["profile"]["status_text"] == text {
                arrived.push(call.at.duration_since(sent));
            } else if call.method == "users.profile.get" {
                looked.push(call.at.duration_since(sent));
            }
        }
        // The first round warms up (connections to Slack opened, pages of the database read).
        if round > 0 {
            to_slack.extend(arrived);
            to_look.extend(looked);
            to_ack.push(acked);
        }
        tokio::time::sleep_until(sent + Duration::from_millis(8300)).await;
    }
    println!(
        "Through the running app (release, --headless), {workspaces} workspaces, {rounds} rounds a state every 8.3 s, the local Slack's real limits:"
    );
    let end_to_end = report("state sent → users.profile.set at Slack", &mut to_slack);
    if !to_look.is_empty() {
        // Where the time goes: the never-clobber look comes first when Slack's state is not known fresh.
        report("  of which: state sent → users.profile.get", &mut to_look);
    }
    let relay_only = report("baseline: the same state → its ack (relay)", &mut to_ack);
    println!(
        "  the app's whole path is {:.1}× the relay's ack (p50); what the app adds: {:.2} ms",
        end_to_end.as_secs_f64() / relay_only.as_secs_f64(),
        (end_to_end.as_secs_f64() - relay_only.as_secs_f64()) * 1000.0
    );

    // 2. The flapping storm, after the budget has refilled, the workspaces under Default, Trusted, VIP in turn.
    let policies = ["default", "trusted", "vip"];
    for index in 0..workspaces {
        let policy = policies[index % policies.len()];
        let (ok, _, error) = sandbox
            .cli("cli-policy", &["policy", &(index + 1).to_string(), policy])
            .await;
        assert!(ok, "{error}");
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let count = |method: &str, user: &str| {
        slack
            .calls()
            .iter()
            .filter(|call| call.method == method && call.user_id.as_deref() == Some(user))
            .count()
    };
    let before: Vec<(usize, usize, usize)> = tokens
        .iter()
        .map(|(_, user)| {
            (
                count("users.profile.set", user),
                count("users.profile.get", user),
                count("users.setPresence", user),
            )
        })
        .collect();
    let ratelimited_before = slack
        .calls()
        .iter()
        .filter(|call| call.outcome == "ratelimited")
        .count();
    // Sleeping is away under Trusted and VIP, Busy under Default here: presence changes all along.
    let storm = ["sleeping", "available", "in_call", "walking", "busy", "available"];
    for change in 0..120 {
        seq += 1;
        phone
            .send_json(&json!({"type": "state", "seq": seq, "state": storm[change % storm.len()]}))
            .await
            .expect("send");
        let _ = phone.receive_reply().await.expect("ack");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    seq += 1;
    phone
        .send_json(&json!({"type": "state", "seq": seq, "state": "sleeping"}))
        .await
        .expect("send");
    let last_change = Instant::now();
    let _ = phone.receive_reply().await.expect("ack");
    // Settled on Sleeping: Default shows Busy, Trusted and VIP Sleeping; away everywhere.
    let wanted = |index: usize| {
        if index.is_multiple_of(policies.len()) {
            "Busy"
        } else {
            "Sleeping"
        }
    };
    let settled_after = loop {
        if tokens.iter().enumerate().all(|(index, (token, _))| {
            let account = slack.account(token);
            account.status.text == wanted(index) && account.manual_away
        }) {
            break last_change.elapsed();
        }
        assert!(last_change.elapsed() < SOON, "the storm settles within a minute");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Nothing more after settling.
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "A flapping phone: 120 changes in 60 s through presence changes, then one settled state (Sleeping), \
         {workspaces} workspaces:"
    );
    for (index, ((_, user), (sets_before, gets_before, presence_before))) in
        tokens.iter().zip(before).enumerate()
    {
        let sets = count("users.profile.set", user) - sets_before;
        let gets = count("users.profile.get", user) - gets_before;
        let presence = count("users.setPresence", user) - presence_before;
        println!(
            "  {} workspace of {user}: users.profile.set {sets}, users.profile.get {gets}, users.setPresence \
             {presence} for 121 phone changes ({:.2} writes per change)",
            policies[index % policies.len()],
            (sets + presence) as f64 / 121.0
        );
    }
    println!(
        "  429 answers from Slack (any method): {}; the settled state (status and presence) in Slack {} after the \
         last change",
        slack
            .calls()
            .iter()
            .filter(|call| call.outcome == "ratelimited")
            .count()
            - ratelimited_before,
        ms(settled_after)
    );

    phone.close().await;
    terminate(&app);
    let _ = wait_for_exit(&mut app, Duration::from_secs(20)).await;
    drop(cleanups);
}
