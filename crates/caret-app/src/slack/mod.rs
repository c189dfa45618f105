//! The Slack connection: connecting workspaces (a pasted token, or Sign in with Slack), their tokens in the
//! OS keyring and the tokens' rotation, the Slack app manifest, and the security notices sent to yourself.
//!
//! [`Workspaces`] is the one handle on it. It holds what connecting needs (the store, the sync engine, the
//! Slack client, the keyring) and nothing of the runtime around it, so the runtime builds it and hands it
//! out; nothing here reaches back.
//!
//! - [`workspaces`]: connecting, disconnecting, listing and editing workspaces.
//! - [`setting_keys`]: a workspace's settings by name, for the command line.
//! - [`oauth`]: Sign in with Slack (OAuth v2 with PKCE through a loopback redirect).
//! - [`credentials`] / [`tokens`]: the tokens in the keyring, and their rotation (refresh before expiry).
//! - [`notices`]: security notices by direct message to yourself.
//! - [`manifest`]: the Slack app manifest (JSON and YAML), generated from the scopes the code checks.
//! - [`synclog`]: the sync log's rows for the calls this module makes (the engine logs its own).

pub mod credentials;
pub mod manifest;
pub mod notices;
pub mod oauth;
pub mod setting_keys;
pub mod synclog;
pub mod tokens;
pub mod workspaces;

use std::sync::Arc;

use caret_engine::Engine;
use caret_slack::SlackClient;
use caret_store::{Store, Workspace, WorkspaceId};
use parking_lot::Mutex;

use self::tokens::KeyringTokens;
use self::workspaces::WorkspaceView;
use crate::error::Result;

/// Where Sign in with Slack listens and what opens the browser (from [`crate::AppConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSettings {
    /// The loopback port Slack's answer comes back to (the manifest's; 0 in tests).
    pub port: u16,
    /// The program that opens links in the browser, if the user named one; else the desktop's.
    pub browser: Option<String>,
}

/// The handle on the Slack connection. Clones share everything.
#[derive(Clone)]
pub struct Workspaces {
    store: Store,
    engine: Engine,
    client: SlackClient,
    tokens: Arc<KeyringTokens>,
    sign_in: SignInSettings,
    /// Held while a workspace's settings are read, changed and saved.
    settings_changes: Arc<Mutex<()>>,
    /// Rung when a workspace is connected, disconnected or its settings saved, for the snapshot's lines.
    changed: Arc<tokio::sync::Notify>,
    /// The browser sign-in in progress, if any.
    oauth: Arc<oauth::OAuthFlows>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("sign_in", &self.sign_in)
            .finish_non_exhaustive()
    }
}

impl Workspaces {
    /// The Slack connection over the app's store, engine and Slack client, with `tokens` (the engine's
    /// token source too). Starts the rotation of expiring tokens.
    pub fn new(
        store: Store,
        engine: Engine,
        client: SlackClient,
        tokens: Arc<KeyringTokens>,
        sign_in: SignInSettings,
    ) -> Workspaces {
        tokens::spawn_rotation(tokens.clone());
        Workspaces {
            store,
            engine,
            client,
            tokens,
            sign_in,
            settings_changes: Arc::new(Mutex::new(())),
            changed: Arc::new(tokio::sync::Notify::new()),
            oauth: Arc::new(oauth::OAuthFlows::default()),
        }
    }

    /// Tells whoever watches (the snapshot's refresher) that the workspaces changed: their policies, their
    /// connection, their settings.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// What [`Workspaces::changed`] rings.
    pub fn changes(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// Held while a workspace's settings are read, changed and saved.
    pub(crate) fn lock_settings(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.settings_changes.lock()
    }

    /// A workspace ended: its token is no longer kept in memory.
    pub fn forget_token(&self, id: WorkspaceId) {
        self.tokens.forget(id);
    }

    pub(crate) fn view(&self, workspace: Workspace) -> WorkspaceView {
        let expires_at = self.tokens.expires_at(workspace.id);
        WorkspaceView::of(workspace, expires_at)
    }

    /// A note in the sync log about a workspace, from the app rather than the engine.
    pub(crate) fn log_note(
        &self,
        id: WorkspaceId,
        team: &str,
        method: caret_slack::SlackMethod,
        outcome: &str,
        error: Option<String>,
    ) {
        self.log_entry(&synclog::app_note(
            id,
            Some(team.to_owned()),
            method,
            outcome.to_owned(),
            error,
        ));
    }

    pub(crate) fn log_entry(&self, entry: &caret_store::NewLogEntry) {
        if let Err(error) = self.store.append_log(entry) {
            tracing::error!("cannot write the sync log: {error}");
        }
    }

    /// Slack said the token lacks a scope: the grant kept for the workspace no longer lists it, so the UI
    /// shows what is missing and how to add it.
    pub fn scope_missing(&self, id: WorkspaceId, scope: &str) -> Result<()> {
        let workspace = self.store.workspace(id)?;
        if let Some(granted) = workspace.granted_scopes
            && granted.iter().any(|g| g == scope)
        {
            let narrowed: Vec<String> = granted.into_iter().filter(|g| g != scope).collect();
            self.store.set_granted_scopes(id, &narrowed)?;
            self.changed();
        }
        Ok(())
    }
}
