//! Which input speaks when several do: the user's own choice, the phone, and what the desktop itself sees
//! (a microphone or camera in use, an event in a subscribed calendar). One rule, [`choose_input`], so that the
//! tray, the sync log, the Settings preview and the engine can never disagree about it.
//!
//! The order, first match wins:
//! 1. **The user's own choice** (tray, shortcut, CLI, UI) while it lasts: the user said so, nothing overrules it.
//! 2. **A call**, whichever source sees it: the phone's `in_call`, then the desktop's microphone, then its
//!    camera. A call is happening now, is known for certain, and is what colleagues most need to know before
//!    they interrupt; it beats anything planned (a calendar event) and anything the phone guesses from motion.
//! 3. **What the phone senses the person doing**: in a vehicle, walking, running, biking, sleeping, or an event
//!    the phone itself reports. It describes the body, not the plan: someone driving is driving, whatever the
//!    calendar booked for that hour.
//! 4. **An event from the calendar**: planned, so below what is sensed, but more telling than a phone that
//!    only says busy or silent (often *because* of that meeting).
//! 5. **The phone's generic states**: busy, silent, then available and offline (which share nothing).
//!
//! A locked screen is not an input of its own: [`decide_inputs`] makes the presence away while it lasts,
//! under every policy but Blocked, and leaves the status to the order above. Nor are the working hours:
//! outside them the presence is away too (unless the user's own choice speaks), and "Off for the day", where
//! the user asked for it, fills a status nothing above sets, under Trusted and VIP.
//!
//! A source adds inputs, never exposure: what comes out is a [`StatusInput`] like any other, and
//! [`crate::decide`] applies the workspace's policy to it unchanged (under Default a call from the
//! microphone is "Busy" like any call; a calendar event's title reaches Slack only under VIP).

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::mapping::decide;
use crate::policy::Policy;
use crate::settings::WorkspaceSettings;
use crate::state::{CaretState, EventDetails, ManualStatus, Origin, StateKind, StatusInput};
use crate::status::{Decision, DesiredStatus, Expiration, Presence, SlackStatus};

/// A source on the desktop itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DesktopSource {
    /// Another application records from a microphone: a call.
    Microphone,
    /// Another application records from a camera: a call.
    Camera,
    /// An event in one of the user's calendar subscriptions.
    Calendar,
}

/// Where the state being shared came from, for the words "In a call (microphone)".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StateSource {
    /// The user chose it (tray, shortcut, CLI, UI).
    Manual,
    /// A paired phone reported it.
    Phone,
    Microphone,
    Camera,
    Calendar,
    /// The screen locked: "Away from the desk" ([`decide_inputs`]), never an input of its own.
    ScreenLock,
    /// Outside the working hours: "Off for the day" ([`decide_inputs`]), never an input of its own.
    WorkingHours,
}

impl StateSource {
    /// Every source, in the order of [`choose_input`]'s tie-breaks (the working hours, then the screen lock,
    /// last: they fill only a status no input sets).
    pub const ALL: [StateSource; 7] = [
        StateSource::Manual,
        StateSource::Phone,
        StateSource::Microphone,
        StateSource::Camera,
        StateSource::Calendar,
        StateSource::WorkingHours,
        StateSource::ScreenLock,
    ];

    /// The source as `state --json` and the sync log's Source column name it: "you" for the user's own
    /// choice, else the source's label.
    pub fn name(self) -> &'static str {
        match self {
            StateSource::Manual => "you",
            other => other.label(),
        }
    }

    /// How the tray names the source, after the state: "In a call (microphone)".
    pub fn label(self) -> &'static str {
        match self {
            StateSource::Manual => "your choice",
            StateSource::Phone => "phone",
            StateSource::Microphone => "microphone",
            StateSource::Camera => "camera",
            StateSource::Calendar => "calendar",
            StateSource::ScreenLock => "screen lock",
            StateSource::WorkingHours => "working hours",
        }
    }
}

impl From<DesktopSource> for StateSource {
    fn from(source: DesktopSource) -> StateSource {
        match source {
            DesktopSource::Microphone => StateSource::Microphone,
            DesktopSource::Camera => StateSource::Camera,
            DesktopSource::Calendar => StateSource::Calendar,
        }
    }
}

/// What the desktop's own sources see right now. A source that is off, or sees nothing, leaves its field at
/// the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DesktopSignals {
    /// Another application has a capture stream open on a microphone.
    pub microphone_in_use: bool,
    /// Another application has a capture stream open on a camera.
    pub camera_in_use: bool,
    /// The calendar event happening now (the one the calendar source picked when several overlap).
    pub calendar_event: Option<EventDetails>,
    /// The session's screen is locked: the person has left the desk. Not a state of its own: it makes the
    /// presence away (see [`decide_inputs`]) and leaves the status to the inputs above, unless the person asked
    /// for "Away from the desk" ([`DesktopSignals::away_status`]).
    #[serde(default)]
    pub screen_locked: bool,
    /// While the screen is locked, the person wants "Away from the desk" shown (see [`decide_inputs`]).
    #[serde(default)]
    pub away_status: bool,
    /// Outside the working hours the person set (the working-hours source, when it is on). Not a state of its
    /// own either: see [`decide_inputs`].
    #[serde(default)]
    pub off_hours: Option<OffHours>,
}

/// Outside working hours, as the working-hours source tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OffHours {
    /// The next start of work; `None` when the week has no working day.
    pub back_at: Option<DateTime<Utc>>,
    /// The person wants "Off for the day" shown until then.
    pub show_status: bool,
}

/// What Slack shows outside working hours, where the person asked for it ([`decide_inputs`]).
pub const OFF_HOURS_TEXT: &str = "Off for the day";
pub const OFF_HOURS_EMOJI: &str = ":crescent_moon:";
/// What Slack shows while the screen is locked, where the person asked for it ([`decide_inputs`]).
pub const AWAY_TEXT: &str = "Away from the desk";
pub const AWAY_EMOJI: &str = ":coffee:";

/// Everything that may speak at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub manual: Option<&'a ManualStatus>,
    pub phone: Option<&'a CaretState>,
    pub desktop: &'a DesktopSignals,
}

/// The phone's states that say what the person is doing right now (rule 3).
fn phone_senses_an_activity(kind: StateKind) -> bool {
    matches!(
        kind,
        StateKind::InVehicle
            | StateKind::Walking
            | StateKind::Running
            | StateKind::Biking
            | StateKind::Sleeping
            | StateKind::Event
    )
}

/// The input that wins at `now` (see the module's order), or `None` when nothing speaks.
pub fn choose_input(inputs: Inputs<'_>, now: DateTime<Utc>) -> Option<StatusInput> {
    if let Some(manual) = inputs.manual.filter(|manual| manual.is_active(now)) {
        return Some(StatusInput::manual(manual.state.clone(), manual.until));
    }
    let phone = inputs.phone;
    let phone_kind = phone.map(CaretState::kind);
    let from_phone = || phone.map(|state| StatusInput::from_phone(state.clone()));
    let desktop = inputs.desktop;

    if phone_kind == Some(StateKind::InCall) {
        return from_phone();
    }
    if desktop.microphone_in_use {
        return Some(StatusInput::from_desktop(
            CaretState::InCall,
            DesktopSource::Microphone,
        ));
    }
    if desktop.camera_in_use {
        return Some(StatusInput::from_desktop(
            CaretState::InCall,
            DesktopSource::Camera,
        ));
    }
    if phone_kind.is_some_and(phone_senses_an_activity) {
        return from_phone();
    }
    if let Some(event) = &desktop.calendar_event {
        return Some(StatusInput::from_desktop(
            CaretState::Event(event.clone()),
            DesktopSource::Calendar,
        ));
    }
    from_phone()
}

/// The whole decision for one workspace at one moment: the input [`choose_input`] picks, what the policy makes
/// of it ([`crate::decide`]; nothing speaking clears the status), then the desk: a locked screen makes the
/// presence away under every policy that shares anything, whatever the status says, because someone who
/// left the desk answers later whatever they are doing. Blocked shares nothing, not even that. The lock alone
/// never changes the status (see "Away from the desk" below, which the person asks for).
///
/// Then the working hours: outside them, unless the person's own choice speaks (they said what they are
/// doing, at whatever hour), the presence is away under every policy but Blocked, as for the lock. Where the
/// person asked for it, the status "Off for the day" until the next start fills a status nothing else sets,
/// under Trusted and VIP only: Default shares Available and Busy and nothing else, and the away presence says
/// enough there. It never replaces a status another input sets (a call at 9 pm is still a call). An off-work
/// reading whose next start has passed counts as work begun.
///
/// Last, where the person asked for it and nothing above set a status: "Away from the desk" while the screen
/// is locked, under the same rule as "Off for the day" (Trusted and VIP, not while the person's own choice
/// speaks), with a lease as for any status of open length (renewed while it lasts, so that it never outlives a
/// desktop that stopped). Off work says more than a locked screen, so "Off for the day" goes first.
pub fn decide_inputs(
    inputs: Inputs<'_>,
    settings: &WorkspaceSettings,
    now: DateTime<FixedOffset>,
) -> (Option<StatusInput>, Decision) {
    let now_utc = now.with_timezone(&Utc);
    let input = choose_input(inputs, now_utc);
    let mut decision = match &input {
        Some(input) => decide(input, settings, now),
        None => Decision {
            policy: settings.policy.effective(now_utc),
            status: DesiredStatus::Clear,
            presence: Presence::Auto,
            snooze: None,
            recompute_at: settings.policy.next_change(now_utc),
        },
    };
    if inputs.desktop.screen_locked && decision.policy != Policy::Blocked {
        decision.presence = Presence::Away;
    }
    let chosen_by_the_person = input
        .as_ref()
        .is_some_and(|input| matches!(input.origin, Origin::Manual { .. }));
    let may_fill = !chosen_by_the_person && matches!(decision.policy, Policy::Trusted | Policy::Vip);
    // A reading whose next start has passed is stale (the source had not looked again yet, after a
    // suspend, say): work has begun.
    let off_hours = inputs
        .desktop
        .off_hours
        .filter(|off| off.back_at.is_none_or(|back| back > now_utc));
    if let Some(off) = off_hours
        && !chosen_by_the_person
        && decision.policy != Policy::Blocked
    {
        decision.presence = Presence::Away;
        if off.show_status && may_fill && decision.status == DesiredStatus::Clear {
            decision.status = DesiredStatus::Set(off_hours_status(off, settings, now_utc));
        }
    }
    let desk = inputs.desktop;
    if desk.screen_locked && desk.away_status && may_fill && decision.status == DesiredStatus::Clear {
        decision.status = DesiredStatus::Set(desk_status(
            AWAY_TEXT,
            AWAY_EMOJI,
            Expiration::Lease {
                at: now_utc + settings.lease.duration(),
            },
            settings,
        ));
    }
    (input, decision)
}

/// "Off for the day" until the next start (Slack clears it then, even if this computer is off by then), with
/// the phone number where the person shows it; with no next start, a lease like any status of open length.
fn off_hours_status(off: OffHours, settings: &WorkspaceSettings, now: DateTime<Utc>) -> SlackStatus {
    let expiration = match off.back_at {
        Some(at) => Expiration::Fixed { at },
        None => Expiration::Lease {
            at: now + settings.lease.duration(),
        },
    };
    desk_status(OFF_HOURS_TEXT, OFF_HOURS_EMOJI, expiration, settings)
}

/// A status of the desk's own, with the phone number where the person shows it.
fn desk_status(text: &str, emoji: &str, expiration: Expiration, settings: &WorkspaceSettings) -> SlackStatus {
    SlackStatus {
        text: crate::mapping::with_phone_number(
            text,
            settings.phone.shown_number().map(|number| number.as_str()),
        ),
        emoji: emoji.to_owned(),
        expiration,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::policy::SharingPolicy;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn meeting() -> EventDetails {
        EventDetails::new("Quarterly review", now(), now() + Duration::hours(1)).unwrap()
    }

    fn phone_state(kind: StateKind) -> CaretState {
        CaretState::without_details(kind).unwrap_or_else(|| {
            CaretState::Event(
                EventDetails::new("Phone's own event", now(), now() + Duration::hours(2)).unwrap(),
            )
        })
    }

    fn winner(inputs: Inputs<'_>) -> Option<(StateKind, StateSource)> {
        choose_input(inputs, now()).map(|input| (input.state.kind(), input.source()))
    }

    #[derive(Debug, Clone, Copy)]
    enum ManualCase {
        None,
        Active,
        Expired,
    }

    /// Every combination of the user's choice, every phone state (and no phone), the microphone, the camera
    /// and a calendar event, against the order written out as the module documents it.
    #[test]
    fn every_combination_of_inputs_picks_what_the_documented_order_says() {
        let phone_cases: Vec<Option<StateKind>> = std::iter::once(None)
            .chain(StateKind::ALL.into_iter().map(Some))
            .collect();
        let mut combinations = 0;
        for manual_case in [ManualCase::None, ManualCase::Active, ManualCase::Expired] {
            let manual = match manual_case {
                ManualCase::None => None,
                ManualCase::Active => Some(ManualStatus {
                    state: CaretState::Sleeping,
                    until: Some(now() + Duration::minutes(30)),
                }),
                ManualCase::Expired => Some(ManualStatus {
                    state: CaretState::Sleeping,
                    until: Some(now()),
                }),
            };
            for phone_kind in &phone_cases {
                let phone = phone_kind.map(phone_state);
                for microphone_in_use in [false, true] {
                    for camera_in_use in [false, true] {
                        for (calendar_event, screen_locked) in [
                            (None, false),
                            (None, true),
                            (Some(meeting()), false),
                            (Some(meeting()), true),
                        ] {
                            let has_event = calendar_event.is_some();
                            // A locked screen is no input: it changes nothing here (the presence only).
                            let desktop = DesktopSignals {
                                microphone_in_use,
                                camera_in_use,
                                calendar_event,
                                screen_locked,
                                away_status: screen_locked,
                                off_hours: None,
                            };
                            let inputs = Inputs {
                                manual: manual.as_ref(),
                                phone: phone.as_ref(),
                                desktop: &desktop,
                            };
                            let sensed = [
                                StateKind::InVehicle,
                                StateKind::Walking,
                                StateKind::Running,
                                StateKind::Biking,
                                StateKind::Sleeping,
                                StateKind::Event,
                            ];
                            let expected = if matches!(manual_case, ManualCase::Active) {
                                Some((StateKind::Sleeping, StateSource::Manual))
                            } else if *phone_kind == Some(StateKind::InCall) {
                                Some((StateKind::InCall, StateSource::Phone))
                            } else if microphone_in_use {
                                Some((StateKind::InCall, StateSource::Microphone))
                            } else if camera_in_use {
                                Some((StateKind::InCall, StateSource::Camera))
                            } else if phone_kind.is_some_and(|kind| sensed.contains(&kind)) {
                                phone_kind.map(|kind| (kind, StateSource::Phone))
                            } else if has_event {
                                Some((StateKind::Event, StateSource::Calendar))
                            } else {
                                phone_kind.map(|kind| (kind, StateSource::Phone))
                            };
                            assert_eq!(
                                winner(inputs),
                                expected,
                                "manual {manual_case:?}, phone {phone_kind:?}, microphone {microphone_in_use}, \
                                 camera {camera_in_use}, calendar event {has_event}, locked {screen_locked}"
                            );
                            combinations += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(combinations, 3 * (StateKind::ALL.len() + 1) * 16);
    }

    fn policies() -> Vec<(&'static str, WorkspaceSettings)> {
        let with = |sharing: SharingPolicy| {
            let mut settings = WorkspaceSettings::default();
            settings.policy.choose(sharing);
            settings
        };
        let mut blocked_for_an_hour = with(SharingPolicy::Vip);
        blocked_for_an_hour.policy.block_for(Duration::hours(1), now());
        let mut blocked_until_resumed = with(SharingPolicy::Trusted);
        blocked_until_resumed.policy.block_until_resumed();
        vec![
            ("default", with(SharingPolicy::Default)),
            ("trusted", with(SharingPolicy::Trusted)),
            ("vip", with(SharingPolicy::Vip)),
            ("vip blocked for an hour", blocked_for_an_hour),
            ("trusted blocked until resumed", blocked_until_resumed),
        ]
    }

    /// Every policy, every input (each phone state and none, the user's choice, a call from the microphone, a
    /// calendar event) with the screen locked and not: the lock makes the presence away under every policy
    /// that shares anything and changes nothing else; under Blocked it changes nothing at all.
    #[test]
    fn a_locked_screen_makes_the_presence_away_under_every_policy_but_blocked_and_nothing_else() {
        let local = now().fixed_offset();
        let phone_cases: Vec<Option<StateKind>> = std::iter::once(None)
            .chain(StateKind::ALL.into_iter().map(Some))
            .collect();
        let manual = ManualStatus {
            state: CaretState::Busy,
            until: Some(now() + Duration::minutes(30)),
        };
        let mut combinations = 0;
        for (name, settings) in policies() {
            let blocked = settings.policy.effective(now()) == Policy::Blocked;
            for phone_kind in &phone_cases {
                let phone = phone_kind.map(phone_state);
                for manual in [None, Some(&manual)] {
                    for (microphone_in_use, calendar_event) in
                        [(false, None), (true, None), (false, Some(meeting()))]
                    {
                        let unlocked = DesktopSignals {
                            microphone_in_use,
                            calendar_event,
                            ..DesktopSignals::default()
                        };
                        let locked = DesktopSignals {
                            screen_locked: true,
                            ..unlocked.clone()
                        };
                        let inputs = |desktop| Inputs {
                            manual,
                            phone: phone.as_ref(),
                            desktop,
                        };
                        let (input, open) = decide_inputs(inputs(&unlocked), &settings, local);
                        let (locked_input, away) = decide_inputs(inputs(&locked), &settings, local);
                        let case = format!(
                            "{name}, phone {phone_kind:?}, manual {}, microphone \
                             {microphone_in_use}, event {}",
                            manual.is_some(),
                            unlocked.calendar_event.is_some()
                        );
                        assert_eq!(input, locked_input, "{case}: the same input speaks");
                        assert_eq!(
                            away.status, open.status,
                            "{case}: the status is the inputs' alone"
                        );
                        assert_eq!(away.policy, open.policy, "{case}");
                        assert_eq!(away.recompute_at, open.recompute_at, "{case}");
                        if blocked {
                            assert_eq!(away, open, "{case}: Blocked shares nothing, not even away");
                            assert_eq!(away.status, DesiredStatus::Clear, "{case}");
                            assert_eq!(away.presence, Presence::Auto, "{case}");
                        } else {
                            assert_eq!(away.presence, Presence::Away, "{case}: left the desk");
                        }
                        // Unlocked, the decision is decide's own (or a clear status when nothing speaks).
                        match &input {
                            Some(input) => assert_eq!(open, decide(input, &settings, local), "{case}"),
                            None => {
                                assert_eq!(open.status, DesiredStatus::Clear, "{case}");
                                assert_eq!(open.presence, Presence::Auto, "{case}");
                            }
                        }
                        combinations += 1;
                    }
                }
            }
        }
        assert_eq!(combinations, 5 * (StateKind::ALL.len() + 1) * 2 * 3);
    }

    /// Every policy, every input (each phone state and none, the user's choice, a call from the microphone, a
    /// calendar event), the screen locked and not, and the working hours: inside, outside without the status,
    /// outside with it (a next start, and a week with none). Outside, unless the person's own choice speaks,
    /// the presence is away under every policy but Blocked; "Off for the day" fills only a status nothing else
    /// sets, only under Trusted and VIP, until the next start; nothing else changes.
    #[test]
    fn outside_working_hours_the_presence_is_away_and_off_for_the_day_fills_only_an_empty_status_that_may_show_states()
     {
        let local = now().fixed_offset();
        let back = now() + Duration::hours(15);
        let phone_cases: Vec<Option<StateKind>> = std::iter::once(None)
            .chain(StateKind::ALL.into_iter().map(Some))
            .collect();
        let manual = ManualStatus {
            state: CaretState::Busy,
            until: None,
        };
        let off_cases = [
            OffHours {
                back_at: Some(back),
                show_status: false,
            },
            OffHours {
                back_at: Some(back),
                show_status: true,
            },
            OffHours {
                back_at: None,
                show_status: true,
            },
        ];
        let mut combinations = 0;
        let mut shown = 0;
        for (name, settings) in policies() {
            let policy = settings.policy.effective(now());
            for phone_kind in &phone_cases {
                let phone = phone_kind.map(phone_state);
                for manual in [None, Some(&manual)] {
                    for (microphone_in_use, calendar_event) in
                        [(false, None), (true, None), (false, Some(meeting()))]
                    {
                        for screen_locked in [false, true] {
                            let inside = DesktopSignals {
                                microphone_in_use,
                                calendar_event: calendar_event.clone(),
                                screen_locked,
                                off_hours: None,
                                ..DesktopSignals::default()
                            };
                            let inside_inputs = Inputs {
                                manual,
                                phone: phone.as_ref(),
                                desktop: &inside,
                            };
                            let (input, working) = decide_inputs(inside_inputs, &settings, local);
                            for off in off_cases {
                                let outside = DesktopSignals {
                                    off_hours: Some(off),
                                    ..inside.clone()
                                };
                                let off_inputs = Inputs {
                                    manual,
                                    phone: phone.as_ref(),
                                    desktop: &outside,
                                };
                                let (off_input, decision) = decide_inputs(off_inputs, &settings, local);
                                let case = format!(
                                    "{name}, phone {phone_kind:?}, manual {}, microphone {microphone_in_use}, \
                                     event {}, locked {screen_locked}, {off:?}",
                                    manual.is_some(),
                                    calendar_event.is_some()
                                );
                                assert_eq!(off_input, input, "{case}: the same input speaks");
                                assert_eq!(decision.policy, working.policy, "{case}");
                                assert_eq!(decision.recompute_at, working.recompute_at, "{case}");
                                if manual.is_some() || policy == Policy::Blocked {
                                    assert_eq!(decision, working, "{case}: unchanged");
                                    combinations += 1;
                                    continue;
                                }
                                assert_eq!(decision.presence, Presence::Away, "{case}: off work");
                                let fills = off.show_status
                                    && matches!(policy, Policy::Trusted | Policy::Vip)
                                    && working.status == DesiredStatus::Clear;
                                if fills {
                                    let expiration = match off.back_at {
                                        Some(at) => Expiration::Fixed { at },
                                        None => Expiration::Lease {
                                            at: now() + settings.lease.duration(),
                                        },
                                    };
                                    let expected = DesiredStatus::Set(SlackStatus {
                                        text: OFF_HOURS_TEXT.to_owned(),
                                        emoji: OFF_HOURS_EMOJI.to_owned(),
                                        expiration,
                                    });
                                    assert_eq!(decision.status, expected, "{case}");
                                    shown += 1;
                                } else {
                                    assert_eq!(decision.status, working.status, "{case}: not replaced");
                                }
                                combinations += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(combinations, 5 * (StateKind::ALL.len() + 1) * 2 * 3 * 2 * 3);
        // Trusted and VIP, with the phone silent about anything shareable and nothing else speaking: no phone,
        // available, offline (under both: 3 phone cases × 2 locks × 2 status cases).
        assert_eq!(shown, 2 * 3 * 2 * 2);
    }

    /// Every policy, every input, the working hours (none, off work with and without "Off for the day"), the
    /// screen locked or not, with "Away from the desk" asked for: it changes only a status nothing else sets,
    /// while locked, under Trusted and VIP, not while the person's own choice speaks, with a lease; "Off for
    /// the day" goes first; the presence and everything else are as without it.
    #[test]
    fn away_from_the_desk_fills_only_an_empty_status_while_locked_that_may_show_states() {
        let local = now().fixed_offset();
        let phone_cases: Vec<Option<StateKind>> = std::iter::once(None)
            .chain(StateKind::ALL.into_iter().map(Some))
            .collect();
        let manual = ManualStatus {
            state: CaretState::Available,
            until: None,
        };
        let off_cases = [
            None,
            Some(OffHours {
                back_at: Some(now() + Duration::hours(15)),
                show_status: false,
            }),
            Some(OffHours {
                back_at: Some(now() + Duration::hours(15)),
                show_status: true,
            }),
        ];
        let (mut combinations, mut shown) = (0, 0);
        for (name, settings) in policies() {
            let policy = settings.policy.effective(now());
            for phone_kind in &phone_cases {
                let phone = phone_kind.map(phone_state);
                for manual in [None, Some(&manual)] {
                    for (microphone_in_use, calendar_event) in
                        [(false, None), (true, None), (false, Some(meeting()))]
                    {
                        for off_hours in off_cases {
                            for screen_locked in [false, true] {
                                let without = DesktopSignals {
                                    microphone_in_use,
                                    calendar_event: calendar_event.clone(),
                                    screen_locked,
                                    off_hours,
                                    ..DesktopSignals::default()
                                };
                                let with = DesktopSignals {
                                    away_status: true,
                                    ..without.clone()
                                };
                                let decide_with = |desktop: &DesktopSignals| {
                                    let inputs = Inputs {
                                        manual,
                                        phone: phone.as_ref(),
                                        desktop,
                                    };
                                    decide_inputs(inputs, &settings, local)
                                };
                                let (input, plain) = decide_with(&without);
                                let (away_input, decision) = decide_with(&with);
                                let case = format!(
                                    "{name}, phone {phone_kind:?}, manual {}, microphone {microphone_in_use}, \
                                     event {}, {off_hours:?}, locked {screen_locked}",
                                    manual.is_some(),
                                    calendar_event.is_some()
                                );
                                assert_eq!(away_input, input, "{case}");
                                assert_eq!(
                                    decision.presence, plain.presence,
                                    "{case}: the presence as without"
                                );
                                assert_eq!(decision.policy, plain.policy, "{case}");
                                assert_eq!(decision.recompute_at, plain.recompute_at, "{case}");
                                let fills = screen_locked
                                    && manual.is_none()
                                    && matches!(policy, Policy::Trusted | Policy::Vip)
                                    && plain.status == DesiredStatus::Clear;
                                if fills {
                                    let expected = DesiredStatus::Set(SlackStatus {
                                        text: AWAY_TEXT.to_owned(),
                                        emoji: AWAY_EMOJI.to_owned(),
                                        expiration: Expiration::Lease {
                                            at: now() + settings.lease.duration(),
                                        },
                                    });
                                    assert_eq!(decision.status, expected, "{case}");
                                    shown += 1;
                                } else {
                                    assert_eq!(decision.status, plain.status, "{case}: not replaced");
                                }
                                combinations += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(combinations, 5 * (StateKind::ALL.len() + 1) * 2 * 3 * 3 * 2);
        // Trusted and VIP, locked, nothing sets a status (no phone, available, offline), and off work not
        // showing its own: the working hours off or without "Off for the day".
        assert_eq!(shown, 2 * 3 * 2);
    }

    #[test]
    fn an_off_work_reading_past_its_next_start_counts_as_work_begun() {
        let mut settings = WorkspaceSettings::default();
        settings.policy.choose(SharingPolicy::Trusted);
        let stale = DesktopSignals {
            off_hours: Some(OffHours {
                back_at: Some(now() - Duration::minutes(2)),
                show_status: true,
            }),
            ..DesktopSignals::default()
        };
        let inputs = Inputs {
            manual: None,
            phone: None,
            desktop: &stale,
        };
        let (_, decision) = decide_inputs(inputs, &settings, now().fixed_offset());
        assert_eq!(decision.presence, Presence::Auto);
        assert_eq!(decision.status, DesiredStatus::Clear);
    }

    #[test]
    fn the_phone_number_follows_off_for_the_day_where_the_person_shows_it() {
        let mut settings = WorkspaceSettings::default();
        settings.policy.choose(SharingPolicy::Trusted);
        settings.phone = crate::settings::PhoneSharing {
            share: true,
            number: Some(crate::settings::PhoneNumber::parse("+1 555 0100").unwrap()),
        };
        let desktop = DesktopSignals {
            off_hours: Some(OffHours {
                back_at: Some(now() + Duration::hours(1)),
                show_status: true,
            }),
            ..DesktopSignals::default()
        };
        let inputs = Inputs {
            manual: None,
            phone: None,
            desktop: &desktop,
        };
        let (_, decision) = decide_inputs(inputs, &settings, now().fixed_offset());
        let DesiredStatus::Set(status) = decision.status else {
            panic!("a status: {decision:?}");
        };
        assert_eq!(status.text, format!("{OFF_HOURS_TEXT} · +1 555 0100"));
    }

    #[test]
    fn a_call_from_the_microphone_beats_the_calendar_and_anything_the_phone_senses() {
        let desktop = DesktopSignals {
            microphone_in_use: true,
            calendar_event: Some(meeting()),
            ..DesktopSignals::default()
        };
        let driving = CaretState::InVehicle;
        let inputs = Inputs {
            manual: None,
            phone: Some(&driving),
            desktop: &desktop,
        };
        let chosen = choose_input(inputs, now()).unwrap();
        assert_eq!(chosen.state, CaretState::InCall);
        assert_eq!(chosen.source(), StateSource::Microphone);
        assert_eq!(chosen.source().label(), "microphone");
    }

    #[test]
    fn the_calendar_says_more_than_a_busy_phone_but_less_than_a_driving_one() {
        let desktop = DesktopSignals {
            calendar_event: Some(meeting()),
            ..DesktopSignals::default()
        };
        let busy = CaretState::Busy;
        let chosen = choose_input(
            Inputs {
                manual: None,
                phone: Some(&busy),
                desktop: &desktop,
            },
            now(),
        )
        .unwrap();
        assert_eq!(chosen.state, CaretState::Event(meeting()));
        assert_eq!(chosen.source(), StateSource::Calendar);

        let driving = CaretState::InVehicle;
        let chosen = choose_input(
            Inputs {
                manual: None,
                phone: Some(&driving),
                desktop: &desktop,
            },
            now(),
        )
        .unwrap();
        assert_eq!(chosen.state, CaretState::InVehicle);
        assert_eq!(chosen.source(), StateSource::Phone);
    }

    #[test]
    fn nothing_speaks_when_there_is_no_input_at_all() {
        let quiet = DesktopSignals::default();
        let inputs = Inputs {
            manual: None,
            phone: None,
            desktop: &quiet,
        };
        assert_eq!(choose_input(inputs, now()), None);
    }

    #[test]
    fn every_source_has_a_label_of_its_own() {
        let labels: std::collections::HashSet<_> =
            StateSource::ALL.iter().map(|source| source.label()).collect();
        assert_eq!(labels.len(), StateSource::ALL.len());
        for source in [
            DesktopSource::Microphone,
            DesktopSource::Camera,
            DesktopSource::Calendar,
        ] {
            let json = serde_json::to_value(source).unwrap();
            assert_eq!(
                serde_json::to_value(StateSource::from(source)).unwrap(),
                json,
                "one name for {source:?}"
            );
        }
    }
}
