//! Connecting a Slack workspace with a pasted User OAuth Token, and disconnecting it.
//!
//! The token is checked with `auth.test` before anything is kept (team and user named, missing scopes
//! named), then stored in the OS keyring only; the database keeps the workspace (ids, names, settings),
//! never the token. Disconnecting deletes the keyring entry.

use std::fmt;

use caret_core::WorkspaceSettings;
use caret_slack::SlackToken;
use caret_store::{Workspace, WorkspaceId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{AppError, Result};
use crate::services::Services;
use crate::tokens::{KEYRING_SERVICE, keyring_account};

/// Scopes without which nothing works: reading and writing the custom status.
pub const REQUIRED_SCOPES: [&str; 2] = ["users.profile:write", "users.profile:read"];
/// Scopes for presence (away / auto); without them statuses still sync and presence is left alone.
pub const PRESENCE_SCOPES: [&str; 2] = ["users:write", "users:read"];

/// A secret typed or pasted by the user, on its way to the keyring: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PastedSecret(String);

impl PastedSecret {
    pub fn new(text: impl Into<String>) -> PastedSecret {
        PastedSecret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PastedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PastedSecret(…redacted)")
    }
}

/// The reason recorded when the user disconnects a workspace (any other reason came from Slack).
pub const DISCONNECTED_BY_USER: &str = "disconnected by you";

/// A workspace as the UI and the CLI list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkspaceView {
    #[ts(type = "number")]
    pub id: WorkspaceId,
    pub team: String,
    pub user: String,
    pub connected: bool,
    /// Why it is disconnected (token revoked, disconnected by you…).
    pub disconnect_reason: Option<String>,
    /// Granted scopes that matter and are missing (presence ones: presence is then left alone).
    pub missing_scopes: Vec<String>,
    /// The policy as the user set it (a block keeps the policy it will return to).
    pub policy: caret_core::PolicySetting,
    /// The policy in force now.
    pub effective_policy: caret_core::Policy,
}

impl WorkspaceView {
    fn of(workspace: Workspace, missing_scopes: Vec<String>) -> WorkspaceView {
        WorkspaceView {
            id: workspace.id,
            team: workspace.team_name,
            user: workspace.user_name,
            connected: workspace.connected,
            disconnect_reason: workspace.disconnect_reason,
            missing_scopes,
            policy: workspace.settings.policy,
            effective_policy: workspace.settings.policy.effective(chrono::Utc::now()),
        }
    }
}

fn keyring_error(error: keyring::Error) -> AppError {
    match error {
        // The keyring library connects to the Secret Service once per process: one that was missing then
        // stays missing for this run.
        keyring::Error::NoDefaultStore
        | keyring::Error::PlatformFailure(_)
        | keyring::Error::NoStorageAccess(_) => AppError::Keyring(format!(
            "{error}. Caret Desktop keeps Slack tokens only in the desktop keyring (the Secret Service): \
                 start gnome-keyring or KWallet and unlock it, then restart Caret Desktop and try again"
        )),
        other => AppError::Keyring(other.to_string()),
    }
}

impl Services {
    /// Checks a pasted token with Slack, keeps it in the keyring and starts syncing the workspace.
    pub async fn connect_workspace(&self, pasted: &PastedSecret) -> Result<WorkspaceView> {
        let token = SlackToken::parse(pasted.expose()).ok_or_else(|| {
            AppError::Refused(
                "that is not a Slack User OAuth Token: it starts with xoxp- (OAuth & Permissions page of your \
                 Slack app)"
                    .into(),
            )
        })?;
        let info = self.slack.auth_test(&token).await?;
        let missing: Vec<String> = REQUIRED_SCOPES
            .iter()
            .filter(|scope| !info.has_scope(scope))
            .map(|scope| (*scope).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(AppError::MissingScopes {
                team: info.team,
                missing,
            });
        }
        let missing_presence: Vec<String> = PRESENCE_SCOPES
            .iter()
            .filter(|scope| !info.has_scope(scope))
            .map(|scope| (*scope).to_owned())
            .collect();
        // The keyring first: if it is not there, nothing is half-connected. Off the async threads: the
        // Secret Service may be waiting for the user to unlock it.
        let account = keyring_account(&info.team_id, &info.user_id);
        // What was checked: the pasted text without surrounding whitespace, exactly as `SlackToken::parse` took it.
        let secret = PastedSecret::new(pasted.expose().trim());
        tokio::task::spawn_blocking(move || {
            keyring::Entry::new(KEYRING_SERVICE, &account)
                .and_then(|entry| entry.set_password(secret.expose()))
        })
        .await
        .map_err(|error| AppError::Keyring(error.to_string()))?
        .map_err(keyring_error)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let id = self.store.upsert_workspace(
            &info.team_id,
            &info.user_id,
            &info.team,
            &info.user,
            &WorkspaceSettings::default(),
            now_ms,
        )?;
        self.tokens.forget(id);
        self.engine.start_workspace(id)?;
        tracing::info!(workspace = id, "connected to {} as {}", info.team, info.user);
        self.workspaces_changed();
        Ok(WorkspaceView::of(self.store.workspace(id)?, missing_presence))
    }

    /// Stops syncing a workspace and deletes its token from the keyring. Its settings stay, for a
    /// reconnection.
    pub async fn disconnect_workspace(&self, id: WorkspaceId) -> Result<WorkspaceView> {
        let workspace = self.store.workspace(id)?;
        // The token goes first: if the keyring refuses, the workspace stays connected and working, not
        // half-disconnected.
        let account = keyring_account(&workspace.team_id, &workspace.user_id);
        let deleted = tokio::task::spawn_blocking(move || {
            keyring::Entry::new(KEYRING_SERVICE, &account).and_then(|entry| entry.delete_credential())
        })
        .await
        .map_err(|error| AppError::Keyring(error.to_string()))?;
        match deleted {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(error) => return Err(keyring_error(error)),
        }
        self.engine.stop_workspace(id)?;
        self.tokens.forget(id);
        self.store.set_connected(id, false, Some(DISCONNECTED_BY_USER))?;
        self.workspaces_changed();
        Ok(WorkspaceView::of(self.store.workspace(id)?, Vec::new()))
    }

    /// A workspace's settings, for the Settings window's form.
    pub fn workspace_settings(&self, id: WorkspaceId) -> Result<caret_core::WorkspaceSettings> {
        Ok(self.store.workspace(id)?.settings)
    }

    /// Saves what the Settings form edits (phone number, templates, lease, time format) after checking it.
    /// The policy is not taken from the form: it changes only through its own action (tray, Settings radio,
    /// CLI), so a form opened before a policy change cannot undo that change by saving.
    pub fn save_workspace_settings(
        &self,
        id: WorkspaceId,
        edited: caret_core::WorkspaceSettings,
        source: caret_engine::Source,
    ) -> Result<WorkspaceView> {
        edited.validate()?;
        let _one_at_a_time = self.lock_settings();
        let stored = self.store.workspace(id)?.settings;
        let settings = caret_core::WorkspaceSettings {
            policy: stored.policy,
            ..edited
        };
        self.store.save_settings(id, &settings)?;
        self.engine.set_settings(id, settings, source)?;
        self.workspaces_changed();
        Ok(WorkspaceView::of(self.store.workspace(id)?, Vec::new()))
    }

    pub fn workspaces(&self) -> Result<Vec<WorkspaceView>> {
        Ok(self
            .store
            .workspaces()?
            .into_iter()
            .map(|workspace| WorkspaceView::of(workspace, Vec::new()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_secret_never_shows_itself() {
        let secret = PastedSecret::new("xoxp-1234-abcd");
        assert!(!format!("{secret:?}").contains("1234"));
        assert_eq!(secret.expose(), "xoxp-1234-abcd");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"xoxp-1234-abcd\"");
    }
}
