//! What a step decides: the input that speaks and what the workspace's policy makes of it
//! ([`caret_core::decide_inputs`]), and what the desk (the screen lock, the working hours) changes in it.

use caret_core::{Decision, DesktopSignals, Inputs, StateSource, decide_inputs};
use chrono::{DateTime, FixedOffset};

use super::Worker;
use crate::Source;
use crate::coordinator::Target;

impl Worker {
    /// Decides now (so that a lease is always fresh): what the policy makes of the input that wins, and that
    /// input's state name and source for the sync log.
    pub(super) fn decide_now(
        &self,
        target: &Target,
        now: DateTime<FixedOffset>,
    ) -> (Decision, Option<&'static str>, Option<StateSource>) {
        let inputs = Inputs {
            manual: target.manual.as_ref(),
            phone: target.phone.as_ref(),
            desktop: &target.desktop,
        };
        let (input, decision) = decide_inputs(inputs, &target.settings, now);
        let state_name = input.as_ref().map(|input| input.state.kind().as_str());
        (decision, state_name, input.as_ref().map(|input| input.source()))
    }

    /// What the desk changes in `decision`: which of the screen lock and the working hours makes its presence
    /// (the lock first: the same inputs unlocked would not be away), and which of them set its status ("Away
    /// from the desk", "Off for the day"), compared with the same inputs without them.
    /// `now` must be the decision's own: a lease's end is computed from it.
    pub(super) fn desk_effects(
        &self,
        target: &Target,
        decision: &Decision,
        now: DateTime<FixedOffset>,
    ) -> DeskEffects {
        let desktop = &target.desktop;
        if !desktop.screen_locked && desktop.off_hours.is_none() {
            return DeskEffects::default();
        }
        let decide_with = |desktop: &DesktopSignals| {
            let inputs = Inputs {
                manual: target.manual.as_ref(),
                phone: target.phone.as_ref(),
                desktop,
            };
            decide_inputs(inputs, &target.settings, now).1
        };
        let unlocked = DesktopSignals {
            screen_locked: false,
            ..desktop.clone()
        };
        let without_lock = decide_with(&unlocked);
        let at_work = decide_with(&DesktopSignals {
            off_hours: None,
            ..unlocked
        });
        let presence = if without_lock.presence != decision.presence {
            Some(Source::ScreenLock)
        } else if at_work.presence != without_lock.presence {
            Some(Source::WorkingHours)
        } else {
            None
        };
        let status = if without_lock.status != decision.status {
            Some(StateSource::ScreenLock)
        } else if at_work.status != without_lock.status {
            Some(StateSource::WorkingHours)
        } else {
            None
        };
        DeskEffects { presence, status }
    }
}

/// What the screen lock and the working hours change in a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct DeskEffects {
    /// The one that makes the presence (away), if either does.
    pub(super) presence: Option<Source>,
    /// The one that set the status ("Away from the desk", "Off for the day"), if either did.
    pub(super) status: Option<StateSource>,
}
