//! One task per workspace: make Slack show what the policy says, and keep it so.
//!
//! Each step: decide now (so a lease is always fresh) → if Slack already shows ours and nothing is due,
//! rest → otherwise look at Slack first (`users.profile.get`): a status set by someone else is left alone
//! (unless "always override"), and is looked at again later → spend the write budget → record the write as
//! in flight → `users.profile.set` → record what Slack kept. Presence follows, only when it changes.
//!
//! Failures follow [`caret_slack::ErrorClass`]: wait exactly `Retry-After`, back off on transient trouble,
//! stop and tell the user when the token is dead or a scope is missing, and log a refusal of what we sent as
//! the bug it is. After a crash, the in-flight record says which two statuses Slack may hold; both count as
//! ours, so the first step adopts whichever Slack has and sends nothing it does not need to.

use std::sync::Arc;
use std::time::Duration;

use caret_core::{Decision, DesiredStatus, Expiration, Policy, Presence, choose_input, decide};
use caret_slack::{Backoff, ErrorClass, ProfileStatus, SlackError, SlackMethod, SlackToken, WirePresence};
use caret_store::{InFlight, LogKind, NewLogEntry, StatusRecord, WorkspaceId};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::budget::WorkspaceLimits;
use crate::engine::{Target, WorkerContextShared};
use crate::events::EngineEvent;

pub(crate) struct WorkerContext {
    pub id: WorkspaceId,
    pub team: String,
    pub shared: Arc<WorkerContextShared>,
    /// Kept by the coordinator across this workspace's workers.
    pub limits: WorkspaceLimits,
}

/// What a step concluded.
enum Flow {
    /// Done for now; wake at this time (a lease to renew, an end to act on), if any.
    Rest(Option<Instant>),
    /// Not done; try again at this time.
    RetryAt(Instant),
    /// Not done, and trying again is useless until something changes (a bug, a missing scope, no token).
    Halt,
    /// The token is dead: this worker ends; reconnecting starts a new one.
    Exit,
}

struct Worker {
    cx: WorkerContext,
    /// Our status as Slack holds it; `None` when no status of ours is there.
    applied: Option<StatusRecord>,
    /// Statuses that also count as ours until Slack has been looked at once (after a crash mid-write).
    maybe_ours: Vec<StatusRecord>,
    applied_presence: Presence,
    /// The token cannot set presence (no `users:write`): statuses still sync.
    presence_unavailable: bool,
    /// The sync log said once that presence is not synced, and why.
    noted_presence_unavailable: bool,
    limits: WorkspaceLimits,
    backoff: Backoff,
    retries: i64,
    failing_since: Option<Instant>,
    reported_unreachable: bool,
    last_policy: Option<Policy>,
    last_desired: Option<Decision>,
    /// The foreign status last noted, so the log says it once, not at every look.
    noted_foreign: Option<StatusRecord>,
    /// While a status set outside Caret Desktop is showing: when to look at Slack again. New inputs do not
    /// make the worker look sooner (a flapping phone would otherwise cost a look each, and meet Slack's limit
    /// on `users.profile.get`).
    foreign_look_again: Option<Instant>,
    noted_pause: bool,
    /// Slack called the token expired and the token source may refresh it: done at the start of the next step.
    refresh_due: Option<SlackToken>,
    /// A refresh was already tried since the last success: a second `token_expired` disconnects.
    refresh_tried: bool,
    /// The row of a look at Slack not written yet: it goes in the same commit as the write that follows it (one
    /// fsync before the write leaves, not two), or before any other row, or when the step ends. A `RefCell`:
    /// the worker is one task's, and `log` takes `&self`.
    pending_look: std::cell::RefCell<Option<NewLogEntry>>,
    /// The write that was in flight when the app last stopped, until Slack has been looked at once: it gets
    /// its sync-log row then (whether it reached Slack).
    recovered_in_flight: Option<InFlight>,
    /// A status decided but held back (waiting for the write budget): if a newer decision replaces it before
    /// it is sent, the sync log says so, so that every change the user made is either in Slack or explained.
    held: Option<Held>,
}

/// A decided status not sent yet, and why.
struct Held {
    /// What Slack was to show (`None`: no status).
    look: Option<StatusRecord>,
    state: Option<String>,
    reason: &'static str,
}

/// Why a decided status waits: Slack takes about ten status changes a minute per user.
const HELD_FOR_BUDGET: &str = "waiting for the write budget (Slack takes about ten status changes a minute)";
/// Why a decided status waits: Slack answered 429 and said how long to wait.
const HELD_FOR_RATE_LIMIT: &str = "waiting out Slack's rate limit (it said how long, in Retry-After)";

/// The scope `users.setPresence` needs.
const PRESENCE_SCOPE: &str = "users:write";

/// What a decision asks Slack to show, expiration aside (a renewed lease is the same status).
fn look_of(decision: &Decision) -> Option<StatusRecord> {
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

fn same_look(a: &StatusRecord, b: &StatusRecord) -> bool {
    slack_form(a) == slack_form(b)
}

/// The same status: same look and same expiration.
fn same_status(a: &StatusRecord, b: &StatusRecord) -> bool {
    same_look(a, b) && a.expiration == b.expiration
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

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

pub(crate) async fn run(cx: WorkerContext, mut targets: watch::Receiver<Target>) {
    let workspace = cx.id;
    let mut worker = match Worker::recover(cx) {
        Ok(worker) => worker,
        Err(error) => {
            tracing::error!(workspace, "cannot load the sync state: {error}");
            return;
        }
    };
    loop {
        let target = targets.borrow_and_update().clone();
        let flow = worker.step(&target).await;
        // A look that no write followed is written now.
        worker.flush_pending_look();
        let wake = match flow {
            Flow::Rest(at) => at,
            Flow::RetryAt(at) => Some(at),
            Flow::Halt => None,
            Flow::Exit => return,
        };
        // Deadlines are wall-clock times (a lease's end, an event's end). tokio's clock stops while a laptop is
        // suspended, so sleep in chunks of at most a minute and check the wall clock after each.
        let deadline =
            wake.map(|at| worker.now() + chrono::Duration::from_std(at - Instant::now()).unwrap_or_default());
        loop {
            let chunk = Instant::now() + MAX_SLEEP;
            let until = wake.map_or(chunk, |at| at.min(chunk));
            tokio::select! {
                changed = targets.changed() => {
                    if changed.is_err() { return }
                    break;
                }
                () = tokio::time::sleep_until(until) => {
                    if deadline.is_some_and(|deadline| worker.now() >= deadline) || wake.is_some_and(|at| Instant::now() >= at) {
                        break;
                    }
                }
            }
        }
    }
}

/// The longest a worker sleeps without looking at the wall clock.
const MAX_SLEEP: Duration = Duration::from_secs(60);

impl Worker {
    fn recover(cx: WorkerContext) -> Result<Worker, caret_store::StoreError> {
        let state = cx.shared.store.sync_state(cx.id)?;
        let mut maybe_ours = Vec::new();
        if let Some(InFlight { status, previous }) = &state.in_flight {
            maybe_ours.extend(status.iter().cloned());
            maybe_ours.extend(previous.iter().cloned());
        }
        let applied_presence = match state.applied_presence.as_deref() {
            Some("away") => Presence::Away,
            _ => Presence::Auto,
        };
        let backoff = Backoff::new(cx.shared.retry_base, cx.shared.retry_cap);
        // Scopes Slack granted at connection (or at the last refresh): without users:write, a presence call
        // would only be refused. `None`: not known (connected before they were kept), so try and learn.
        let presence_unavailable = cx
            .shared
            .store
            .workspace(cx.id)?
            .granted_scopes
            .is_some_and(|granted| !granted.iter().any(|scope| scope == PRESENCE_SCOPE));
        Ok(Worker {
            applied: state.applied_status,
            maybe_ours,
            applied_presence,
            presence_unavailable,
            noted_presence_unavailable: false,
            limits: cx.limits.clone(),
            backoff,
            retries: 0,
            failing_since: None,
            reported_unreachable: false,
            last_policy: None,
            last_desired: state.desired,
            noted_foreign: None,
            foreign_look_again: None,
            noted_pause: false,
            refresh_due: None,
            refresh_tried: false,
            held: None,
            pending_look: std::cell::RefCell::new(None),
            recovered_in_flight: state.in_flight.clone(),
            cx,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.cx.shared.clock.now()
    }

    /// The tokio instant at which the clock will read `at`.
    fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        let ahead = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + ahead
    }

    fn emit(&self, event: EngineEvent) {
        let _ = self.cx.shared.events.send(event);
    }

    /// Fills in what every row of this worker says: when, who, which workspace.
    fn stamped(&self, mut entry: NewLogEntry) -> NewLogEntry {
        entry.at_ms = self.cx.shared.clock.now_ms();
        entry.source = "engine".to_owned();
        entry.workspace_id = Some(self.cx.id);
        entry.workspace = Some(self.cx.team.clone());
        entry
    }

    fn log(&self, entry: NewLogEntry) {
        self.flush_pending_look();
        self.append(&self.stamped(entry));
    }

    fn append(&self, entry: &NewLogEntry) {
        match self.cx.shared.store.append_log(entry) {
            Ok(id) => self.emit(EngineEvent::Logged { id }),
            Err(error) => tracing::error!(workspace = self.cx.id, "cannot write the sync log: {error}"),
        }
    }

    /// Writes the row of the last look at Slack, if it is still waiting for a write to go with.
    fn flush_pending_look(&self) {
        let pending = self.pending_look.borrow_mut().take();
        if let Some(look) = pending {
            self.append(&look);
        }
    }

    fn note(&self, decision: &Decision, state: Option<&str>, outcome: &str) {
        self.log(NewLogEntry {
            kind: Some(LogKind::Note),
            state: state.map(str::to_owned),
            policy: Some(decision.policy.label().to_lowercase()),
            outcome: outcome.to_owned(),
            ..NewLogEntry::default()
        });
    }

    async fn step(&mut self, target: &Target) -> Flow {
        let now_local = self.cx.shared.clock.now_local();
        let now = now_local.with_timezone(&Utc);
        let input = choose_input(target.phone.as_ref(), target.manual.as_ref(), now);
        let decision = match &input {
            Some(input) => decide(input, &target.settings, now_local),
            None => Decision {
                policy: target.settings.policy.effective(now),
                status: DesiredStatus::Clear,
                presence: Presence::Auto,
                recompute_at: target.settings.policy.next_change(now),
            },
        };
        let state_name = input.as_ref().map(|i| i.state.kind().as_str());
        if self.last_policy == Some(Policy::Blocked)
            && decision.policy != Policy::Blocked
            && target.settings.policy.blocked.is_some()
        {
            self.emit(EngineEvent::BlockEnded {
                workspace: self.cx.id,
                team: self.cx.team.clone(),
            });
            self.note(&decision, state_name, "timed block ended; sharing again");
        }
        self.last_policy = Some(decision.policy);
        if let Some(held) = self.held.take() {
            let replaced = match (&held.look, look_of(&decision)) {
                (None, None) => false,
                (Some(before), Some(now)) => !same_look(before, &now),
                _ => true,
            };
            if replaced {
                self.note(
                    &decision,
                    held.state.as_deref(),
                    &format!("not sent: replaced by a newer state while {}", held.reason),
                );
            } else {
                self.held = Some(held);
            }
        }
        if self.last_desired.as_ref() != Some(&decision) {
            if let Err(error) =
                self.cx
                    .shared
                    .store
                    .save_desired(self.cx.id, &decision, now.timestamp_millis())
            {
                tracing::error!(workspace = self.cx.id, "cannot save the desired status: {error}");
            }
            self.last_desired = Some(decision.clone());
        }

        if target.paused {
            if !self.noted_pause {
                self.note(&decision, state_name, "paused: nothing sent");
                self.noted_pause = true;
            }
            return Flow::Rest(None);
        }
        self.noted_pause = false;

        if let Some(stale) = self.refresh_due.take() {
            let refreshed = match self.cx.shared.tokens.refresh(self.cx.id, stale.clone()) {
                Some(refresh) => refresh.await,
                None => Err(crate::EngineError::TokenRefresh {
                    reason: "this token has no refresh token".into(),
                    may_recover: false,
                }),
            };
            match refreshed {
                Ok(()) => self.note(
                    &decision,
                    state_name,
                    "token expired; refreshed it and trying again",
                ),
                Err(crate::EngineError::TokenRefresh {
                    reason,
                    may_recover: true,
                }) => {
                    // Slack or the keyring in trouble: the refresh may work later; the user need not act yet.
                    self.note(
                        &decision,
                        state_name,
                        &format!("token expired; renewing it failed for now ({reason}); trying again"),
                    );
                    self.refresh_due = Some(stale);
                    self.retries += 1;
                    return Flow::RetryAt(Instant::now() + self.backoff.next_delay());
                }
                Err(error) => {
                    self.note(&decision, state_name, &format!("token expired; {error}"));
                    return self.disconnect(caret_slack::AuthFailure::TokenExpired.code().to_owned());
                }
            }
        }

        let Some(token) = self.cx.shared.tokens.token(self.cx.id) else {
            self.note(&decision, state_name, "no token for this workspace: reconnect it");
            return Flow::Halt;
        };

        let recompute = decision.recompute_at.map(|at| self.instant_at(at));
        let status_wake = match self
            .sync_status(&decision, state_name, &token, &target.settings)
            .await
        {
            Flow::Rest(wake) => wake,
            // Retrying the same thing is useless, but the decision changes by itself at `recompute_at`.
            Flow::Halt => return Flow::Rest(recompute),
            other => return other,
        };
        let wakes = [status_wake, recompute];
        // A look no write followed is written before the next call, which a stop could cut short.
        self.flush_pending_look();
        match self.sync_presence(&decision, state_name, &token).await {
            Flow::Exit => Flow::Exit,
            // Presence is a nicety: its trouble never holds up the status (nor its lease renewals).
            Flow::RetryAt(at) => Flow::Rest(wakes.into_iter().flatten().chain([at]).min()),
            Flow::Rest(_) | Flow::Halt => Flow::Rest(wakes.into_iter().flatten().min()),
        }
    }

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

    async fn sync_status(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
        settings: &caret_core::WorkspaceSettings,
    ) -> Flow {
        let (desired, lease) = match &decision.status {
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
        };
        if let Some(wake) = self.satisfied(desired.as_ref(), lease) {
            self.held = None;
            return Flow::Rest(wake);
        }
        if let Some(at) = self.foreign_look_again.filter(|at| *at > Instant::now()) {
            // Someone else's status is showing: it is looked at again when due, whatever changed here.
            return Flow::Rest(Some(at));
        }
        // Wait for the budget (and for any Retry-After Slack gave) before looking at Slack, so that a
        // flapping phone costs a look only per write and a rate limit is waited out whatever wakes us.
        let budget_free_at = self.limits.profile.available_at();
        let (free_at, reason) = match self.limits.held_until() {
            Some(until) if until > budget_free_at => (until, HELD_FOR_RATE_LIMIT),
            _ => (budget_free_at, HELD_FOR_BUDGET),
        };
        if free_at > Instant::now() {
            self.held = Some(Held {
                look: look_of(decision),
                state: state_name.map(str::to_owned),
                reason,
            });
            return Flow::RetryAt(free_at);
        }
        // Sent now (or found there): nothing is held back any more.
        self.held = None;

        // Never clobber: look at what Slack shows before changing it.
        let started = Instant::now();
        let looked = self.cx.shared.slack.profile_get(token).await;
        let latency_ms = elapsed_ms(started);
        let current = match looked {
            Ok(current) => {
                // Its row waits for the write that may follow, to go in the same commit.
                let row = self.stamped(self.call_row(
                    decision,
                    state_name,
                    SlackMethod::UsersProfileGet,
                    None,
                    "ok",
                    Some(latency_ms),
                    None,
                ));
                *self.pending_look.borrow_mut() = Some(row);
                // Slack answered: whatever was failing before is over.
                self.succeeded();
                record_of(&current)
            }
            Err(error) => {
                self.log_call(
                    decision,
                    state_name,
                    SlackMethod::UsersProfileGet,
                    None,
                    &error.code(),
                    Some(latency_ms),
                    Some(&error),
                );
                return self.on_error(SlackMethod::UsersProfileGet, error);
            }
        };
        if let Some(cut_off) = self.recovered_in_flight.take() {
            self.log_recovered_write(decision, state_name, &cut_off, current.as_ref());
        }
        match &current {
            Some(shown) if desired.as_ref().is_some_and(|wanted| same_status(wanted, shown)) => {
                // Slack already shows exactly this (after a crash, say): adopt it, send nothing.
                self.set_applied(current.clone());
                return Flow::Rest(self.satisfied(desired.as_ref(), lease).flatten());
            }
            Some(shown) if !self.is_ours(shown) => {
                self.set_applied(None);
                if self.cx.shared.always_override {
                    self.note(
                        decision,
                        state_name,
                        "overriding a status set outside Caret Desktop (always override is on)",
                    );
                } else {
                    if self.noted_foreign.as_ref() != Some(shown) {
                        self.note(
                            decision,
                            state_name,
                            "left alone: a status set outside Caret Desktop is showing",
                        );
                        self.noted_foreign = Some(shown.clone());
                    }
                    let recheck = Instant::now() + self.cx.shared.foreign_recheck;
                    // Look again when that status expires, but never sooner than a few seconds from now:
                    // Slack may still report a status whose expiration has just passed, and looking again at
                    // once would spin.
                    let soonest = Instant::now() + Duration::from_secs(5);
                    let expires = (shown.expiration > 0)
                        .then(|| {
                            DateTime::from_timestamp(shown.expiration, 0)
                                .map(|at| self.instant_at(at).max(soonest))
                        })
                        .flatten();
                    let look_again = expires.map_or(recheck, |at| at.min(recheck));
                    self.foreign_look_again = Some(look_again);
                    return Flow::Rest(Some(look_again));
                }
            }
            Some(shown) => {
                let shown = shown.clone();
                self.set_applied(Some(shown));
            }
            None => self.set_applied(None),
        }
        self.noted_foreign = None;
        self.foreign_look_again = None;
        if desired.is_none() && self.applied.is_none() {
            return Flow::Rest(None); // nothing of ours to clear
        }
        if let Some(wake) = self.satisfied(desired.as_ref(), lease) {
            return Flow::Rest(wake);
        }

        let Some(now_ms) = self.limits.profile.try_take_recorded_by_caller() else {
            return Flow::RetryAt(self.limits.profile.available_at());
        };
        let in_flight = InFlight {
            status: desired.clone(),
            previous: self.applied.clone(),
        };
        // The in-flight record, the attempt (for the budget across restarts) and the look's row: one commit.
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
                return Flow::RetryAt(Instant::now() + self.backoff.next_delay());
            }
        }
        let fields = fields_of(desired.as_ref());
        let sent = serde_json::to_string(&fields).ok();
        let started = Instant::now();
        let result = self.cx.shared.slack.profile_set(token, &fields).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok(kept) => {
                self.log_call(
                    decision,
                    state_name,
                    SlackMethod::UsersProfileSet,
                    sent,
                    "ok",
                    Some(latency_ms),
                    None,
                );
                self.succeeded();
                // What Slack kept (it may escape the text or pick a default emoji) is what we will see later.
                self.set_applied(record_of(&kept));
                self.emit(EngineEvent::Synced {
                    workspace: self.cx.id,
                });
                Flow::Rest(self.satisfied(desired.as_ref(), lease).flatten())
            }
            Err(error) => {
                // A write that failed on the way (timeout, network, 5xx) may have landed: keep its in-flight
                // record so that even a crash now leaves both statuses recognisable. A refusal did not land.
                let may_have_landed = error.class() == ErrorClass::Retry;
                if !may_have_landed && let Err(store_error) = self.cx.shared.store.abandon_write(self.cx.id) {
                    tracing::error!(
                        workspace = self.cx.id,
                        "cannot drop the in-flight write: {store_error}"
                    );
                }
                // A write that timed out may still have landed: both statuses count as ours until we look.
                self.maybe_ours.extend(desired.iter().cloned());
                self.maybe_ours.extend(self.applied.iter().cloned());
                self.log_call(
                    decision,
                    state_name,
                    SlackMethod::UsersProfileSet,
                    sent,
                    &error.code(),
                    Some(latency_ms),
                    Some(&error),
                );
                self.on_error(SlackMethod::UsersProfileSet, error)
            }
        }
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

    async fn sync_presence(
        &mut self,
        decision: &Decision,
        state_name: Option<&str>,
        token: &SlackToken,
    ) -> Flow {
        if decision.presence == self.applied_presence {
            return Flow::Rest(None);
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
            return Flow::Rest(None);
        }
        // Slack's Retry-After first, then presence's own budget (tier 2): a phone flapping between states
        // that change presence costs at most the budget, and the latest presence goes out when it frees.
        if let Some(until) = self.limits.held_until() {
            return Flow::RetryAt(until);
        }
        if !self.limits.presence.try_take() {
            return Flow::RetryAt(self.limits.presence.available_at());
        }
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
                self.log_call(
                    decision,
                    state_name,
                    SlackMethod::UsersSetPresence,
                    sent,
                    "ok",
                    Some(latency_ms),
                    None,
                );
                self.succeeded();
                self.applied_presence = decision.presence;
                let now_ms = self.cx.shared.clock.now_ms();
                if let Err(error) =
                    self.cx
                        .shared
                        .store
                        .save_presence(self.cx.id, presence_name(decision.presence), now_ms)
                {
                    tracing::error!(workspace = self.cx.id, "cannot save presence: {error}");
                }
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
                self.log_call(
                    decision,
                    state_name,
                    SlackMethod::UsersSetPresence,
                    sent,
                    &error.code(),
                    Some(latency_ms),
                    Some(&error),
                );
                self.on_error(SlackMethod::UsersSetPresence, error)
            }
        }
    }

    fn succeeded(&mut self) {
        self.refresh_tried = false;
        self.backoff.reset();
        self.retries = 0;
        self.failing_since = None;
        if self.reported_unreachable {
            self.reported_unreachable = false;
            self.emit(EngineEvent::Reachable {
                workspace: self.cx.id,
                team: self.cx.team.clone(),
            });
        }
    }

    /// Slack no longer takes the token: mark the workspace disconnected, tell the user, end this worker.
    fn disconnect(&mut self, reason: String) -> Flow {
        if let Err(store_error) = self
            .cx
            .shared
            .store
            .set_connected(self.cx.id, false, Some(&reason))
        {
            tracing::error!(
                workspace = self.cx.id,
                "cannot mark the workspace disconnected: {store_error}"
            );
        }
        self.emit(EngineEvent::Disconnected {
            workspace: self.cx.id,
            team: self.cx.team.clone(),
            reason,
        });
        Flow::Exit
    }

    #[allow(clippy::too_many_arguments)]
    fn log_call(
        &self,
        decision: &Decision,
        state_name: Option<&str>,
        method: SlackMethod,
        sent: Option<String>,
        outcome: &str,
        latency_ms: Option<i64>,
        error: Option<&SlackError>,
    ) {
        self.log(self.call_row(decision, state_name, method, sent, outcome, latency_ms, error));
    }

    #[allow(clippy::too_many_arguments)]
    fn call_row(
        &self,
        decision: &Decision,
        state_name: Option<&str>,
        method: SlackMethod,
        sent: Option<String>,
        outcome: &str,
        latency_ms: Option<i64>,
        error: Option<&SlackError>,
    ) -> NewLogEntry {
        NewLogEntry {
            kind: Some(LogKind::Call),
            state: state_name.map(str::to_owned),
            policy: Some(decision.policy.label().to_lowercase()),
            method: Some(method.as_str().to_owned()),
            sent,
            outcome: outcome.to_owned(),
            latency_ms,
            retries: self.retries,
            error: error.map(ToString::to_string),
            ..NewLogEntry::default()
        }
    }

    /// What a failed call means for this worker (the call's row is already in the sync log).
    fn on_error(&mut self, method: SlackMethod, error: SlackError) -> Flow {
        match error.class() {
            ErrorClass::RetryAfter(wait) => {
                self.retries += 1;
                let until = Instant::now() + wait;
                // Slack's answer holds every call with this token, not just the method it came from: a new
                // input must not wake the worker into calling again before it is up.
                self.limits.hold_until(until);
                match method {
                    SlackMethod::UsersProfileSet => self.limits.profile.drain_until(until),
                    SlackMethod::UsersSetPresence => self.limits.presence.drain_until(until),
                    _ => {}
                }
                Flow::RetryAt(until)
            }
            ErrorClass::Retry => {
                self.retries += 1;
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if !self.reported_unreachable && since.elapsed() >= self.cx.shared.unreachable_after {
                    self.reported_unreachable = true;
                    let since_ms = self.cx.shared.clock.now_ms()
                        - i64::try_from(since.elapsed().as_millis()).unwrap_or(0);
                    self.emit(EngineEvent::Unreachable {
                        workspace: self.cx.id,
                        team: self.cx.team.clone(),
                        since_ms,
                    });
                }
                Flow::RetryAt(Instant::now() + self.backoff.next_delay())
            }
            ErrorClass::Disconnect => {
                // A rotating token that expired gets one refresh (at the next step, which may await); a second
                // `token_expired` after it, or any other refusal, means the user must reconnect.
                if matches!(
                    error,
                    SlackError::Auth {
                        reason: caret_slack::AuthFailure::TokenExpired,
                        ..
                    }
                ) && !self.refresh_tried
                    && self.cx.shared.tokens.can_refresh(self.cx.id)
                    && let Some(stale) = self.cx.shared.tokens.token(self.cx.id)
                {
                    self.refresh_tried = true;
                    self.refresh_due = Some(stale);
                    return Flow::RetryAt(Instant::now());
                }
                self.disconnect(error.code())
            }
            ErrorClass::NeedsUser => {
                if let SlackError::MissingScope { needed, .. } = &error {
                    self.emit(EngineEvent::MissingScope {
                        workspace: self.cx.id,
                        team: self.cx.team.clone(),
                        scope: needed.clone(),
                    });
                }
                Flow::Halt
            }
            ErrorClass::Bug => {
                tracing::error!(workspace = self.cx.id, "bug in the status mapping: {error}");
                Flow::Halt
            }
            ErrorClass::Permanent => {
                tracing::warn!(workspace = self.cx.id, "Slack refused: {error}");
                Flow::Halt
            }
        }
    }
}
