//! Slack tokens from the OS keyring (the Secret Service on Linux): the only place they live. The engine
//! asks for a workspace's token at each call; the answer is kept in memory so that a sync does not make a
//! D-Bus round trip, and dropped when the keyring has none (a disconnected workspace).

use std::collections::HashMap;
use std::sync::Mutex;

use caret_engine::TokenSource;
use caret_slack::SlackToken;
use caret_store::{Store, WorkspaceId};

/// The keyring's service name for every secret of the app.
pub const KEYRING_SERVICE: &str = "caret-desktop";

/// The keyring account of a workspace's user token: one per (team, user), so two workspaces never share.
pub fn keyring_account(team_id: &str, user_id: &str) -> String {
    format!("slack:{team_id}:{user_id}")
}

/// [`TokenSource`] over the OS keyring.
pub struct KeyringTokens {
    store: Store,
    cache: Mutex<HashMap<WorkspaceId, SlackToken>>,
}

impl std::fmt::Debug for KeyringTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringTokens(…)")
    }
}

impl KeyringTokens {
    pub fn new(store: Store) -> KeyringTokens {
        KeyringTokens {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn read(&self, workspace: WorkspaceId) -> Option<SlackToken> {
        let record = self
            .store
            .workspace(workspace)
            .inspect_err(|error| tracing::warn!("workspace {workspace}: {error}"))
            .ok()?;
        let account = keyring_account(&record.team_id, &record.user_id);
        let entry = keyring::Entry::new(KEYRING_SERVICE, &account)
            .inspect_err(|error| tracing::warn!("keyring unavailable: {error}"))
            .ok()?;
        match entry.get_password() {
            Ok(raw) => {
                let token = SlackToken::parse(raw.trim());
                if token.is_none() {
                    tracing::warn!("the keyring holds something for {account} that is not a Slack token");
                }
                token
            }
            Err(keyring::Error::NoEntry) => {
                tracing::info!("no token in the keyring for {account}");
                None
            }
            Err(error) => {
                tracing::warn!(
                    "cannot read {account} from the keyring ({error}); is a Secret Service (gnome-keyring, KWallet) running and unlocked?"
                );
                None
            }
        }
    }
}

impl KeyringTokens {
    /// Drops what is remembered of a workspace's token (it was replaced or removed in the keyring).
    pub fn forget(&self, workspace: WorkspaceId) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&workspace);
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
        if let Some(token) = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(&workspace).cloned())
        {
            return Some(token);
        }
        let token = blocking(|| self.read(workspace))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(workspace, token.clone());
        }
        Some(token)
    }
}
