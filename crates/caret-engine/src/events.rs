//! What the engine tells the rest of the app (the UI, notifications, the tray).

use caret_store::WorkspaceId;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum EngineEvent {
    /// Slack refused the token (revoked, expired, account deactivated): the user must reconnect.
    Disconnected {
        #[ts(type = "number")]
        workspace: WorkspaceId,
        team: String,
        reason: String,
    },
    /// The token lacks a scope: the user must add it to the Slack app.
    MissingScope {
        #[ts(type = "number")]
        workspace: WorkspaceId,
        team: String,
        scope: String,
    },
    /// Slack has not answered for a while; changes are kept and sent when it is back.
    Unreachable {
        #[ts(type = "number")]
        workspace: WorkspaceId,
        team: String,
        #[ts(type = "number")]
        since_ms: i64,
    },
    /// Slack answers again after being unreachable.
    Reachable {
        #[ts(type = "number")]
        workspace: WorkspaceId,
        team: String,
    },
    /// A timed Blocked ended; the previous policy is back.
    BlockEnded {
        #[ts(type = "number")]
        workspace: WorkspaceId,
        team: String,
    },
    /// Slack now shows what the policy says.
    Synced {
        #[ts(type = "number")]
        workspace: WorkspaceId,
    },
    /// A row was added to the sync log.
    Logged {
        #[ts(type = "number")]
        id: i64,
    },
}
