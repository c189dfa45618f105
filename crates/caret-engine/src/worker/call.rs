//! A call to Slack as the sync log tells it: its row, under the decision and state it served.

use caret_core::Decision;
use caret_slack::{SlackError, SlackMethod};
use caret_store::{LogKind, NewLogEntry};

use super::Worker;

/// A call to Slack, as its row in the sync log tells it; its outcome is "ok", or the error's code.
pub(super) struct Call<'a> {
    pub(super) method: SlackMethod,
    /// What was sent (JSON), if anything.
    pub(super) sent: Option<String>,
    pub(super) latency_ms: i64,
    pub(super) error: Option<&'a SlackError>,
}

impl<'a> Call<'a> {
    pub(super) fn answered(method: SlackMethod, sent: Option<String>, latency_ms: i64) -> Call<'a> {
        Call {
            method,
            sent,
            latency_ms,
            error: None,
        }
    }

    pub(super) fn failed(
        method: SlackMethod,
        sent: Option<String>,
        latency_ms: i64,
        error: &'a SlackError,
    ) -> Call<'a> {
        Call {
            method,
            sent,
            latency_ms,
            error: Some(error),
        }
    }
}

impl Worker {
    pub(super) fn log_call(&self, decision: &Decision, state_name: Option<&str>, call: Call<'_>) {
        self.log(self.call_row(decision, state_name, call));
    }

    /// The sync log's row for a call to Slack, under the decision and state it served.
    pub(super) fn call_row(
        &self,
        decision: &Decision,
        state_name: Option<&str>,
        call: Call<'_>,
    ) -> NewLogEntry {
        NewLogEntry {
            kind: Some(LogKind::Call),
            state: state_name.map(str::to_owned),
            policy: Some(decision.policy.label().to_lowercase()),
            method: Some(call.method.as_str().to_owned()),
            sent: call.sent,
            outcome: call.error.map_or_else(|| "ok".to_owned(), SlackError::code),
            latency_ms: Some(call.latency_ms),
            retries: self.retries,
            error: call.error.map(ToString::to_string),
            ..NewLogEntry::default()
        }
    }
}
