//! Slack tokens from the OS keyring (the Secret Service on Linux): the only place they live. The engine
//! asks for a workspace's token at each call; the answer is kept in memory so that a sync does not make a
//! D-Bus round trip, and dropped when the keyring has none (a disconnected workspace).
//!
//! Rotating tokens (from "Sign in with Slack" on an app with token rotation) are refreshed here: ahead of
//! their expiry by [`spawn_rotation`], and once when Slack calls one expired anyway (the engine asks through
//! [`TokenSource::refresh`]). One refresh runs at a time, since a refresh token can be spent only once.

use std::collections::HashMap;
use std::sync::Mutex;

use caret_engine::TokenSource;
use caret_engine::tokens::RefreshFuture;
use caret_slack::{SlackClient, SlackToken};
use caret_store::{LogKind, NewLogEntry, Store, WorkspaceId};

use crate::credentials::{self, Credentials};
use crate::error::{AppError, Result};

pub use crate::credentials::{KEYRING_SERVICE, keyring_account};

/// [`TokenSource`] over the OS keyring.
pub struct KeyringTokens {
    store: Store,
    slack: SlackClient,
    cache: Mutex<HashMap<WorkspaceId, Credentials>>,
    /// Held across a whole refresh (Slack's answer and the keyring write), hence tokio's mutex.
    refreshing: tokio::sync::Mutex<()>,
    /// Rung when credentials change, so that the refresh schedule is planned again.
    changed: tokio::sync::Notify,
}

impl std::fmt::Debug for KeyringTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringTokens(…)")
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Slack issued a new pair; the access token expires at this Unix second (`None`: it no longer expires).
    Renewed { expires_at: Option<i64> },
    /// Another refresh had already renewed it.
    AlreadyFresh,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl KeyringTokens {
    pub fn new(store: Store, slack: SlackClient) -> KeyringTokens {
        KeyringTokens {
            store,
            slack,
            cache: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceId, Credentials>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn account(&self, workspace: WorkspaceId) -> Result<String> {
        let record = self.store.workspace(workspace)?;
        Ok(keyring_account(&record.team_id, &record.user_id))
    }

    fn read(&self, workspace: WorkspaceId) -> Option<Credentials> {
        let account = self
            .account(workspace)
            .inspect_err(|error| tracing::warn!("workspace {workspace}: {error}"))
            .ok()?;
        match credentials::read_blocking(&account) {
            Ok(Some(credentials)) => Some(credentials),
            Ok(None) => {
                tracing::info!("no token in the keyring for {account}");
                None
            }
            Err(error) => {
                tracing::warn!("cannot read {account} from the keyring: {error}");
                None
            }
        }
    }

    /// The workspace's credentials, from memory or the keyring.
    fn credentials(&self, workspace: WorkspaceId) -> Option<Credentials> {
        if let Some(credentials) = self.cache().get(&workspace).cloned() {
            return Some(credentials);
        }
        let credentials = blocking(|| self.read(workspace))?;
        self.cache().insert(workspace, credentials.clone());
        self.changed.notify_one();
        Some(credentials)
    }

    /// Remembers credentials just written to the keyring (a connection or a refresh).
    pub fn remember(&self, workspace: WorkspaceId, credentials: Credentials) {
        self.cache().insert(workspace, credentials);
        self.changed.notify_one();
    }

    /// Drops what is remembered of a workspace's token (it was replaced or removed in the keyring).
    pub fn forget(&self, workspace: WorkspaceId) {
        self.cache().remove(&workspace);
        self.changed.notify_one();
    }

    /// Whether the workspace's token renews itself (known once it has been read).
    pub fn rotates(&self, workspace: WorkspaceId) -> bool {
        self.cache()
            .get(&workspace)
            .is_some_and(|credentials| credentials.rotation.is_some())
    }

    /// When each remembered rotating token is due for a refresh (Unix seconds).
    fn schedule(&self) -> Vec<(WorkspaceId, i64)> {
        self.cache()
            .iter()
            .filter_map(|(id, credentials)| Some((*id, credentials.rotation.as_ref()?.refresh_at)))
            .collect()
    }

    /// Trades the refresh token for a new pair and keeps it, replacing the old pair in one keyring write.
    /// With `stale` (the token Slack refused as expired), a refresh that another caller already made counts;
    /// without it (the schedule), a token not yet due is left alone.
    pub async fn refresh_now(&self, workspace: WorkspaceId, stale: Option<&SlackToken>) -> Result<Refreshed> {
        let _one_at_a_time = self.refreshing.lock().await;
        let account = self.account(workspace)?;
        // The keyring is the truth: another process may not share our memory, but it shares the keyring.
        let current = credentials::read(account.clone())
            .await?
            .ok_or_else(|| AppError::Keyring(format!("no token in the keyring for {account}")))?;
        let Some(rotation) = current.rotation.clone() else {
            return Err(AppError::Refused(
                "this workspace's token does not rotate; there is nothing to refresh".into(),
            ));
        };
        let now = unix_now();
        let already_renewed = match stale {
            Some(stale) => current.access_token != *stale,
            None => rotation.refresh_at > now,
        };
        if already_renewed {
            self.remember(workspace, current);
            return Ok(Refreshed::AlreadyFresh);
        }
        let grant = self
            .slack
            .oauth_refresh(&rotation.client_id, &rotation.refresh_token)
            .await?;
        let fresh = Credentials::from_grant(&grant, &rotation.client_id, now);
        let expires_at = fresh.rotation.as_ref().map(|rotation| rotation.expires_at);
        // In memory first: from Slack's answer on, the new pair is the only one that works.
        self.remember(workspace, fresh.clone());
        credentials::store(account, &fresh).await.inspect_err(|error| {
            tracing::error!(
                workspace,
                "the refreshed token works for this run but could not be kept in the keyring: {error}"
            );
        })?;
        Ok(Refreshed::Renewed { expires_at })
    }

    fn note(&self, workspace: WorkspaceId, outcome: String, error: Option<String>) {
        let team = self.store.workspace(workspace).ok().map(|w| w.team_name);
        let entry = NewLogEntry {
            at_ms: chrono::Utc::now().timestamp_millis(),
            kind: Some(LogKind::Note),
            source: "engine".to_owned(),
            workspace_id: Some(workspace),
            workspace: team,
            method: Some(caret_slack::SlackMethod::OAuthV2Access.as_str().to_owned()),
            outcome,
            error,
            ..NewLogEntry::default()
        };
        if let Err(error) = self.store.append_log(&entry) {
            tracing::error!("cannot write the sync log: {error}");
        }
    }
}

/// Runs a blocking keyring call (D-Bus, maybe an unlock prompt) without stalling the async runtime's other
/// tasks: on a multi-threaded runtime the thread is handed over while it waits.
pub fn blocking<T>(call: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

impl TokenSource for KeyringTokens {
    fn token(&self, workspace: WorkspaceId) -> Option<SlackToken> {
        self.credentials(workspace)
            .map(|credentials| credentials.access_token)
    }

    fn can_refresh(&self, workspace: WorkspaceId) -> bool {
        self.rotates(workspace)
    }

    fn refresh(&self, workspace: WorkspaceId, stale: SlackToken) -> Option<RefreshFuture<'_>> {
        if !self.rotates(workspace) {
            return None;
        }
        Some(Box::pin(async move {
            let result = self.refresh_now(workspace, Some(&stale)).await;
            self.log_refresh(workspace, &result);
            result
                .map(|_| ())
                .map_err(|error| caret_engine::EngineError::TokenRefresh(error.to_string()))
        }))
    }
}

impl KeyringTokens {
    fn log_refresh(&self, workspace: WorkspaceId, result: &Result<Refreshed>) {
        match result {
            Ok(Refreshed::Renewed { expires_at }) => {
                let until = expires_at
                    .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
                    .map(|at| {
                        format!(
                            "; the new one expires at {}",
                            at.with_timezone(&chrono::Local).format("%H:%M")
                        )
                    })
                    .unwrap_or_default();
                self.note(workspace, format!("token refreshed{until}"), None);
            }
            Ok(Refreshed::AlreadyFresh) => {}
            Err(error) => self.note(
                workspace,
                "token refresh failed".to_owned(),
                Some(error.to_string()),
            ),
        }
    }
}

/// How long to wait before trying a failed scheduled refresh again (the token still works meanwhile).
const RETRY_AFTER_FAILURE_SECS: i64 = 60;

/// Refreshes every rotating token ahead of its expiry, for as long as the app runs. A refresh that fails is
/// tried again a minute later until the token expires; then the engine's own one refresh on `token_expired`
/// decides, and a refusal there asks the user to reconnect.
pub fn spawn_rotation(tokens: std::sync::Arc<KeyringTokens>) {
    tokio::spawn(async move {
        // Read every connected workspace's credentials once, so that their expiries are known.
        let connected: Vec<WorkspaceId> = tokens
            .store
            .workspaces()
            .map(|workspaces| {
                workspaces
                    .into_iter()
                    .filter(|w| w.connected)
                    .map(|w| w.id)
                    .collect()
            })
            .unwrap_or_default();
        for workspace in connected {
            let _ = tokens.credentials(workspace);
        }
        // A failed refresh is not tried again before this (per workspace and due time).
        let mut not_before: HashMap<(WorkspaceId, i64), i64> = HashMap::new();
        loop {
            let now = unix_now();
            let schedule = tokens.schedule();
            not_before.retain(|key, _| schedule.contains(key));
            let due_at = |not_before: &HashMap<(WorkspaceId, i64), i64>, entry: &(WorkspaceId, i64)| {
                entry.1.max(not_before.get(entry).copied().unwrap_or(0))
            };
            let due: Vec<(WorkspaceId, i64)> = schedule
                .iter()
                .filter(|entry| due_at(&not_before, entry) <= now)
                .copied()
                .collect();
            for entry in &due {
                let (workspace, _) = *entry;
                let result = tokens.refresh_now(workspace, None).await;
                tokens.log_refresh(workspace, &result);
                if result.is_err() {
                    not_before.insert(*entry, now + RETRY_AFTER_FAILURE_SECS);
                }
            }
            let next = tokens
                .schedule()
                .iter()
                .map(|entry| due_at(&not_before, entry))
                .min();
            // At most a minute asleep: tokio's clock stops while a laptop is suspended, the wall clock does not.
            let wait = next.map_or(60, |at| (at - unix_now()).clamp(1, 60));
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())) => {}
                () = tokens.changed.notified() => {}
            }
        }
    });
}
