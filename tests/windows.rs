//! The app's windows, driven for real through tauri-driver and WebKitWebDriver under the harness's desktop
//! session, against the local Slack server: a policy changed in Settings changes the next sync and the Sync
//! log window shows it; the global shortcut (pressed with xdotool) opens the quick picker, and typing plus
//! Enter sets the status. Each window is saved as a screenshot (`target/screenshots`, or
//! `CARET_SCREENSHOT_DIR`; `scripts/screenshots.sh` refreshes the README's copies).

use std::path::PathBuf;
use std::time::Duration;

use caret_e2e::app::{KeyringCleanup, Sandbox};
use caret_e2e::fake_slack::{FakeSlack, TestClock};
use caret_e2e::webdriver::Session;
use caret_e2e::{eventually, exclusive_desktop};

const SOON: Duration = Duration::from_secs(30);

fn screenshot_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("CARET_SCREENSHOT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"),
        PathBuf::from,
    );
    dir.join(format!("{name}.png"))
}

/// Gives the picker keyboard focus, as a window manager would (Xvfb runs none). The window may still be
/// mapping when first found (focusing it then fails), so this tries a few times.
async fn focus_picker() {
    assert!(
        try_focus_picker().await,
        "the picker window could not be given keyboard focus"
    );
}

/// [`focus_picker`], saying whether it worked (the picker may have closed: it closes when it loses focus).
async fn try_focus_picker() -> bool {
    for _ in 0..100 {
        let focused = std::process::Command::new("xdotool")
            .args([
                "search",
                "--onlyvisible",
                "--name",
                "^Set status$",
                "windowfocus",
                "--sync",
            ])
            .status()
            .is_ok_and(|status| status.success());
        if focused {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn xdotool(args: &[&str]) {
    let status = std::process::Command::new("xdotool")
        .args(args)
        .status()
        .expect("xdotool runs");
    assert!(status.success(), "xdotool {args:?} failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_policy_changes_the_next_sync_the_log_window_shows_it_the_shortcut_picker_sets_a_status_and_slack_signs_in()
 {
    let _desktop = exclusive_desktop().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(&slack, &token);
    let port = caret_e2e::app::free_port();
    slack.register_app(caret_e2e::fake_slack::OAuthApp {
        client_id: CLIENT_ID.into(),
        redirect_urls: vec![format!("http://localhost:{port}/oauth/callback")],
        token_rotation: true,
        token_lifetime: Duration::from_secs(43_200),
    });
    let sandbox = Sandbox::new();
    let browser = RecordingBrowser::new(&sandbox);
    let session = Session::start(
        &sandbox,
        &["--window", "settings"],
        &[
            ("CARET_SLACK_API_URL", slack.base_url()),
            ("CARET_OAUTH_PORT", port.to_string()),
            ("CARET_BROWSER", browser.script.display().to_string()),
        ],
    )
    .await;
    connect_and_set_a_call(&sandbox, &token).await;
    let text = || slack.status(&token).text;
    let busy = eventually("Busy in Slack (Default)", SOON, text, |text| !text.is_empty()).await;
    assert!(
        !busy.to_lowercase().contains("call"),
        "Default hides the state: {busy}"
    );

    // Settings: the workspace appears with its policy; the preview says what Trusted would show, and choosing
    // it changes what Slack shows at the next sync.
    session.switch_to_window("settings").await;
    session.click_label_of("[data-testid=policy-trusted]").await;
    let call = eventually("the call in Slack (Trusted)", SOON, text, |text| {
        text.to_lowercase().contains("call")
    })
    .await;
    session
        .wait_for_text(
            "[data-testid=preview-row][data-state=in_call]",
            "the preview of In a call under Trusted",
            |row| row.contains(&call),
        )
        .await;
    session.screenshot(&screenshot_path("settings")).await;

    // Do Not Disturb per state: In a call's box, shown at once in the preview and saved, pauses notifications
    // in Slack during the call.
    session
        .click_label_of("[data-testid=template-row][data-state=in_call] [data-testid=template-dnd]")
        .await;
    session
        .wait_for_text(
            "[data-testid=preview-row][data-state=in_call] [data-testid=preview-dnd]",
            "the preview says notifications are paused in a call",
            |badge| badge == "DND",
        )
        .await;
    session
        .click(&session.find("[data-testid=settings-save]").await)
        .await;
    let snoozed = || {
        let now = slack.now_secs();
        slack
            .account(&token)
            .snooze_until
            .is_some_and(|until| until > now)
    };
    eventually(
        "notifications paused in Slack during the call",
        SOON,
        snoozed,
        |on| *on,
    )
    .await;

    // Starting at login: off until asked; the box writes the login item and removes it again.
    let autostart_dir = sandbox.root.path().join("home/.config/autostart");
    // Desktop entries only, as a session reads the folder: the app writes the entry to a temporary file
    // beside it and renames it, and that temporary file is not a login item.
    let login_items = || {
        std::fs::read_dir(&autostart_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "desktop"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(login_items().is_empty(), "no login item until the user asks");
    session.click_label_of("[data-testid=autostart]").await;
    let written = eventually("a login item", SOON, login_items, |items| items.len() == 1).await;
    let entry = std::fs::read_to_string(&written[0]).expect("the login item");
    assert!(entry.contains("caret-desktop"), "it starts this app: {entry}");
    // It names a program that is there (the installed one, else this build), and as TryExec too, so that a
    // session skips it once that program is removed.
    let try_exec = entry
        .lines()
        .find_map(|line| line.strip_prefix("TryExec="))
        .unwrap_or_else(|| panic!("no TryExec: {entry}"));
    assert!(
        std::path::Path::new(try_exec).is_file() && entry.contains(&format!("Exec=\"{try_exec}\"")),
        "{entry}"
    );
    session.click_label_of("[data-testid=autostart]").await;
    eventually("the login item removed", SOON, login_items, Vec::is_empty).await;

    // The Sync log window, opened as a second launch would (the running app opens it): the policy change and
    // the call it caused are there, and a row's details show exactly what was sent.
    let (ok, _, stderr) = sandbox.cli("open-log", &["--window", "sync-log"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("sync-log").await;
    session
        .wait_for_text("[data-testid=log-row]", "the policy change in the log", |row| {
            row.to_lowercase().contains("trusted")
        })
        .await;
    session
        .wait_for_text("[data-testid=log-row]", "the Slack call in the log", |row| {
            row.contains("users.profile.set")
        })
        .await;
    session
        .click_text("[data-testid=log-row]", "users.profile.set")
        .await;
    session
        .wait_for_text(
            "[data-testid=log-details]",
            "the details of the call",
            |details| details.contains(&call),
        )
        .await;
    // Issue 15, 9: at the default size every column fits (Latency was cut off), the details' time never breaks
    // inside a date or a time, and nothing says "That is the oldest row." before the person tried to go past it.
    let layout = session
        .execute(
            "const visible = (cell) => { const box = cell.getBoundingClientRect(); const seen = document.elementFromPoint(box.right - 2, (box.top + box.bottom) / 2); return seen !== null && cell.contains(seen) && cell.scrollWidth <= cell.clientWidth; }; return JSON.stringify({ cut: [...document.querySelectorAll('[data-testid=log-table] th')].filter((th) => !visible(th)).map((th) => th.textContent), overflow: document.documentElement.scrollWidth - window.innerWidth, note: document.body.innerText.includes('That is the oldest row.'), broken: [...document.querySelectorAll('[data-testid=log-details] time, [data-testid=log-details] time *')].filter((part) => part.children.length === 0 && part.getClientRects().length > 1).map((part) => part.textContent) });",
            serde_json::json!([]),
        )
        .await;
    let layout: serde_json::Value = serde_json::from_str(layout.as_str().expect("the layout")).expect("JSON");
    assert_eq!(
        (
            &layout["cut"],
            &layout["overflow"],
            &layout["note"],
            &layout["broken"]
        ),
        (
            &serde_json::json!([]),
            &serde_json::json!(0),
            &serde_json::json!(false),
            &serde_json::json!([])
        ),
        "the sync log at its default size: {layout}"
    );
    // Let the details panel paint before the picture.
    tokio::time::sleep(Duration::from_millis(500)).await;
    session.screenshot(&screenshot_path("sync-log")).await;

    // The live log: a new status shows up in the open window without touching it.
    let (ok, _, stderr) = sandbox
        .cli("cli-set-2", &["status", "set", "walking", "--for", "30m"])
        .await;
    assert!(ok, "{stderr}");
    session
        .wait_for_text("[data-testid=log-row]", "the new row, live", |row| {
            row.to_lowercase().contains("walking")
        })
        .await;

    // The global shortcut opens the quick picker; typing filters, Enter sets the status and closes it.
    xdotool(&["key", "ctrl+alt+s"]);
    session.switch_to_window("picker").await;
    session.find("[data-testid=picker-filter]").await;
    // The picture once the list is drawn (the field shows at once, the list a moment later).
    session
        .wait_for_text("[data-testid=picker-current]", "the picker's list", |line| {
            line.starts_with("Now:")
        })
        .await;
    session.find("[data-testid=picker-option]").await;
    session.screenshot(&screenshot_path("picker")).await;
    // Typed as keystrokes into the focused window (keyboard focus given as a window manager would: Xvfb runs
    // none). Under load the first keys may arrive before the window has focus, or the picker may lose focus
    // and close (as it should) before the keys: the test reads what arrived and, if nothing did, clears the
    // filter or opens the picker again with the shortcut.
    const FILTER: &str = "const input = document.querySelector('[data-testid=picker-filter]'); return input ? input.value : null;";
    const CLEAR: &str = "const input = document.querySelector('[data-testid=picker-filter]'); if (input) { input.value = ''; input.dispatchEvent(new Event('input')); }";
    let filter_value = || async {
        session
            .try_execute(FILTER, serde_json::json!([]))
            .await
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
    };
    let mut typed = false;
    for _ in 0..4 {
        if filter_value().await.is_none() || caret_e2e::x11::windows_titled("Set status").is_empty() {
            // The picker closed (its window is kept, hidden): open it again, as a person would.
            xdotool(&["key", "ctrl+alt+s"]);
            session.switch_to_window("picker").await;
            session.find("[data-testid=picker-filter]").await;
        }
        if !try_focus_picker().await {
            continue;
        }
        xdotool(&["type", "--delay", "50", "sleep"]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline
            && filter_value().await.is_some_and(|value| value != "sleep")
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if filter_value().await.as_deref() == Some("sleep") && try_focus_picker().await {
            typed = true;
            break;
        }
        let _ = session.try_execute(CLEAR, serde_json::json!([])).await;
    }
    assert!(
        typed,
        "the typed filter never reached the picker: {:?}",
        filter_value().await
    );
    xdotool(&["key", "Return"]);
    eventually("Sleeping in Slack, set from the picker", SOON, text, |text| {
        text.to_lowercase().contains("sleep")
    })
    .await;
    eventually(
        "the picker closes once used",
        SOON,
        || caret_e2e::x11::windows_titled("Set status"),
        Vec::is_empty,
    )
    .await;

    // The same picker from the command line (what a desktop's own shortcut settings can bind where a global
    // shortcut cannot be registered); Esc closes it without changing anything.
    let (ok, _, stderr) = sandbox.cli("cli-picker", &["picker"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("picker").await;
    session.find("[data-testid=picker-filter]").await;
    focus_picker().await;
    xdotool(&["key", "Escape"]);
    eventually(
        "Esc closes the picker",
        SOON,
        || caret_e2e::x11::windows_titled("Set status"),
        Vec::is_empty,
    )
    .await;
    assert!(text().to_lowercase().contains("sleep"), "Esc changed nothing");

    // The Phones window, for the README, with a pairing open: its QR code and short code.
    let pairing = sandbox.start_pairing().await;
    let code = pairing["short_code"].as_str().expect("a short code").to_owned();
    let (ok, _, stderr) = sandbox.cli("open-phones", &["--window", "phones"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("phones").await;
    session
        .wait_for_text("[data-testid=pairing-code]", "the short code shown", |shown| {
            shown.replace(' ', "").contains(&code.replace(' ', ""))
        })
        .await;
    session.find("[data-testid=pairing-qr]").await;
    // Issue 15, 7: at the default size the whole QR code, the short code and the countdown are in view.
    let below = session
        .execute(
            "window.scrollTo(0, 0); return ['[data-testid=pairing-qr]', '[data-testid=pairing-code]', '[role=timer]'].filter((css) => document.querySelector(css).getBoundingClientRect().bottom > window.innerHeight);",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(
        below,
        serde_json::json!([]),
        "below the fold of the Phones window"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    session.screenshot(&screenshot_path("phones")).await;

    sign_in_from_settings(&session, &sandbox, &slack, &browser).await;
    sandbox.assert_secret_nowhere(&token, "after driving every window");
}

/// The "browser" the app opens links with during the window tests: a script that writes each link down.
struct RecordingBrowser {
    script: PathBuf,
    opened: PathBuf,
}

impl RecordingBrowser {
    fn new(sandbox: &Sandbox) -> RecordingBrowser {
        let opened = sandbox.root.path().join("opened-links.txt");
        let script = sandbox.root.path().join("open-link.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display()),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        RecordingBrowser { script, opened }
    }

    fn links(&self) -> String {
        std::fs::read_to_string(&self.opened).unwrap_or_default()
    }
}

const CLIENT_ID: &str = "3333333333.4444444444";

/// Settings' guide and Sign in with Slack, for a second workspace (Beta) next to the one already connected:
/// the create-app page opened with the manifest, the Client ID typed, the authorize page opened, the browser
/// coming back, the new row renewing itself, its notices box ticked.
async fn sign_in_from_settings(
    session: &Session,
    sandbox: &Sandbox,
    slack: &FakeSlack,
    browser: &RecordingBrowser,
) {
    let beta = slack.add_user("Beta", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(slack, &beta);
    slack.sign_in_browser_as(Some(&beta));
    let links = || browser.links();
    session.switch_to_window("settings").await;
    // The guide is folded when the first list the window hears has a connected workspace, and open when that
    // list came while the workspace was still connecting (slack-guide.ts): open it only if it is folded.
    let folded = session
        .execute(
            "return !document.querySelector('[data-testid=slack-guide-summary]').parentElement.open;",
            serde_json::json!([]),
        )
        .await
        .as_bool()
        .unwrap_or(true);
    if folded {
        session
            .click_when_ready("[data-testid=slack-guide-summary]")
            .await;
    }

    // Step 1 opens Slack's create-app page with the manifest in the link.
    session.click_when_ready("[data-testid=guide-create-app]").await;
    let opened_links = eventually("the create-app page opened", SOON, links, |links| {
        links.contains("api.slack.com/apps")
    })
    .await;
    assert!(opened_links.contains("manifest_json="), "{opened_links}");
    session.screenshot(&screenshot_path("settings-connect")).await;

    // Step 3: the Client ID, then Sign in with Slack: the browser gets Slack's authorize page.
    let field = session.find("[data-testid=signin-client-id]").await;
    session.clear(&field).await;
    session.type_into(&field, CLIENT_ID).await;
    session.click_when_ready("[data-testid=signin-start]").await;
    let opened_links = eventually("the authorize page opened", SOON, links, |links| {
        links.contains("/oauth/v2/authorize")
    })
    .await;
    session
        .wait_for_text("[data-testid=signin-status]", "the waiting message", |text| {
            text.contains("Waiting for Slack")
        })
        .await;
    let link = opened_links
        .lines()
        .find(|line| line.contains("/oauth/v2/authorize"))
        .expect("the link")
        .to_owned();
    let (status, page, _) = caret_e2e::browser::follow_in_browser(&link).await;
    assert_eq!(status, 200, "{page}");
    session
        .wait_for_text(
            "[data-testid=workspace-message]",
            "connected, in Settings",
            |text| text.contains("Connected to Beta as ada"),
        )
        .await;

    // The connected row: the token renews itself; security notices off until ticked.
    session
        .wait_for_text("[data-testid=workspace-row]", "the workspace row", |row| {
            row.contains("Beta") && row.contains("Renews itself")
        })
        .await;
    let (_, stdout, _) = sandbox
        .cli("cli-list-json", &["workspace", "list", "--json"])
        .await;
    let beta_row: serde_json::Value = stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .find(|row| row["team"] == "Beta")
        .expect("Beta listed");
    assert_eq!(beta_row["token_rotates"], true);
    assert_eq!(beta_row["security_notices"], false);
    let beta_id = beta_row["id"].as_i64().expect("id");
    session
        .click_label_of(&format!("#workspace-{beta_id}-notices"))
        .await;
    notices_shown_on(sandbox).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    session.screenshot(&screenshot_path("settings-workspaces")).await;
    for issued in slack.issued_tokens(&beta) {
        sandbox.assert_secret_nowhere(&issued, "signed-in token");
    }
}

/// Waits until `workspace list` says the notices are on.
async fn notices_shown_on(sandbox: &Sandbox) {
    caret_e2e::eventually_async(
        "security notices on",
        SOON,
        || sandbox.cli("cli-list-2", &["workspace", "list", "--json"]),
        |(_, stdout, _): &(bool, String, String)| {
            stdout
                .lines()
                .any(|line| line.contains("\"team\":\"Beta\"") && line.contains("\"security_notices\":true"))
        },
    )
    .await;
}

/// Issue 15, 10 and 11: the picker and Settings show a status emoji as a picture with its code in the tooltip,
/// and every window writes times as the user chose in Settings (24-hour until they choose 12-hour), the open
/// ones following the change at once.
#[tokio::test(flavor = "multi_thread")]
async fn emoji_show_as_pictures_and_every_window_writes_times_as_settings_says() {
    let _desktop = exclusive_desktop().await;
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let _cleanup = KeyringCleanup::for_token(&slack, &token);
    let sandbox = Sandbox::new();
    let session = Session::start(
        &sandbox,
        &["--window", "settings"],
        &[("CARET_SLACK_API_URL", slack.base_url())],
    )
    .await;
    connect_and_set_a_call(&sandbox, &token).await;

    // Settings' preview under Trusted: In a call shows 📞, its code in the tooltip.
    session.switch_to_window("settings").await;
    // README, "Light or dark": without the desktop's settings portal (this session runs none) the windows keep
    // the style GTK gives them, light here.
    let scheme = session
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(scheme, "light", "GTK's own style without the portal");
    session.click_label_of("[data-testid=policy-trusted]").await;
    const PREVIEW_EMOJI: &str = "const e = document.querySelector('[data-testid=preview-row][data-state=in_call] .emoji'); return e ? e.textContent + ' ' + e.title : '';";
    let shown = eventually_shown(
        &session,
        PREVIEW_EMOJI,
        "the call's emoji in the preview",
        |shown| !shown.is_empty(),
    )
    .await;
    assert_eq!(
        shown, "📞 :telephone_receiver:",
        "the glyph, the code in its tooltip"
    );

    // Issue 15, 8: at the window's default size, from its top, the policy and the whole preview are in view.
    const FOLD: &str = "window.scrollTo(0, 0); const bottom = (css) => Math.round(document.querySelector(css).getBoundingClientRect().bottom); return JSON.stringify({ radios: bottom('[data-testid=policy-vip]'), preview: bottom('[data-testid=preview-table]'), height: window.innerHeight, width: window.innerWidth });";
    let fold: serde_json::Value = serde_json::from_str(
        session
            .execute(FOLD, serde_json::json!([]))
            .await
            .as_str()
            .expect("the measures"),
    )
    .expect("JSON");
    let height = fold["height"].as_i64();
    assert!(
        fold["radios"].as_i64() <= height && fold["preview"].as_i64() <= height,
        "the policy and the preview above the fold: {fold}"
    );
    eprintln!("settings at its default size: {fold}");

    // The picker: each row's emoji is a picture too, and "until" is written in 24 hours.
    let (ok, _, stderr) = sandbox.cli("picker-24", &["picker"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("picker").await;
    const PICKER_ROW: &str = "const e = document.querySelector('[data-testid=picker-option][data-state=in_vehicle] .emoji'); return e ? e.textContent + ' ' + e.title : '';";
    let row = eventually_shown(&session, PICKER_ROW, "Driving's emoji in the picker", |shown| {
        !shown.is_empty()
    })
    .await;
    assert_eq!(row, "🚗 :car:");
    let current = session
        .wait_for_text(
            "[data-testid=picker-current]",
            "the manual status's end",
            |text| text.contains("until"),
        )
        .await;
    assert!(
        !current.contains("AM") && !current.contains("PM") && until_clock(&current).contains(':'),
        "24-hour by default: {current}"
    );

    // The sync log, open while the choice changes.
    let (ok, _, stderr) = sandbox.cli("open-log", &["--window", "sync-log"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("sync-log").await;
    let first_row = session
        .wait_for_text("[data-testid=log-row]", "a row", |row| !row.is_empty())
        .await;
    assert!(
        !first_row.contains("AM") && !first_row.contains("PM"),
        "24-hour: {first_row}"
    );

    // 12-hour, chosen in Settings: saved, and the open sync log writes its rows again.
    session.switch_to_window("settings").await;
    session.click_label_of("[data-testid=clock-h12]").await;
    let preferences = sandbox.config_dir().join("preferences.json");
    eventually(
        "the choice saved",
        SOON,
        || {
            std::fs::read_to_string(&preferences)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|saved| saved["clock"].as_str().map(str::to_owned))
        },
        |clock| clock.as_deref() == Some("h12"),
    )
    .await;
    session.switch_to_window("sync-log").await;
    session
        .wait_for_text("[data-testid=log-row]", "the rows in 12 hours", |row| {
            row.contains(" AM") || row.contains(" PM")
        })
        .await;

    // The picker's next opening says "until" in 12 hours.
    let (ok, _, stderr) = sandbox.cli("picker-12", &["picker"]).await;
    assert!(ok, "{stderr}");
    session.switch_to_window("picker").await;
    session
        .wait_for_text("[data-testid=picker-current]", "the end in 12 hours", |text| {
            let clock = until_clock(text);
            clock.ends_with(" AM") || clock.ends_with(" PM")
        })
        .await;

    // And back to 24 hours: the sync log follows again.
    session.switch_to_window("settings").await;
    session.click_label_of("[data-testid=clock-h24]").await;
    session.switch_to_window("sync-log").await;
    session
        .wait_for_text("[data-testid=log-row]", "the rows in 24 hours again", |row| {
            !row.contains(" AM") && !row.contains(" PM")
        })
        .await;
}

/// Once the app is ready: the workspace connected with `token`, and "In a call" set by hand for an hour.
async fn connect_and_set_a_call(sandbox: &Sandbox, token: &str) {
    sandbox
        .wait_for_log("app", "caret-desktop ready (tray)", SOON)
        .await;
    let (ok, _, stderr) = sandbox.add_workspace(token).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = sandbox
        .cli("cli-set", &["status", "set", "in_call", "--for", "1h"])
        .await;
    assert!(ok, "{stderr}");
}

/// What follows "until " in the picker's current line ("Now: In a call, set by you until 3:42 PM").
fn until_clock(line: &str) -> String {
    line.split_once("until ")
        .map(|(_, rest)| rest.split(" ·").next().unwrap_or(rest).trim().to_owned())
        .unwrap_or_default()
}

/// Runs `script` in the current window until what it returns passes `condition`.
async fn eventually_shown(
    session: &Session,
    script: &str,
    what: &str,
    condition: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let shown = session
            .execute(script, serde_json::json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if condition(&shown) {
            return shown;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {shown:?} after {SOON:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 16, 6: on Wayland the Settings window shows what the desktop's portal made of the shortcut, as the
/// answer comes: waiting while its dialog is open, a refusal with the way to be asked again, then the keys the
/// desktop granted (which the user may have changed in its dialog). No fallback command while a portal is there.
#[tokio::test(flavor = "multi_thread")]
async fn on_wayland_settings_follows_the_desktop_s_answer_to_the_shortcut() {
    use caret_e2e::portal::{Answer, FakePortal};
    let _desktop = exclusive_desktop().await;
    let portal = FakePortal::start(Answer::Wait).await;
    let sandbox = Sandbox::new();
    let session = Session::start(
        &sandbox,
        &["--window", "settings"],
        &[("XDG_SESSION_TYPE", "wayland".to_owned())],
    )
    .await;
    session.switch_to_window("settings").await;
    let status = "[data-testid=shortcut-status]";
    session
        .wait_for_text(status, "the request the desktop has not answered", |text| {
            text.starts_with("Waiting for your desktop") && text.contains("Ctrl+Alt+S")
        })
        .await;
    let fallback_hidden =
        "return document.querySelector('[data-testid=shortcut-fallback]').hidden ? 'hidden' : 'shown'";
    eventually_shown(&session, fallback_hidden, "no fallback while asking", |shown| {
        shown == "hidden"
    })
    .await;

    portal.answer_pending(Answer::Decline);
    session
        .wait_for_text(status, "the user's refusal", |text| {
            text.contains("you turned down Ctrl+Alt+S") && text.contains("Save to be asked again")
        })
        .await;
    let save_enabled =
        "return document.querySelector('[data-testid=shortcut-save]').disabled ? 'disabled' : 'enabled'";
    eventually_shown(
        &session,
        save_enabled,
        "Save asks again after a refusal",
        |shown| shown == "enabled",
    )
    .await;
    eventually_shown(
        &session,
        fallback_hidden,
        "no fallback after a refusal",
        |shown| shown == "hidden",
    )
    .await;

    // Asked again, the user gives the picker other keys in the desktop's dialog: Settings shows those.
    portal.set_answer(Answer::Grant {
        trigger_description: "Super+K".to_owned(),
    });
    session
        .click(&session.find("[data-testid=shortcut-save]").await)
        .await;
    session
        .wait_for_text(status, "the keys the desktop granted", |text| {
            text.starts_with("Working: your desktop opens the quick status picker with Super+K")
        })
        .await;
    eventually_shown(
        &session,
        save_enabled,
        "nothing new to save once granted",
        |shown| shown == "disabled",
    )
    .await;
    assert_eq!(portal.binds().len(), 2, "asked once at start and once on Save");
    session
        .screenshot(&screenshot_path("settings-wayland-shortcut"))
        .await;
}

/// Dark mode follows the desktop (the portal's `color-scheme`, issue 17, 8: no longer through tao's polling):
/// dark at start when the desktop prefers it, then light and dark again as the user switches while the window
/// is open, the stylesheet following each time.
#[tokio::test(flavor = "multi_thread")]
async fn the_windows_follow_the_desktop_s_colour_scheme_as_it_changes() {
    use caret_e2e::portal_settings::{FakeSettingsPortal, PREFER_DARK, PREFER_LIGHT};
    let _desktop = exclusive_desktop().await;
    let portal = FakeSettingsPortal::start(PREFER_DARK).await;
    let sandbox = Sandbox::new();
    let session = Session::start(&sandbox, &["--window", "settings"], &[]).await;
    session.switch_to_window("settings").await;
    let scheme = "return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'";
    let background = "return getComputedStyle(document.body).backgroundColor";
    eventually_shown(
        &session,
        scheme,
        "dark at start, as the desktop prefers",
        |shown| shown == "dark",
    )
    .await;
    let dark = session.execute(background, serde_json::json!([])).await;

    portal.set_color_scheme(PREFER_LIGHT).await;
    eventually_shown(&session, scheme, "light once the desktop switches", |shown| {
        shown == "light"
    })
    .await;
    let light = session.execute(background, serde_json::json!([])).await;
    assert_ne!(dark, light, "the stylesheet follows the scheme");

    portal.set_color_scheme(PREFER_DARK).await;
    eventually_shown(&session, scheme, "dark again", |shown| shown == "dark").await;
}

/// Settings' "What the desktop sees" (issue 19, 7): the microphone off until ticked, then what it sees, live,
/// as a real recording application starts and stops on a PipeWire server of the test's own.
#[tokio::test(flavor = "multi_thread")]
async fn settings_turns_the_microphone_and_the_screen_lock_on_and_shows_what_they_see_as_it_changes() {
    let _desktop = exclusive_desktop().await;
    let audio = caret_e2e::audio::AudioServer::start().await;
    let sandbox = Sandbox::new();
    let session = Session::start(
        &sandbox,
        &["--window", "settings"],
        &[(
            "PIPEWIRE_RUNTIME_DIR",
            audio.runtime_dir().to_string_lossy().into_owned(),
        )],
    )
    .await;
    session.switch_to_window("settings").await;
    let status = "[data-testid=sources-microphone-status]";
    session
        .wait_for_text(status, "off until ticked", |text| text == "Off.")
        .await;

    session
        .click(&session.find("[data-testid=sources-microphone]").await)
        .await;
    session
        .wait_for_text(status, "watching once ticked", |text| {
            text == "Watching: no microphone or camera in use."
        })
        .await;
    let mut recorder = audio.record(None);
    session
        .wait_for_text(status, "the recording seen", |text| {
            text == "A microphone is in use: you are in a call."
        })
        .await;
    session.screenshot(&screenshot_path("settings-microphone")).await;
    recorder.kill().await.expect("stop the recorder");
    session
        .wait_for_text(status, "the call over after the hold", |text| {
            text == "Watching: no microphone or camera in use."
        })
        .await;

    // The screen lock beside it, watching a screen saver on the session bus; ticking it leaves the microphone on.
    let screen =
        caret_e2e::screensaver::FakeScreenSaver::start(caret_e2e::screensaver::Flavour::Freedesktop, false)
            .await;
    let lock_status = "[data-testid=sources-screen-lock-status]";
    session
        .wait_for_text(lock_status, "the screen lock off until ticked", |text| {
            text == "Off."
        })
        .await;
    session
        .click(&session.find("[data-testid=sources-screen-lock]").await)
        .await;
    session
        .wait_for_text(lock_status, "watching the screen saver", |text| {
            text == "Watching: the screen is unlocked."
        })
        .await;
    screen.lock().await;
    session
        .wait_for_text(lock_status, "the lock seen", |text| {
            text == "Locked: Slack shows you away."
        })
        .await;
    session
        .wait_for_text(status, "the microphone still on", |text| {
            text == "Watching: no microphone or camera in use."
        })
        .await;
    screen.unlock().await;
    session
        .wait_for_text(lock_status, "unlocked again", |text| {
            text == "Watching: the screen is unlocked."
        })
        .await;
    let saved = std::fs::read_to_string(sandbox.config_dir().join("preferences.json")).expect("preferences");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("preferences as JSON");
    assert_eq!(
        (
            &saved["sources"]["microphone"],
            &saved["sources"]["screen_lock"],
            &saved["sources"]["screen_lock_status"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(true),
            &serde_json::json!(false)
        ),
        "both choices kept, the option left as it was: {saved}"
    );
}

/// Issue 19, point 7: a calendar added in Settings (its secret address typed into a hidden field, kept in the
/// keyring only) shows in its row with what it counts, the event under way shows as "Now:", and Remove asks
/// first, then takes the address out of the keyring.
#[tokio::test(flavor = "multi_thread")]
async fn settings_adds_a_calendar_shows_its_event_now_and_removes_it_after_asking() {
    use caret_e2e::calendar_server::{Answer, CalendarServer, calendar, event};
    let _desktop = exclusive_desktop().await;
    let server = CalendarServer::start().await;
    let now = chrono::Utc::now();
    server.answer(Answer::Document(calendar(&[event(
        "review",
        "Design review",
        now - chrono::Duration::minutes(5),
        now + chrono::Duration::hours(1),
        "",
    )])));
    let sandbox = Sandbox::new();
    let session = Session::start(&sandbox, &["--window", "settings"], &[]).await;
    session.switch_to_window("settings").await;
    session
        .wait_for_text("[data-testid=calendar-none]", "no calendar yet", |text| {
            text == "No calendars yet."
        })
        .await;
    session
        .type_into(&session.find("[data-testid=calendar-name]").await, "Work")
        .await;
    session
        .type_into(
            &session.find("[data-testid=calendar-address]").await,
            server.address(),
        )
        .await;
    session
        .click(&session.find("[data-testid=calendar-add]").await)
        .await;
    let row = session
        .wait_for_text("[data-testid=calendar-row]", "the calendar's row", |text| {
            text.contains("Work") && text.contains("1 event in the next 24 hours, read at")
        })
        .await;
    assert!(row.contains("127.0.0.1"), "its host is shown: {row}");
    session
        .wait_for_text("[data-testid=calendar-now]", "the event now", |text| {
            text.starts_with("Now: Design review, until ")
        })
        .await;
    session.screenshot(&screenshot_path("settings-calendars")).await;
    let page = session.page_text().await;
    assert!(
        !page.contains(CalendarServer::SECRET),
        "the address is not shown: {page}"
    );
    let address_field = session.find("[data-testid=calendar-address]").await;
    assert_eq!(session.attribute(&address_field, "type").await, "password");
    let account = format!("calendar:{}", calendar_id(&sandbox));
    let kept = caret_e2e::app::secret_tool_lookup(&account).await;
    assert_eq!(kept.as_deref(), Some(server.address()), "in the keyring");
    sandbox.assert_secret_nowhere(CalendarServer::SECRET, "calendar's secret address");

    session
        .click(&session.find("[data-testid=calendar-remove]").await)
        .await;
    let asked = session.accept_prompt().await;
    assert!(asked.contains("deleted from the keyring"), "{asked}");
    session
        .wait_for_text("[data-testid=calendar-none]", "removed", |text| {
            text == "No calendars yet."
        })
        .await;
    assert_eq!(
        caret_e2e::app::secret_tool_lookup(&account).await,
        None,
        "its address left the keyring with it"
    );
}

/// The id of the one calendar in the sandbox's list.
fn calendar_id(sandbox: &Sandbox) -> String {
    let saved = std::fs::read_to_string(sandbox.config_dir().join("calendars.json")).expect("calendars.json");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("JSON");
    saved[0]["id"].as_str().expect("an id").to_owned()
}

/// Issue 19, point 4 in Settings: the working week is set in the form (a day's end at midnight typed as 00:00, a
/// night shift on Saturday), followed and "Off for the day" turned on, saved as a whole; the app follows it (what
/// `caret-desktop hours` reads back is the week typed) and the status line says where now falls in it, in the
/// app's zone (New York).
#[tokio::test(flavor = "multi_thread")]
async fn settings_sets_the_working_week_and_says_where_now_falls_in_it() {
    let _desktop = exclusive_desktop().await;
    let sandbox = Sandbox::new();
    let session = Session::start(
        &sandbox,
        &["--window", "settings"],
        &[("TZ", "America/New_York".to_owned())],
    )
    .await;
    session.switch_to_window("settings").await;
    session
        .wait_for_text("[data-testid=working-hours-status]", "the source off", |text| {
            text.starts_with("Off")
        })
        .await;
    session
        .click(&session.find("[data-testid=working-hours-on]").await)
        .await;
    session
        .click(&session.find("[data-testid=working-hours-off-status]").await)
        .await;
    session
        .click(&session.find("[data-testid=working-hours-sat-works]").await)
        .await;
    // Time inputs take what a person picks; the page reads them on input as it does for a person.
    let set_time = |testid: &'static str, value: &'static str| {
        let session = &session;
        async move {
            session
                .execute(
                    "const input = document.querySelector(`[data-testid=${arguments[0]}]`); \
                     input.value = arguments[1]; \
                     input.dispatchEvent(new Event('input', { bubbles: true })); \
                     input.dispatchEvent(new Event('change', { bubbles: true }));",
                    serde_json::json!([testid, value]),
                )
                .await;
        }
    };
    set_time("working-hours-fri-end", "00:00").await;
    set_time("working-hours-sat-start", "22:00").await;
    set_time("working-hours-sat-end", "06:00").await;
    session
        .wait_for_text("[data-testid=working-hours-sat-note]", "a night shift", |text| {
            text.contains("ends the next day")
        })
        .await;
    session
        .click(&session.find("[data-testid=working-hours-save]").await)
        .await;

    let week = caret_core::WorkingHours {
        on: true,
        days: {
            let office = Some(caret_core::DayHours {
                start: 540,
                end: 1020,
            });
            [
                office,
                office,
                office,
                office,
                Some(caret_core::DayHours {
                    start: 540,
                    end: 1440,
                }),
                Some(caret_core::DayHours {
                    start: 1320,
                    end: 360,
                }),
                None,
            ]
        },
        off_status: true,
    };
    let expected = match week.at(&chrono::Utc::now().with_timezone(&chrono_tz::America::New_York)) {
        caret_core::HoursNow::Working { .. } => "At work until ",
        caret_core::HoursNow::Off { .. } => "Off work until ",
    };
    session
        .wait_for_text("[data-testid=working-hours-status]", "where now falls", |text| {
            text.starts_with(expected)
        })
        .await;
    let (ok, saved, stderr) = sandbox.cli("cli-hours", &["hours", "--json"]).await;
    assert!(ok, "{stderr}");
    let saved: serde_json::Value = serde_json::from_str(saved.trim()).expect("JSON");
    assert_eq!(
        saved["working_week"],
        serde_json::to_value(week).expect("JSON"),
        "the week typed is the week followed"
    );
    session
        .screenshot(&screenshot_path("settings-working-hours"))
        .await;
}
