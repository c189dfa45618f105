//! The privacy policies of seed 000, set per Slack workspace:
//! - **Default** shares only Available/Busy;
//! - **Trusted** shares the exact state (In a call, Driving, In a meeting…) but no details;
//! - **VIP** shares the exact state with details (an event's title and end);
//! - **Blocked** shares nothing for now; it may be timed and then returns to the policy it interrupted.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The policies that share something. Blocked is not one of them: it is a pause laid over one of these, so that
/// ending a block returns to exactly the policy the user had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SharingPolicy {
    #[default]
    Default,
    Trusted,
    Vip,
}

/// The policy in force at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Policy {
    Default,
    Trusted,
    Vip,
    Blocked,
}

impl Policy {
    pub const ALL: [Policy; 4] = [Policy::Default, Policy::Trusted, Policy::Vip, Policy::Blocked];

    /// How much a policy withholds: Blocked shares nothing, Default only Available/Busy, Trusted the exact
    /// state, VIP the state with its details.
    fn privacy(self) -> u8 {
        match self {
            Policy::Blocked => 3,
            Policy::Default => 2,
            Policy::Trusted => 1,
            Policy::Vip => 0,
        }
    }

    /// Whether going from `before` to this policy lets the workspace see more of the user.
    pub fn is_less_private_than(self, before: Policy) -> bool {
        self.privacy() < before.privacy()
    }

    pub fn label(self) -> &'static str {
        match self {
            Policy::Default => "Default",
            Policy::Trusted => "Trusted",
            Policy::Vip => "VIP",
            Policy::Blocked => "Blocked",
        }
    }
}

impl From<SharingPolicy> for Policy {
    fn from(policy: SharingPolicy) -> Self {
        match policy {
            SharingPolicy::Default => Policy::Default,
            SharingPolicy::Trusted => Policy::Trusted,
            SharingPolicy::Vip => Policy::Vip,
        }
    }
}

/// A block laid over the sharing policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Blocked {
    /// `None`: until the user resumes sharing.
    pub until: Option<DateTime<Utc>>,
}

/// A workspace's policy as the user set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicySetting {
    pub sharing: SharingPolicy,
    #[serde(default)]
    pub blocked: Option<Blocked>,
}

impl PolicySetting {
    pub fn sharing(sharing: SharingPolicy) -> Self {
        PolicySetting {
            sharing,
            blocked: None,
        }
    }

    /// The policy in force at `now`: a block that has run out no longer counts.
    pub fn effective(&self, now: DateTime<Utc>) -> Policy {
        match self.blocked {
            Some(Blocked { until: None }) => Policy::Blocked,
            Some(Blocked { until: Some(until) }) if until > now => Policy::Blocked,
            _ => self.sharing.into(),
        }
    }

    /// When the effective policy changes by itself (a timed block ending), if it will.
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.blocked {
            Some(Blocked { until: Some(until) }) if until > now => Some(until),
            _ => None,
        }
    }

    /// Blocks sharing for `duration` from `now`, keeping the sharing policy to return to.
    pub fn block_for(&mut self, duration: Duration, now: DateTime<Utc>) {
        self.blocked = Some(Blocked {
            until: Some(now + duration),
        });
    }

    pub fn block_until_resumed(&mut self) {
        self.blocked = Some(Blocked { until: None });
    }

    pub fn resume(&mut self) {
        self.blocked = None;
    }

    /// Choosing a sharing policy is an explicit "share this", so it also ends a block.
    pub fn choose(&mut self, sharing: SharingPolicy) {
        self.sharing = sharing;
        self.blocked = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_towards_sharing_more_is_less_private_and_no_other() {
        use Policy::*;
        let less_private = [
            (Blocked, Default),
            (Blocked, Trusted),
            (Blocked, Vip),
            (Default, Trusted),
            (Default, Vip),
            (Trusted, Vip),
        ];
        for before in Policy::ALL {
            for after in Policy::ALL {
                assert_eq!(
                    after.is_less_private_than(before),
                    less_private.contains(&(before, after)),
                    "{before:?} -> {after:?}"
                );
            }
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn timed_block_returns_to_the_previous_policy_when_it_ends() {
        let mut policy = PolicySetting::sharing(SharingPolicy::Vip);
        policy.block_for(Duration::hours(1), at(0));
        assert_eq!(policy.effective(at(0)), Policy::Blocked);
        assert_eq!(policy.effective(at(3599)), Policy::Blocked);
        assert_eq!(policy.next_change(at(0)), Some(at(3600)));
        assert_eq!(policy.effective(at(3600)), Policy::Vip);
        assert_eq!(policy.next_change(at(3600)), None);
    }

    #[test]
    fn block_until_resumed_lasts_until_resume() {
        let mut policy = PolicySetting::sharing(SharingPolicy::Trusted);
        policy.block_until_resumed();
        assert_eq!(policy.effective(at(1_000_000)), Policy::Blocked);
        assert_eq!(policy.next_change(at(0)), None);
        policy.resume();
        assert_eq!(policy.effective(at(0)), Policy::Trusted);
    }

    #[test]
    fn choosing_a_sharing_policy_ends_a_block() {
        let mut policy = PolicySetting::sharing(SharingPolicy::Default);
        policy.block_until_resumed();
        policy.choose(SharingPolicy::Trusted);
        assert_eq!(policy.effective(at(0)), Policy::Trusted);
    }

    #[test]
    fn a_new_workspace_starts_on_the_most_private_sharing_policy() {
        assert_eq!(PolicySetting::default().effective(at(0)), Policy::Default);
    }
}
