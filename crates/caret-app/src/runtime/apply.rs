//! Carrying out the [`Action`]s that change what Slack shows (a manual status, a workspace's policy,
//! pausing), whoever asked: the tray, the shortcut, the command line or the UI. Window actions belong to the
//! shell; this is the part that needs no display, shared by the tray app and `--headless`.

use caret_core::{CaretState, ManualStatus, SharingPolicy};
pub use caret_engine::Source;
use chrono::{DateTime, Local, TimeZone, Utc};

use crate::action::{Action, PolicyChoice, StatusDuration};
use crate::error::{AppError, Refusal, Result};
use crate::runtime::core::AppCore;

/// When a manual status set `now` for `duration` ends (`None`: when the user clears it).
pub fn status_until(duration: &StatusDuration, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match duration {
        StatusDuration::Minutes { minutes } => Some(now + chrono::Duration::minutes(i64::from(*minutes))),
        StatusDuration::EndOfDay => {
            // The end of the user's day in their own time zone: the next local midnight.
            let local = now.with_timezone(&Local);
            // Where a DST change skips midnight, the day ends at the first local time that exists after it.
            let midnight = local
                .date_naive()
                .succ_opt()
                .and_then(|tomorrow| tomorrow.and_hms_opt(0, 0, 0))
                .and_then(|naive| {
                    (0..=3).find_map(|hours| {
                        Local
                            .from_local_datetime(&(naive + chrono::Duration::hours(hours)))
                            .earliest()
                    })
                });
            Some(midnight.map_or(now + chrono::Duration::hours(24), |at| at.with_timezone(&Utc)))
        }
        StatusDuration::UntilCleared => None,
    }
}

/// Whether the action is one this module carries out (the others are the shell's: windows, quitting).
pub fn is_domain_action(action: &Action) -> bool {
    matches!(
        action,
        Action::SetStatus { .. }
            | Action::ClearStatus
            | Action::SetPolicy { .. }
            | Action::Pause
            | Action::Resume
    )
}

/// Carries out a domain action; refuses the shell's ones.
pub fn apply(core: &AppCore, action: &Action, source: Source) -> Result<()> {
    let services = core.services()?;
    let now = Utc::now();
    match action {
        Action::SetStatus { state, duration } => {
            let state =
                CaretState::without_details(*state).ok_or(AppError::Refused(Refusal::EventNeedsDetails))?;
            let manual = ManualStatus {
                state,
                until: status_until(duration, now),
            };
            services.engine.set_manual(Some(manual.clone()), source)?;
            show_manual(core, Some(manual));
        }
        Action::ClearStatus => {
            services.engine.set_manual(None, source)?;
            show_manual(core, None);
        }
        Action::SetPolicy { workspace, choice } => {
            // One change at a time, saved before the engine hears of it: a second change right after reads
            // the first one's result rather than the engine's not-yet-saved copy.
            let _one_at_a_time = services.workspaces.lock_settings();
            let mut settings = services.store.workspace(*workspace)?.settings;
            let before = settings.policy.effective(now);
            match choice {
                PolicyChoice::Default => settings.policy.choose(SharingPolicy::Default),
                PolicyChoice::Trusted => settings.policy.choose(SharingPolicy::Trusted),
                PolicyChoice::Vip => settings.policy.choose(SharingPolicy::Vip),
                PolicyChoice::BlockFor { minutes } => settings
                    .policy
                    .block_for(chrono::Duration::minutes(i64::from(*minutes)), now),
                PolicyChoice::BlockUntilResumed => settings.policy.block_until_resumed(),
                PolicyChoice::Resume => settings.policy.resume(),
            }
            let after = settings.policy.effective(now);
            services.store.save_settings(*workspace, &settings)?;
            services.engine.set_settings(*workspace, settings, source)?;
            services.workspaces.changed();
            if after.is_less_private_than(before) {
                let event = crate::slack::notices::SecurityEvent::PolicyLessPrivate {
                    workspace: *workspace,
                    before,
                    after,
                    source,
                };
                let core = core.clone();
                // The tray calls this from the GUI thread: the notice goes out on the app's runtime.
                services.runtime.spawn(async move {
                    if let Ok(services) = core.services() {
                        services.workspaces.send_security_notice(event).await;
                    }
                });
            }
        }
        Action::Pause | Action::Resume => {
            let paused = matches!(action, Action::Pause);
            services.engine.set_paused(paused, source)?;
            core.update(|snapshot| snapshot.paused = paused);
        }
        Action::OpenWindow { .. } | Action::PairPhone | Action::Quit => {
            return Err(AppError::Refused(Refusal::ShellAction));
        }
    }
    Ok(())
}

/// Shows a manual status in the snapshot (the tray's first line) until it ends.
pub fn show_manual(core: &AppCore, manual: Option<ManualStatus>) {
    core.update(|snapshot| snapshot.manual = manual.clone());
    let Some(ManualStatus {
        until: Some(until), ..
    }) = manual.clone()
    else {
        return;
    };
    // The tray calls this from the GUI thread, outside the async runtime: spawn on the app's runtime.
    let Some(runtime) = tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| core.services().ok().map(|services| services.runtime.clone()))
    else {
        tracing::warn!("no runtime to end the manual status on time; it ends at the next change");
        return;
    };
    let core = core.clone();
    runtime.spawn(async move {
        // Short sleeps against the wall clock: tokio's clock stops while a laptop sleeps, Slack's does not.
        loop {
            let left = (until - Utc::now()).to_std().unwrap_or_default();
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(std::time::Duration::from_secs(60))).await;
        }
        // Only if it is still the same status (not replaced or cleared meanwhile).
        core.update(|snapshot| {
            if snapshot.manual == manual {
                snapshot.manual = None;
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_end_when_they_say() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            status_until(&StatusDuration::Minutes { minutes: 30 }, now),
            Some(now + chrono::Duration::minutes(30))
        );
        assert_eq!(status_until(&StatusDuration::UntilCleared, now), None);
        let end = status_until(&StatusDuration::EndOfDay, now).unwrap();
        // A day is 23 to 25 hours long where DST changes.
        assert!(end > now && end <= now + chrono::Duration::hours(25), "{end}");
        assert_eq!(
            end.with_timezone(&Local).time(),
            chrono::NaiveTime::MIN,
            "local midnight"
        );
    }
}
