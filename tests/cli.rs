//! Everything the windows can do, the command line can do (issue 18), through `caret-desktop --headless` as a
//! home server runs it: a workspace's settings read and set by name and seen in what Slack receives, bad
//! values refused with the window's words and nothing changed, an export imported into another workspace,
//! the tray's lines from `caret-desktop state` (once and followed), and the Settings preview from
//! `caret-desktop preview`. Needs the desktop harness (D-Bus and the Secret Service).

use std::time::Duration;

use caret_e2e::app::{KeyringCleanup, Sandbox, terminate, wait_for_exit};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::phone::CliPhone;
use caret_e2e::require_desktop_session;

const SOON: Duration = Duration::from_secs(30);

/// The ids of the connected workspaces, by team name.
async fn workspace_id(sandbox: &Sandbox, team: &str) -> String {
    let (ok, stdout, stderr) = sandbox.cli("cli-list", &["workspace", "list", "--json"]).await;
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a workspace as JSON"))
        .find(|workspace| workspace["team"] == team)
        .and_then(|workspace| workspace["id"].as_i64())
        .unwrap_or_else(|| panic!("no workspace {team} in {stdout}"))
        .to_string()
}

/// `caret-desktop settings ID --json`: every setting by name.
async fn settings_of(sandbox: &Sandbox, id: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = sandbox.cli("cli-settings", &["settings", id, "--json"]).await;
    assert!(ok, "{stderr}");
    serde_json::from_str(stdout.trim()).expect("the settings as JSON")
}

async fn set(sandbox: &Sandbox, id: &str, key: &str, value: &str) {
    let (ok, stdout, stderr) = sandbox.cli("cli-set", &["settings", id, "set", key, value]).await;
    assert!(ok, "settings set {key} {value}: {stderr}");
    assert!(stdout.contains(&format!("{key} is now")), "{stdout}");
}

/// A refused value: the command fails, says `words`, and changes no setting.
async fn refused(sandbox: &Sandbox, id: &str, key: &str, value: &str, words: &str) {
    let before = settings_of(sandbox, id).await;
    let (ok, _, stderr) = sandbox.cli("cli-bad", &["settings", id, "set", key, value]).await;
    assert!(!ok, "settings set {key} {value:?} was taken");
    assert!(
        stderr.contains(words),
        "settings set {key} {value:?} said: {stderr}"
    );
    assert_eq!(
        settings_of(sandbox, id).await,
        before,
        "a refusal changed settings"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_setting_is_set_and_read_from_the_command_line_and_reaches_slack() {
    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    let acme = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let beta = slack.add_user("Beta", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = [&acme, &beta].map(|token| KeyringCleanup::for_token(&slack, token));
    let sandbox = Sandbox::new();
    let mut app = sandbox.launch_headless(&slack, "app").await;
    for token in [&acme, &beta] {
        let (ok, _, stderr) = sandbox.add_workspace(token).await;
        assert!(ok, "{stderr}");
    }
    let (acme_id, beta_id) = (
        workspace_id(&sandbox, "Acme").await,
        workspace_id(&sandbox, "Beta").await,
    );
    let status = |token: &str| slack.status(token);

    // A phone in a meeting; VIP shows its title, with the end time in the format chosen.
    let mut phone = CliPhone::pair(&sandbox, "Ada's phone", None).await;
    phone.send(&sandbox, r#"event "Quarterly review" 45m"#).await;
    let (ok, _, stderr) = sandbox
        .cli("cli-vip", &["settings", &acme_id, "set", "policy", "vip"])
        .await;
    assert!(ok, "{stderr}");
    set(&sandbox, &acme_id, "event.vip-text", "In {title} until {end}").await;
    set(&sandbox, &acme_id, "event.emoji", ":spiral_calendar_pad:").await;
    let shown = caret_e2e::eventually(
        "the VIP text in Slack",
        SOON,
        || status(&acme),
        |shown| {
            shown.text.starts_with("In Quarterly review until ") && shown.emoji == ":spiral_calendar_pad:"
        },
    )
    .await;
    assert!(
        !shown.text.ends_with('M'),
        "24-hour until told otherwise: {}",
        shown.text
    );
    set(&sandbox, &acme_id, "time-format", "12h").await;
    caret_e2e::eventually(
        "the end in 12-hour form",
        SOON,
        || status(&acme),
        |shown| shown.text.ends_with(" AM") || shown.text.ends_with(" PM"),
    )
    .await;

    // In a call: the state's own text and emoji, the phone number once shown, the lease as its expiration.
    phone.send(&sandbox, "in_call").await;
    set(&sandbox, &acme_id, "in_call.text", "On a call, back soon").await;
    set(&sandbox, &acme_id, "in_call.emoji", ":headphones:").await;
    set(&sandbox, &acme_id, "phone", "+1 555 0100").await;
    set(&sandbox, &acme_id, "show-phone", "on").await;
    set(&sandbox, &acme_id, "lease", "45").await;
    let shown = caret_e2e::eventually(
        "the call with the number",
        SOON,
        || status(&acme),
        |shown| {
            shown.text.starts_with("On a call, back soon")
                && shown.text.contains("555 0100")
                && shown.emoji == ":headphones:"
        },
    )
    .await;
    let lease_left = shown.expiration - chrono::Utc::now().timestamp();
    assert!(
        (40 * 60..=45 * 60).contains(&lease_left),
        "a 45-minute lease, {lease_left} s left"
    );
    let (_, value, _) = sandbox
        .cli("cli-get", &["settings", &acme_id, "get", "in_call.text"])
        .await;
    assert_eq!(value.trim(), "On a call, back soon");
    let (_, listed, _) = sandbox.cli("cli-all", &["settings", &acme_id]).await;
    for line in [
        "policy",
        "vip",
        "lease",
        "45",
        "show-phone",
        "in_call.emoji",
        ":headphones:",
    ] {
        assert!(listed.contains(line), "`settings ID` lists {line}: {listed}");
    }

    // Bad values: refused with the window's words (caret-core's), and nothing changes.
    let sets_before = slack.accepted("users.profile.set");
    refused(&sandbox, &acme_id, "lease", "2", "between 5 and 720 minutes").await;
    refused(&sandbox, &acme_id, "lease", "soon", "not a number of minutes").await;
    refused(
        &sandbox,
        &acme_id,
        "in_call.text",
        &"x".repeat(101),
        "at most 100",
    )
    .await;
    refused(
        &sandbox,
        &acme_id,
        "in_call.text",
        "Call about {title}",
        "would reveal details",
    )
    .await;
    refused(
        &sandbox,
        &acme_id,
        "in_call.emoji",
        "headphones",
        "not a Slack emoji code",
    )
    .await;
    refused(&sandbox, &acme_id, "phone", "call me", "is not valid").await;
    refused(&sandbox, &acme_id, "show-phone", "maybe", "on or off").await;
    refused(&sandbox, &acme_id, "time-format", "noon", "not a time format").await;
    refused(
        &sandbox,
        &acme_id,
        "event.vip-text",
        "In {room}",
        "unknown placeholder",
    )
    .await;
    refused(&sandbox, &acme_id, "always-override", "sometimes", "on or off").await;
    refused(&sandbox, &acme_id, "notices", "maybe", "on or off").await;
    refused(&sandbox, &acme_id, "colour", "red", "unknown setting").await;
    refused(&sandbox, &acme_id, "policy", "friends", "unknown policy").await;
    assert_eq!(
        slack.accepted("users.profile.set"),
        sets_before,
        "a refused value sent nothing"
    );
    assert!(status(&acme).text.starts_with("On a call, back soon"));

    // Exported from Acme, imported into Beta: the same settings and policy, and Beta's Slack follows.
    let (ok, exported, stderr) = sandbox.cli("cli-export", &["settings", &acme_id, "export"]).await;
    assert!(ok, "{stderr}");
    let file = sandbox.root.path().join("acme.json");
    std::fs::write(&file, &exported).expect("write the export");
    let (ok, stdout, stderr) = sandbox
        .cli(
            "cli-import",
            &["settings", &beta_id, "import", file.to_str().expect("utf-8")],
        )
        .await;
    assert!(ok && stdout.contains("imported"), "{stdout}{stderr}");
    assert_eq!(
        settings_of(&sandbox, &beta_id).await,
        settings_of(&sandbox, &acme_id).await
    );
    caret_e2e::eventually(
        "Beta showing the imported look",
        SOON,
        || status(&beta),
        |shown| shown.text.starts_with("On a call, back soon") && shown.text.contains("555 0100"),
    )
    .await;

    // A document that does not check out changes nothing: not ours, or a text Slack would refuse.
    let before = settings_of(&sandbox, &beta_id).await;
    let mut document: serde_json::Value = serde_json::from_str(&exported).expect("the export is JSON");
    document["settings"]["templates"]["in_call"]["text"] = "y".repeat(150).into();
    document["settings"]["policy"]["sharing"] = "default".into();
    std::fs::write(&file, document.to_string()).expect("write");
    let (ok, _, stderr) = sandbox
        .cli(
            "cli-import-bad",
            &["settings", &beta_id, "import", file.to_str().expect("utf-8")],
        )
        .await;
    assert!(!ok && stderr.contains("at most 100"), "{stderr}");
    std::fs::write(&file, "{\"hello\": 1}").expect("write");
    let (ok, _, stderr) = sandbox
        .cli(
            "cli-import-junk",
            &["settings", &beta_id, "import", file.to_str().expect("utf-8")],
        )
        .await;
    assert!(!ok && stderr.contains("not a settings export"), "{stderr}");
    assert_eq!(
        settings_of(&sandbox, &beta_id).await,
        before,
        "a refused import changed settings"
    );

    // A state's look back to the built-in one.
    let (ok, _, stderr) = sandbox
        .cli("cli-reset", &["settings", &acme_id, "reset", "in_call"])
        .await;
    assert!(ok, "{stderr}");
    caret_e2e::eventually(
        "the built-in call text",
        SOON,
        || status(&acme),
        |shown| shown.text.starts_with("In a call") && shown.emoji == ":telephone_receiver:",
    )
    .await;

    // A status set in Slack by hand is left alone, until always override is turned on.
    let lunch = caret_e2e::fake_slack::Status {
        text: "Lunch".into(),
        emoji: ":coffee:".into(),
        expiration: 0,
    };
    slack.user_sets_status(&acme, lunch);
    phone.send(&sandbox, "walking").await;
    let store = caret_store::Store::open(&sandbox.data_dir().join("caret.db")).expect("the app's database");
    caret_e2e::eventually(
        "the hand-set status left alone",
        SOON,
        || store.query_log(&Default::default()).expect("the sync log"),
        |rows| {
            rows.iter()
                .any(|row| row.workspace.as_deref() == Some("Acme") && row.outcome.starts_with("left alone"))
        },
    )
    .await;
    assert_eq!(status(&acme).text, "Lunch");
    set(&sandbox, &acme_id, "always-override", "on").await;
    caret_e2e::eventually(
        "the phone's state over the hand-set one",
        SOON,
        || status(&acme),
        |shown| shown.text.starts_with("Walking"),
    )
    .await;

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_command_says_what_the_tray_says_and_the_preview_what_settings_shows() {
    use tokio::io::AsyncBufReadExt;

    require_desktop_session();
    let slack = FakeSlack::start(TestClock::new()).await;
    // With chat:write, for the security notices by DM.
    let scopes: Vec<&str> = FakeSlack::FULL_SCOPES.into_iter().chain(["chat:write"]).collect();
    let acme = slack.add_user("Acme", "ada", &scopes);
    let _cleanup = KeyringCleanup::for_token(&slack, &acme);
    let sandbox = Sandbox::new();
    let mut app = sandbox.launch_headless(&slack, "app").await;
    let (ok, _, stderr) = sandbox.add_workspace(&acme).await;
    assert!(ok, "{stderr}");
    let id = workspace_id(&sandbox, "Acme").await;

    let (ok, stdout, stderr) = sandbox.cli("cli-state", &["state"]).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["No phone paired yet", "Acme shows no status"]
    );

    // Followed: a report now, then one at each change, as JSON lines.
    let mut follow = sandbox
        .command("cli-state-follow", &["state", "--json", "--follow"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("state --follow");
    let mut reports = tokio::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let mut next_report = async || -> serde_json::Value {
        let line = tokio::time::timeout(SOON, reports.next_line())
            .await
            .expect("a report in time")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("a report as JSON")
    };
    let first = next_report().await;
    assert_eq!(first["state"], serde_json::Value::Null);
    // Security notices, set from `settings` too: the policy made less private is told by DM to yourself.
    let (ok, _, stderr) = sandbox
        .cli("cli-notices", &["settings", &id, "set", "notices", "on"])
        .await;
    assert!(ok, "{stderr}");
    let (_, on, _) = sandbox
        .cli("cli-notices-get", &["settings", &id, "get", "notices"])
        .await;
    assert_eq!(on.trim(), "on");
    let (ok, _, stderr) = sandbox
        .cli("cli-trusted", &["settings", &id, "set", "policy", "trusted"])
        .await;
    assert!(ok, "{stderr}");
    caret_e2e::eventually(
        "the policy notice by DM",
        SOON,
        || slack.messages(),
        |messages| {
            messages
                .iter()
                .any(|m| m.text.contains("from Default to Trusted"))
        },
    )
    .await;
    let (ok, _, _) = sandbox
        .cli("cli-set", &["status", "set", "in_call", "--for", "1h"])
        .await;
    assert!(ok);
    let mut report = next_report().await;
    while report["workspaces"][0]["shows"].is_null() || report["state"].is_null() {
        report = next_report().await;
    }
    assert_eq!(report["state"], "in_call");
    assert_eq!(report["source"], "you");
    assert!(report["until"].is_string(), "{report}");
    assert_eq!(report["lines"][0], "Status: In a call (set by you)");
    assert_eq!(report["lines"][1], "Acme shows “In a call”");
    assert_eq!(report["workspaces"][0]["effective_policy"], "trusted");
    assert_eq!(slack.status(&acme).text, "In a call");
    drop(follow);

    // The preview: the workspace's policy now, or another, from the window's own code.
    let (ok, stdout, stderr) = sandbox.cli("cli-preview", &["preview", &id]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("Acme under Trusted (its policy now):"),
        "{stdout}"
    );
    assert!(stdout.contains("In a call"), "{stdout}");
    let (ok, stdout, stderr) = sandbox
        .cli("cli-preview-all", &["preview", &id, "--policy", "all", "--json"])
        .await;
    assert!(ok, "{stderr}");
    let policies: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a policy's preview as JSON"))
        .collect();
    let text_of = |policy: &str, state: &str| -> Option<String> {
        let previewed = policies
            .iter()
            .find(|p| p["policy"] == policy)
            .expect("the policy");
        let row = previewed["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|row| row["state"] == state)
            .expect("the state");
        row["status"]["text"].as_str().map(str::to_owned)
    };
    assert_eq!(policies.len(), 4);
    assert_eq!(
        text_of("default", "in_call").as_deref(),
        text_of("default", "busy").as_deref()
    );
    assert_eq!(text_of("trusted", "in_call").as_deref(), Some("In a call"));
    assert!(text_of("vip", "event").is_some_and(|text| text.contains("Quarterly planning")));
    assert_eq!(text_of("trusted", "event").as_deref(), Some("In a meeting"));
    assert_eq!(text_of("blocked", "in_call"), None);

    // A changed setting is in the next preview.
    let (ok, _, _) = sandbox
        .cli("cli-text", &["settings", &id, "set", "in_call.text", "On a call"])
        .await;
    assert!(ok);
    let (_, stdout, _) = sandbox
        .cli("cli-preview-trusted", &["preview", &id, "--policy", "trusted"])
        .await;
    assert!(stdout.contains("On a call"), "{stdout}");
    let (ok, _, stderr) = sandbox
        .cli("cli-preview-bad", &["preview", &id, "--policy", "friends"])
        .await;
    assert!(!ok && stderr.contains("unknown policy"), "{stderr}");

    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
