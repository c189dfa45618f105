//! The Do Not Disturb half of a step: a state whose rule is to snooze pauses Slack's notifications until it
//! ends (`dnd.setSnooze`), and the snooze is ended when the state ends (`dnd.endSnooze`).
//!
//! As for the status, Slack is looked at first (`dnd.info`) before any change, and only a snooze this app
//! started is ever changed or ended: Slack's end for it is kept (in the store, so that a restart knows it),
//! and a running snooze with any other end is the person's own, left alone. A snooze the person ends in Slack
//! while a status shows is not started again until the status changes (its look, not the state behind it:
//! under Default every state is Busy). Trouble here never holds up the status: Do Not Disturb is a nicety,
//! like the presence, with its own retries.

use std::num::NonZeroU32;
use std::time::Duration;

use caret_core::{Decision, DesiredStatus, Snooze};
use caret_slack::{Backoff, DndInfo, ErrorClass, SlackError, SlackMethod, SlackToken};
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
pub(super) struct SnoozeSync {
    /// Kept in the store: the snooze of ours Slack runs, one being started or ended, and the status the
    /// person declined a snooze for.
    state: SnoozeState,
    /// The token lacks a DND scope (these), so snoozes are not synced.
    missing_scopes: Vec<String>,
    noted_missing: bool,
    /// A snooze the person started runs until then (Unix seconds): nothing is looked at or changed before it
    /// ends, and the sync log says so once per end.
    theirs_until: Option<i64>,
    noted_theirs: Option<i64>,
    /// Its own retries: trouble with Do Not Disturb is not the status's, and never says Slack is unreachable.
    backoff: Backoff,
    retries: i64,
}

impl SnoozeSync {
    pub(super) fn new(state: SnoozeState, granted_scopes: Option<&[String]>, backoff: Backoff) -> SnoozeSync {
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
            noted_missing: false,
            theirs_until: None,
            noted_theirs: None,
            backoff,
            retries: 0,
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
/// `Err` when it does not serve `wanted` (it would outlive it, is of the other kind, or is due now). A lease
/// is always renewed, even when nothing else wakes the worker (a status chosen "until cleared").
fn renewal_due(
    wanted: Snooze,
    applied: SnoozeRecord,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ()> {
    let wanted_end = wanted.until.timestamp();
    // Slack counts whole minutes: an end up to a minute past the one wanted is the same snooze. A lease
    // replacing a fixed end (VIP's event end, then Default) is set again: the old end would tell the event's.
    if applied.until > wanted_end + 60 || applied.renewed != wanted.renewed {
        return Err(());
    }
    if !wanted.renewed && applied.until >= wanted_end {
        return Ok(None);
    }
    let renew_at = applied.until - renew_margin(wanted, lease);
    if now.timestamp() < renew_at {
        Ok(Some(renew_at))
    } else {
        Err(())
    }
}

/// What a status looks like in Slack, as a declined snooze remembers it: the same look (whichever input or
/// state gives it; under Default every state is Busy) does not snooze again.
fn shown_look(decision: &Decision) -> String {
    match &decision.status {
        DesiredStatus::Set(status) => format!("{} {}", status.emoji, status.text),
        DesiredStatus::Clear => String::new(),
    }
}

impl Worker {
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
        let look = shown_look(decision);
        let wanted = match decision.snooze {
            None => {
                if self.snooze.state.declined_for.is_some() {
                    let state = SnoozeState {
                        declined_for: None,
                        ..self.snooze.state.clone()
                    };
                    self.save_snooze(state);
                }
                None
            }
            Some(_) if self.snooze.state.declined_for.as_deref() == Some(look.as_str()) => None,
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
        let ours = self.take_running_snooze(decision, state_name, &info, wanted.is_some(), &look, now);
        if let Some(theirs) = self.snooze.theirs_until {
            return Flow::Rest(wanted.and_then(|_| self.wake_at(theirs)));
        }
        let wanted = wanted.filter(|_| self.snooze.state.declined_for.as_deref() != Some(look.as_str()));
        let flow = match (wanted, ours) {
            (Some(wanted), _) => {
                self.start_snooze(decision, state_name, token, wanted, lease)
                    .await
            }
            (None, true) => self.end_snooze(decision, state_name, token).await,
            (None, false) => Flow::Rest(None),
        };
        if matches!(flow, Flow::Rest(_)) {
            self.snooze.retries = 0;
            self.snooze.backoff.reset();
        }
        flow
    }

    /// After a status step that halted (a scope or a refusal in the way): a snooze of ours the decision no
    /// longer wants is ended all the same (a block, say), since nothing may show more than the policy allows.
    pub(super) async fn end_unwanted_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Flow {
        if decision.snooze.is_some() {
            return Flow::Rest(None);
        }
        // No snooze is wanted, so the lease is not read.
        self.sync_snooze(decision, state_name, token, Duration::ZERO)
            .await
    }

    /// The instant the clock reads `at` (Unix seconds), at least a few seconds ahead: an end that Slack and
    /// this clock see a moment apart must not make a look at every step.
    fn wake_at(&self, at: i64) -> Option<Instant> {
        let at = DateTime::from_timestamp(at, 0)?.max(self.now() + chrono::Duration::seconds(5));
        Some(self.instant_at(at))
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
            if theirs > now.timestamp() {
                return Some(Flow::Rest(wanted.and_then(|_| self.wake_at(theirs))));
            }
            self.snooze.theirs_until = None;
        }
        let known = &self.snooze.state;
        if known.in_flight_until.is_none() && !known.ending {
            match (wanted, known.applied) {
                (None, None) => return Some(Flow::Rest(None)),
                // Ours ran out by itself: Slack ended it, nothing to call.
                (None, Some(applied)) if applied.until <= now.timestamp() => {
                    let state = SnoozeState {
                        applied: None,
                        ..known.clone()
                    };
                    self.save_snooze(state);
                    return Some(Flow::Rest(None));
                }
                (Some(wanted), Some(applied)) => {
                    if let Ok(renew_at) = renewal_due(wanted, applied, lease, now) {
                        return Some(Flow::Rest(renew_at.and_then(|at| self.wake_at(at))));
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
    /// person's (remembered until it ends); ours gone before its end, when we did not end it, means the person
    /// ended it.
    fn take_running_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        info: &DndInfo,
        wanted: bool,
        look: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let known = self.snooze.state.clone();
        let running = info
            .snooze_enabled
            .then_some(info.snooze_endtime)
            .flatten()
            .filter(|end| *end > now.timestamp());
        let Some(end) = running else {
            let mut next = SnoozeState {
                declined_for: known.declined_for.clone(),
                ..SnoozeState::default()
            };
            if let Some(applied) = known.applied
                && applied.until > now.timestamp() + 60
                && !known.ending
                && wanted
            {
                next.declined_for = Some(look.to_owned());
                self.note(
                    decision,
                    state_name,
                    "Do Not Disturb: you ended the snooze in Slack; not started again while this status lasts",
                );
            }
            if next != known {
                self.save_snooze(next);
            }
            return false;
        };
        let ours = known.applied.is_some_and(|applied| applied.slack_end == end)
            || known
                .in_flight_until
                .is_some_and(|asked| (asked - end).abs() <= IN_FLIGHT_TOLERANCE_SECS);
        if ours {
            let applied = known.applied.filter(|applied| applied.slack_end == end);
            let record = applied.unwrap_or(SnoozeRecord {
                slack_end: end,
                until: known.in_flight_until.unwrap_or(end),
                renewed: decision.snooze.is_some_and(|snooze| snooze.renewed),
            });
            let next = SnoozeState {
                applied: Some(record),
                in_flight_until: None,
                ..known.clone()
            };
            if next != known {
                self.save_snooze(next);
            }
            return true;
        }
        if known.applied.is_some() || known.in_flight_until.is_some() || known.ending {
            let next = SnoozeState {
                declined_for: known.declined_for.clone(),
                ..SnoozeState::default()
            };
            self.save_snooze(next);
        }
        if wanted && self.snooze.noted_theirs != Some(end) {
            self.snooze.noted_theirs = Some(end);
            let local = DateTime::from_timestamp(end, 0)
                .unwrap_or(now)
                .with_timezone(&chrono::Local)
                .format("%H:%M");
            self.note(
                decision,
                state_name,
                &format!("Do Not Disturb: a snooze you started runs until {local}; left alone"),
            );
        }
        self.snooze.theirs_until = Some(end);
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
            ending: false,
            ..self.snooze.state.clone()
        });
        let mut info = match self
            .snooze_call(
                decision,
                state_name,
                SlackMethod::DndSetSnooze,
                Some(minutes),
                token,
            )
            .await
        {
            Ok(info) => info,
            Err(flow) => return flow,
        };
        if info.snooze_endtime.is_none() {
            // Slack's answer left its end out: read it back, so that ours is known by Slack's own end.
            info = match self
                .snooze_call(decision, state_name, SlackMethod::DndInfo, None, token)
                .await
            {
                Ok(info) => info,
                Err(flow) => return flow,
            };
        }
        let Some(slack_end) = info.snooze_endtime else {
            // Still unknown: the in-flight record stays, and the next look recognises ours by its end.
            return Flow::Rest(self.wake_at(now.timestamp() + 60));
        };
        let record = SnoozeRecord {
            slack_end,
            until: asked_until,
            renewed: wanted.renewed,
        };
        self.save_snooze(SnoozeState {
            applied: Some(record),
            in_flight_until: None,
            ending: false,
            declined_for: self.snooze.state.declined_for.clone(),
        });
        let wake = renewal_due(wanted, record, lease, now).ok().flatten();
        Flow::Rest(wake.and_then(|at| self.wake_at(at)))
    }

    async fn end_snooze(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Flow {
        self.save_snooze(SnoozeState {
            ending: true,
            ..self.snooze.state.clone()
        });
        match self
            .snooze_call(decision, state_name, SlackMethod::DndEndSnooze, None, token)
            .await
        {
            Ok(_) => {
                self.save_snooze(SnoozeState {
                    declined_for: self.snooze.state.declined_for.clone(),
                    ..SnoozeState::default()
                });
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
        let call = |error| Call {
            method,
            sent: sent.clone(),
            latency_ms,
            error,
        };
        match result {
            Ok(info) => {
                self.log_snooze_call(decision, state_name, call(None));
                self.answered();
                Ok(info)
            }
            Err(SlackError::Api { ref code, .. }) if code == "snooze_not_active" => {
                self.log_snooze_call(decision, state_name, call(None));
                self.answered();
                Ok(DndInfo::default())
            }
            Err(error) => {
                self.log_snooze_call(decision, state_name, call(Some(&error)));
                Err(self.on_snooze_error(decision, state_name, method, error))
            }
        }
    }

    /// A DND call's row, with the snooze's own retry count.
    fn log_snooze_call(&self, decision: &Decision, state_name: Option<&str>, call: Call<'_>) {
        let mut row = self.call_row(decision, state_name, call);
        row.retries = self.snooze.retries;
        self.log(row);
    }

    /// What a failed DND call means. A dead token ends the worker as for any call, and Slack's Retry-After
    /// holds every call; the rest stays Do Not Disturb's own: its own backoff, and never "Slack unreachable"
    /// (the status's calls say that). A `dnd.setSnooze` that cannot have reached Slack forgets its in-flight
    /// record, so that a snooze the person starts later with a similar end is never taken for ours.
    fn on_snooze_error(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        method: SlackMethod,
        error: SlackError,
    ) -> Flow {
        let class = error.class();
        if method == SlackMethod::DndSetSnooze && class != ErrorClass::Retry {
            let state = SnoozeState {
                in_flight_until: None,
                ..self.snooze.state.clone()
            };
            self.save_snooze(state);
        }
        match (class, error) {
            (_, SlackError::MissingScope { needed, .. }) => {
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
                Flow::Rest(None)
            }
            (ErrorClass::RetryAfter(wait), _) => {
                let until = Instant::now() + wait;
                self.limits.hold_until(until);
                self.limits.dnd.drain_until(until);
                self.snooze.retries += 1;
                Flow::RetryAt(until)
            }
            (ErrorClass::Disconnect, error) => self.on_error(method, error),
            (ErrorClass::Retry, _) => {
                self.snooze.retries += 1;
                Flow::RetryAt(Instant::now() + self.snooze.backoff.next_delay())
            }
            (_, error) => {
                tracing::warn!(workspace = self.cx.id, "Do Not Disturb: Slack refused: {error}");
                Flow::Rest(None)
            }
        }
    }

    fn save_snooze(&mut self, state: SnoozeState) {
        if let Err(error) = self.cx.shared.store.save_snooze_state(self.cx.id, &state) {
            tracing::error!(workspace = self.cx.id, "cannot save the snooze state: {error}");
        }
        self.snooze.state = state;
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
        let ours = |until: i64, renewed: bool| SnoozeRecord {
            slack_end: 1_800_000_000 + until,
            until: 1_800_000_000 + until,
            renewed,
        };
        let leased_ours = |until| ours(until, true);
        let fixed_ours = |until| ours(until, false);
        // Ours ends at +1800; wanted moves on with the clock. Even fresh, a lease has its renewal ahead.
        assert_eq!(
            renewal_due(leased(1800), leased_ours(1800), lease, at(0)),
            Ok(Some(1_800_000_000 + 1200))
        );
        assert_eq!(
            renewal_due(leased(2400), leased_ours(1800), lease, at(600)),
            Ok(Some(1_800_000_000 + 1200))
        );
        assert_eq!(
            renewal_due(leased(3000), leased_ours(1800), lease, at(1200)),
            Err(())
        );
        // A snooze that would outlive what is wanted is not it.
        assert_eq!(renewal_due(leased(600), leased_ours(1800), lease, at(0)), Err(()));
        let fixed = |until| Snooze {
            until: at(until),
            renewed: false,
        };
        assert_eq!(renewal_due(fixed(3600), fixed_ours(3630), lease, at(0)), Ok(None));
        // Cut to a day: renewed when eight hours are left.
        let far = 3 * 86_400;
        assert_eq!(
            renewal_due(fixed(far), fixed_ours(86_400), lease, at(0)),
            Ok(Some(1_800_000_000 + 86_400 - 8 * 3600))
        );
        // A fixed end (an event's, under VIP) is not kept as a lease (under Default): set again.
        assert_eq!(renewal_due(leased(1800), fixed_ours(1200), lease, at(0)), Err(()));
        assert_eq!(renewal_due(fixed(1800), leased_ours(1800), lease, at(0)), Err(()));
    }
}
