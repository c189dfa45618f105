//! What a step decides: the input that speaks and what the workspace's policy makes of it
//! ([`caret_core::decide_inputs`]), and whether the screen lock is what makes the presence.

use caret_core::{Decision, DesktopSignals, Inputs, StateSource, decide_inputs};

use super::Worker;
use crate::coordinator::Target;

impl Worker {
    /// Decides now (so that a lease is always fresh): what the policy makes of the input that wins, and that
    /// input's state name and source for the sync log.
    pub(super) fn decide_now(
        &self,
        target: &Target,
    ) -> (Decision, Option<&'static str>, Option<StateSource>) {
        let inputs = Inputs {
            manual: target.manual.as_ref(),
            phone: target.phone.as_ref(),
            desktop: &target.desktop,
        };
        let (input, decision) = decide_inputs(inputs, &target.settings, self.cx.shared.clock.now_local());
        let state_name = input.as_ref().map(|input| input.state.kind().as_str());
        (decision, state_name, input.as_ref().map(|input| input.source()))
    }

    /// Whether the screen lock is what makes `decision`'s presence (the same inputs unlocked would not).
    pub(super) fn lock_decides(&self, target: &Target, decision: &Decision) -> bool {
        if !target.desktop.screen_locked {
            return false;
        }
        let unlocked = DesktopSignals {
            screen_locked: false,
            ..target.desktop.clone()
        };
        let inputs = Inputs {
            manual: target.manual.as_ref(),
            phone: target.phone.as_ref(),
            desktop: &unlocked,
        };
        let (_, without_lock) = decide_inputs(inputs, &target.settings, self.cx.shared.clock.now_local());
        without_lock.presence != decision.presence
    }
}
