//! Connecting a Slack workspace on the real app: a token piped to `caret-desktop workspace add` is checked
//! with the local Slack server, lands in the keyring (gnome-keyring under the harness) and in no file, and
//! the workspace syncs; bad tokens and missing scopes are refused with what to do; removing deletes the
//! token. Needs the desktop harness (D-Bus and the Secret Service).

use std::time::Duration;

use caret_e2e::app::{KeyringCleanup, Sandbox, secret_tool_lookup, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, Fault, TestClock};
use caret_e2e::require_desktop_session;

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_token_is_checked_kept_in_the_keyring_only_and_removed_on_disconnect() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let no_presence = slack.add_user("Beta", "bob", &["users.profile:write", "users.profile:read"]);
    let _cleanup = [&token, &no_presence].map(|token| KeyringCleanup::for_token(&slack, token));
    let read_only = slack.add_user("Gamma", "cy", &["users.profile:read"]);
    let sandbox = Sandbox::new();
    let mut app = sandbox.launch_headless(&slack, "app").await;

    // Each refusal is one line, said once (issue 15, 5: a log line, then the same words, and "the running
    // Caret Desktop refused: " twice).
    let (ok, _, stderr) = sandbox.add_workspace("hello").await;
    assert!(!ok, "not a token");
    assert_eq!(
        stderr.trim_end(),
        "caret-desktop: the running Caret Desktop refused: that is not a Slack User OAuth Token: it starts with \
         xoxp- (OAuth & Permissions page of your Slack app)"
    );
    let (ok, _, stderr) = sandbox.cli("cli-bad-state", &["status", "set", "sleepy"]).await;
    assert!(!ok, "not a state");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("caret-desktop: unknown status \"sleepy\"; one of: "),
        "a mistake caught before asking the app is not the app's refusal: {stderr}"
    );
    let (ok, _, stderr) = sandbox.add_workspace("xoxp-0000-0000-0000-unknown").await;
    assert!(
        !ok && stderr.contains("auth.test"),
        "a token Slack refuses: {stderr}"
    );
    let (ok, _, stderr) = sandbox.add_workspace(&read_only).await;
    assert!(!ok, "no write scope, no connection");
    assert!(
        stderr.contains("users.profile:write") && stderr.contains("reinstall"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = sandbox.add_workspace(&token).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Connected to Acme as ada"), "{stdout}");
    let (ok, stdout, _) = sandbox.add_workspace(&no_presence).await;
    assert!(
        ok && stdout.contains("Presence (away/active) is left alone"),
        "{stdout}"
    );

    let (ok, stdout, _) = sandbox.cli("cli-list", &["workspace", "list", "--json"]).await;
    assert!(ok);
    let listed: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(
        listed.len(),
        2,
        "the refused tokens left nothing behind: {listed:?}"
    );
    let acme = listed.iter().find(|w| w["team"] == "Acme").expect("Acme listed");
    assert_eq!(acme["connected"], true);

    // In the keyring, where `secret-tool` finds it; in no file the app wrote, nor its log.
    let team_id = slack.account(&token).team_id.clone();
    let user_id = slack.account(&token).user_id.clone();
    let account = caret_app::slack::tokens::keyring_account(&team_id, &user_id);
    assert_eq!(
        secret_tool_lookup(&account).await.as_deref(),
        Some(token.as_str())
    );
    for secret in [&token, &no_presence, &read_only] {
        sandbox.assert_secret_nowhere(secret, "Slack token");
    }
    let id = acme["id"].as_i64().expect("id").to_string();
    let (ok, stdout, _) = sandbox.cli("cli-remove", &["workspace", "remove", &id]).await;
    assert!(
        ok && stdout.contains("Disconnected Acme; Slack revoked its token"),
        "{stdout}"
    );
    assert_eq!(
        slack.count("auth.revoke", "ok"),
        1,
        "disconnecting revokes the token at Slack"
    );
    assert!(!slack.token_works(&token), "Slack no longer takes it");
    assert_eq!(
        secret_tool_lookup(&account).await,
        None,
        "the token is gone from the keyring"
    );
    let (_, stdout, _) = sandbox.cli("cli-list-2", &["workspace", "list"]).await;
    assert!(
        stdout.contains("Acme as ada  disconnected: disconnected by you; to connect it again: "),
        "{stdout}"
    );

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_keyring_connecting_fails_saying_what_to_start_and_keeps_nothing() {
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let sandbox = Sandbox::new();
    // No session bus, so no Secret Service: what a bare server or a broken desktop session looks like.
    let mut app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/caret-test-bus",
        )
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("app", READY, SOON).await;
    let (ok, _, stderr) = sandbox.add_workspace(&token).await;
    assert!(!ok, "no keyring, no connection");
    assert!(
        stderr.contains("keyring") && stderr.contains("gnome-keyring"),
        "{stderr}"
    );
    let (_, stdout, _) = sandbox.cli("cli-list", &["workspace", "list", "--json"]).await;
    assert!(stdout.trim().is_empty(), "nothing half-connected: {stdout}");
    sandbox.assert_secret_nowhere(&token, "Slack token");
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

/// The headless app on the local Slack server, with `token`'s workspace connected through the CLI.
async fn headless_with_workspace(slack: &FakeSlack, token: &str) -> (Sandbox, tokio::process::Child) {
    let sandbox = Sandbox::new();
    let app = sandbox
        .command("app", &["--headless"])
        .env("CARET_SLACK_API_URL", slack.base_url())
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("app", READY, SOON).await;
    let (ok, _, stderr) = sandbox.add_workspace(token).await;
    assert!(ok, "{stderr}");
    (sandbox, app)
}

/// Waits until the sync log (read from the app's database, as the log window will) has a row matching.
async fn log_has(sandbox: &Sandbox, what: &str, matches: impl Fn(&caret_store::LogEntry) -> bool) {
    let store = caret_store::Store::open(&sandbox.data_dir().join("caret.db")).expect("the app's database");
    caret_e2e::eventually(
        what,
        SOON,
        || store.query_log(&Default::default()).expect("query the sync log"),
        |rows| rows.iter().any(&matches),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_sets_a_status_switches_the_policy_and_pauses_syncing() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(&slack, &token);
    let (sandbox, mut app) = headless_with_workspace(&slack, &token).await;
    let (_, stdout, _) = sandbox.cli("cli-list", &["workspace", "list", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_str(stdout.lines().next().expect("one")).expect("JSON");
    let id = listed["id"].as_i64().expect("id").to_string();
    let text = || slack.status(&token).text;

    // Default shares only that you are busy, never which state.
    let (ok, stdout, stderr) = sandbox
        .cli("cli-set", &["status", "set", "in_call", "--for", "1h"])
        .await;
    assert!(ok && stdout.contains("Status set"), "{stdout}{stderr}");
    let busy = caret_e2e::eventually("a status in Slack", SOON, text, |text| !text.is_empty()).await;
    assert!(
        !busy.to_lowercase().contains("call"),
        "Default must not say which state: {busy}"
    );

    // Trusted shares the state itself.
    let (ok, _, stderr) = sandbox.cli("cli-policy", &["policy", &id, "trusted"]).await;
    assert!(ok, "{stderr}");
    let call = caret_e2e::eventually("the call in Slack", SOON, text, |text| {
        text.to_lowercase().contains("call")
    })
    .await;

    // Paused: a new status is kept, not sent; resumed: it goes out.
    let (ok, _, _) = sandbox.cli("cli-pause", &["pause"]).await;
    assert!(ok);
    let (ok, _, _) = sandbox
        .cli("cli-set-2", &["status", "set", "sleeping", "--for", "eod"])
        .await;
    assert!(ok);
    let sets_before = slack.accepted("users.profile.set");
    log_has(
        &sandbox,
        "the engine noting it did not send while paused",
        |row| row.outcome == "paused: nothing sent",
    )
    .await;
    assert_eq!(text(), call, "nothing sent while paused");
    assert_eq!(
        slack.accepted("users.profile.set"),
        sets_before,
        "no write while paused"
    );
    let (ok, _, _) = sandbox.cli("cli-resume", &["resume"]).await;
    assert!(ok);
    caret_e2e::eventually("the new status after resuming", SOON, text, |now| {
        *now != call && !now.is_empty()
    })
    .await;

    // Cleared: with no phone, nothing of ours stays in Slack.
    let (ok, _, _) = sandbox.cli("cli-clear", &["status", "clear"]).await;
    assert!(ok);
    caret_e2e::eventually("Slack cleared", SOON, text, String::is_empty).await;
    log_has(
        &sandbox,
        "the command line as the source in the sync log",
        |row| row.source == "cli",
    )
    .await;

    // Mistakes are refused with what to type instead.
    let (ok, _, stderr) = sandbox.cli("cli-bad", &["status", "set", "driving"]).await;
    assert!(!ok && stderr.contains("in_vehicle"), "{stderr}");
    let (ok, _, stderr) = sandbox
        .cli("cli-bad-2", &["policy", &id, "trusted", "--for", "1h"])
        .await;
    assert!(!ok && stderr.contains("--for"), "{stderr}");

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sync_log_prints_as_json_lines_and_follows_new_rows_as_they_are_written() {
    use tokio::io::AsyncBufReadExt;

    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(&slack, &token);
    let (sandbox, mut app) = headless_with_workspace(&slack, &token).await;

    // Following: the command keeps running and prints each new row as one JSON object per line.
    let mut follow = sandbox
        .command(
            "cli-follow",
            &["log", "--follow", "--search", "users.profile.set"],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("log --follow");
    let mut lines = tokio::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    // Slack fails the first write once: a problem for the log to show, then the retry goes through.
    slack.inject(Fault::server_error(500, 1).on("users.profile.set"));
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "busy", "--for", "30m"])
        .await;
    assert!(ok, "{stderr}");
    let call = tokio::time::timeout(SOON, async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read")
                .expect("a line before the end");
            let row: serde_json::Value = serde_json::from_str(&line).expect("each line is JSON");
            if row["method"] == "users.profile.set" && row["outcome"] == "ok" {
                return row;
            }
        }
    })
    .await
    .expect("the status call, followed live");
    assert_eq!(call["workspace"], "Acme");
    assert!(
        call["sent"].as_str().is_some_and(|sent| sent.contains("Busy")),
        "{call}"
    );
    follow.kill().await.expect("stop following");

    // Without --follow: the latest rows, oldest first, then the command ends; filters narrow them.
    let (ok, stdout, stderr) = sandbox.cli("cli-log", &["log", "-n", "50"]).await;
    assert!(ok, "{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert!(rows.len() >= 2, "{stdout}");
    assert!(!stdout.contains(&token), "the sync log never holds a token");
    let ids: Vec<i64> = rows.iter().map(|row| row["id"].as_i64().expect("id")).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first: {ids:?}"
    );
    assert!(
        rows.iter().any(|row| row["source"] == "cli"),
        "who asked is recorded"
    );
    let (ok, stdout, _) = sandbox.cli("cli-problems", &["log", "--problems"]).await;
    assert!(ok);
    let problems: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert!(
        problems
            .iter()
            .any(|row| row["method"] == "users.profile.set" && row["outcome"] != "ok"),
        "the failed write is a problem: {stdout}"
    );
    assert!(
        problems.iter().all(|row| row["problem"] == true),
        "--problems leaves out what went well and plain inputs: {stdout}"
    );
    sandbox.assert_secret_nowhere(&token, "after printing the sync log");

    // The picker needs the tray app: headless says so instead of failing silently.
    let (ok, _, stderr) = sandbox.cli("cli-picker", &["picker"]).await;
    assert!(!ok && stderr.contains("needs the tray app"), "{stderr}");

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

/// The workspaces as `workspace list --json` prints them.
async fn listed(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let (ok, stdout, stderr) = sandbox.cli("cli-list", &["workspace", "list", "--json"]).await;
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

fn id_of(workspaces: &[serde_json::Value], team: &str) -> String {
    workspaces
        .iter()
        .find(|w| w["team"] == team)
        .and_then(|w| w["id"].as_i64())
        .unwrap_or_else(|| panic!("{team} listed: {workspaces:?}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workspaces_sync_independently_and_one_that_is_down_never_delays_the_other() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let acme = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let beta = slack.add_user("Beta", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = [&acme, &beta].map(|token| KeyringCleanup::for_token(&slack, token));
    let (sandbox, mut app) = headless_with_workspace(&slack, &acme).await;
    let (ok, _, stderr) = sandbox.add_workspace(&beta).await;
    assert!(ok, "{stderr}");
    let workspaces = listed(&sandbox).await;
    assert_eq!(workspaces.len(), 2);
    // Each has its own policy: Beta trusted (the exact state), Acme default (only busy).
    let (ok, _, _) = sandbox
        .cli("cli-policy", &["policy", &id_of(&workspaces, "Beta"), "trusted"])
        .await;
    assert!(ok);

    // Acme's Slack is down for a while; Beta's answers.
    let outage = Duration::from_secs(12);
    let outage_ends = tokio::time::Instant::now() + outage;
    slack.team_outage_for(&acme, outage);
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "in_call", "--for", "1h"])
        .await;
    assert!(ok, "{stderr}");
    let beta_text = caret_e2e::eventually(
        "Beta shows the call",
        outage / 2,
        || slack.status(&beta).text,
        |text| text.to_lowercase().contains("call"),
    )
    .await;
    assert!(
        tokio::time::Instant::now() < outage_ends,
        "Beta did not wait for Acme"
    );
    assert!(
        slack.status(&acme).text.is_empty(),
        "Acme is down: nothing set there yet"
    );
    assert!(
        slack.calls().iter().any(|c| c.outcome == "http_503"),
        "Acme was tried and failed"
    );

    // Acme recovers and catches up on its own, with its own policy.
    let acme_text = caret_e2e::eventually(
        "Acme catches up",
        SOON + outage,
        || slack.status(&acme).text,
        |text| !text.is_empty(),
    )
    .await;
    assert!(
        !acme_text.to_lowercase().contains("call"),
        "Default hides the state: {acme_text}"
    );
    assert_eq!(
        slack.status(&beta).text,
        beta_text,
        "Beta untouched by Acme's trouble"
    );
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn security_notices_go_by_dm_to_yourself_only_where_turned_on() {
    use caret_relay::client::{PairingLink, pair_with_link};

    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let with_dm: Vec<&str> = FakeSlack::FULL_SCOPES.into_iter().chain(["chat:write"]).collect();
    let acme = slack.add_user("Acme", "ada", &with_dm);
    let beta = slack.add_user("Beta", "ada", &with_dm);
    let gamma = slack.add_user("Gamma", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = [&acme, &beta, &gamma].map(|token| KeyringCleanup::for_token(&slack, token));
    let (sandbox, mut app) = headless_with_workspace(&slack, &acme).await;
    for token in [&beta, &gamma] {
        let (ok, _, stderr) = sandbox.add_workspace(token).await;
        assert!(ok, "{stderr}");
    }
    let workspaces = listed(&sandbox).await;
    assert!(
        workspaces.iter().all(|w| w["security_notices"] == false),
        "off by default"
    );
    let acme_id = id_of(&workspaces, "Acme");
    let (ok, stdout, _) = sandbox
        .cli("cli-notices", &["workspace", "notices", &acme_id, "on"])
        .await;
    assert!(
        ok && stdout.contains("Security notices for Acme are on"),
        "{stdout}"
    );

    // Without chat:write the notices cannot go out: the command and the list say which scope and how to fix it.
    let gamma_id = id_of(&workspaces, "Gamma");
    let (ok, stdout, _) = sandbox
        .cli("cli-notices-gamma", &["workspace", "notices", &gamma_id, "on"])
        .await;
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("lacks chat:write") && stdout.contains("reinstall"),
        "{stdout}"
    );
    let gamma_view = listed(&sandbox)
        .await
        .into_iter()
        .find(|w| w["team"] == "Gamma")
        .expect("Gamma");
    assert_eq!(gamma_view["missing_scopes"], serde_json::json!(["chat:write"]));
    assert!(
        gamma_view["scope_fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("chat:write"))
    );

    // A new phone: a DM in Acme, to the user themself, naming the phone; none in Beta (off).
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link");
    let phone = format!("Pixel {}", std::process::id());
    pair_with_link(&link, &phone).await.expect("pairs");
    let acme_user = slack.account(&acme).user_id;
    let messages = caret_e2e::eventually(
        "the pairing notice",
        SOON,
        || slack.messages(),
        |messages| messages.iter().any(|m| m.text.contains(&phone)),
    )
    .await;
    let notice = messages.iter().find(|m| m.text.contains(&phone)).expect("notice");
    assert_eq!(notice.user_id, acme_user, "posted as the user");
    assert_eq!(notice.channel, acme_user, "to themself");
    assert!(notice.text.contains("revoke"), "{}", notice.text);

    // Acme made less private (Default → VIP): a DM; back to more private (VIP → Default): none.
    let (ok, _, _) = sandbox.cli("cli-vip", &["policy", &acme_id, "vip"]).await;
    assert!(ok);
    caret_e2e::eventually(
        "the policy notice",
        SOON,
        || slack.messages(),
        |messages| messages.iter().any(|m| m.text.contains("from Default to VIP")),
    )
    .await;
    let (ok, _, _) = sandbox.cli("cli-default", &["policy", &acme_id, "default"]).await;
    assert!(ok);
    let beta_id = id_of(&workspaces, "Beta");
    let (ok, _, _) = sandbox.cli("cli-beta-vip", &["policy", &beta_id, "vip"]).await;
    assert!(ok);
    log_has(&sandbox, "Beta's policy change in the log", |row| {
        row.workspace.as_deref() == Some("Beta") && row.policy.as_deref() == Some("vip")
    })
    .await;
    // The DMs sent are logged; give any stray one the time a real one took, then count.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let messages = slack.messages();
    assert_eq!(
        messages.len(),
        2,
        "pairing + Default → VIP in Acme only: {messages:?}"
    );
    assert!(messages.iter().all(|m| m.user_id == acme_user));
    log_has(&sandbox, "the DM in the sync log", |row| {
        row.method.as_deref() == Some("chat.postMessage") && row.outcome == "ok"
    })
    .await;
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_taken_away_later_is_shown_with_the_fix_and_presence_is_left_alone() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(&slack, &token);
    let (sandbox, mut app) = headless_with_workspace(&slack, &token).await;
    assert_eq!(listed(&sandbox).await[0]["missing_scopes"], serde_json::json!([]));

    slack.remove_scope(&token, "users:write");
    // Under Trusted, Sleeping makes you away (under Default it is Busy, whose presence is automatic): the
    // presence call meets the missing scope; the status still goes out.
    let (ok, _, stderr) = sandbox.cli("cli-policy", &["policy", "1", "trusted"]).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "sleeping", "--for", "1h"])
        .await;
    assert!(ok, "{stderr}");
    caret_e2e::eventually(
        "the status in Slack",
        SOON,
        || slack.status(&token).text,
        |text| !text.is_empty(),
    )
    .await;
    let view = caret_e2e::eventually_async(
        "the missing scope in the list",
        SOON,
        || listed(&sandbox),
        |views: &Vec<serde_json::Value>| views[0]["missing_scopes"] == serde_json::json!(["users:write"]),
    )
    .await;
    let fix = view[0]["scope_fix"].as_str().expect("a fix").to_owned();
    assert!(fix.contains("users:write") && fix.contains("reinstall"), "{fix}");
    let (_, stdout, _) = sandbox.cli("cli-list-text", &["workspace", "list"]).await;
    assert!(
        stdout.contains("Acme as ada  connected; lacks users:write"),
        "{stdout}"
    );
    log_has(&sandbox, "presence left alone, and why", |row| {
        row.outcome == "presence not synced: the token lacks users:write"
    })
    .await;
    assert_eq!(
        slack.count("users.setPresence", "missing_scope"),
        1,
        "tried once, not again and again"
    );
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
