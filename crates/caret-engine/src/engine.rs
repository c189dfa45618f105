//! [`Engine`]: the handle the app holds. Each method sends a command to the coordinator task behind it
//! ([`crate::coordinator`]) and returns at once.

use std::sync::Arc;
use std::time::Duration;

use caret_core::{CaretState, DesktopSignals, ManualStatus, WorkspaceSettings};
use caret_slack::SlackClient;
use caret_store::{Retention, Store, WorkspaceId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::budget::BudgetKind;
use crate::clock::Clock;
use crate::coordinator::{Command, Coordinator};
use crate::durability::SyncInputs;
use crate::error::{EngineError, Result};
use crate::events::EngineEvent;
use crate::source::Source;
use crate::tokens::TokenSource;

/// Everything the engine needs, with defaults for the timings.
pub struct EngineConfig {
    pub slack: SlackClient,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub tokens: Arc<dyn TokenSource>,
    /// Overwrite statuses set outside Caret Desktop. Off by default: we never clobber.
    pub always_override: bool,
    /// First retry delay after a transient failure; doubles up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How often to look again whether a status set outside Caret Desktop is gone.
    pub foreign_recheck: Duration,
    /// After failing this long, tell the user Slack is unreachable.
    pub unreachable_after: Duration,
    /// A persisted phone state older than this at start is stale: the phone will report again.
    pub phone_state_max_age: Duration,
    /// How much sync log to keep; pruned at start and every `prune_every`.
    pub retention: Retention,
    pub prune_every: Duration,
    /// The per-user write budget (burst, one more every): see [`crate::Budget`]. Only benchmarks change it.
    pub profile_budget: (u32, Duration),
    /// The budget of `users.setPresence` (Slack's tier 2), the same way.
    pub presence_budget: (u32, Duration),
    /// How the inputs committed so far reach the disk; `None`: [`Store::sync_to_disk`]. The tests hold it back
    /// to show that no write to Slack leaves before it.
    pub sync_inputs: Option<SyncInputs>,
}

impl EngineConfig {
    pub fn new(
        slack: SlackClient,
        store: Store,
        clock: Arc<dyn Clock>,
        tokens: Arc<dyn TokenSource>,
    ) -> Self {
        EngineConfig {
            slack,
            store,
            clock,
            tokens,
            always_override: false,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            foreign_recheck: Duration::from_secs(60),
            unreachable_after: Duration::from_secs(180),
            phone_state_max_age: Duration::from_secs(30 * 60),
            retention: Retention::default(),
            prune_every: Duration::from_secs(3600),
            profile_budget: BudgetKind::ProfileWrites.default_limits(),
            presence_budget: BudgetKind::Presence.default_limits(),
            sync_inputs: None,
        }
    }
}
/// Where the engine keeps the manual status among its persisted inputs (the app reads it at start).
pub const MANUAL_KEY: &str = "manual";
/// Where the engine keeps whether syncing is paused (the app reads it at start to show it in the tray).
pub const PAUSED_KEY: &str = "paused";

/// A handle on the running engine. Clones share the engine; every method returns at once.
#[derive(Clone)]
pub struct Engine {
    commands: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<EngineEvent>,
}

impl Engine {
    /// Loads the persisted inputs and the connected workspaces, and starts a worker for each.
    pub fn start(config: EngineConfig) -> Result<Engine> {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(256);
        let coordinator = Coordinator::load(config, events.clone())?;
        tokio::spawn(coordinator.run(receiver));
        Ok(Engine { commands, events })
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| EngineError::Stopped)
    }

    /// The phone's state; `None` when the phone is gone (offline).
    pub fn set_phone_state(&self, state: Option<CaretState>) -> Result<()> {
        self.send(Command::Phone(state, None, Source::Phone))
    }

    /// The phone's state when it holds only until `until` by itself (posted over HTTPS for a time): kept
    /// across a restart no longer than that.
    pub fn set_phone_state_until(
        &self,
        state: Option<CaretState>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        self.send(Command::Phone(
            state,
            until.map(|until| until.timestamp_millis()),
            Source::Phone,
        ))
    }

    /// A status set by the user (wins over the phone until it ends), or `None` to clear it.
    pub fn set_manual(&self, manual: Option<ManualStatus>, source: Source) -> Result<()> {
        self.send(Command::Manual(manual, source))
    }

    /// What the desktop's own sources see now (each source's whole reading, not a change). Not kept across a
    /// restart: the sources look again when they start.
    pub fn set_desktop_signals(&self, signals: DesktopSignals) -> Result<()> {
        self.send(Command::Desktop(signals))
    }

    /// New settings for a workspace (policy, templates…); they are saved and take effect at once.
    pub fn set_settings(
        &self,
        workspace: WorkspaceId,
        settings: WorkspaceSettings,
        source: Source,
    ) -> Result<()> {
        self.send(Command::Settings(workspace, settings, source))
    }

    /// Pause stops all writes; resume sends what is due.
    pub fn set_paused(&self, paused: bool, source: Source) -> Result<()> {
        self.send(Command::Paused(paused, source))
    }

    /// Starts (or restarts, after reconnecting) syncing a workspace already in the store.
    pub fn start_workspace(&self, workspace: WorkspaceId) -> Result<()> {
        self.send(Command::StartWorkspace(workspace))
    }

    pub fn stop_workspace(&self, workspace: WorkspaceId) -> Result<()> {
        self.send(Command::StopWorkspace(workspace))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Stops every worker. A write under way is abandoned; its in-flight record lets the next start settle it.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).is_ok() {
            let _ = wait.await;
        }
    }
}
