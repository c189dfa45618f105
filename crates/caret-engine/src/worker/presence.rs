//! The presence half of a step: Slack's presence (away / auto) follows the decision, only when it changes,
//! and only with a token that may set it.

use caret_core::{Decision, Presence};
use caret_slack::{SlackError, SlackMethod, SlackToken, WirePresence};
use tokio::time::Instant;

use super::{Call, Flow, PRESENCE_SCOPE, Worker};
use crate::events::EngineEvent;

fn wire(presence: Presence) -> WirePresence {
    match presence {
        Presence::Auto => WirePresence::Auto,
        Presence::Away => WirePresence::Away,
    }
}

fn presence_name(presence: Presence) -> &'static str {
    match presence {
        Presence::Auto => "auto",
        Presence::Away => "away",
    }
}

impl Worker {
    /// A presence call's row: its source is the screen lock or the working hours when that makes this presence
    /// (away while locked, or off work) or lifts the one it made (back at unlock, or at work), else the input
    /// the decision followed.
    fn log_presence_call(&self, decision: &Decision, state_name: Option<&str>, call: super::Call<'_>) {
        let mut row = self.stamped(self.call_row(decision, state_name, call));
        if let Some(desk) = self.desk_presence.or(self.applied_presence_by) {
            row.source = desk.as_str().to_owned();
        }
        self.flush_pending_look();
        self.append(&row);
    }

    /// Sets the decided presence if Slack does not have it yet.
    pub(super) async fn sync_presence(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Flow {
        if let Some(flow) = self.presence_not_now(decision, state_name) {
            return flow;
        }
        self.attempting(super::Intent::Presence(decision.presence));
        // The input this write follows must outlive a power cut before Slack shows it.
        self.cx.shared.inputs_on_disk.wait().await;
        let started = Instant::now();
        let result = self
            .cx
            .shared
            .slack
            .set_presence(token, wire(decision.presence))
            .await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let sent = Some(format!(
            r#"{{"presence":"{}"}}"#,
            presence_name(decision.presence)
        ));
        match result {
            Ok(()) => {
                self.log_presence_call(
                    decision,
                    state_name,
                    Call::answered(SlackMethod::UsersSetPresence, sent, latency_ms),
                );
                self.answered();
                self.settled();
                self.presence_applied(decision.presence);
                self.applied_presence_by = self.desk_presence;
                Flow::Rest(None)
            }
            Err(SlackError::MissingScope { needed, .. }) => {
                // Presence is a nicety: without users:write the status still syncs.
                self.presence_unavailable = true;
                self.noted_presence_unavailable = true;
                self.note(
                    decision,
                    state_name,
                    &format!("presence not synced: the token lacks {needed}"),
                );
                self.emit(EngineEvent::MissingScope {
                    workspace: self.cx.id,
                    team: self.cx.team.clone(),
                    scope: needed,
                });
                Flow::Rest(None)
            }
            Err(error) => {
                self.log_presence_call(
                    decision,
                    state_name,
                    Call::failed(SlackMethod::UsersSetPresence, sent, latency_ms, &error),
                );
                self.on_error(SlackMethod::UsersSetPresence, error)
            }
        }
    }

    /// Why presence is not set now, if it is not: Slack has it already, the token may not set it (said once),
    /// or a limit holds it back.
    fn presence_not_now(&mut self, decision: &Decision, state_name: Option<&str>) -> Option<Flow> {
        if decision.presence == self.applied_presence {
            return Some(Flow::Rest(None));
        }
        if self.presence_unavailable {
            if !self.noted_presence_unavailable {
                self.noted_presence_unavailable = true;
                self.note(
                    decision,
                    state_name,
                    &format!("presence not synced: the token lacks {PRESENCE_SCOPE}"),
                );
            }
            return Some(Flow::Rest(None));
        }
        // Slack's Retry-After first, then presence's own budget (tier 2): a phone flapping between states
        // that change presence costs at most the budget, and the latest presence goes out when it frees.
        if let Some(until) = self.limits.held_until() {
            return Some(Flow::RetryAt(until));
        }
        if !self.limits.presence.try_take() {
            return Some(Flow::RetryAt(self.limits.presence.available_at()));
        }
        None
    }

    /// Slack took the presence: remembered, also across restarts.
    fn presence_applied(&mut self, presence: Presence) {
        self.applied_presence = presence;
        let now_ms = self.cx.shared.clock.now_ms();
        if let Err(error) = self
            .cx
            .shared
            .store
            .save_presence(self.cx.id, presence_name(presence), now_ms)
        {
            tracing::error!(workspace = self.cx.id, "cannot save presence: {error}");
        }
    }
}
