//! `kill -9` of a process running the sync engine, in the middle of a Slack call: after a restart it
//! converges to the desired state, sends nothing it does not need to, and the database checks out.

use std::process::Stdio;
use std::time::Duration;

use caret_e2e::eventually;
use caret_e2e::fake_slack::{FakeSlack, Fault, TestClock};
use caret_store::Store;
use tokio::process::{Child, Command};

const SET: &str = "users.profile.set";
const SOON: Duration = Duration::from_secs(20);

fn driver(db: &std::path::Path, slack: &FakeSlack, token: &str, state: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_engine-driver"))
        .arg(db)
        .arg(slack.base_url())
        .arg(state)
        .env("CARET_TEST_TOKEN", token)
        .env("CARET_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the engine driver")
}

async fn kill_9(child: &mut Child) {
    child.start_kill().expect("SIGKILL"); // tokio's kill is SIGKILL on Unix
    let status = child.wait().await.expect("reap");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_in_the_middle_of_a_write_converges_after_restart_without_resending() {
    let slack = FakeSlack::start(TestClock::new()).await;
    let token = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("caret.sqlite3");

    let mut first = driver(&db, &slack, &token, "in_call");
    eventually(
        "Slack shows the first state",
        SOON,
        || slack.status(&token).text,
        |t| t == "In a call",
    )
    .await;
    kill_9(&mut first).await;

    // The next write reaches Slack and is applied, but its answer never comes back: kill -9 right then.
    slack.inject(Fault::hang(Duration::from_secs(120), 1).on(SET));
    let mut second = driver(&db, &slack, &token, "in_vehicle");
    eventually(
        "the write reached Slack",
        SOON,
        || slack.status(&token).text,
        |t| t == "Driving",
    )
    .await;
    kill_9(&mut second).await;
    {
        let store = Store::open(&db).expect("open after the crash");
        let workspace = store.workspaces().expect("workspaces")[0].id;
        assert!(
            store.sync_state(workspace).expect("state").in_flight.is_some(),
            "the write was in flight"
        );
        assert_eq!(store.integrity_check().expect("check"), "ok");
    }
    let writes = slack.accepted(SET);

    let mut third = driver(&db, &slack, &token, "in_vehicle");
    let store = Store::open(&db).expect("open");
    let workspace = store.workspaces().expect("workspaces")[0].id;
    eventually(
        "the restarted engine settles the in-flight write",
        SOON,
        || {
            store
                .sync_state(workspace)
                .map(|s| s.in_flight.is_none())
                .unwrap_or(false)
        },
        |settled| *settled,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(slack.status(&token).text, "Driving", "converged");
    assert_eq!(
        slack.accepted(SET),
        writes,
        "Slack already had it: not sent twice"
    );
    assert!(
        slack.count("users.profile.get", "ok") >= 2,
        "it looked before acting"
    );
    assert_eq!(store.integrity_check().expect("check"), "ok");
    kill_9(&mut third).await;
}
