//! Sync-log rows the app writes itself (beside the engine's): token refreshes, disconnections, security
//! notices. One shape, so that the log window shows them like the engine's rows.

use caret_slack::SlackMethod;
use caret_store::{LogKind, NewLogEntry, WorkspaceId};

/// A note about a workspace, concerning one Slack method (never a secret: outcomes and errors are Slack's
/// codes and our words).
pub fn app_note(
    workspace: WorkspaceId,
    team: Option<String>,
    method: SlackMethod,
    outcome: String,
    error: Option<String>,
) -> NewLogEntry {
    NewLogEntry {
        at_ms: chrono::Utc::now().timestamp_millis(),
        kind: Some(LogKind::Note),
        // The log's sources are who asked; these rows come from the app's own upkeep, as the engine's do.
        source: "engine".to_owned(),
        workspace_id: Some(workspace),
        workspace: team,
        method: Some(method.as_str().to_owned()),
        outcome,
        error,
        ..NewLogEntry::default()
    }
}

/// A Slack call the app made itself (outside the engine), such as `auth.test` when connecting: the sync
/// log shows every call to Slack. The workspace's id and name are `None` where not known yet (a sign-in
/// before Slack named the team; a workspace being connected for the first time).
pub fn app_call(
    workspace_id: Option<WorkspaceId>,
    team: Option<String>,
    method: SlackMethod,
    outcome: String,
    latency_ms: Option<i64>,
    error: Option<String>,
) -> NewLogEntry {
    NewLogEntry {
        at_ms: chrono::Utc::now().timestamp_millis(),
        kind: Some(LogKind::Call),
        source: "engine".to_owned(),
        workspace_id,
        workspace: team,
        method: Some(method.as_str().to_owned()),
        outcome,
        latency_ms,
        error,
        ..NewLogEntry::default()
    }
}
