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

mod call;
mod decide;
mod presence;
mod snooze;
mod status;

use caret_core::{Decision, Policy, Presence, StateSource};
use caret_slack::{Backoff, ErrorClass, SlackError, SlackMethod, SlackToken};
use caret_store::{InFlight, LogKind, NewLogEntry, StatusRecord, WorkspaceId};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

use self::call::Call;
use self::status::{look_of, same_look};
use crate::Source;
use crate::budget::WorkspaceLimits;
use crate::coordinator::{Target, WorkerContextShared};
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
    /// The write being retried: the sync log's retry count and the backoff belong to it, across the looks at
    /// Slack between its attempts, and start again for a new one.
    retried: Option<Intent>,
    backoff: Backoff,
    /// Failed attempts of `retried` so far (its next call's rows say this many).
    retries: i64,
    failing_since: Option<Instant>,
    reported_unreachable: bool,
    last_policy: Option<Policy>,
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
    /// The input the last decision followed: the Source column of this worker's rows names it ("phone",
    /// "microphone", "you"…), so that a call says which source the state in Slack came from. `None` (nothing
    /// speaks, the status is cleared): "engine".
    speaking: Option<StateSource>,
    /// The desk signal (the screen lock, the working hours) that makes the presence differ from what the
    /// inputs alone make it (away while locked, or off work).
    desk_presence: Option<Source>,
    /// The presence Slack has was written for that signal: its lifting is that signal's row too.
    applied_presence_by: Option<Source>,
    /// Slack's Do Not Disturb: the snooze of ours, and the person's own.
    snooze: snooze::SnoozeSync,
}

/// What a write is for: a status's look (a renewed lease is the same write), or a presence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Intent {
    Status(Option<StatusRecord>),
    Presence(Presence),
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

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
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
        let granted_scopes = cx.shared.store.workspace(cx.id)?.granted_scopes;
        let presence_unavailable = granted_scopes
            .as_ref()
            .is_some_and(|granted| !granted.iter().any(|scope| scope == PRESENCE_SCOPE));
        let snooze = snooze::SnoozeSync::new(
            cx.shared.store.snooze_state(cx.id)?,
            granted_scopes.as_deref(),
            Backoff::new(cx.shared.retry_base, cx.shared.retry_cap),
        );
        Ok(Worker {
            applied: state.applied_status,
            maybe_ours,
            applied_presence,
            presence_unavailable,
            noted_presence_unavailable: false,
            limits: cx.limits.clone(),
            retried: None,
            backoff,
            retries: 0,
            failing_since: None,
            reported_unreachable: false,
            last_policy: None,
            noted_foreign: None,
            foreign_look_again: None,
            noted_pause: false,
            refresh_due: None,
            refresh_tried: false,
            held: None,
            speaking: None,
            desk_presence: None,
            applied_presence_by: None,
            snooze,
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

    /// Fills in what every row of this worker says: when, for which input, which workspace.
    fn stamped(&self, mut entry: NewLogEntry) -> NewLogEntry {
        entry.at_ms = self.cx.shared.clock.now_ms();
        entry.source = self.speaking.map_or("engine", StateSource::name).to_owned();
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
        // One reading of the clock for the decision and its comparisons: a lease's end moves with it.
        let now = self.cx.shared.clock.now_local();
        let (decision, state_name, speaking) = self.decide_now(target, now);
        let desk = self.desk_effects(target, &decision, now);
        // "Off for the day" and "Away from the desk" are the desk's own rows, whatever the phone said.
        self.speaking = desk.status.or(speaking);
        self.desk_presence = desk.presence;
        self.notice_changes(&decision, state_name, target);

        if target.paused {
            if !self.noted_pause {
                self.note(&decision, state_name, "paused: nothing sent");
                self.noted_pause = true;
            }
            return Flow::Rest(None);
        }
        self.noted_pause = false;

        if let Some(flow) = self.refresh_if_due(&decision, state_name).await {
            return flow;
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
            Flow::Rest(wake) => {
                if matches!(self.retried, Some(Intent::Status(_))) {
                    self.settled();
                }
                wake
            }
            // Retrying the same thing is useless, but the decision changes by itself at `recompute_at`. A
            // snooze of ours the decision no longer wants is ended all the same (a block, say).
            Flow::Halt => {
                return match self.end_unwanted_snooze(&decision, state_name, &token).await {
                    Flow::Exit => Flow::Exit,
                    _ => Flow::Rest(recompute),
                };
            }
            other => return other,
        };
        // A look no write followed is written before the next call, which a stop could cut short.
        self.flush_pending_look();
        // Presence and Do Not Disturb are niceties: their trouble never holds up the status (nor its lease
        // renewals), and their own waits only add a time to wake.
        let presence_wake = match self.sync_presence(&decision, state_name, &token).await {
            Flow::Exit => return Flow::Exit,
            Flow::RetryAt(at) => Some(at),
            Flow::Rest(_) | Flow::Halt => None,
        };
        let lease = target.settings.lease.duration().to_std().unwrap_or(MAX_SLEEP);
        let snooze_wake = match self.sync_snooze(&decision, state_name, &token, lease).await {
            Flow::Exit => return Flow::Exit,
            Flow::RetryAt(at) | Flow::Rest(Some(at)) => Some(at),
            Flow::Rest(None) | Flow::Halt => None,
        };
        Flow::Rest(
            [status_wake, recompute, presence_wake, snooze_wake]
                .into_iter()
                .flatten()
                .min(),
        )
    }

    /// What changed since the last step that the user should see: a timed block that ended, a held-back
    /// status replaced before it was sent.
    fn notice_changes(&mut self, decision: &Decision, state_name: Option<&str>, target: &Target) {
        if self.last_policy == Some(Policy::Blocked)
            && decision.policy != Policy::Blocked
            && target.settings.policy.blocked.is_some()
        {
            self.emit(EngineEvent::BlockEnded {
                workspace: self.cx.id,
                team: self.cx.team.clone(),
            });
            self.note(decision, state_name, "timed block ended; sharing again");
        }
        self.last_policy = Some(decision.policy);
        if let Some(held) = self.held.take() {
            let replaced = match (&held.look, look_of(decision)) {
                (None, None) => false,
                (Some(before), Some(now)) => !same_look(before, &now),
                _ => true,
            };
            if replaced {
                self.note(
                    decision,
                    held.state.as_deref(),
                    &format!("not sent: replaced by a newer state while {}", held.reason),
                );
            } else {
                self.held = Some(held);
            }
        }
    }

    /// Slack called the token expired at the last step: refreshes it now. `Some`: the step ends here (the
    /// refresh failed, for now or for good).
    async fn refresh_if_due(&mut self, decision: &Decision, state_name: Option<&str>) -> Option<Flow> {
        let stale = self.refresh_due.take()?;
        let refreshed = match self.cx.shared.tokens.refresh(self.cx.id, stale.clone()) {
            Some(refresh) => refresh.await,
            None => Err(crate::EngineError::TokenRefresh {
                reason: "this token has no refresh token".into(),
                may_recover: false,
            }),
        };
        match refreshed {
            Ok(()) => {
                self.note(
                    decision,
                    state_name,
                    "token expired; refreshed it and trying again",
                );
                None
            }
            Err(crate::EngineError::TokenRefresh {
                reason,
                may_recover: true,
            }) => {
                // Slack or the keyring in trouble: the refresh may work later; the user need not act yet.
                self.note(
                    decision,
                    state_name,
                    &format!("token expired; renewing it failed for now ({reason}); trying again"),
                );
                self.refresh_due = Some(stale);
                self.retries += 1;
                Some(Flow::RetryAt(Instant::now() + self.backoff.next_delay()))
            }
            Err(error) => {
                self.note(decision, state_name, &format!("token expired; {error}"));
                Some(self.disconnect(caret_slack::AuthFailure::TokenExpired.code().to_owned()))
            }
        }
    }

    /// The calls about to be made serve `intent`: a different one from the write being retried starts its
    /// count and its backoff afresh.
    fn attempting(&mut self, intent: Intent) {
        if self.retried.as_ref() != Some(&intent) {
            self.retried = Some(intent);
            self.retries = 0;
            self.backoff.reset();
        }
    }

    /// The write being retried is done with (it landed, or Slack turned out to need none).
    fn settled(&mut self) {
        self.retried = None;
        self.retries = 0;
        self.backoff.reset();
    }

    /// Slack answered a call: whatever was failing to reach it is over. The retry count is not reset here: a
    /// look that answers between two failed writes is part of retrying the same write.
    fn answered(&mut self) {
        self.refresh_tried = false;
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
                    SlackMethod::DndInfo | SlackMethod::DndSetSnooze | SlackMethod::DndEndSnooze => {
                        self.limits.dnd.drain_until(until);
                    }
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
