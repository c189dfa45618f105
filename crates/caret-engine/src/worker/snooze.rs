//! The Do Not Disturb half of a step: a state whose rule is to snooze pauses Slack's notifications until it
//! ends (`dnd.setSnooze`), and the snooze is ended when the state ends (`dnd.endSnooze`).
//!
//! As for the status, Slack is looked at first (`dnd.info`) before any change, and only a snooze this app
//! started is ever changed or ended: Slack's end for it is kept (in the store, so that a restart knows it),
//! and a running snooze with any other end is the person's own, left alone. A snooze the person ends in Slack
//! while the state lasts is not started again until another state speaks. Trouble here never holds up the
//! status: Do Not Disturb is a nicety, like the presence.

use std::num::NonZeroU32;
use std::time::Duration;

use caret_core::{Decision, Snooze, StateSource};
use caret_slack::{DndInfo, SlackError, SlackMethod, SlackToken};
use caret_store::{SnoozeRecord, SnoozeState};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{Call, Flow, Worker, elapsed_ms};
use crate::events::EngineEvent;

/// The scopes the snooze needs: `dnd.info` reads, `dnd.setSnooze` and `dnd.endSnooze` write.
pub(super) const DND_SCOPES: [&str; 2] = ["dnd:read", "dnd:write"];

/// The longest snooze asked for at once; a longer one (a status chosen until Friday) is renewed before it ends.
const LONGEST_SNOOZE_MINUTES: i64 = 24 * 60;

/// How far a running snooze's end may be from the end an unanswered `dnd.setSnooze` asked for and still be
/// that call's (Slack counts the minutes from when it received the call).
const IN_FLIGHT_TOLERANCE_SECS: i64 = 120;

/// What the worker knows of Slack's Do Not Disturb for its workspace.
#[derive(Debug, Default)]
pub(super) struct SnoozeSync {
    /// Kept in the store: the snooze of ours Slack runs, and one being started.
    state: SnoozeState,
    /// The token lacks a DND scope (these), so snoozes are not synced.
    missing_scopes: Vec<String>,
    noted_missing: bool,
    /// The person ended our snooze while this input (source and state) wanted it: not started again until
    /// another input speaks.
    declined_for: Option<String>,
    /// A snooze the person started runs until then: nothing is looked at or changed before it ends.
    theirs_until: Option<DateTime<Utc>>,
}

impl SnoozeSync {
    pub(super) fn new(state: SnoozeState, granted_scopes: Option<&[String]>) -> SnoozeSync {
        let missing_scopes = granted_scopes.map_or_else(Vec::new, |granted| {
            DND_SCOPES
                .iter()
                .filter(|scope| !granted.iter().any(|have| have == *scope))
                .map(|scope| (*scope).to_owned())
                .collect()
        });
        SnoozeSync {
            state,
            missing_scopes,
            ..SnoozeSync::default()
        }
    }
}

/// Minutes from `now` to `until` for `dnd.setSnooze`, rounded up (so the snooze never ends early), at least
/// one and at most a day.
fn minutes_until(until: DateTime<Utc>, now: DateTime<Utc>) -> NonZeroU32 {
    let seconds = (until - now).num_seconds().max(60);
    let minutes = (seconds + 59) / 60;
    let minutes = u32::try_from(minutes.min(LONGEST_SNOOZE_MINUTES)).unwrap_or(1);
    NonZeroU32::new(minutes).unwrap_or(NonZeroU32::MIN)
}

/// How long before its end a snooze is renewed: a third of a lease (at least a minute), or eight hours for one
/// cut to a day.
fn renew_margin(wanted: Snooze, lease: Duration) -> i64 {
    let margin = if wanted.renewed {
        (lease / 3).max(Duration::from_secs(60))
    } else {
        Duration::from_secs(8 * 3600)
    };
    i64::try_from(margin.as_secs()).unwrap_or(i64::MAX)
}

/// When the snooze of ours, `applied`, needs renewing for `wanted` (`None`: never, it ends when wanted), or
/// `Err` when it does not serve `wanted` at all (it would outlive it, or is due now).
fn renewal_due(
    wanted: Snooze,
    applied: SnoozeRecord,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ()> {
    let wanted_end = wanted.until.timestamp();
    // Slack counts whole minutes: an end up to a minute past the one wanted is the same snooze.
    if applied.until > wanted_end + 60 {
        return Err(());
    }
    if applied.until >= wanted_end {
        return Ok(None);
    }
    let renew_at = applied.until - renew_margin(wanted, lease);
    if now.timestamp() < renew_at {
        Ok(Some(renew_at))
    } else {
        Err(())
    }
}

impl Worker {
    /// The input the decision follows, as the snooze remembers who it was declined for.
    fn snooze_input(&self, state_name: Option<&str>) -> String {
        format!(
            "{}:{}",
            self.speaking.map_or("engine", StateSource::name),
            state_name.unwrap_or("")
        )
    }

    /// Makes Slack's Do Not Disturb follow the decision: a snooze of ours while it asks for one, none of ours
    /// otherwise, the person's own never touched.
    pub(super) async fn sync_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
        lease: Duration,
    ) -> Flow {
        let now = self.now();
        let input = self.snooze_input(state_name);
        let wanted = match decision.snooze {
            None => {
                self.snooze.declined_for = None;
                None
            }
            Some(_) if self.snooze.declined_for.as_deref() == Some(input.as_str()) => None,
            Some(wanted) => Some(wanted),
        };
        if let Some(flow) = self.snooze_not_now(decision, state_name, wanted, lease, now) {
            return flow;
        }
        let info = match self
            .snooze_call(decision, state_name, SlackMethod::DndInfo, None, token)
            .await
        {
            Ok(info) => info,
            Err(flow) => return flow,
        };
        let ours = self.take_running_snooze(decision, state_name, &info, wanted.is_some(), &input, now);
        if let Some(theirs_until) = self.snooze.theirs_until {
            return Flow::Rest(wanted.map(|_| self.instant_at(theirs_until)));
        }
        let wanted = if self.snooze.declined_for.as_deref() == Some(input.as_str()) {
            None
        } else {
            wanted
        };
        match (wanted, ours) {
            (Some(wanted), _) => {
                self.start_snooze(decision, state_name, token, wanted, lease)
                    .await
            }
            (None, true) => self.end_snooze(decision, state_name, token).await,
            (None, false) => Flow::Rest(None),
        }
    }

    /// Why nothing is called now, if nothing is: Slack runs what is wanted already, a snooze of the person's
    /// runs, the token lacks the scopes (said once), or a limit holds the calls back.
    fn snooze_not_now(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        wanted: Option<Snooze>,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Option<Flow> {
        if let Some(theirs) = self.snooze.theirs_until {
            if theirs > now {
                return Some(Flow::Rest(wanted.map(|_| self.instant_at(theirs))));
            }
            self.snooze.theirs_until = None;
        }
        if self.snooze.state.in_flight_until.is_none() {
            match (wanted, self.snooze.state.applied) {
                (None, None) => return Some(Flow::Rest(None)),
                // Ours ran out by itself: Slack ended it, nothing to call.
                (None, Some(applied)) if applied.until <= now.timestamp() => {
                    self.save_snooze(SnoozeState::default());
                    return Some(Flow::Rest(None));
                }
                (Some(wanted), Some(applied)) => {
                    if let Ok(renew_at) = renewal_due(wanted, applied, lease, now) {
                        let wake = renew_at.and_then(|at| DateTime::from_timestamp(at, 0));
                        return Some(Flow::Rest(wake.map(|at| self.instant_at(at))));
                    }
                }
                _ => {}
            }
        }
        if !self.snooze.missing_scopes.is_empty() {
            if !self.snooze.noted_missing {
                self.snooze.noted_missing = true;
                let missing = self.snooze.missing_scopes.join(", ");
                self.note(
                    decision,
                    state_name,
                    &format!("Do Not Disturb not synced: the token lacks {missing}"),
                );
            }
            return Some(Flow::Rest(None));
        }
        if let Some(until) = self.limits.held_until() {
            return Some(Flow::RetryAt(until));
        }
        // One token for the look and the write after it: tier 2 for the writes, well inside tier 3 for looks.
        if !self.limits.dnd.try_take() {
            return Some(Flow::RetryAt(self.limits.dnd.available_at()));
        }
        None
    }

    /// Sorts out what `dnd.info` found: `true` when a snooze of ours runs. A snooze with another end is the
    /// person's (remembered until it ends); ours gone before its end means the person ended it.
    fn take_running_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        info: &DndInfo,
        wanted: bool,
        input: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let known = self.snooze.state;
        let running = info.snooze_enabled.then_some(info.snooze_endtime).flatten();
        let Some(end) = running else {
            if let Some(applied) = known.applied
                && applied.until > now.timestamp() + 60
                && wanted
            {
                self.snooze.declined_for = Some(input.to_owned());
                self.note(
                    decision,
                    state_name,
                    "Do Not Disturb: you ended the snooze in Slack; not started again while this state lasts",
                );
            }
            if known != SnoozeState::default() {
                self.save_snooze(SnoozeState::default());
            }
            return false;
        };
        let ours = known.applied.is_some_and(|applied| applied.slack_end == end)
            || known
                .in_flight_until
                .is_some_and(|asked| (asked - end).abs() <= IN_FLIGHT_TOLERANCE_SECS);
        if ours {
            if known.applied.is_none_or(|applied| applied.slack_end != end) || known.in_flight_until.is_some()
            {
                let until = known.in_flight_until.unwrap_or(end);
                self.save_snooze(SnoozeState {
                    applied: Some(SnoozeRecord {
                        slack_end: end,
                        until,
                    }),
                    in_flight_until: None,
                });
            }
            return true;
        }
        if known != SnoozeState::default() {
            self.save_snooze(SnoozeState::default());
        }
        let theirs_until = DateTime::from_timestamp(end, 0).unwrap_or(now);
        if wanted {
            let local = theirs_until.with_timezone(&chrono::Local).format("%H:%M");
            self.note(
                decision,
                state_name,
                &format!("Do Not Disturb: a snooze you started runs until {local}; left alone"),
            );
        }
        self.snooze.theirs_until = Some(theirs_until);
        false
    }

    async fn start_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
        wanted: Snooze,
        lease: Duration,
    ) -> Flow {
        let now = self.now();
        let minutes = minutes_until(wanted.until, now);
        let asked_until = now.timestamp() + i64::from(minutes.get()) * 60;
        self.save_snooze(SnoozeState {
            in_flight_until: Some(asked_until),
            ..self.snooze.state
        });
        match self
            .snooze_call(
                decision,
                state_name,
                SlackMethod::DndSetSnooze,
                Some(minutes),
                token,
            )
            .await
        {
            Ok(info) => {
                let record = SnoozeRecord {
                    slack_end: info.snooze_endtime.unwrap_or(asked_until),
                    until: asked_until,
                };
                self.save_snooze(SnoozeState {
                    applied: Some(record),
                    in_flight_until: None,
                });
                let wake = renewal_due(wanted, record, lease, now)
                    .ok()
                    .flatten()
                    .and_then(|at| DateTime::from_timestamp(at, 0));
                Flow::Rest(wake.map(|at| self.instant_at(at)))
            }
            Err(flow) => flow,
        }
    }

    async fn end_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Flow {
        match self
            .snooze_call(decision, state_name, SlackMethod::DndEndSnooze, None, token)
            .await
        {
            Ok(_) => {
                self.save_snooze(SnoozeState::default());
                Flow::Rest(None)
            }
            Err(flow) => flow,
        }
    }

    /// One call to Slack's `dnd.*`, with its row in the sync log. A snooze gone before `dnd.endSnooze` reached
    /// it (it ran out, or the person ended it) is what was wanted. `Err`: what the step does instead.
    async fn snooze_call(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        method: SlackMethod,
        minutes: Option<NonZeroU32>,
        token: &SlackToken,
    ) -> Result<DndInfo, Flow> {
        // The input a change follows must outlive a power cut before Slack shows it.
        if method != SlackMethod::DndInfo {
            self.cx.shared.inputs_on_disk.wait().await;
        }
        let slack = &self.cx.shared.slack;
        let started = Instant::now();
        let result = match (method, minutes) {
            (SlackMethod::DndSetSnooze, Some(minutes)) => slack.set_snooze(token, minutes).await,
            (SlackMethod::DndEndSnooze, _) => slack.end_snooze(token).await,
            _ => slack.dnd_info(token).await,
        };
        let latency_ms = elapsed_ms(started);
        let sent = minutes.map(|minutes| format!(r#"{{"num_minutes":{minutes}}}"#));
        match result {
            Ok(info) => {
                self.log_call(decision, state_name, Call::answered(method, sent, latency_ms));
                self.answered();
                Ok(info)
            }
            Err(SlackError::Api { ref code, .. }) if code == "snooze_not_active" => {
                self.log_call(decision, state_name, Call::answered(method, sent, latency_ms));
                self.answered();
                Ok(DndInfo::default())
            }
            Err(SlackError::MissingScope { needed, .. }) => {
                self.snooze.missing_scopes = vec![needed.clone()];
                self.snooze.noted_missing = true;
                self.note(
                    decision,
                    state_name,
                    &format!("Do Not Disturb not synced: the token lacks {needed}"),
                );
                self.emit(EngineEvent::MissingScope {
                    workspace: self.cx.id,
                    team: self.cx.team.clone(),
                    scope: needed,
                });
                Err(Flow::Rest(None))
            }
            Err(error) => {
                self.log_call(
                    decision,
                    state_name,
                    Call::failed(method, sent, latency_ms, &error),
                );
                Err(self.on_error(method, error))
            }
        }
    }

    fn save_snooze(&mut self, state: SnoozeState) {
        self.snooze.state = state;
        if let Err(error) = self.cx.shared.store.save_snooze_state(self.cx.id, &state) {
            tracing::error!(workspace = self.cx.id, "cannot save the snooze state: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn minutes_are_rounded_up_and_kept_between_one_and_a_day() {
        assert_eq!(minutes_until(at(600), at(0)).get(), 10);
        assert_eq!(minutes_until(at(601), at(0)).get(), 11);
        assert_eq!(minutes_until(at(5), at(0)).get(), 1);
        assert_eq!(minutes_until(at(-50), at(0)).get(), 1);
        assert_eq!(minutes_until(at(3 * 86_400), at(0)).get(), 1440);
    }

    #[test]
    fn a_lease_is_renewed_in_its_last_third_and_a_fixed_end_never_unless_cut_to_a_day() {
        let lease = Duration::from_secs(1800);
        let leased = |until| Snooze {
            until: at(until),
            renewed: true,
        };
        let ours = |until: i64| SnoozeRecord {
            slack_end: 1_800_000_000 + until,
            until: 1_800_000_000 + until,
        };
        // Ours ends at +1800; wanted moves on with the clock.
        assert_eq!(renewal_due(leased(1800), ours(1800), lease, at(0)), Ok(None));
        assert_eq!(
            renewal_due(leased(2400), ours(1800), lease, at(600)),
            Ok(Some(1_800_000_000 + 1200))
        );
        assert_eq!(renewal_due(leased(3000), ours(1800), lease, at(1200)), Err(()));
        // A snooze that would outlive what is wanted is not it.
        assert_eq!(renewal_due(leased(600), ours(1800), lease, at(0)), Err(()));
        let fixed = |until| Snooze {
            until: at(until),
            renewed: false,
        };
        assert_eq!(renewal_due(fixed(3600), ours(3630), lease, at(0)), Ok(None));
        // Cut to a day: renewed when eight hours are left.
        let far = 3 * 86_400;
        assert_eq!(
            renewal_due(fixed(far), ours(86_400), lease, at(0)),
            Ok(Some(1_800_000_000 + 86_400 - 8 * 3600))
        );
    }
}
