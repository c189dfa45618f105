//! The coordinator task behind [`crate::Engine`]: it owns the inputs (phone state, manual status, what the
//! desktop's sources see, pause) and each workspace's settings. On every change it persists the input, writes
//! an input row to the sync log, and publishes a new [`Target`] to each workspace's worker through a `watch`
//! channel. A `watch` holds only the latest value, which is exactly the coalescing the engine needs: a worker
//! busy waiting for Slack or its budget picks up whatever is current when it is ready, never a backlog.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use caret_core::{CaretState, DesktopSignals, ManualStatus, StateKind, WorkspaceSettings};
use caret_slack::SlackClient;
use caret_store::{LogKind, NewLogEntry, Retention, Store, WorkspaceId};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::budget::{AttemptLog, BudgetKind, SharedBudget, WorkspaceLimits};
use crate::clock::Clock;
use crate::durability::{InputsOnDisk, SyncInputs};
use crate::engine::{EngineConfig, MANUAL_KEY, PAUSED_KEY};
use crate::error::Result;
use crate::events::EngineEvent;
use crate::source::Source;
use crate::tokens::TokenSource;
use crate::worker::{self, WorkerContext};

const PHONE_KEY: &str = "phone";

/// What a worker should make Slack show: the inputs and the workspace's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub phone: Option<CaretState>,
    pub manual: Option<ManualStatus>,
    /// What the desktop's own sources see (a microphone in use, a calendar event, the screen locked).
    pub desktop: DesktopSignals,
    pub settings: WorkspaceSettings,
    pub paused: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PhoneRecord {
    state: Option<CaretState>,
    /// When this was last known to be the phone's state: when it came, or when the app stopped cleanly with
    /// it still holding.
    at_ms: i64,
    /// When the state stops holding by itself (a state posted over HTTPS, for its `for_secs`); `None` for a
    /// state that holds while its phone is connected.
    #[serde(default)]
    holds_until_ms: Option<i64>,
}

pub(crate) enum Command {
    /// The phone's state, and when it stops holding by itself (Unix ms), if it does.
    Phone(Option<CaretState>, Option<i64>, Source),
    Manual(Option<ManualStatus>, Source),
    Desktop(DesktopSignals),
    Settings(WorkspaceId, WorkspaceSettings, Source),
    Paused(bool, Source),
    StartWorkspace(WorkspaceId),
    StopWorkspace(WorkspaceId),
    Shutdown(oneshot::Sender<()>),
}
struct WorkerHandle {
    target: watch::Sender<Target>,
    task: JoinHandle<()>,
}

pub(crate) struct Coordinator {
    config: Arc<WorkerContextShared>,
    retention: Retention,
    prune_every: Duration,
    phone: Option<CaretState>,
    /// When the phone's state stops holding by itself (an HTTPS post's end), if it does.
    phone_holds_until: Option<i64>,
    /// The phone state was restored at start and no phone has reported since: it holds until this time
    /// (wall-clock ms), then the phone counts as offline.
    restored_phone_until: Option<i64>,
    manual: Option<ManualStatus>,
    desktop: DesktopSignals,
    paused: bool,
    workers: HashMap<WorkspaceId, WorkerHandle>,
    /// Per workspace, outliving its workers (and rebuilt from the database at start).
    limits: HashMap<WorkspaceId, WorkspaceLimits>,
    sync_inputs: SyncInputs,
}

/// What every worker shares.
pub(crate) struct WorkerContextShared {
    pub slack: SlackClient,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub tokens: Arc<dyn TokenSource>,
    pub events: broadcast::Sender<EngineEvent>,
    pub always_override: bool,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub foreign_recheck: Duration,
    pub unreachable_after: Duration,
    pub profile_budget: (u32, Duration),
    pub presence_budget: (u32, Duration),
    /// Whether the inputs so far are on the disk: a write to Slack waits for it.
    pub inputs_on_disk: Arc<InputsOnDisk>,
}

impl Coordinator {
    pub(crate) fn load(config: EngineConfig, events: broadcast::Sender<EngineEvent>) -> Result<Coordinator> {
        let store = config.store.clone();
        let now_ms = config.clock.now_ms();
        let max_age_ms = i64::try_from(config.phone_state_max_age.as_millis()).unwrap_or(i64::MAX);
        // Kept at most `phone_state_max_age` after it was last known to hold, and never past its own end.
        let restored = store.load_input::<PhoneRecord>(PHONE_KEY)?.and_then(|record| {
            let until = record
                .at_ms
                .saturating_add(max_age_ms)
                .min(record.holds_until_ms.unwrap_or(i64::MAX));
            (until > now_ms).then_some((record.state?, until, record.holds_until_ms))
        });
        let restored_phone_until = restored.as_ref().map(|(_, until, _)| *until);
        let phone_holds_until = restored.as_ref().and_then(|(_, _, holds)| *holds);
        let phone = restored.map(|(state, ..)| state);
        let manual = store.load_input::<Option<ManualStatus>>(MANUAL_KEY)?.flatten();
        let paused = store.load_input::<bool>(PAUSED_KEY)?.unwrap_or(false);
        let shared = Arc::new(WorkerContextShared {
            slack: config.slack,
            store,
            clock: config.clock,
            tokens: config.tokens,
            events,
            always_override: config.always_override,
            retry_base: config.retry_base,
            retry_cap: config.retry_cap,
            foreign_recheck: config.foreign_recheck,
            unreachable_after: config.unreachable_after,
            profile_budget: config.profile_budget,
            presence_budget: config.presence_budget,
            inputs_on_disk: InputsOnDisk::new(),
        });
        let sync_inputs = config.sync_inputs.unwrap_or_else(|| {
            let store = shared.store.clone();
            Arc::new(move || store.sync_to_disk())
        });
        let mut coordinator = Coordinator {
            config: shared,
            retention: config.retention,
            prune_every: config.prune_every,
            phone,
            phone_holds_until,
            restored_phone_until,
            manual,
            desktop: DesktopSignals::default(),
            paused,
            workers: HashMap::new(),
            limits: HashMap::new(),
            sync_inputs,
        };
        // An input the last run committed but did not live to sync is on the disk before any write follows it.
        if let Err(error) = (coordinator.sync_inputs)() {
            tracing::error!("the inputs restored are not on the disk: {error}");
        }
        for workspace in coordinator.config.store.workspaces()? {
            if workspace.connected {
                coordinator.start_worker(workspace.id, workspace.settings, workspace.team_name);
            }
        }
        Ok(coordinator)
    }

    fn target(&self, settings: WorkspaceSettings) -> Target {
        Target {
            phone: self.phone.clone(),
            manual: self.manual.clone(),
            desktop: self.desktop.clone(),
            settings,
            paused: self.paused,
        }
    }

    /// Starts a workspace's worker. Any previous one must be stopped first ([`Coordinator::stop_worker`]).
    fn start_worker(&mut self, id: WorkspaceId, settings: WorkspaceSettings, team: String) {
        let shared = &self.config;
        let limits = self
            .limits
            .entry(id)
            .or_insert_with(|| {
                let log = AttemptLog {
                    store: shared.store.clone(),
                    workspace: id,
                    clock: shared.clock.clone(),
                };
                WorkspaceLimits::new(
                    SharedBudget::recorded(BudgetKind::ProfileWrites, shared.profile_budget, log.clone()),
                    SharedBudget::recorded(BudgetKind::Presence, shared.presence_budget, log.clone()),
                    SharedBudget::recorded(BudgetKind::Dnd, BudgetKind::Dnd.default_limits(), log),
                )
            })
            .clone();
        let (target, receiver) = watch::channel(self.target(settings));
        let context = WorkerContext {
            id,
            team,
            shared: self.config.clone(),
            limits,
        };
        let task = tokio::spawn(worker::run(context, receiver));
        self.workers.insert(id, WorkerHandle { target, task });
    }

    /// Stops a workspace's worker and waits until it has, so that a new one never overlaps with it.
    async fn stop_worker(&mut self, id: WorkspaceId) {
        if let Some(old) = self.workers.remove(&id) {
            old.task.abort();
            let _ = old.task.await;
        }
    }

    fn publish(&self) {
        for handle in self.workers.values() {
            handle.target.send_if_modified(|target| {
                let next = Target {
                    settings: target.settings.clone(),
                    ..self.target(WorkspaceSettings::default())
                };
                let changed = *target != next;
                *target = next;
                changed
            });
        }
    }

    /// The sync log's row for an input.
    fn input_row(
        &self,
        source: Source,
        state: Option<String>,
        policy: Option<String>,
        workspace: Option<WorkspaceId>,
        outcome: &str,
    ) -> NewLogEntry {
        NewLogEntry {
            at_ms: self.config.clock.now_ms(),
            kind: Some(LogKind::Input),
            source: source.as_str().to_owned(),
            workspace_id: workspace,
            // The name as well as the id, so the log reads "Acme" and stays readable after a disconnect.
            workspace: workspace
                .and_then(|id| self.config.store.workspace(id).ok().map(|found| found.team_name)),
            state,
            policy,
            outcome: outcome.to_owned(),
            ..NewLogEntry::default()
        }
    }

    fn log(&self, row: &NewLogEntry) {
        match self.config.store.append_log(row) {
            Ok(id) => drop(self.config.events.send(EngineEvent::Logged { id })),
            Err(error) => tracing::error!("cannot write the sync log: {error}"),
        }
    }

    /// Saves an input and its sync-log row in one commit, before any worker acts on it; the commit goes to
    /// the disk beside the workers' looks at Slack, and their writes wait for it (see [`InputsOnDisk`]).
    fn persist<T: Serialize>(&self, key: &str, value: &T, row: &NewLogEntry) {
        let now_ms = self.config.clock.now_ms();
        match self.config.store.save_input_with_log(key, value, now_ms, row) {
            Ok(id) => {
                let sync = self.sync_inputs.clone();
                self.config.inputs_on_disk.sync_in_background(
                    move || sync(),
                    |error| tracing::error!("an input is committed but the disk refused it: {error}"),
                );
                drop(self.config.events.send(EngineEvent::Logged { id }));
            }
            Err(error) => {
                tracing::error!(key, "cannot save an input: {error}");
                // The input still counts (it is acted on); its row is kept if the log can take it.
                self.log(row);
            }
        }
    }

    fn prune_log(&self) {
        match self
            .config
            .store
            .prune_log(self.retention, self.config.clock.now_ms())
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "sync log pruned"),
            Err(error) => tracing::error!("cannot prune the sync log: {error}"),
        }
    }

    /// How long until the restored phone state runs out, checked at least every minute (tokio's clock stops
    /// while a laptop sleeps; the wall clock does not).
    fn restored_phone_check(&self) -> Option<Duration> {
        let until = self.restored_phone_until?;
        let left = u64::try_from(until - self.config.clock.now_ms()).unwrap_or(0);
        Some(Duration::from_millis(left).min(Duration::from_secs(60)))
    }

    /// No phone reported since the start and the state restored from before it has run out.
    fn drop_restored_phone(&mut self) {
        let Some(until) = self.restored_phone_until else {
            return;
        };
        if self.config.clock.now_ms() < until {
            return;
        }
        self.restored_phone_until = None;
        let row = self.input_row(
            Source::Engine,
            Some("offline".to_owned()),
            None,
            None,
            "the phone has not reported since the restart: its last state no longer holds",
        );
        self.persist(
            PHONE_KEY,
            &PhoneRecord {
                state: None,
                at_ms: self.config.clock.now_ms(),
                holds_until_ms: None,
            },
            &row,
        );
        self.phone = None;
        self.phone_holds_until = None;
        self.publish();
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut prune = tokio::time::interval(self.prune_every);
        loop {
            let restored_check = self.restored_phone_check();
            let command = tokio::select! {
                command = commands.recv() => command,
                _ = prune.tick() => {
                    self.prune_log();
                    continue;
                }
                () = tokio::time::sleep(restored_check.unwrap_or_default()), if restored_check.is_some() => {
                    self.drop_restored_phone();
                    continue;
                }
            };
            let Some(command) = command else { return };
            if !self.carry_out(command).await {
                return;
            }
        }
    }

    /// One command from the handles; `false` once it was the shutdown.
    async fn carry_out(&mut self, command: Command) -> bool {
        match command {
            Command::Phone(state, holds_until_ms, source) => {
                self.phone_reported(state, holds_until_ms, source)
            }
            Command::Manual(manual, source) => {
                let described = manual.as_ref().map(|m| m.state.kind().as_str().to_owned());
                let outcome = if manual.is_some() {
                    "manual status set"
                } else {
                    "manual status cleared"
                };
                let row = self.input_row(source, described, None, None, outcome);
                self.persist(MANUAL_KEY, &manual, &row);
                self.manual = manual;
                self.publish();
            }
            Command::Desktop(signals) => self.desktop_reported(signals),
            Command::Paused(paused, source) => {
                let outcome = if paused {
                    "syncing paused"
                } else {
                    "syncing resumed"
                };
                let row = self.input_row(source, None, None, None, outcome);
                self.persist(PAUSED_KEY, &paused, &row);
                self.paused = paused;
                self.publish();
            }
            Command::Settings(id, settings, source) => self.settings_changed(id, settings, source),
            Command::StartWorkspace(id) => match self.config.store.workspace(id) {
                Ok(workspace) => {
                    self.stop_worker(id).await;
                    self.start_worker(id, workspace.settings, workspace.team_name);
                }
                Err(error) => tracing::error!(workspace = id, "cannot start syncing: {error}"),
            },
            Command::StopWorkspace(id) => self.stop_worker(id).await,
            Command::Shutdown(done) => {
                self.shut_down().await;
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    /// A phone reported (or the app saw every phone leave): the restored state is replaced.
    fn phone_reported(&mut self, state: Option<CaretState>, holds_until_ms: Option<i64>, source: Source) {
        self.restored_phone_until = None;
        let described = state.as_ref().map_or("offline", |s| s.kind().as_str()).to_owned();
        let row = self.input_row(source, Some(described), None, None, "phone state");
        self.persist(
            PHONE_KEY,
            &PhoneRecord {
                state: state.clone(),
                at_ms: self.config.clock.now_ms(),
                holds_until_ms,
            },
            &row,
        );
        self.phone = state;
        self.phone_holds_until = holds_until_ms;
        self.publish();
    }

    /// The desktop's sources reported: a row for each source whose reading changed, then the workers see it.
    fn desktop_reported(&mut self, signals: DesktopSignals) {
        let rows: Vec<NewLogEntry> = desktop_changes(&self.desktop, &signals)
            .into_iter()
            .filter(|(_, changed, ..)| *changed)
            .map(|(source, _, state, outcome)| {
                self.input_row(
                    source,
                    state.map(|kind| kind.as_str().to_owned()),
                    None,
                    None,
                    outcome,
                )
            })
            .collect();
        // A reading with no row of its own still counts if it differs (a field added without one).
        if rows.is_empty() && self.desktop == signals {
            return;
        }
        for row in &rows {
            self.log(row);
        }
        self.desktop = signals;
        self.publish();
    }

    /// A workspace's settings changed: saved, logged, and handed to its worker.
    fn settings_changed(&mut self, id: WorkspaceId, settings: WorkspaceSettings, source: Source) {
        if let Err(error) = self.config.store.save_settings(id, &settings) {
            tracing::error!(workspace = id, "cannot save settings: {error}");
            return;
        }
        let policy = format!("{:?}", settings.policy.effective(self.config.clock.now())).to_lowercase();
        self.log(&self.input_row(source, None, Some(policy), Some(id), "settings changed"));
        if let Some(handle) = self.workers.get(&id) {
            let target = self.target(settings);
            handle.target.send_if_modified(|current| {
                let changed = *current != target;
                *current = target;
                changed
            });
        }
    }

    /// Stops every worker; the phone's state still held when the app stopped cleanly is saved with the time
    /// of the stop, so that the next start counts its age from now and a restart does not drop a state the
    /// phone reports for hours.
    async fn shut_down(&mut self) {
        for (_, handle) in self.workers.drain() {
            handle.task.abort();
            let _ = handle.task.await;
        }
        if self.phone.is_some() && self.restored_phone_until.is_none() {
            let now_ms = self.config.clock.now_ms();
            let record = PhoneRecord {
                state: self.phone.clone(),
                at_ms: now_ms,
                holds_until_ms: self.phone_holds_until,
            };
            if let Err(error) = self.config.store.save_input(PHONE_KEY, &record, now_ms) {
                tracing::error!("cannot save the phone's state at the stop: {error}");
            }
        }
    }
}

/// Each of the desktop's readings: its source, whether it changed from `before`, the state it stands for (if
/// any) and the sync log's words for it now.
fn desktop_changes(
    before: &DesktopSignals,
    signals: &DesktopSignals,
) -> [(Source, bool, Option<StateKind>, &'static str); 6] {
    let said = |on: bool, yes: &'static str, no: &'static str| if on { yes } else { no };
    [
        (
            Source::Microphone,
            before.microphone_in_use != signals.microphone_in_use,
            signals.microphone_in_use.then_some(StateKind::InCall),
            said(
                signals.microphone_in_use,
                "microphone in use",
                "microphone no longer in use",
            ),
        ),
        (
            Source::Camera,
            before.camera_in_use != signals.camera_in_use,
            signals.camera_in_use.then_some(StateKind::InCall),
            said(signals.camera_in_use, "camera in use", "camera no longer in use"),
        ),
        (
            Source::ScreenLock,
            before.screen_locked != signals.screen_locked,
            None,
            said(signals.screen_locked, "screen locked: away", "screen unlocked"),
        ),
        (
            Source::Calendar,
            before.calendar_event != signals.calendar_event,
            signals.calendar_event.is_some().then_some(StateKind::Event),
            said(
                signals.calendar_event.is_some(),
                "calendar event now",
                "no calendar event now",
            ),
        ),
        (
            Source::ScreenLock,
            before.away_status != signals.away_status,
            None,
            said(
                signals.away_status,
                "\"Away from the desk\" while locked: on",
                "\"Away from the desk\" while locked: off",
            ),
        ),
        (
            Source::WorkingHours,
            before.off_hours != signals.off_hours,
            None,
            match (before.off_hours, signals.off_hours) {
                (None, Some(_)) => "outside working hours: away",
                // Work began, or the working hours were turned off.
                (Some(_), None) => "no longer off work",
                // The next start moved, or "Off for the day" was turned on or off.
                _ => "working hours changed",
            },
        ),
    ]
}
