//! Where a worker gets its workspace's token. The app reads the OS keyring; tests hand tokens in directly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use caret_slack::SlackToken;
use caret_store::WorkspaceId;

pub trait TokenSource: Send + Sync + 'static {
    /// The workspace's token, or `None` if there is none (never connected, or disconnected).
    fn token(&self, workspace: WorkspaceId) -> Option<SlackToken>;
}

/// Tokens held in memory: for tests and `--headless` runs that are given tokens directly.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    tokens: Arc<Mutex<HashMap<WorkspaceId, SlackToken>>>,
}

impl StaticTokens {
    pub fn insert(&self, workspace: WorkspaceId, token: SlackToken) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(workspace, token);
    }
}

impl TokenSource for StaticTokens {
    fn token(&self, workspace: WorkspaceId) -> Option<SlackToken> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&workspace)
            .cloned()
    }
}
