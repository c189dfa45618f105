//! Runs the sync engine as a process of its own, so that tests can `kill -9` it in the middle of a call.
//!
//!   CARET_TEST_TOKEN=xoxp-… engine-driver DB_PATH SLACK_API_URL STATE
//!
//! One workspace ("Acme", Trusted) with the token from the environment; the phone reports STATE (a wire name
//! such as `in_call`). Prints "engine-driver ready" to stderr and runs until killed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use caret_core::{CaretState, SharingPolicy, StateKind, WorkspaceSettings};
use caret_engine::{Clock, Engine, EngineConfig, StaticTokens, SystemClock};
use caret_slack::{SlackClient, SlackToken};
use caret_store::Store;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(db), Some(url), Some(state)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: CARET_TEST_TOKEN=… engine-driver DB_PATH SLACK_API_URL STATE");
        return ExitCode::from(64);
    };
    let Some(state) = StateKind::parse(state).and_then(CaretState::without_details) else {
        eprintln!("engine-driver: unknown state {state:?}");
        return ExitCode::from(64);
    };
    let Some(token) = std::env::var("CARET_TEST_TOKEN")
        .ok()
        .and_then(|raw| SlackToken::parse(&raw))
    else {
        eprintln!("engine-driver: CARET_TEST_TOKEN must hold a user token");
        return ExitCode::from(64);
    };
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async move {
        let store = match Store::open(std::path::Path::new(db)) {
            Ok(store) => store,
            Err(error) => {
                eprintln!("engine-driver: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut settings = WorkspaceSettings::default();
        settings.policy.choose(SharingPolicy::Trusted);
        let clock = SystemClock;
        let Ok(id) = store.upsert_workspace("T-Acme", "U1", "Acme", "ada", &settings, clock.now_ms()) else {
            return ExitCode::FAILURE;
        };
        let tokens = StaticTokens::default();
        tokens.insert(id, token);
        let Ok(base) = url.parse() else {
            return ExitCode::from(64);
        };
        let Ok(client) = SlackClient::new(base, Duration::from_secs(30)) else {
            return ExitCode::FAILURE;
        };
        let config = EngineConfig::new(client, store, Arc::new(clock), Arc::new(tokens));
        let Ok(engine) = Engine::start(config) else {
            return ExitCode::FAILURE;
        };
        if engine.set_phone_state(Some(state)).is_err() {
            return ExitCode::FAILURE;
        }
        eprintln!("engine-driver ready");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    })
}
