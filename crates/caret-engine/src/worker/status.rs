//! The status half of a step: what Slack should show, whether it already does, a look at Slack before any
//! change (never clobber), and the write with its in-flight record.

use std::time::Duration;

use caret_core::{Decision, DesiredStatus, Expiration};
use caret_slack::{ErrorClass, ProfileStatus, SlackMethod, SlackToken};
use caret_store::{InFlight, LogKind, NewLogEntry, StatusRecord};
use chrono::DateTime;
use tokio::time::Instant;

use super::{Call, Flow, HELD_FOR_BUDGET, HELD_FOR_RATE_LIMIT, Held, Worker, elapsed_ms};
use crate::events::EngineEvent;

/// What the decision asks Slack to show, as a record, and the lease it is renewed within (if it has one).
fn desired_record(
    decision: &Decision,
    settings: &caret_core::WorkspaceSettings,
) -> (Option<StatusRecord>, Option<Duration>) {
    match &decision.status {
        DesiredStatus::Clear => (None, None),
        DesiredStatus::Set(status) => {
            let lease = matches!(status.expiration, Expiration::Lease { .. }).then(|| {
                settings
                    .lease
                    .duration()
                    .to_std()
                    .unwrap_or(Duration::from_secs(1800))
            });
            let record = StatusRecord {
                text: status.text.clone(),
                emoji: status.emoji.clone(),
                expiration: status.expiration.slack_seconds(),
            };
            (Some(record), lease)
        }
    }
}

/// What a decision asks Slack to show, expiration aside (a renewed lease is the same status).
pub(super) fn look_of(decision: &Decision) -> Option<StatusRecord> {
    match &decision.status {
        DesiredStatus::Clear => None,
        DesiredStatus::Set(status) => Some(StatusRecord {
            text: status.text.clone(),
            emoji: status.emoji.clone(),
            expiration: 0,
        }),
    }
}

fn record_of(status: &ProfileStatus) -> Option<StatusRecord> {
    (!status.is_clear()).then(|| StatusRecord {
        text: status.status_text.clone(),
        emoji: status.status_emoji.clone(),
        expiration: status.status_expiration,
    })
}

fn fields_of(record: Option<&StatusRecord>) -> ProfileStatus {
    record.map_or_else(ProfileStatus::cleared, |r| ProfileStatus {
        status_text: r.text.clone(),
        status_emoji: r.emoji.clone(),
        status_expiration: r.expiration,
    })
}

/// Text and emoji as Slack keeps them: it escapes `&`, `<` and `>` in the text, and gives a text without an
/// emoji its default emoji. Comparing in this form keeps our own status from looking like someone else's.
fn slack_form(record: &StatusRecord) -> (String, &str) {
    let text = record
        .text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let emoji = if record.emoji.is_empty() && !record.text.is_empty() {
        ":speech_balloon:"
    } else {
        &record.emoji
    };
    (text, emoji)
}

pub(super) fn same_look(a: &StatusRecord, b: &StatusRecord) -> bool {
    slack_form(a) == slack_form(b)
}

/// The same status: same look and same expiration.
fn same_status(a: &StatusRecord, b: &StatusRecord) -> bool {
    same_look(a, b) && a.expiration == b.expiration
}

impl Worker {
    /// When a lease of `lease` length is renewed: once less than a third of it (at least a minute) is left.
    fn renew_margin(lease: Duration) -> i64 {
        i64::try_from((lease / 3).max(Duration::from_secs(60)).as_secs()).unwrap_or(i64::MAX)
    }

    /// Whether Slack (as far as we know) already shows `desired`, and when to look again.
    fn satisfied(&self, desired: Option<&StatusRecord>, lease: Option<Duration>) -> Option<Option<Instant>> {
        if !self.maybe_ours.is_empty() {
            return None;
        }
        match (desired, &self.applied) {
            (None, None) => Some(None),
            (Some(wanted), Some(applied)) if same_look(wanted, applied) => {
                match lease {
                    Some(lease) => {
                        let renew_at = applied.expiration - Self::renew_margin(lease);
                        let now = self.now().timestamp();
                        (now < renew_at).then(|| {
                            Some(self.instant_at(
                                DateTime::from_timestamp(renew_at, 0).unwrap_or_else(|| self.now()),
                            ))
                        })
                    }
                    None => (wanted.expiration == applied.expiration).then_some(None),
                }
            }
            _ => None,
        }
    }

    fn is_ours(&self, status: &StatusRecord) -> bool {
        self.applied
            .iter()
            .chain(&self.maybe_ours)
            .any(|ours| same_status(ours, status))
    }

    fn set_applied(&mut self, applied: Option<StatusRecord>) {
        if self.applied != applied || !self.maybe_ours.is_empty() {
            let now_ms = self.cx.shared.clock.now_ms();
            if let Err(error) = self
                .cx
                .shared
                .store
                .finish_write(self.cx.id, applied.as_ref(), now_ms)
            {
                tracing::error!(workspace = self.cx.id, "cannot save the applied status: {error}");
            }
        }
        self.applied = applied;
        self.maybe_ours.clear();
    }

    /// Makes Slack show the decided status, unless it already does: the limits first, then a look at Slack
    /// (never clobber), then the write.
    pub(super) async fn sync_status(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
        settings: &caret_core::WorkspaceSettings,
    ) -> Flow {
        let (desired, lease) = desired_record(decision, settings);
        if let Some(wake) = self.satisfied(desired.as_ref(), lease) {
            self.held = None;
            return Flow::Rest(wake);
        }
        let override_foreign = settings.always_override || self.cx.shared.always_override;
        if let Some(at) = self
            .foreign_look_again
            .filter(|at| *at > Instant::now() && !override_foreign)
        {
            // Someone else's status is showing: it is looked at again when due, whatever changed here.
            return Flow::Rest(Some(at));
        }
        if let Some(free_at) = self.held_back(decision, state_name) {
            return Flow::RetryAt(free_at);
        }
        // Sent now (or found there): nothing is held back any more.
        self.held = None;
        self.attempting(super::Intent::Status(look_of(decision)));

        let current = match self.look_at_slack(decision, state_name, token).await {
            Ok(current) => current,
            Err(flow) => return flow,
        };
        if let Some(cut_off) = self.recovered_in_flight.take() {
            self.log_recovered_write(decision, state_name, &cut_off, current.as_ref());
        }
        if let Some(flow) = self.take_what_slack_shows(
            decision,
            state_name,
            current,
            desired.as_ref(),
            lease,
            override_foreign,
        ) {
            return flow;
        }
        self.noted_foreign = None;
        self.foreign_look_again = None;
        if desired.is_none() && self.applied.is_none() {
            return Flow::Rest(None); // nothing of ours to clear
        }
        if let Some(wake) = self.satisfied(desired.as_ref(), lease) {
            return Flow::Rest(wake);
        }
        self.write_status(decision, state_name, token, desired, lease)
            .await
    }

    /// Waits for the budget (and for any Retry-After Slack gave) before looking at Slack, so that a flapping
    /// phone costs a look only per write and a rate limit is waited out whatever wakes us. `Some`: held back
    /// until then (and remembered, so that a newer decision replacing it is explained in the sync log).
    fn held_back(&mut self, decision: &Decision, state_name: Option<&str>) -> Option<Instant> {
        let budget_free_at = self.limits.profile.available_at();
        let (free_at, reason) = match self.limits.held_until() {
            Some(until) if until > budget_free_at => (until, HELD_FOR_RATE_LIMIT),
            _ => (budget_free_at, HELD_FOR_BUDGET),
        };
        if free_at <= Instant::now() {
            return None;
        }
        self.held = Some(Held {
            look: look_of(decision),
            state: state_name.map(str::to_owned),
            reason,
        });
        Some(free_at)
    }

    /// Never clobber: looks at what Slack shows before changing it. `Err`: the call failed, and what to do.
    async fn look_at_slack(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Result<Option<StatusRecord>, Flow> {
        let started = Instant::now();
        let looked = self.cx.shared.slack.profile_get(token).await;
        let latency_ms = elapsed_ms(started);
        match looked {
            Ok(current) => {
                // Its row waits for the write that may follow, to go in the same commit.
                let row = self.stamped(self.call_row(
                    decision,
                    state_name,
                    Call::answered(SlackMethod::UsersProfileGet, None, latency_ms),
                ));
                *self.pending_look.borrow_mut() = Some(row);
                self.answered();
                Ok(record_of(&current))
            }
            Err(error) => {
                self.log_call(
                    decision,
                    state_name,
                    Call::failed(SlackMethod::UsersProfileGet, None, latency_ms, &error),
                );
                Err(self.on_error(SlackMethod::UsersProfileGet, error))
            }
        }
    }

    /// Takes what Slack shows as the starting point: ours (adopted), exactly what is wanted (nothing to send),
    /// or someone else's (left alone unless "always override", the workspace's setting or the engine's). `Some`:
    /// the step ends here.
    fn take_what_slack_shows(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        current: Option<StatusRecord>,
        desired: Option<&StatusRecord>,
        lease: Option<Duration>,
        override_foreign: bool,
    ) -> Option<Flow> {
        match &current {
            Some(shown) if desired.is_some_and(|wanted| same_status(wanted, shown)) => {
                // Slack already shows exactly this (after a crash, say): adopt it, send nothing.
                self.set_applied(current.clone());
                Some(Flow::Rest(self.satisfied(desired, lease).flatten()))
            }
            Some(shown) if !self.is_ours(shown) => {
                self.set_applied(None);
                if override_foreign {
                    self.note(
                        decision,
                        state_name,
                        "overriding a status set outside Caret Desktop (always override is on)",
                    );
                    None
                } else {
                    Some(self.leave_foreign_alone(decision, state_name, shown))
                }
            }
            Some(_) => {
                self.set_applied(current);
                None
            }
            None => {
                self.set_applied(None);
                None
            }
        }
    }

    /// A status set outside Caret Desktop is showing: says so once, and looks again when it expires or at the
    /// next recheck, whichever comes first.
    fn leave_foreign_alone(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        shown: &StatusRecord,
    ) -> Flow {
        if self.noted_foreign.as_ref() != Some(shown) {
            self.note(
                decision,
                state_name,
                "left alone: a status set outside Caret Desktop is showing",
            );
            self.noted_foreign = Some(shown.clone());
        }
        let recheck = Instant::now() + self.cx.shared.foreign_recheck;
        // Look again when that status expires, but never sooner than a few seconds from now: Slack may still
        // report a status whose expiration has just passed, and looking again at once would spin.
        let soonest = Instant::now() + Duration::from_secs(5);
        let expires = (shown.expiration > 0)
            .then(|| DateTime::from_timestamp(shown.expiration, 0).map(|at| self.instant_at(at).max(soonest)))
            .flatten();
        let look_again = expires.map_or(recheck, |at| at.min(recheck));
        self.foreign_look_again = Some(look_again);
        Flow::Rest(Some(look_again))
    }

    /// Spends the write budget, records the write as in flight, and sends it (`users.profile.set`).
    async fn write_status(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
        desired: Option<StatusRecord>,
        lease: Option<Duration>,
    ) -> Flow {
        let Some(now_ms) = self.limits.profile.try_take_recorded_by_caller() else {
            return Flow::RetryAt(self.limits.profile.available_at());
        };
        if let Err(flow) = self.record_in_flight(&desired, now_ms) {
            return flow;
        }
        let fields = fields_of(desired.as_ref());
        let sent = serde_json::to_string(&fields).ok();
        // The input this write follows must outlive a power cut before Slack shows it.
        self.cx.shared.inputs_on_disk.wait().await;
        let started = Instant::now();
        let result = self.cx.shared.slack.profile_set(token, &fields).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok(kept) => {
                self.log_call(
                    decision,
                    state_name,
                    Call::answered(SlackMethod::UsersProfileSet, sent, latency_ms),
                );
                self.answered();
                self.settled();
                // What Slack kept (it may escape the text or pick a default emoji) is what we will see later.
                self.set_applied(record_of(&kept));
                self.emit(EngineEvent::Synced {
                    workspace: self.cx.id,
                });
                Flow::Rest(self.satisfied(desired.as_ref(), lease).flatten())
            }
            Err(error) => {
                self.write_failed(desired, error.class());
                self.log_call(
                    decision,
                    state_name,
                    Call::failed(SlackMethod::UsersProfileSet, sent, latency_ms, &error),
                );
                self.on_error(SlackMethod::UsersProfileSet, error)
            }
        }
    }

    /// The in-flight record, the attempt (for the budget across restarts) and the look's row: one commit.
    /// `Err`: it could not be written, so the write is not sent.
    fn record_in_flight(&mut self, desired: &Option<StatusRecord>, now_ms: i64) -> Result<(), Flow> {
        let in_flight = InFlight {
            status: desired.clone(),
            previous: self.applied.clone(),
        };
        let look = self.pending_look.borrow_mut().take();
        match self.cx.shared.store.begin_write_after_look(
            self.cx.id,
            &in_flight,
            now_ms,
            SlackMethod::UsersProfileSet.as_str(),
            look.as_ref(),
        ) {
            Ok(Some(row)) => self.emit(EngineEvent::Logged { id: row }),
            Ok(None) => {}
            Err(error) => {
                // Without the record a crash could leave a status of ours we would not recognise: do not send.
                tracing::error!(
                    workspace = self.cx.id,
                    "cannot record the write, not sending it: {error}"
                );
                if let Some(look) = look {
                    self.append(&look);
                }
                return Err(Flow::RetryAt(Instant::now() + self.backoff.next_delay()));
            }
        }
        Ok(())
    }

    /// After a failed write: one that failed on the way (timeout, network, 5xx) may have landed, so its
    /// in-flight record stays (even a crash now leaves both statuses recognisable) and both statuses count as
    /// ours until Slack is looked at. A refusal did not land.
    fn write_failed(&mut self, desired: Option<StatusRecord>, error_class: ErrorClass) {
        let may_have_landed = error_class == ErrorClass::Retry;
        if !may_have_landed && let Err(store_error) = self.cx.shared.store.abandon_write(self.cx.id) {
            tracing::error!(
                workspace = self.cx.id,
                "cannot drop the in-flight write: {store_error}"
            );
        }
        self.maybe_ours.extend(desired);
        self.maybe_ours.extend(self.applied.iter().cloned());
    }

    /// A write was in flight when the app last stopped (a kill -9, a power cut) and its answer never came, so
    /// it has no row yet: now that Slack has been looked at, say whether it got there.
    fn log_recovered_write(
        &self,
        decision: &Decision,
        state_name: Option<&str>,
        cut_off: &InFlight,
        shown: Option<&StatusRecord>,
    ) {
        let sent = serde_json::to_string(&fields_of(cut_off.status.as_ref())).ok();
        let landed = match (&cut_off.status, shown) {
            (None, None) => true,
            (Some(wanted), Some(shown)) => same_status(wanted, shown),
            _ => false,
        };
        if landed {
            self.log(NewLogEntry {
                kind: Some(LogKind::Call),
                state: state_name.map(str::to_owned),
                policy: Some(decision.policy.label().to_lowercase()),
                method: Some(SlackMethod::UsersProfileSet.as_str().to_owned()),
                sent,
                outcome: caret_store::OUTCOME_REACHED_BEFORE_RESTART.to_owned(),
                ..NewLogEntry::default()
            });
        } else {
            self.log(NewLogEntry {
                kind: Some(LogKind::Note),
                state: state_name.map(str::to_owned),
                policy: Some(decision.policy.label().to_lowercase()),
                method: Some(SlackMethod::UsersProfileSet.as_str().to_owned()),
                sent,
                outcome: "a write cut off by the restart did not reach Slack".to_owned(),
                ..NewLogEntry::default()
            });
        }
    }
}
