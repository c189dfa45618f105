//! Where a worker gets its workspace's token. The app reads the OS keyring; tests hand tokens in directly.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use caret_slack::SlackToken;
use caret_store::WorkspaceId;
use parking_lot::Mutex;

pub trait TokenSource: Send + Sync + 'static {
    /// The workspace's token, or `None` if there is none (never connected, or disconnected).
    fn token(&self, workspace: WorkspaceId) -> Option<SlackToken>;

    /// Whether the workspace's token rotates and can be refreshed (it has a refresh token).
    fn can_refresh(&self, workspace: WorkspaceId) -> bool {
        let _ = workspace;
        false
    }

    /// For a rotating token that Slack called expired (`stale` is the one it refused): trade the refresh token
    /// for a new pair. `None`: this workspace's token cannot be refreshed (it never expires, or has no refresh
    /// token), so the user must reconnect.
    fn refresh(&self, workspace: WorkspaceId, stale: SlackToken) -> Option<RefreshFuture<'_>> {
        let _ = (workspace, stale);
        None
    }
}

/// What a refresh comes to: `Err` with a reason to show the user.
pub type RefreshFuture<'a> = Pin<Box<dyn Future<Output = crate::Result<()>> + Send + 'a>>;

/// Tokens held in memory: for tests and `--headless` runs that are given tokens directly.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    tokens: Arc<Mutex<HashMap<WorkspaceId, SlackToken>>>,
}

impl StaticTokens {
    pub fn insert(&self, workspace: WorkspaceId, token: SlackToken) {
        self.tokens.lock().insert(workspace, token);
    }
}

impl TokenSource for StaticTokens {
    fn token(&self, workspace: WorkspaceId) -> Option<SlackToken> {
        self.tokens.lock().get(&workspace).cloned()
    }
}
