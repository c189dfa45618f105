//! The long-running parts of the app, started once the async runtime runs: the database, the sync engine,
//! the Slack connection and the phones' side, with the tasks that connect them ([`super::tasks`],
//! [`super::notifications`]).

use std::sync::Arc;

use caret_engine::{Engine, EngineConfig, SystemClock};
use caret_slack::SlackClient;
use caret_store::Store;

use crate::error::Result;
use crate::phones::Phones;
use crate::runtime::core::AppCore;
use crate::slack::tokens::KeyringTokens;
use crate::slack::{SignInSettings, Workspaces};
use crate::sources::DesktopSources;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "caret.db";

/// How long one Slack call may take before it counts as failed (and is retried by the engine).
const SLACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Services {
    pub store: Store,
    /// The sync engine: phone states and manual statuses in, Slack statuses out.
    pub engine: Engine,
    /// The Slack connection: workspaces, their tokens, the browser sign-in.
    pub workspaces: Workspaces,
    /// The async runtime the services run on, for work started from the GUI thread.
    pub runtime: tokio::runtime::Handle,
    /// The phones' side: the relay, pairing, the devices, where phones can reach this computer.
    pub phones: Phones,
    /// The desktop's own sources the user turned on (a microphone in use), feeding the engine.
    pub sources: DesktopSources,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("phones", &self.phones)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Opens the database and starts the relay. A relay that cannot start (its port taken) is not fatal:
    /// the app runs on, says why, and phones cannot connect until it is fixed.
    pub async fn start(core: &AppCore) -> Result<Services> {
        let paths = &core.config().paths;
        let store = Store::open(&paths.data_dir.join(DATABASE_FILE))?;
        let slack = SlackClient::new(core.config().slack_api_url.clone(), SLACK_TIMEOUT)?;
        let tokens = KeyringTokens::new(store.clone(), slack.clone());
        let engine = Engine::start(EngineConfig::new(
            slack.clone(),
            store.clone(),
            Arc::new(SystemClock),
            tokens.clone(),
        ))?;
        let phones = Phones::start(core.config(), store.clone()).await;
        let workspaces = Workspaces::new(
            store.clone(),
            engine.clone(),
            slack,
            tokens,
            SignInSettings {
                port: core.config().oauth_port,
                browser: core.config().browser.clone(),
            },
        );
        let wanted_sources = crate::preferences::load_or_reset(paths)
            .map(|preferences| preferences.sources)
            .unwrap_or_default();
        let sources = DesktopSources::start(engine.clone(), wanted_sources, paths);
        super::tasks::spawn_desktop_signals(core.clone(), sources.signals());
        let services = Services {
            store,
            engine,
            workspaces,
            runtime: tokio::runtime::Handle::current(),
            phones,
            sources,
        };
        if let Ok(relay) = services.phones.relay() {
            super::tasks::spawn_phone_feed(
                core.clone(),
                services.store.clone(),
                services.engine.clone(),
                relay.phone_feed(),
                relay.events(),
            );
            super::tasks::spawn_status_push(
                core.clone(),
                services.store.clone(),
                services.engine.subscribe(),
                relay,
            );
            super::notifications::spawn_relay_events(core.clone(), relay.events(), services.phones.clone());
        }
        super::notifications::spawn_engine_notifications(core.clone(), services.engine.subscribe());
        let paused = services
            .store
            .load_input::<bool>(caret_engine::PAUSED_KEY)
            .ok()
            .flatten()
            .unwrap_or(false);
        core.update(|snapshot| snapshot.paused = paused);
        services.workspaces.changed();
        super::tasks::spawn_workspace_refresh(
            core.clone(),
            services.store.clone(),
            services.engine.subscribe(),
            services.workspaces.changes(),
        );
        // A manual status set before a restart still shows in the tray until it ends.
        let persisted = services
            .store
            .load_input::<Option<caret_core::ManualStatus>>(caret_engine::MANUAL_KEY)
            .ok()
            .flatten()
            .flatten()
            .filter(|manual| manual.is_active(chrono::Utc::now()));
        if persisted.is_some() {
            crate::runtime::apply::show_manual(core, persisted);
        }
        Ok(services)
    }

    /// Stops cleanly: the sync engine first (so that the phones leaving is not taken for the phone going
    /// offline, and the phone's state is recorded as still holding for the next start), then the relay
    /// (phones are told `shutting_down`).
    pub async fn stop(&self) {
        self.engine.shutdown().await;
        self.phones.stop().await;
    }
}
