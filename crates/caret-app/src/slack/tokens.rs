//! Slack tokens from the OS keyring (the Secret Service on Linux): the only place they live. The engine
//! asks for a workspace's token at each call; the answer is kept in memory so that a sync does not make a
//! D-Bus round trip, and dropped when the keyring has none (a disconnected workspace).
//!
//! Rotating tokens (from "Sign in with Slack" on an app with token rotation) are refreshed here: ahead of
//! their expiry by [`spawn_rotation`], and once when Slack calls one expired anyway (the engine asks through
//! [`TokenSource::refresh`]). One refresh runs at a time, since a refresh token can be spent only once.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use caret_engine::TokenSource;
use caret_engine::tokens::RefreshFuture;
use caret_slack::{Backoff, ErrorClass, SlackClient, SlackToken};
use caret_store::{Store, WorkspaceId};
use parking_lot::Mutex;

use super::credentials::{self, Credentials};
use crate::error::{AppError, Refusal, Result};

pub use super::credentials::{KEYRING_SERVICE, keyring_account};

/// [`TokenSource`] over the OS keyring. Made with [`KeyringTokens::new`], always behind an `Arc`.
pub struct KeyringTokens {
    store: Store,
    slack: SlackClient,
    cache: Mutex<HashMap<WorkspaceId, Remembered>>,
    /// One lock per keyring account, held across every read-change-write of its entry (a refresh with its
    /// Slack call, a connection, a disconnection), so that a refresh never spends a refresh token twice and
    /// never brings back a token that a disconnection deleted. tokio's mutex: held across `.await`.
    accounts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Rung when credentials change, so that the refresh schedule is planned again.
    changed: tokio::sync::Notify,
    /// Itself, for refreshes that run in their own task (a worker stopped mid-refresh must not lose a
    /// refresh Slack has already answered).
    me: Weak<KeyringTokens>,
}

/// Credentials in memory, and whether the keyring has them (a refresh whose keyring write failed works on
/// for this run; the next refresh uses it rather than the spent pair the keyring still holds).
#[derive(Clone)]
struct Remembered {
    credentials: Credentials,
    saved: bool,
}

impl std::fmt::Debug for KeyringTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringTokens(…)")
    }
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Slack issued a new pair; the access token expires at this Unix second (`None`: it no longer expires).
    /// `unsaved`: why the keyring could not keep it (it works for this run).
    Renewed {
        expires_at: Option<i64>,
        unsaved: Option<String>,
    },
    /// Another refresh had already renewed it.
    AlreadyFresh,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Whether a failed refresh may work when tried again (Slack or the keyring in trouble) rather than being a
/// refusal (the refresh token spent or revoked, the workspace gone).
pub fn refresh_may_recover(error: &AppError) -> bool {
    match error {
        AppError::Slack(error) => matches!(error.class(), ErrorClass::Retry | ErrorClass::RetryAfter(_)),
        AppError::Keyring { .. } | AppError::KeyringUnavailable { .. } | AppError::KeyringEmpty { .. } => {
            true
        }
        _ => false,
    }
}

impl KeyringTokens {
    pub fn new(store: Store, slack: SlackClient) -> Arc<KeyringTokens> {
        Arc::new_cyclic(|me| KeyringTokens {
            store,
            slack,
            cache: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
            me: me.clone(),
        })
    }

    fn cache(&self) -> parking_lot::MutexGuard<'_, HashMap<WorkspaceId, Remembered>> {
        self.cache.lock()
    }

    /// Waits for exclusive use of a keyring account's entry.
    pub async fn lock_account(&self, account: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .accounts
            .lock()
            .entry(account.to_owned())
            .or_default()
            .clone();
        lock.lock_owned().await
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
        if let Some(remembered) = self.cache().get(&workspace) {
            return Some(remembered.credentials.clone());
        }
        // A keyring call (D-Bus, maybe an unlock prompt) must not stall the async runtime's other tasks.
        let credentials = caret_store::off_the_async_workers(|| self.read(workspace))?;
        self.cache().insert(
            workspace,
            Remembered {
                credentials: credentials.clone(),
                saved: true,
            },
        );
        self.changed.notify_one();
        Some(credentials)
    }

    /// Remembers credentials just written to the keyring (a connection or a refresh).
    pub fn remember(&self, workspace: WorkspaceId, credentials: Credentials) {
        self.remember_as(workspace, credentials, true);
    }

    fn remember_as(&self, workspace: WorkspaceId, credentials: Credentials, saved: bool) {
        self.cache().insert(workspace, Remembered { credentials, saved });
        self.changed.notify_one();
    }

    /// Drops what is remembered of a workspace's token (it was replaced or removed in the keyring, or the
    /// workspace was disconnected): it is then neither handed out nor refreshed.
    pub fn forget(&self, workspace: WorkspaceId) {
        self.cache().remove(&workspace);
        self.changed.notify_one();
    }

    /// Whether the workspace's token renews itself (known once it has been read).
    pub fn rotates(&self, workspace: WorkspaceId) -> bool {
        self.cache()
            .get(&workspace)
            .is_some_and(|remembered| remembered.credentials.rotation.is_some())
    }

    /// When the workspace's rotating token stops working unless renewed (Unix seconds), as Slack gave it; `None`
    /// for a token that does not expire (or one not read yet).
    pub fn expires_at(&self, workspace: WorkspaceId) -> Option<i64> {
        self.cache()
            .get(&workspace)
            .and_then(|remembered| Some(remembered.credentials.rotation.as_ref()?.expires_at))
    }

    /// When each remembered rotating token is due for a refresh (Unix seconds).
    fn schedule(&self) -> Vec<(WorkspaceId, i64)> {
        self.cache()
            .iter()
            .filter_map(|(id, remembered)| Some((*id, remembered.credentials.rotation.as_ref()?.refresh_at)))
            .collect()
    }

    /// Trades the refresh token for a new pair and keeps it, replacing the old pair in one keyring write.
    /// With `stale` (the token Slack refused as expired), a refresh that another caller already made counts;
    /// without it (the schedule), a token not yet due is left alone.
    pub async fn refresh_now(&self, workspace: WorkspaceId, stale: Option<&SlackToken>) -> Result<Refreshed> {
        let record = self.store.workspace(workspace)?;
        let account = keyring_account(&record.team_id, &record.user_id);
        let _entry = self.lock_account(&account).await;
        if !self.store.workspace(workspace)?.connected {
            self.forget(workspace);
            return Err(AppError::Refused(Refusal::WorkspaceDisconnected));
        }
        // The keyring is the truth, except for a newer pair it could not keep.
        let Some(kept) = credentials::read(account.clone()).await? else {
            self.forget(workspace);
            return Err(AppError::KeyringEmpty { account });
        };
        let unsaved = self
            .cache()
            .get(&workspace)
            .filter(|remembered| !remembered.saved)
            .map(|remembered| remembered.credentials.clone());
        let expiry = |credentials: &Credentials| credentials.rotation.as_ref().map_or(0, |r| r.expires_at);
        let current = match unsaved {
            Some(newer) if expiry(&newer) > expiry(&kept) => newer,
            _ => kept,
        };
        let Some(rotation) = current.rotation.clone() else {
            return Err(AppError::Refused(Refusal::TokenDoesNotRotate));
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
        self.remember_as(workspace, fresh.clone(), false);
        if !grant.scopes.is_empty()
            && let Err(error) = self.store.set_granted_scopes(workspace, &grant.scopes)
        {
            tracing::warn!(workspace, "cannot keep the granted scopes: {error}");
        }
        let unsaved = match credentials::store(account, &fresh).await {
            Ok(()) => {
                self.remember_as(workspace, fresh, true);
                None
            }
            Err(error) => Some(error.to_string()),
        };
        Ok(Refreshed::Renewed { expires_at, unsaved })
    }

    fn note(&self, workspace: WorkspaceId, outcome: String, error: Option<String>) {
        let team = self.store.workspace(workspace).ok().map(|w| w.team_name);
        let entry = super::synclog::app_note(
            workspace,
            team,
            caret_slack::SlackMethod::OAuthV2Access,
            outcome,
            error,
        );
        if let Err(error) = self.store.append_log(&entry) {
            tracing::error!("cannot write the sync log: {error}");
        }
    }

    fn log_refresh(&self, workspace: WorkspaceId, result: &Result<Refreshed>) {
        match result {
            Ok(Refreshed::Renewed { expires_at, unsaved }) => {
                let until = expires_at
                    .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
                    .map(|at| {
                        format!(
                            "; the new one expires at {}",
                            at.with_timezone(&chrono::Local).format("%H:%M")
                        )
                    })
                    .unwrap_or_default();
                match unsaved {
                    None => self.note(workspace, format!("token refreshed{until}"), None),
                    Some(why) => self.note(
                        workspace,
                        format!("token refreshed{until}, but kept in memory only: the keyring refused it"),
                        Some(why.clone()),
                    ),
                }
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
        let me = self.me.upgrade()?;
        // Its own task: if the worker is stopped meanwhile, the refresh still finishes and is kept.
        let refresh = tokio::spawn(async move {
            let result = me.refresh_now(workspace, Some(&stale)).await;
            me.log_refresh(workspace, &result);
            result
        });
        Some(Box::pin(async move {
            match refresh.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(caret_engine::EngineError::TokenRefresh {
                    may_recover: refresh_may_recover(&error),
                    reason: error.to_string(),
                }),
                Err(error) => Err(caret_engine::EngineError::TokenRefresh {
                    may_recover: true,
                    reason: error.to_string(),
                }),
            }
        }))
    }
}

/// The first wait after a scheduled refresh failed in a way that may recover; it doubles up to the cap, with
/// jitter ([`Backoff`]).
const RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_CAP: Duration = Duration::from_secs(30 * 60);

/// A scheduled refresh: the workspace and the Unix second it is due (new credentials, a new due time).
type Due = (WorkspaceId, i64);

/// What became of a scheduled refresh that failed (new credentials, a new due time: a fresh start).
#[derive(Debug, Clone)]
enum Setback {
    /// Try again at this Unix second; `backoff` says how long after the next failure.
    Later { at: i64, backoff: Backoff },
    /// Refused: not tried again; the engine's own refresh on `token_expired` decides, then the user.
    Refused,
}

/// How a scheduled refresh went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshOutcome {
    Renewed,
    /// Slack or the keyring in trouble: tried again later.
    FailedForNow,
    /// Slack refused the refresh token: not tried again.
    Refused,
}

/// The failed refreshes of the rotation schedule, and when each may be tried again.
#[derive(Default)]
struct Setbacks(HashMap<Due, Setback>);

impl Setbacks {
    /// When a scheduled refresh is due now: at its time, or later after a failure; never after a refusal.
    fn due_at(&self, entry: &Due) -> Option<i64> {
        match self.0.get(entry) {
            None => Some(entry.1),
            Some(Setback::Later { at, .. }) => Some(entry.1.max(*at)),
            Some(Setback::Refused) => None,
        }
    }

    /// Records how a refresh went.
    fn record(&mut self, entry: Due, outcome: RefreshOutcome) {
        match outcome {
            RefreshOutcome::Renewed => {
                self.0.remove(&entry);
            }
            RefreshOutcome::FailedForNow => {
                let mut backoff = match self.0.remove(&entry) {
                    Some(Setback::Later { backoff, .. }) => backoff,
                    _ => Backoff::new(RETRY_FIRST, RETRY_CAP),
                };
                let wait = i64::try_from(backoff.next_delay().as_secs()).unwrap_or(i64::MAX);
                let at = unix_now().saturating_add(wait);
                self.0.insert(entry, Setback::Later { at, backoff });
            }
            RefreshOutcome::Refused => {
                self.0.insert(entry, Setback::Refused);
            }
        }
    }
}

/// Refreshes every rotating token ahead of its expiry, for as long as the app runs, each workspace in its own
/// task so that one slow refresh never holds up another. A refresh that may recover is tried again after a
/// doubling wait with jitter (about a minute up to half an hour); a refused one is not tried again: when the
/// token expires the engine's one refresh decides, and a refusal there asks the user to reconnect.
pub fn spawn_rotation(tokens: Arc<KeyringTokens>) {
    tokio::spawn(async move {
        read_expiries(&tokens);
        let mut setbacks = Setbacks::default();
        loop {
            let schedule = tokens.schedule();
            setbacks.0.retain(|key, _| schedule.contains(key));
            let now = unix_now();
            let due = schedule
                .iter()
                .filter(|entry| setbacks.due_at(entry).is_some_and(|at| at <= now));
            let mut refreshes = tokio::task::JoinSet::new();
            for &(workspace, due_time) in due {
                let tokens = tokens.clone();
                refreshes.spawn(async move {
                    let result = tokens.refresh_now(workspace, None).await;
                    tokens.log_refresh(workspace, &result);
                    let outcome = match result {
                        Ok(_) => RefreshOutcome::Renewed,
                        Err(error) if refresh_may_recover(&error) => RefreshOutcome::FailedForNow,
                        Err(_) => RefreshOutcome::Refused,
                    };
                    ((workspace, due_time), outcome)
                });
            }
            while let Some(done) = refreshes.join_next().await {
                if let Ok((entry, outcome)) = done {
                    setbacks.record(entry, outcome);
                }
            }
            let next = tokens
                .schedule()
                .iter()
                .filter_map(|entry| setbacks.due_at(entry))
                .min();
            // Nothing to renew (no rotating token): asleep until credentials change, so an idle app does not
            // wake every minute for nothing. Otherwise at most a minute asleep: tokio's clock stops while a
            // laptop is suspended, the wall clock does not.
            let Some(next) = next else {
                tokens.changed.notified().await;
                continue;
            };
            let wait = (next - unix_now()).clamp(1, 60);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())) => {}
                () = tokens.changed.notified() => {}
            }
        }
    });
}

/// Reads every connected workspace's credentials once, so that their expiries are known.
fn read_expiries(tokens: &KeyringTokens) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_refresh_waits_longer_each_time_with_jitter_and_a_refused_one_is_not_tried_again() {
        let mut setbacks = Setbacks::default();
        let entry: Due = (1, 1_000);
        assert_eq!(setbacks.due_at(&entry), Some(1_000), "due at its time");
        let mut previous_nominal = 0;
        for nominal in [60, 120, 240, 480, 960, 1_800, 1_800] {
            let before = unix_now();
            setbacks.record(entry, RefreshOutcome::FailedForNow);
            let at = setbacks.due_at(&entry).expect("tried again");
            // Equal jitter: no sooner than half the nominal wait, no later than all of it.
            assert!(
                at >= before + nominal / 2 && at <= unix_now() + nominal,
                "after {nominal} s nominal: {at} - {before}"
            );
            assert!(nominal >= previous_nominal);
            previous_nominal = nominal;
        }
        setbacks.record(entry, RefreshOutcome::Renewed);
        assert_eq!(setbacks.due_at(&entry), Some(1_000), "a success starts afresh");
        setbacks.record(entry, RefreshOutcome::Refused);
        assert_eq!(
            setbacks.due_at(&entry),
            None,
            "refused: the engine's refresh decides"
        );
    }
}
