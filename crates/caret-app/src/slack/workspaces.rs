//! Connecting a Slack workspace (a pasted User OAuth Token, or the browser sign-in in [`super::oauth`]), and
//! disconnecting it.
//!
//! The token is checked with `auth.test` before anything is kept (team and user named, missing scopes
//! named), then stored in the OS keyring only; the database keeps the workspace (ids, names, settings, the
//! scopes Slack granted), never the token. Disconnecting revokes the token at Slack (`auth.revoke`) and
//! deletes the keyring entry.

use caret_core::WorkspaceSettings;
use caret_slack::SlackToken;
use caret_store::{Workspace, WorkspaceId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Workspaces;
use super::credentials::{self, Credentials, keyring_account};
use super::manifest::DM_SCOPE;
use crate::error::{AppError, Refusal, Result};

/// Scopes without which nothing works: reading and writing the custom status.
pub const REQUIRED_SCOPES: [&str; 2] = ["users.profile:write", "users.profile:read"];
/// Scopes for presence (away / auto); without them statuses still sync and presence is left alone.
pub const PRESENCE_SCOPES: [&str; 2] = ["users:write", "users:read"];
/// Scopes for Do Not Disturb (pausing notifications in the states that ask for it); without them statuses and
/// presence still sync and notifications are left alone.
pub const DND_SCOPES: [&str; 2] = ["dnd:write", "dnd:read"];

pub use crate::secrets::PastedSecret;

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
    /// Scopes the features in use need and the token lacks: the presence ones (presence is then left alone),
    /// the Do Not Disturb ones while a state pauses notifications, and `chat:write` while security notices
    /// are on. The status scopes are never missing from a connected
    /// workspace: without them it is not connected.
    pub missing_scopes: Vec<String>,
    /// What the missing scopes mean for the user, a sentence each (the UI and the CLI show these words).
    pub scope_problems: Vec<String>,
    /// How to add the missing scopes, for the UI to show beside them.
    pub scope_fix: Option<String>,
    /// The policy as the user set it (a block keeps the policy it will return to).
    pub policy: caret_core::PolicySetting,
    /// The policy in force now.
    pub effective_policy: caret_core::Policy,
    /// A direct message to yourself when a phone pairs or this workspace's policy becomes less private.
    pub security_notices: bool,
    /// The token expires and Caret Desktop renews it (signed in with Slack, token rotation on).
    pub token_rotates: bool,
    /// When the rotating token expires unless renewed (Unix seconds): Slack's own lifetime for it, which
    /// Caret Desktop does not assume (Slack documents 12 hours).
    #[ts(type = "number | null")]
    pub token_expires_at: Option<i64>,
}

/// What to do about missing scopes: the same words in the UI, the CLI and errors.
pub fn scope_fix(missing: &[String]) -> String {
    format!(
        "add {} under OAuth & Permissions → User Token Scopes in your Slack app (or recreate it from \
         slack/manifest.json), reinstall the app to the workspace, then connect again (Sign in with Slack, or \
         paste the new token)",
        missing.join(", ")
    )
}

/// What missing scopes mean, a sentence per feature that suffers.
pub fn scope_problems(missing: &[String]) -> Vec<String> {
    let lacking = |group: &[&str]| -> Vec<&str> {
        missing
            .iter()
            .map(String::as_str)
            .filter(|scope| group.contains(scope))
            .collect()
    };
    let mut problems = Vec::new();
    let status = lacking(&REQUIRED_SCOPES);
    if !status.is_empty() {
        problems.push(format!(
            "Your status cannot be synced: the token lacks {}.",
            status.join(", ")
        ));
    }
    let presence = lacking(&PRESENCE_SCOPES);
    if !presence.is_empty() {
        problems.push(format!(
            "Presence (away/active) is left alone: the token lacks {}.",
            presence.join(", ")
        ));
    }
    let dnd = lacking(&DND_SCOPES);
    if !dnd.is_empty() {
        problems.push(format!(
            "Notifications are not paused (Do Not Disturb) in the states that ask for it: the token lacks {}.",
            dnd.join(", ")
        ));
    }
    if !lacking(&[DM_SCOPE]).is_empty() {
        problems.push(format!(
            "Security notices cannot be sent: the token lacks {DM_SCOPE}."
        ));
    }
    problems
}

/// The scopes the features a workspace uses need and its token lacks (nothing when the grant is unknown).
fn missing_scopes(workspace: &Workspace) -> Vec<String> {
    let Some(granted) = &workspace.granted_scopes else {
        return Vec::new();
    };
    let notices = workspace.security_notices.then_some(DM_SCOPE);
    let settings = &workspace.settings;
    let snoozes = caret_core::StateKind::ALL
        .into_iter()
        .any(|kind| settings.dnd_rule(kind) == caret_core::DndRule::Snooze);
    let dnd = DND_SCOPES.into_iter().filter(|_| snoozes);
    REQUIRED_SCOPES
        .into_iter()
        .chain(PRESENCE_SCOPES)
        .chain(dnd)
        .chain(notices)
        .filter(|scope| !granted.iter().any(|g| g == scope))
        .map(str::to_owned)
        .collect()
}

impl WorkspaceView {
    pub(super) fn of(workspace: Workspace, token_expires_at: Option<i64>) -> WorkspaceView {
        let missing_scopes = missing_scopes(&workspace);
        let scope_fix = (!missing_scopes.is_empty()).then(|| scope_fix(&missing_scopes));
        WorkspaceView {
            id: workspace.id,
            scope_problems: scope_problems(&missing_scopes),
            missing_scopes,
            scope_fix,
            team: workspace.team_name,
            user: workspace.user_name,
            connected: workspace.connected,
            disconnect_reason: workspace.disconnect_reason,
            policy: workspace.settings.policy,
            effective_policy: workspace.settings.policy.effective(chrono::Utc::now()),
            security_notices: workspace.security_notices,
            token_rotates: token_expires_at.is_some(),
            token_expires_at,
        }
    }
}

/// What became of the token at Slack when a workspace was disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RevokeOutcome {
    /// Slack revoked it (`auth.revoke`).
    Revoked,
    /// Slack already did not take it (revoked, expired): nothing to revoke.
    AlreadyDead,
    /// Slack could not be reached or refused: the token is deleted here, but may still work at Slack until
    /// the app is removed from the workspace.
    NotRevoked { reason: String },
    /// There was no token left to revoke.
    NoToken,
}

/// A disconnected workspace, and what Slack did with its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Disconnected {
    pub workspace: WorkspaceView,
    pub revoke: RevokeOutcome,
}

impl Workspaces {
    /// Checks a pasted token with Slack, keeps it in the keyring and starts syncing the workspace.
    pub async fn connect(&self, pasted: &PastedSecret) -> Result<WorkspaceView> {
        let token = SlackToken::parse(pasted.expose()).ok_or(AppError::Refused(Refusal::NotAUserToken))?;
        if token.kind() == "xoxe.xoxp" {
            return Err(AppError::Refused(Refusal::RotatingTokenPasted));
        }
        self.connect_with(Credentials::lasting(token)).await
    }

    /// Connects a workspace with credentials Slack issued (pasted, or from the browser sign-in): `auth.test`
    /// names the team and user and tells the scopes; the keyring keeps the secrets before anything else is
    /// written, so that a refusal there leaves nothing half-connected.
    pub(crate) async fn connect_with(&self, credentials: Credentials) -> Result<WorkspaceView> {
        let started = std::time::Instant::now();
        let tested = self.client.auth_test(&credentials.access_token).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).ok();
        // Its row first, whatever comes next (a missing scope, the keyring refusing).
        self.log_entry(&super::synclog::app_call(
            None,
            tested.as_ref().ok().map(|info| info.team.clone()),
            caret_slack::SlackMethod::AuthTest,
            tested
                .as_ref()
                .map_or_else(caret_slack::SlackError::code, |_| "ok".to_owned()),
            latency_ms,
            tested.as_ref().err().map(ToString::to_string),
        ));
        let info = tested?;
        let missing: Vec<String> = REQUIRED_SCOPES
            .iter()
            .filter(|scope| !info.has_scope(scope))
            .map(|scope| (*scope).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(AppError::MissingScopes {
                team: info.team,
                fix: scope_fix(&missing),
                missing,
            });
        }
        let account = keyring_account(&info.team_id, &info.user_id);
        // Held until the new credentials are remembered: a refresh of the old ones cannot overwrite them.
        let _entry = self.tokens.lock_account(&account).await;
        credentials::store(account, &credentials).await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let id = self.store.upsert_workspace(
            &info.team_id,
            &info.user_id,
            &info.team,
            &info.user,
            &WorkspaceSettings::default(),
            now_ms,
        )?;
        self.store.set_granted_scopes(id, &info.scopes)?;
        self.tokens.remember(id, credentials);
        self.engine.start_workspace(id)?;
        tracing::info!(workspace = id, "connected to {} as {}", info.team, info.user);
        self.changed();
        Ok(self.view(self.store.workspace(id)?))
    }

    /// Stops syncing a workspace, revokes its token at Slack (`auth.revoke`) and deletes it from the keyring.
    /// Its settings stay, for a reconnection. Slack being unreachable does not stop the disconnection: the
    /// outcome says so, and what to do.
    pub async fn disconnect(&self, id: WorkspaceId) -> Result<Disconnected> {
        let workspace = self.store.workspace(id)?;
        let account = keyring_account(&workspace.team_id, &workspace.user_id);
        // Held to the end: a refresh in flight finishes first (and what it kept is what gets revoked), and
        // none starts until the workspace is marked disconnected.
        let _entry = self.tokens.lock_account(&account).await;
        // Syncing is told to stop before the token is revoked, so that the worker does not take the
        // revocation for Slack disconnecting the workspace.
        self.engine.stop_workspace(id)?;
        let kept = credentials::read(account.clone()).await?;
        let revoke = match &kept {
            None => RevokeOutcome::NoToken,
            Some(kept) => {
                let started = std::time::Instant::now();
                let revoked = self.client.auth_revoke(&kept.access_token).await;
                // Its row at once, whatever becomes of the keyring entry next.
                self.log_entry(&super::synclog::app_call(
                    Some(id),
                    Some(workspace.team_name.clone()),
                    caret_slack::SlackMethod::AuthRevoke,
                    revoked
                        .as_ref()
                        .map_or_else(caret_slack::SlackError::code, |_| "ok".to_owned()),
                    i64::try_from(started.elapsed().as_millis()).ok(),
                    revoked.as_ref().err().map(ToString::to_string),
                ));
                match revoked {
                    Ok(_) => RevokeOutcome::Revoked,
                    Err(caret_slack::SlackError::Auth { .. }) => RevokeOutcome::AlreadyDead,
                    Err(error) => RevokeOutcome::NotRevoked {
                        reason: error.to_string(),
                    },
                }
            }
        };
        if let Err(error) = credentials::delete(account).await {
            // The keyring refused: the token stays there, so the workspace is not disconnected here either,
            // and syncing goes on with it (unless Slack just revoked it).
            if revoke != RevokeOutcome::Revoked {
                self.engine.start_workspace(id)?;
            }
            return Err(error);
        }
        self.tokens.forget(id);
        self.store.set_connected(id, false, Some(DISCONNECTED_BY_USER))?;
        self.log_note(
            id,
            &workspace.team_name,
            caret_slack::SlackMethod::AuthRevoke,
            &match &revoke {
                RevokeOutcome::Revoked => "disconnected by you; Slack revoked the token".to_owned(),
                RevokeOutcome::AlreadyDead => {
                    "disconnected by you; Slack no longer took the token".to_owned()
                }
                RevokeOutcome::NoToken => "disconnected by you; no token was kept".to_owned(),
                RevokeOutcome::NotRevoked { .. } => {
                    "disconnected by you; the token is deleted here but Slack could not revoke it".to_owned()
                }
            },
            match &revoke {
                RevokeOutcome::NotRevoked { reason } => Some(reason.clone()),
                _ => None,
            },
        );
        self.changed();
        Ok(Disconnected {
            workspace: self.view(self.store.workspace(id)?),
            revoke,
        })
    }

    /// Turns the security notices by direct message on or off for a workspace.
    pub fn set_security_notices(&self, id: WorkspaceId, on: bool) -> Result<WorkspaceView> {
        self.store.set_security_notices(id, on)?;
        self.changed();
        Ok(self.view(self.store.workspace(id)?))
    }

    /// One workspace as listed.
    pub fn view_of(&self, id: WorkspaceId) -> Result<WorkspaceView> {
        Ok(self.view(self.store.workspace(id)?))
    }

    /// A workspace as a view and its settings, from one read.
    pub fn view_with_settings(
        &self,
        id: WorkspaceId,
    ) -> Result<(WorkspaceView, caret_core::WorkspaceSettings)> {
        let workspace = self.store.workspace(id)?;
        let settings = workspace.settings.clone();
        Ok((self.view(workspace), settings))
    }

    /// A workspace's settings, for the Settings window's form.
    pub fn settings(&self, id: WorkspaceId) -> Result<caret_core::WorkspaceSettings> {
        Ok(self.store.workspace(id)?.settings)
    }

    /// Saves what the Settings form edits (phone number, templates, lease, time format) after checking it.
    /// The policy is not taken from the form: it changes only through its own action (tray, Settings radio,
    /// CLI), so a form opened before a policy change cannot undo that change by saving.
    pub fn save_settings(
        &self,
        id: WorkspaceId,
        edited: caret_core::WorkspaceSettings,
        source: caret_engine::Source,
    ) -> Result<WorkspaceView> {
        let (view, _) = self.edit_settings(id, source, |stored| {
            *stored = caret_core::WorkspaceSettings {
                policy: stored.policy,
                ..edited
            };
            Ok(())
        })?;
        Ok(view)
    }

    /// Changes the stored settings with `edit`, checks the result as the Settings form is checked, and saves
    /// it; nothing is saved if `edit` or the check refuses. The policy is kept as stored, as for the form.
    /// Returns the workspace and its settings as saved.
    pub fn edit_settings(
        &self,
        id: WorkspaceId,
        source: caret_engine::Source,
        edit: impl FnOnce(&mut caret_core::WorkspaceSettings) -> Result<()>,
    ) -> Result<(WorkspaceView, caret_core::WorkspaceSettings)> {
        let _one_at_a_time = self.lock_settings();
        let stored = self.store.workspace(id)?.settings;
        let mut settings = stored.clone();
        edit(&mut settings)?;
        settings.policy = stored.policy;
        settings.validate()?;
        self.store.save_settings(id, &settings)?;
        self.engine.set_settings(id, settings, source)?;
        self.changed();
        self.view_with_settings(id)
    }

    /// Every workspace ever connected, connected or not.
    pub fn list(&self) -> Result<Vec<WorkspaceView>> {
        Ok(self
            .store
            .workspaces()?
            .into_iter()
            .map(|workspace| self.view(workspace))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_scope_says_which_feature_suffers() {
        let missing = |scopes: &[&str]| scopes.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(scope_problems(&[]), Vec::<String>::new());
        assert_eq!(
            scope_problems(&missing(&["users:write", "chat:write"])),
            [
                "Presence (away/active) is left alone: the token lacks users:write.",
                "Security notices cannot be sent: the token lacks chat:write."
            ]
        );
        assert!(scope_problems(&missing(&["users.profile:write"]))[0].contains("status cannot be synced"));
        assert!(scope_fix(&missing(&["users:write"])).contains("reinstall the app"));
    }

    #[test]
    fn the_dnd_scopes_are_missing_only_while_a_state_pauses_notifications() {
        let mut workspace = Workspace {
            id: 1,
            team_id: "T1".into(),
            user_id: "U1".into(),
            team_name: "Acme".into(),
            user_name: "ada".into(),
            settings: WorkspaceSettings::default(),
            connected: true,
            disconnect_reason: None,
            created_at_ms: 0,
            granted_scopes: Some(
                REQUIRED_SCOPES
                    .into_iter()
                    .chain(PRESENCE_SCOPES)
                    .map(str::to_owned)
                    .collect(),
            ),
            security_notices: false,
        };
        // Driving and Sleeping pause notifications unless changed.
        assert_eq!(missing_scopes(&workspace), ["dnd:write", "dnd:read"]);
        assert!(scope_problems(&missing_scopes(&workspace))[0].contains("Do Not Disturb"));
        for kind in caret_core::StateKind::ALL {
            workspace.settings.dnd.insert(kind, caret_core::DndRule::Off);
        }
        assert_eq!(missing_scopes(&workspace), Vec::<String>::new());
        workspace.granted_scopes = None;
        workspace.settings = WorkspaceSettings::default();
        assert_eq!(
            missing_scopes(&workspace),
            Vec::<String>::new(),
            "a grant not known"
        );
    }

    #[test]
    fn a_pasted_secret_never_shows_itself() {
        let secret = PastedSecret::new("xoxp-1234-abcd");
        assert!(!format!("{secret:?}").contains("1234"));
        assert_eq!(secret.expose(), "xoxp-1234-abcd");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"xoxp-1234-abcd\"");
    }
}
