//! The soak run: a working day, compressed, on the real headless app with the command-line phone
//! (`caret-phone run`, a separate process) and the local Slack server, while things go wrong: Slack answering
//! 5xx and timing out (a write that landed but whose answer never came), a 429 storm, a long outage, the
//! token revoked (the app removed and installed again), the phone dropping off the network and coming back,
//! the desktop's wall clock jumping ahead an hour (a suspend: Slack's clock moves too, tokio's does not).
//!
//! Afterwards: Slack shows exactly what the mapping gives for the day's last input; every change the day asked
//! for reached Slack or the sync log says why not (a failed call for it, or "not sent: replaced by a newer
//! state …"); no status was set twice needlessly (the same status again while Slack still showed it and its
//! lease was not due); Slack's own rate limit never answered the app with 429 beyond the injected storm; the
//! tokens are in no file. Slack keeps its real limits (10 status writes a minute per user).
//!
//! Bounded in the test command (a day of about two minutes, a 20-second outage); `CARET_RESILIENCE=full` (what
//! `bash scripts/resilience.sh` sets) runs a slower day with the 10-minute outage. One `resilience: soak …`
//! line sums it up (docs/reliability.md). Needs the desktop harness (the Secret Service) and libfaketime.

use std::time::Duration;

use caret_core::{
    CaretState, DesiredStatus, DesktopSignals, EventDetails, Inputs, ManualStatus, SharingPolicy, StateKind,
    WorkspaceSettings, choose_input, decide,
};
use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, Fault, RecordedCall, TestClock};
use caret_e2e::faketime::FakeTime;
use caret_e2e::phone::CliPhone;
use caret_e2e::{eventually, require_desktop_session};
use caret_store::{LogEntry, LogFilter, Store};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);
/// The default lease on a phone state's status.
const LEASE_SECS: i64 = 30 * 60;
/// How far the suspend moves the wall clock.
const SUSPEND_SECS: i64 = 3600;

struct Scale {
    /// The gap between two things the day does.
    step: Duration,
    outage: Duration,
    /// How long settling may take at the end (after the outage the engine's backoff may be up to 5 minutes).
    settle: Duration,
}

fn scale() -> Scale {
    match std::env::var("CARET_RESILIENCE").as_deref() {
        Ok("full") => Scale {
            step: Duration::from_secs(6),
            outage: Duration::from_secs(600),
            settle: Duration::from_secs(420),
        },
        _ => Scale {
            step: Duration::from_millis(1500),
            outage: Duration::from_secs(20),
            settle: Duration::from_secs(90),
        },
    }
}

/// What Slack is to show: text and emoji (`None`: no status). The expiration is checked at the end only: a
/// lease's end depends on the moment of the decision.
type Look = Option<(String, String)>;

/// One change the day asked for.
#[derive(Debug)]
struct Wanted {
    what: String,
    at: Instant,
    /// The app's wall clock at that moment, in Unix milliseconds (the sync log's clock).
    app_ms: i64,
    /// The state name the sync log writes for it (`None`: no input).
    state: Option<String>,
    look: Look,
    /// The workspace was disconnected (its token revoked) when this was asked.
    while_disconnected: bool,
}

/// The inputs the app has, as the test drives them, and what it asked for so far.
struct Day {
    sandbox: Sandbox,
    slack: FakeSlack,
    token: String,
    clock: FakeTime,
    offset_secs: i64,
    phone: CliPhone,
    phone_state: Option<CaretState>,
    manual: Option<ManualStatus>,
    settings: WorkspaceSettings,
    workspace_id: i64,
    disconnected: bool,
    wanted: Vec<Wanted>,
    injected_429: usize,
    scale: Scale,
}

impl Day {
    fn app_now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs)
    }

    fn expected(&self) -> (Option<String>, Option<DesiredStatus>) {
        let now = self.app_now();
        let inputs = Inputs {
            manual: self.manual.as_ref(),
            phone: self.phone_state.as_ref(),
            desktop: &DesktopSignals::default(),
        };
        let input = choose_input(inputs, now);
        let state = input.as_ref().map(|input| input.state.kind().as_str().to_owned());
        let status = input.map(|input| decide(&input, &self.settings, now.fixed_offset()).status);
        (state, status)
    }

    fn expected_look(&self) -> Look {
        match self.expected().1 {
            Some(DesiredStatus::Set(status)) => Some((status.text, status.emoji)),
            Some(DesiredStatus::Clear) | None => None,
        }
    }

    /// Notes what the app should now make Slack show, when it differs from the last thing asked.
    fn want(&mut self, what: &str) {
        let asked = self.mark();
        self.want_since(what, asked);
    }

    /// The moment something is asked, on both clocks: taken before asking, since the app may act (and Slack
    /// see the write) before the command that asked returns.
    fn mark(&self) -> (Instant, i64) {
        (Instant::now(), self.app_now().timestamp_millis())
    }

    fn want_since(&mut self, what: &str, (at, app_ms): (Instant, i64)) {
        let look = self.expected_look();
        if self.wanted.last().is_some_and(|last| last.look == look) && !what.contains("suspend") {
            return;
        }
        let state = self.expected().0;
        self.wanted.push(Wanted {
            what: what.to_owned(),
            at,
            app_ms,
            state,
            look,
            while_disconnected: self.disconnected,
        });
    }

    async fn pause(&self, steps: u32) {
        tokio::time::sleep(self.scale.step * steps).await;
    }

    async fn phone_says(&mut self, line: &str) {
        let asked = self.mark();
        self.phone_state = Some(state_of_line(line));
        self.phone.send(&self.sandbox, line).await;
        self.want_since(&format!("phone: {line}"), asked);
    }

    async fn phone_drops_off(&mut self) {
        let asked = self.mark();
        self.phone.drop_off().await;
        self.phone_state = None;
        self.want_since("phone dropped off the network", asked);
    }

    async fn policy(&mut self, policy: SharingPolicy, name: &str) {
        let id = self.workspace_id.to_string();
        let asked = self.mark();
        let (ok, _, stderr) = self
            .sandbox
            .cli(&format!("cli-policy-{name}"), &["policy", &id, name])
            .await;
        assert!(ok, "{stderr}");
        self.settings.policy.choose(policy);
        self.want_since(&format!("policy {name}"), asked);
    }

    async fn manual_status(&mut self, kind: StateKind, minutes: i64) {
        let asked = self.mark();
        let (ok, _, stderr) = self
            .sandbox
            .cli(
                "cli-status",
                &["status", "set", kind.as_str(), "--for", &format!("{minutes}m")],
            )
            .await;
        assert!(ok, "{stderr}");
        self.manual = Some(ManualStatus {
            state: CaretState::without_details(kind).expect("a plain state"),
            until: Some(self.app_now() + chrono::Duration::minutes(minutes)),
        });
        self.want_since(&format!("shortcut: {} for {minutes}m", kind.as_str()), asked);
    }

    async fn manual_clear(&mut self) {
        let asked = self.mark();
        let (ok, _, stderr) = self.sandbox.cli("cli-status-clear", &["status", "clear"]).await;
        assert!(ok, "{stderr}");
        self.manual = None;
        self.want_since("shortcut: clear", asked);
    }

    /// Waits until Slack shows what the inputs ask for now.
    async fn settled(&self, what: &str, within: Duration) {
        let wanted = self.expected_look();
        eventually(
            &format!("Slack shows what is asked ({what})"),
            within,
            || look_of_status(&self.slack.status(&self.token)),
            |shown| *shown == wanted,
        )
        .await;
    }
}

fn state_of_line(line: &str) -> CaretState {
    let mut words = line.split_whitespace();
    let name = words.next().expect("a state");
    if name == "event" {
        let title = line
            .split('"')
            .nth(1)
            .expect("an event line has a quoted title")
            .to_owned();
        let minutes: i64 = line
            .rsplit(' ')
            .next()
            .and_then(|last| last.strip_suffix('m'))
            .and_then(|n| n.parse().ok())
            .expect("an event line ends with its length in minutes");
        let start = Utc::now();
        return CaretState::Event(
            EventDetails::new(title, start, start + chrono::Duration::minutes(minutes)).expect("an event"),
        );
    }
    CaretState::without_details(StateKind::parse(name).expect("a known state")).expect("a plain state")
}

fn look_of_status(status: &caret_e2e::fake_slack::Status) -> Look {
    (!status.text.is_empty()).then(|| (status.text.clone(), status.emoji.clone()))
}

/// What an accepted `users.profile.set` asked Slack to show, with its expiration.
fn set_of(call: &RecordedCall) -> (Look, i64) {
    let profile = &call.body["profile"];
    let text = profile["status_text"].as_str().unwrap_or_default().to_owned();
    let emoji = profile["status_emoji"].as_str().unwrap_or_default().to_owned();
    let expiration = profile["status_expiration"].as_i64().unwrap_or(0);
    ((!text.is_empty()).then_some((text, emoji)), expiration)
}

/// Sets that were not needed: the same status again while Slack still showed the previous one and, for a
/// lease, before its renewal was due (less than a third left).
fn needless_sets(sets: &[&RecordedCall]) -> Vec<String> {
    let mut needless = Vec::new();
    for pair in sets.windows(2) {
        let ((before, before_expiration), (after, after_expiration)) = (set_of(pair[0]), set_of(pair[1]));
        if before != after {
            continue;
        }
        let still_shown = before_expiration == 0 || before_expiration > pair[1].slack_secs;
        let renewal_due = before_expiration != 0 && before_expiration - pair[1].slack_secs <= LEASE_SECS / 3;
        if before_expiration == after_expiration || (still_shown && !renewal_due) {
            needless.push(format!(
                "{after:?} (expiring {before_expiration}, then {after_expiration})"
            ));
        }
    }
    needless
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_day_with_slack_failing_the_phone_dropping_and_the_clock_jumping_ends_exactly_right() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let account = slack.account(&token);
    let sandbox = Sandbox::new();
    let db = sandbox.data_dir().join("caret.db");
    let mut settings = WorkspaceSettings::default();
    settings.policy.choose(SharingPolicy::Trusted);
    let (workspace_id, _cleanup) = sandbox.seed_workspace(&slack, &token, &settings);

    let clock = FakeTime::new(sandbox.root.path());
    let mut command = sandbox.command("app", &["--headless"]);
    command.env("CARET_SLACK_API_URL", slack.base_url());
    clock.apply(&mut command);
    let mut app = command.spawn().expect("launch");
    sandbox.wait_for_log("app", READY, SOON).await;
    let phone = CliPhone::pair(
        &sandbox,
        &format!("Pixel {}", std::process::id()),
        Some(clock.clone()),
    )
    .await;
    let started = Instant::now();
    let mut day = Day {
        sandbox,
        slack,
        token,
        clock,
        offset_secs: 0,
        phone,
        phone_state: None,
        manual: None,
        settings,
        workspace_id,
        disconnected: false,
        wanted: Vec::new(),
        injected_429: 0,
        scale: scale(),
    };
    let mut tokens_used = vec![day.token.clone()];

    // 07:30 asleep, then up.
    day.phone_says("sleeping").await;
    day.settled("asleep", SOON).await;
    day.pause(2).await;
    day.phone_says("available").await;
    day.pause(2).await;
    // 08:15 the commute, with Slack answering 503 three times.
    day.slack
        .inject(Fault::server_error(503, 3).on("users.profile.set"));
    day.phone_says("in_vehicle").await;
    day.settled("the commute, through three 503s", SOON).await;
    day.pause(2).await;
    // 09:00 stand-up, then work; the write after it lands but its answer never comes (a timeout).
    day.phone_says("event \"Standup\" 15m").await;
    day.pause(3).await;
    day.slack
        .inject(Fault::hang(Duration::from_secs(17), 1).on("users.profile.set"));
    day.phone_says("busy").await;
    day.settled(
        "busy, after a write whose answer timed out",
        Duration::from_secs(60),
    )
    .await;
    // 10:00 a call; 10:30 a flapping phone in a 429 storm.
    day.phone_says("in_call").await;
    day.pause(2).await;
    day.slack.inject(Fault::rate_limited(Duration::from_secs(2), 6));
    day.injected_429 += 6;
    for flap in 0..24 {
        let line = ["walking", "in_call", "busy"][flap % 3];
        day.phone_says(line).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    day.phone_says("busy").await;
    day.settled("busy, after the flapping in a 429 storm", Duration::from_secs(90))
        .await;
    // 11:00 the phone leaves the Wi-Fi and comes back; 11:30 a status by the shortcut, cleared later.
    day.phone_drops_off().await;
    day.pause(3).await;
    day.phone_says("silent").await;
    day.pause(2).await;
    day.manual_status(StateKind::Busy, 45).await;
    day.pause(3).await;
    day.manual_clear().await;
    day.pause(2).await;
    // 12:00 lunch under Default (only Available/Busy), back to Trusted at 13:00.
    day.policy(SharingPolicy::Default, "default").await;
    day.phone_says("walking").await;
    day.pause(3).await;
    day.phone_says("in_call").await;
    day.pause(2).await;
    day.policy(SharingPolicy::Trusted, "trusted").await;
    day.settled("back to Trusted", Duration::from_secs(60)).await;
    // 14:00 Slack is down; the day goes on.
    day.slack.outage_for(day.scale.outage);
    let outage_ends = Instant::now() + day.scale.outage;
    day.phone_says("in_vehicle").await;
    day.pause(3).await;
    day.phone_says("event \"Design review\" 45m").await;
    let outage_steps = u32::try_from(day.scale.outage.as_millis() / day.scale.step.as_millis()).unwrap_or(1);
    day.pause((outage_steps / 2).max(1)).await;
    day.phone_says("busy").await;
    tokio::time::sleep_until(outage_ends).await;
    let settle = day.scale.settle;
    day.settled("after the outage", settle).await;
    // 15:30 the app is removed from the workspace and installed again: the old token is revoked.
    let fresh = day.slack.reinstall(&day.token);
    let revoked = std::mem::replace(&mut day.token, fresh.clone());
    tokens_used.push(fresh.clone());
    day.phone_says("in_call").await;
    eventually(
        "the workspace is disconnected",
        SOON,
        || {
            Store::open(&db)
                .and_then(|store| store.workspaces())
                .expect("workspaces")
        },
        |workspaces| workspaces.iter().all(|workspace| !workspace.connected),
    )
    .await;
    day.disconnected = true;
    day.pause(2).await;
    day.phone_says("walking").await;
    day.pause(2).await;
    let asked = day.mark();
    let (ok, _, stderr) = day.sandbox.add_workspace(&fresh).await;
    assert!(ok, "reconnecting: {stderr}");
    day.disconnected = false;
    let reconnected = Store::open(&db)
        .and_then(|store| store.workspaces())
        .expect("workspaces");
    assert_eq!(reconnected.len(), 1, "the same workspace, connected again");
    day.workspace_id = reconnected[0].id;
    day.settings = reconnected[0].settings.clone();
    day.want_since("reconnected", asked);
    day.settled("after reconnecting", SOON).await;
    // 16:00 driving; the lid closes for an hour: the desktop's wall clock and Slack's jump ahead, the phone's
    // too; the status's lease ends in Slack meanwhile, and the app puts it back (it looks at the wall clock
    // at least once a minute).
    day.phone_says("in_vehicle").await;
    day.settled("driving", SOON).await;
    day.offset_secs += SUSPEND_SECS;
    day.clock.set_offset_secs(day.offset_secs);
    day.slack
        .advance_clock(Duration::from_secs(SUSPEND_SECS.unsigned_abs()));
    day.want("after the suspend (the lease ended in Slack)");
    day.settled("driving again after the suspend", Duration::from_secs(90))
        .await;
    // 18:00 home.
    day.phone_says("available").await;
    day.pause(2).await;
    day.phone_says("event \"Dinner\" 90m").await;
    day.settled("the end of the day", settle).await;
    let day_length = started.elapsed();
    assert!(day.phone.is_running(), "the phone kept going");

    // Slack shows exactly what the mapping gives, expiration included.
    let shown = day.slack.status(&day.token);
    let (_, final_status) = day.expected();
    let Some(DesiredStatus::Set(final_status)) = final_status else {
        panic!("the day ends with a status to show");
    };
    assert_eq!(
        (shown.text.as_str(), shown.emoji.as_str()),
        (final_status.text.as_str(), final_status.emoji.as_str())
    );
    let left = shown.expiration - day.slack.now_secs();
    assert!(
        left > 0 && left <= LEASE_SECS,
        "the final status carries a fresh lease: {left} s left"
    );
    let store = Store::open(&db).expect("store");
    assert!(
        store
            .sync_state(day.workspace_id)
            .expect("sync state")
            .in_flight
            .is_none()
    );

    // Every change reached Slack, or the sync log says why.
    let calls = day.slack.calls();
    let user_id = account.user_id.clone();
    let sets: Vec<&RecordedCall> = calls
        .iter()
        .filter(|call| call.method == "users.profile.set" && call.outcome == "ok")
        .filter(|call| call.user_id.as_deref() == Some(user_id.as_str()))
        .collect();
    let log: Vec<LogEntry> = store
        .query_log(&LogFilter {
            limit: Some(100_000),
            ..LogFilter::default()
        })
        .expect("the sync log");
    let (mut reached, mut replaced, mut noted, mut failed, mut unexplained) = (0, 0, 0, 0, Vec::new());
    for (index, wanted) in day.wanted.iter().enumerate() {
        // Until the day asks for the same look again (a later set of it belongs to that one).
        let until = day.wanted[index + 1..]
            .iter()
            .find(|later| later.look == wanted.look)
            .map(|later| (later.at, later.app_ms));
        if sets.iter().any(|set| {
            set.at >= wanted.at && until.is_none_or(|(at, _)| set.at < at) && set_of(set).0 == wanted.look
        }) {
            reached += 1;
            continue;
        }
        let in_window = |row: &&LogEntry| {
            row.at_ms >= wanted.app_ms - 1000 && until.is_none_or(|(_, app_ms)| row.at_ms < app_ms)
        };
        // Replaced before the app wrote anything: the log shows the input, then the newer one, no write between.
        let next_asked = day.wanted.get(index + 1).map(|next| next.at);
        let first_write_after = sets.iter().map(|set| set.at).find(|at| *at >= wanted.at);
        let recorded = log
            .iter()
            .filter(in_window)
            .any(|row| row.kind == caret_store::LogKind::Input);
        if recorded && next_asked.is_some_and(|next| first_write_after.is_none_or(|write| write >= next)) {
            replaced += 1;
            noted += usize::from(log.iter().filter(in_window).any(|row| {
                row.state == wanted.state && row.outcome.starts_with("not sent: replaced by a newer state")
            }));
        } else if log
            .iter()
            .filter(in_window)
            .any(|row| row.problem && row.state == wanted.state)
            || (wanted.while_disconnected
                && log.iter().any(|row| {
                    row.error
                        .as_deref()
                        .is_some_and(|error| error.contains("token_revoked"))
                }))
        {
            failed += 1;
        } else {
            unexplained.push(format!("{} → {:?}", wanted.what, wanted.look));
        }
    }
    if !unexplained.is_empty() {
        for row in log.iter().rev() {
            eprintln!(
                "log {} {:?} {:?} {:?} {:?} {} {:?}",
                row.at_ms, row.kind, row.state, row.method, row.sent, row.outcome, row.error
            );
        }
        for wanted in &day.wanted {
            eprintln!("wanted {} {:?} {:?}", wanted.app_ms, wanted.what, wanted.look);
        }
    }
    assert!(
        unexplained.is_empty(),
        "changes that neither reached Slack nor are explained in the sync log: {unexplained:#?}"
    );
    let needless = needless_sets(&sets);
    assert!(
        needless.is_empty(),
        "statuses set twice needlessly: {needless:#?}"
    );
    let ratelimited = calls.iter().filter(|call| call.outcome == "ratelimited").count();
    assert!(
        ratelimited <= day.injected_429,
        "Slack's limit answered 429 beyond the injected storm: {ratelimited} × 429"
    );
    let revoked_answers = calls
        .iter()
        .filter(|call| call.outcome == "token_revoked")
        .count();
    assert!(
        (1..=2).contains(&revoked_answers),
        "a revoked token is given up at once: {revoked_answers} calls"
    );

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
    drop(revoked);
    for token in &tokens_used {
        day.sandbox.assert_secret_nowhere(token, "Slack token");
    }
    day.sandbox
        .assert_secret_nowhere(&day.phone.device_token(), "device token");
    let count = |method: &str, outcome: &str| {
        calls
            .iter()
            .filter(|call| call.method == method && call.outcome == outcome)
            .count()
    };
    println!(
        "resilience: soak (a working day in {:.0} s, {} changes asked, outage {} s, clock +{} s): reached Slack {reached}, \
         replaced by a newer input before any write {replaced} (of which the engine's \
         \"not sent\" note names {noted}), failed and logged {failed}, unexplained 0; users.profile.set ok {}, users.profile.get ok {}; injected 503s, a timeout, {} × 429 \
         and the outage (503s seen: {}); 429s beyond the injected {}; needless sets 0; final status exact",
        day_length.as_secs_f64(),
        day.wanted.len(),
        day.scale.outage.as_secs(),
        SUSPEND_SECS,
        sets.len(),
        count("users.profile.get", "ok"),
        day.injected_429,
        calls.iter().filter(|call| call.outcome == "http_503").count(),
        ratelimited.saturating_sub(day.injected_429),
    );
}
