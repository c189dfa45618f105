//! What we want Slack to show: the output of [`crate::decide`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::policy::Policy;
use crate::settings::PresenceRule;

/// When Slack should clear the status by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Expiration {
    /// Stays until changed (a manual status "until cleared").
    Never,
    /// Ends at a known time: an event's end (VIP), a manual status's chosen end.
    Fixed { at: DateTime<Utc> },
    /// A phone state of open length: ends at `at` unless the engine renews it, so a status never outlives a
    /// desktop that stopped.
    Lease { at: DateTime<Utc> },
}

impl Expiration {
    /// Slack's `status_expiration`: Unix seconds, 0 for never.
    pub fn slack_seconds(&self) -> i64 {
        match self {
            Expiration::Never => 0,
            Expiration::Fixed { at } | Expiration::Lease { at } => at.timestamp(),
        }
    }
}

/// A custom status as Slack takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SlackStatus {
    /// At most 100 UTF-16 units ([`crate::text::STATUS_TEXT_LIMIT`]).
    pub text: String,
    /// `:name:`, or "" for Slack's default.
    pub emoji: String,
    pub expiration: Expiration,
}

/// The status we want in Slack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
#[ts(export)]
pub enum DesiredStatus {
    /// No status from us. The engine clears only a status this app set, never one the user or another app set.
    Clear,
    Set(SlackStatus),
}

/// Slack presence as we set it (`users.setPresence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Presence {
    Auto,
    Away,
}

impl From<PresenceRule> for Presence {
    fn from(rule: PresenceRule) -> Self {
        match rule {
            PresenceRule::Auto => Presence::Auto,
            PresenceRule::Away => Presence::Away,
        }
    }
}

/// A Do Not Disturb snooze we want Slack to run (`dnd.setSnooze`): notifications paused until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Snooze {
    /// The status's own end where it has one Slack may know (a chosen end, an event's end under VIP), else
    /// a lease's.
    pub until: DateTime<Utc>,
    /// A lease: renewed while the state lasts, like the status's, so that a snooze never outlives a desktop
    /// that stopped.
    pub renewed: bool,
}

/// Everything [`crate::decide`] concluded for one workspace at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Decision {
    /// The policy that was in force.
    pub policy: Policy,
    pub status: DesiredStatus,
    pub presence: Presence,
    /// Do Not Disturb paused while the state lasts (`None`: no snooze of ours; one we started is ended).
    pub snooze: Option<Snooze>,
    /// When this decision changes by itself (an event ends, a manual status or a timed block runs out): the
    /// engine must decide again then. Lease renewals are separate; see [`Expiration::Lease`].
    pub recompute_at: Option<DateTime<Utc>>,
}
