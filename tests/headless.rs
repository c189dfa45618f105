//! `--headless`: the same core without tray or windows. Needs no display.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use caret_e2e::app::{Sandbox, terminate, wait_for_exit};

const READY: &str = "caret-desktop ready (headless)";
const SOON: Duration = Duration::from_secs(20);

#[tokio::test]
async fn headless_starts_creates_private_dirs_and_stops_cleanly_on_sigterm() {
    let sandbox = Sandbox::new();
    let mut app = sandbox
        .command("headless", &["--headless"])
        .env_remove("DISPLAY")
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("headless", READY, SOON).await;
    for dir in [sandbox.config_dir(), sandbox.data_dir()] {
        let mode = std::fs::metadata(&dir).expect("dir exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} must be private", dir.display());
    }
    assert!(
        sandbox
            .log("headless")
            .contains(&sandbox.data_dir().display().to_string())
    );

    terminate(&app);
    let status = wait_for_exit(&mut app, SOON).await;
    assert!(status.success(), "SIGTERM is a clean stop, got {status}");
    assert!(sandbox.log("headless").contains("SIGTERM received, stopping"));
}

#[tokio::test]
async fn a_second_instance_on_the_same_data_is_refused_with_a_clear_error() {
    let sandbox = Sandbox::new();
    let mut first = sandbox
        .command("first", &["--headless"])
        .spawn()
        .expect("launch first");
    sandbox.wait_for_log("first", READY, SOON).await;

    let mut second = sandbox
        .command("second", &["--headless"])
        .spawn()
        .expect("launch second");
    let status = wait_for_exit(&mut second, SOON).await;
    assert_eq!(status.code(), Some(1));
    let log = sandbox.log("second");
    assert!(log.contains("another Caret Desktop is already running"), "{log}");

    terminate(&first);
    assert!(wait_for_exit(&mut first, SOON).await.success());
    // The lock went with the process: a new instance starts.
    let mut third = sandbox
        .command("third", &["--headless"])
        .spawn()
        .expect("launch third");
    sandbox.wait_for_log("third", READY, SOON).await;
    terminate(&third);
    assert!(wait_for_exit(&mut third, SOON).await.success());
}

#[tokio::test]
async fn a_bad_slack_api_url_stops_the_start_with_the_variable_named() {
    let sandbox = Sandbox::new();
    let mut app = sandbox
        .command("bad-url", &["--headless"])
        .env("CARET_SLACK_API_URL", "slack.com/api")
        .spawn()
        .expect("launch");
    let status = wait_for_exit(&mut app, SOON).await;
    assert_eq!(status.code(), Some(1));
    assert!(
        sandbox
            .log("bad-url")
            .contains("CARET_SLACK_API_URL is set to \"slack.com/api\"")
    );
}

#[tokio::test]
async fn the_slack_api_url_can_point_at_a_local_server() {
    let sandbox = Sandbox::new();
    let mut app = sandbox
        .command("local-url", &["--headless"])
        .env("CARET_SLACK_API_URL", "http://127.0.0.1:9/api/")
        .spawn()
        .expect("launch");
    sandbox.wait_for_log("local-url", READY, SOON).await;
    assert!(
        sandbox
            .log("local-url")
            .contains("slack_api_url=http://127.0.0.1:9/api")
    );
    terminate(&app);
    assert!(wait_for_exit(&mut app, SOON).await.success());
}
