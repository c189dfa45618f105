//! Table-driven tests of the mapping: every state × policy × phone-number option × origin, with the expected
//! Slack status written out literally, then the edges (Slack's 100-character limit with multi-byte and emoji
//! text, expirations in the past, hostile titles).

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};

use super::*;
use crate::policy::{PolicySetting, SharingPolicy};
use crate::settings::{DndRule, LeaseMinutes, PhoneNumber, PhoneSharing, PresenceRule};
use crate::sources::{DesktopSignals, DesktopSource, Inputs, choose_input};
use crate::state::{EventDetails, ManualStatus};
use crate::text::ELLIPSIS;

const PHONE: &str = "+49 170 1234567";
const TITLE: &str = "Quarterly review with ACME";

/// Monday 23 Nov 2026, 10:00 in UTC+01:00.
fn now() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .unwrap()
}

fn now_utc() -> DateTime<Utc> {
    now().with_timezone(&Utc)
}

/// 09:45 to 11:30 local.
fn event() -> EventDetails {
    EventDetails::new(
        TITLE,
        now_utc() - Duration::minutes(15),
        now_utc() + Duration::minutes(90),
    )
    .unwrap()
}

fn state_of(kind: StateKind) -> CaretState {
    CaretState::without_details(kind).unwrap_or_else(|| CaretState::Event(event()))
}

fn settings(policy: Policy, share_phone: bool) -> WorkspaceSettings {
    let mut policy_setting = PolicySetting::default();
    match policy {
        Policy::Default => policy_setting.choose(SharingPolicy::Default),
        Policy::Trusted => policy_setting.choose(SharingPolicy::Trusted),
        Policy::Vip => policy_setting.choose(SharingPolicy::Vip),
        Policy::Blocked => {
            policy_setting.choose(SharingPolicy::Vip);
            policy_setting.block_until_resumed();
        }
    }
    WorkspaceSettings {
        policy: policy_setting,
        phone: PhoneSharing {
            share: share_phone,
            number: Some(PhoneNumber::parse(PHONE).unwrap()),
        },
        ..WorkspaceSettings::default()
    }
}

fn status_of(decision: &Decision) -> Option<&SlackStatus> {
    match &decision.status {
        DesiredStatus::Set(status) => Some(status),
        DesiredStatus::Clear => None,
    }
}

/// What Trusted shows for each state, written out by hand: (kind, text, emoji). `None`: no status.
const TRUSTED_TABLE: [(StateKind, Option<(&str, &str)>); 11] = [
    (StateKind::Available, None),
    (StateKind::Busy, Some(("Busy", ":no_entry:"))),
    (StateKind::InCall, Some(("In a call", ":telephone_receiver:"))),
    (StateKind::InVehicle, Some(("Driving", ":car:"))),
    (StateKind::Silent, Some(("Phone on silent", ":no_bell:"))),
    (StateKind::Event, Some(("In a meeting", ":calendar:"))),
    (StateKind::Walking, Some(("Walking", ":walking:"))),
    (StateKind::Running, Some(("Out for a run", ":runner:"))),
    (StateKind::Biking, Some(("Cycling", ":bicyclist:"))),
    (StateKind::Sleeping, Some(("Sleeping", ":sleeping:"))),
    (StateKind::Offline, None),
];

/// The exact expected (text, emoji) for a state under a policy, without phone number.
fn expected_look(kind: StateKind, policy: Policy) -> Option<(String, &'static str)> {
    let (_, trusted) = TRUSTED_TABLE.iter().find(|(k, _)| *k == kind).unwrap();
    let (text, emoji) = (*trusted)?;
    match policy {
        Policy::Blocked => None,
        Policy::Default => Some(("Busy".to_owned(), ":no_entry:")),
        Policy::Trusted => Some((text.to_owned(), emoji)),
        Policy::Vip if kind == StateKind::Event => Some((format!("{TITLE} (until 11:30)"), emoji)),
        Policy::Vip => Some((text.to_owned(), emoji)),
    }
}

#[derive(Debug, Clone, Copy)]
enum OriginCase {
    Phone,
    ManualForAnHour,
    ManualUntilCleared,
    /// The desktop's own sources: a state they report is shared exactly as the phone's would be.
    Desktop(DesktopSource),
}

impl OriginCase {
    const ALL: [OriginCase; 6] = [
        OriginCase::Phone,
        OriginCase::ManualForAnHour,
        OriginCase::ManualUntilCleared,
        OriginCase::Desktop(DesktopSource::Microphone),
        OriginCase::Desktop(DesktopSource::Camera),
        OriginCase::Desktop(DesktopSource::Calendar),
    ];

    fn input(self, state: CaretState) -> StatusInput {
        match self {
            OriginCase::Phone => StatusInput::from_phone(state),
            OriginCase::Desktop(source) => StatusInput::from_desktop(state, source),
            OriginCase::ManualForAnHour => StatusInput::manual(state, Some(now_utc() + Duration::hours(1))),
            OriginCase::ManualUntilCleared => StatusInput::manual(state, None),
        }
    }
}

fn expected_expiration(kind: StateKind, policy: Policy, origin: OriginCase) -> Expiration {
    match origin {
        OriginCase::ManualForAnHour => Expiration::Fixed {
            at: now_utc() + Duration::hours(1),
        },
        OriginCase::ManualUntilCleared => Expiration::Never,
        OriginCase::Phone | OriginCase::Desktop(_) if kind == StateKind::Event && policy == Policy::Vip => {
            Expiration::Fixed { at: event().end }
        }
        OriginCase::Phone | OriginCase::Desktop(_) => Expiration::Lease {
            at: now_utc() + Duration::minutes(30),
        },
    }
}

#[test]
fn every_state_policy_phone_option_and_origin_maps_exactly_as_the_table_says() {
    let mut cases = 0;
    for kind in StateKind::ALL {
        for policy in Policy::ALL {
            for share_phone in [false, true] {
                for origin in OriginCase::ALL {
                    let case = format!("{kind:?} under {policy:?}, phone shared: {share_phone}, {origin:?}");
                    let decision = decide(
                        &origin.input(state_of(kind)),
                        &settings(policy, share_phone),
                        now(),
                    );
                    assert_eq!(decision.policy, policy, "{case}");
                    match expected_look(kind, policy) {
                        None => assert_eq!(decision.status, DesiredStatus::Clear, "{case}"),
                        Some((text, emoji)) => {
                            let text = if share_phone {
                                format!("{text} · {PHONE}")
                            } else {
                                text
                            };
                            let expected = SlackStatus {
                                text,
                                emoji: emoji.to_owned(),
                                expiration: expected_expiration(kind, policy, origin),
                            };
                            assert_eq!(decision.status, DesiredStatus::Set(expected), "{case}");
                        }
                    }
                    // Sleeping's built-in rule is away; under Default it is shown as Busy, whose rule is not.
                    let away = kind == StateKind::Sleeping && matches!(policy, Policy::Trusted | Policy::Vip);
                    let presence = if away { Presence::Away } else { Presence::Auto };
                    assert_eq!(decision.presence, presence, "{case}");
                    // Driving and Sleeping snooze by default; under Default they are shown as Busy, which does not.
                    let snoozes = matches!(kind, StateKind::InVehicle | StateKind::Sleeping)
                        && matches!(policy, Policy::Trusted | Policy::Vip);
                    let snooze = snoozes.then(|| expected_snooze(expected_expiration(kind, policy, origin)));
                    assert_eq!(decision.snooze, snooze, "{case}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 11 * 4 * 2 * 6);
}

/// The snooze that goes with a status's expiration: the same end, or a 30-minute lease for "until cleared".
fn expected_snooze(expiration: Expiration) -> Snooze {
    match expiration {
        Expiration::Fixed { at } => Snooze {
            until: at,
            renewed: false,
        },
        Expiration::Lease { at } => Snooze {
            until: at,
            renewed: true,
        },
        Expiration::Never => Snooze {
            until: now_utc() + Duration::minutes(30),
            renewed: true,
        },
    }
}

/// Settings under `policy` where exactly the states in `snoozing` pause notifications.
fn snoozing(policy: Policy, snoozing: &[StateKind]) -> WorkspaceSettings {
    let mut settings = settings(policy, false);
    for kind in StateKind::ALL {
        let rule = if snoozing.contains(&kind) {
            DndRule::Snooze
        } else {
            DndRule::Off
        };
        settings.dnd.insert(kind, rule);
    }
    settings
}

#[test]
fn do_not_disturb_follows_each_states_rule_under_trusted_and_vip_and_ends_with_the_status() {
    let mut cases = 0;
    for policy in [Policy::Trusted, Policy::Vip] {
        for chosen in StateKind::ALL {
            let settings = snoozing(policy, &[chosen]);
            for kind in StateKind::ALL {
                for origin in OriginCase::ALL {
                    let case = format!("{kind:?} under {policy:?}, {chosen:?} snoozes, {origin:?}");
                    let decision = decide(&origin.input(state_of(kind)), &settings, now());
                    let expected = (kind == chosen && StateTemplate::builtin(kind).is_some())
                        .then(|| expected_snooze(expected_expiration(kind, policy, origin)));
                    assert_eq!(decision.snooze, expected, "{case}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 2 * 11 * 11 * 6);
}

#[test]
fn under_default_every_state_shown_as_busy_snoozes_exactly_when_busy_does() {
    for busy_snoozes in [false, true] {
        for others in [&[][..], &StateKind::ALL[..]] {
            let mut chosen: Vec<StateKind> =
                others.iter().copied().filter(|k| *k != StateKind::Busy).collect();
            if busy_snoozes {
                chosen.push(StateKind::Busy);
            }
            let settings = snoozing(Policy::Default, &chosen);
            for kind in StateKind::ALL {
                for origin in OriginCase::ALL {
                    let decision = decide(&origin.input(state_of(kind)), &settings, now());
                    let shown_as_busy = !matches!(kind, StateKind::Available | StateKind::Offline);
                    let expected = (busy_snoozes && shown_as_busy)
                        .then(|| expected_snooze(expected_expiration(kind, Policy::Default, origin)));
                    assert_eq!(
                        decision.snooze,
                        expected,
                        "{kind:?}, {origin:?}, Busy snoozes: {busy_snoozes}, others: {}",
                        others.len()
                    );
                }
            }
        }
    }
}

#[test]
fn blocked_and_a_status_past_its_end_never_snooze() {
    let every_state = snoozing(Policy::Blocked, &StateKind::ALL);
    for kind in StateKind::ALL {
        for origin in OriginCase::ALL {
            let decision = decide(&origin.input(state_of(kind)), &every_state, now());
            assert_eq!(decision.snooze, None, "{kind:?} {origin:?} under Blocked");
        }
    }
    let trusted = snoozing(Policy::Trusted, &StateKind::ALL);
    let ended = StatusInput::manual(CaretState::InVehicle, Some(now_utc() - Duration::minutes(1)));
    assert_eq!(decide(&ended, &trusted, now()).snooze, None);
    let mut past = event();
    past.end = now_utc();
    past.start = now_utc() - Duration::hours(1);
    let over = StatusInput::from_phone(CaretState::Event(past));
    assert_eq!(decide(&over, &trusted, now()).snooze, None);
}

#[test]
fn the_desk_never_snoozes_and_never_lifts_a_snooze() {
    let settings = snoozing(Policy::Trusted, &[StateKind::InVehicle]);
    let off_hours = crate::sources::OffHours {
        back_at: Some(now_utc() + Duration::hours(12)),
        show_status: true,
    };
    for phone in [None, Some(CaretState::InVehicle), Some(CaretState::Walking)] {
        for (screen_locked, away_status, off) in [
            (false, false, None),
            (true, false, None),
            (true, true, None),
            (false, false, Some(off_hours)),
            (true, true, Some(off_hours)),
        ] {
            let desktop = DesktopSignals {
                screen_locked,
                away_status,
                off_hours: off,
                ..DesktopSignals::default()
            };
            let decision = desk_decision(&settings, phone.as_ref(), &desktop);
            let expected = (phone == Some(CaretState::InVehicle)).then(|| Snooze {
                until: now_utc() + Duration::minutes(30),
                renewed: true,
            });
            assert_eq!(
                decision.snooze, expected,
                "{phone:?} locked {screen_locked} off {off:?}"
            );
        }
    }
}

#[test]
fn privacy_invariants_hold_for_every_combination() {
    for kind in StateKind::ALL {
        for policy in Policy::ALL {
            for share_phone in [false, true] {
                for origin in OriginCase::ALL {
                    let decision = decide(
                        &origin.input(state_of(kind)),
                        &settings(policy, share_phone),
                        now(),
                    );
                    let Some(status) = status_of(&decision) else {
                        continue;
                    };
                    assert!(slack_length(&status.text) <= STATUS_TEXT_LIMIT);
                    if policy != Policy::Vip {
                        assert!(
                            !status.text.contains(TITLE),
                            "{kind:?}/{policy:?} leaked the event title"
                        );
                        assert!(
                            !status.text.contains("11:30"),
                            "{kind:?}/{policy:?} leaked the event end"
                        );
                    }
                    if policy == Policy::Default {
                        assert!(
                            status.text.starts_with("Busy"),
                            "{kind:?} under Default revealed itself"
                        );
                        assert_eq!(status.emoji, ":no_entry:");
                    }
                    assert_eq!(status.text.contains(PHONE), share_phone);
                    assert_ne!(policy, Policy::Blocked, "Blocked must never set a status");
                }
            }
        }
    }
}

#[test]
fn default_hides_in_vehicle_as_busy() {
    let decision = decide(
        &StatusInput::from_phone(CaretState::InVehicle),
        &settings(Policy::Default, false),
        now(),
    );
    assert_eq!(status_of(&decision).unwrap().text, "Busy");
}

#[test]
fn default_hides_an_event_end_by_using_a_lease_not_the_end_time() {
    let decision = decide(
        &StatusInput::from_phone(state_of(StateKind::Event)),
        &settings(Policy::Default, false),
        now(),
    );
    let status = status_of(&decision).unwrap();
    assert_eq!(
        status.expiration,
        Expiration::Lease {
            at: now_utc() + Duration::minutes(30)
        }
    );
    assert_eq!(
        decision.recompute_at,
        Some(event().end),
        "the engine still clears it when the event ends"
    );
}

#[test]
fn default_clears_the_status_when_available() {
    let decision = decide(
        &StatusInput::from_phone(CaretState::Available),
        &settings(Policy::Default, true),
        now(),
    );
    assert_eq!(decision.status, DesiredStatus::Clear);
}

#[test]
fn trusted_shows_the_exact_state_but_never_an_event_title() {
    let decision = decide(
        &StatusInput::from_phone(state_of(StateKind::Event)),
        &settings(Policy::Trusted, false),
        now(),
    );
    assert_eq!(status_of(&decision).unwrap().text, "In a meeting");
}

#[test]
fn trusted_never_expands_a_title_even_if_an_unvalidated_template_asks() {
    let mut settings = settings(Policy::Trusted, false);
    settings.templates.insert(
        StateKind::Event,
        StateTemplate {
            text: "Meeting: {title} {end}".into(),
            emoji: ":calendar:".into(),
            detailed_text: None,
        },
    );
    assert!(settings.validate().is_err(), "validation refuses it");
    let decision = decide(
        &StatusInput::from_phone(state_of(StateKind::Event)),
        &settings,
        now(),
    );
    assert_eq!(status_of(&decision).unwrap().text, "Meeting:");
}

#[test]
fn vip_shares_event_title_and_end() {
    let decision = decide(
        &StatusInput::from_phone(state_of(StateKind::Event)),
        &settings(Policy::Vip, false),
        now(),
    );
    let status = status_of(&decision).unwrap();
    assert_eq!(status.text, "Quarterly review with ACME (until 11:30)");
    assert_eq!(status.expiration, Expiration::Fixed { at: event().end });
}

#[test]
fn vip_event_without_a_title_says_in_a_meeting() {
    let mut untitled = event();
    untitled.title = " \n\t ".into();
    let input = StatusInput::from_phone(CaretState::Event(untitled));
    let decision = decide(&input, &settings(Policy::Vip, false), now());
    assert_eq!(status_of(&decision).unwrap().text, "In a meeting (until 11:30)");
}

#[test]
fn vip_writes_times_in_the_chosen_format_and_names_the_day_when_not_today() {
    let mut settings = settings(Policy::Vip, false);
    settings.time_format = TimeFormat::H12;
    let decision = decide(
        &StatusInput::from_phone(state_of(StateKind::Event)),
        &settings,
        now(),
    );
    assert_eq!(
        status_of(&decision).unwrap().text,
        "Quarterly review with ACME (until 11:30 AM)"
    );

    let tomorrow = EventDetails::new("Offsite", now_utc(), now_utc() + Duration::hours(24)).unwrap();
    settings.time_format = TimeFormat::H24;
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(tomorrow)),
        &settings,
        now(),
    );
    assert_eq!(status_of(&decision).unwrap().text, "Offsite (until Tue 10:00)");

    let next_month = EventDetails::new("Sabbatical", now_utc(), now_utc() + Duration::days(40)).unwrap();
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(next_month)),
        &settings,
        now(),
    );
    assert_eq!(
        status_of(&decision).unwrap().text,
        "Sabbatical (until 2 Jan 10:00)"
    );
}

#[test]
fn vip_uses_the_plain_text_when_a_detailed_text_needs_a_time_the_state_lacks() {
    let mut settings = settings(Policy::Vip, false);
    settings.templates.insert(
        StateKind::InCall,
        StateTemplate {
            text: "On the phone".into(),
            emoji: ":telephone_receiver:".into(),
            detailed_text: Some("{title} (until {end})".into()),
        },
    );
    let from_phone = decide(&StatusInput::from_phone(CaretState::InCall), &settings, now());
    assert_eq!(status_of(&from_phone).unwrap().text, "On the phone");
    let manual = StatusInput::manual(CaretState::InCall, Some(now_utc() + Duration::minutes(30)));
    let decision = decide(&manual, &settings, now());
    assert_eq!(status_of(&decision).unwrap().text, "On the phone (until 10:30)");
}

#[test]
fn a_title_that_looks_like_a_placeholder_is_not_expanded_again() {
    let mut sneaky = event();
    sneaky.title = "{end} {start} {title}".into();
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(sneaky)),
        &settings(Policy::Vip, false),
        now(),
    );
    assert_eq!(
        status_of(&decision).unwrap().text,
        "{end} {start} {title} (until 11:30)"
    );
}

#[test]
fn a_title_with_line_breaks_becomes_one_line() {
    let mut multiline = event();
    multiline.title = "Board\nmeeting\r\n\u{0}Q3".into();
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(multiline)),
        &settings(Policy::Vip, false),
        now(),
    );
    assert_eq!(
        status_of(&decision).unwrap().text,
        "Board meeting Q3 (until 11:30)"
    );
}

#[test]
fn blocked_clears_and_returns_presence_to_automatic() {
    let decision = decide(
        &StatusInput::from_phone(CaretState::Sleeping),
        &settings(Policy::Blocked, true),
        now(),
    );
    assert_eq!(decision.status, DesiredStatus::Clear);
    assert_eq!(decision.presence, Presence::Auto);
}

#[test]
fn blocked_wins_over_a_manual_status() {
    let input = StatusInput::manual(CaretState::InCall, None);
    let decision = decide(&input, &settings(Policy::Blocked, false), now());
    assert_eq!(decision.status, DesiredStatus::Clear);
}

#[test]
fn timed_block_asks_for_a_recompute_at_its_end_and_then_shares_again() {
    let mut settings = settings(Policy::Trusted, false);
    settings.policy.block_for(Duration::hours(1), now_utc());
    let input = StatusInput::from_phone(CaretState::InCall);
    let blocked = decide(&input, &settings, now());
    assert_eq!(blocked.status, DesiredStatus::Clear);
    assert_eq!(blocked.recompute_at, Some(now_utc() + Duration::hours(1)));
    let after = decide(&input, &settings, now() + Duration::hours(1));
    assert_eq!(after.policy, Policy::Trusted);
    assert_eq!(status_of(&after).unwrap().text, "In a call");
}

#[test]
fn offline_phone_claims_nothing() {
    for policy in Policy::ALL {
        let mut settings = settings(policy, true);
        settings.presence.insert(StateKind::Offline, PresenceRule::Away);
        let decision = decide(&StatusInput::from_phone(CaretState::Offline), &settings, now());
        assert_eq!(decision.status, DesiredStatus::Clear, "{policy:?}");
        assert_eq!(decision.presence, Presence::Auto);
    }
}

#[test]
fn default_makes_sleeping_no_more_away_than_busy() {
    let settings = settings(Policy::Default, false);
    let sleeping = decide(&StatusInput::from_phone(CaretState::Sleeping), &settings, now());
    let busy = decide(&StatusInput::from_phone(CaretState::Busy), &settings, now());
    assert_eq!(sleeping.presence, Presence::Auto);
    assert_eq!(
        (&sleeping.status, sleeping.presence),
        (&busy.status, busy.presence)
    );
}

#[test]
fn trusted_and_vip_follow_the_users_presence_rule_for_the_real_state() {
    for policy in [Policy::Trusted, Policy::Vip] {
        let mut settings = settings(policy, false);
        settings.presence.insert(StateKind::InVehicle, PresenceRule::Away);
        let driving = decide(&StatusInput::from_phone(CaretState::InVehicle), &settings, now());
        assert_eq!(driving.presence, Presence::Away, "{policy:?}");
        let walking = decide(&StatusInput::from_phone(CaretState::Walking), &settings, now());
        assert_eq!(walking.presence, Presence::Auto, "{policy:?}");
    }
}

#[test]
fn default_takes_busys_presence_rule_for_every_state_it_shows_as_busy() {
    let mut settings = settings(Policy::Default, false);
    settings.presence.insert(StateKind::InVehicle, PresenceRule::Away);
    let driving = decide(&StatusInput::from_phone(CaretState::InVehicle), &settings, now());
    assert_eq!(
        driving.presence,
        Presence::Auto,
        "driving's own rule would single it out"
    );
    settings.presence.insert(StateKind::Busy, PresenceRule::Away);
    for kind in StateKind::ALL {
        let decision = decide(&StatusInput::from_phone(state_of(kind)), &settings, now());
        let expected = match kind {
            StateKind::Available | StateKind::Offline => Presence::Auto,
            _ => Presence::Away,
        };
        assert_eq!(decision.presence, expected, "{kind:?}");
    }
}

/// The rule the user's privacy under Default rests on: whatever the settings (every combination of presence
/// rules, the phone number shown or not) and wherever the input came from, everything Slack shows (text,
/// emoji, expiration, presence) is the same for every state that is not Available or Offline.
#[test]
fn default_shows_the_same_everything_for_every_state_shown_as_busy_whatever_the_presence_rules() {
    let hidden: Vec<StateKind> = StateKind::ALL
        .into_iter()
        .filter(|kind| !matches!(kind, StateKind::Available | StateKind::Offline))
        .collect();
    let mut combinations = 0;
    for rules in 0u32..(1 << StateKind::ALL.len()) {
        for share_phone in [false, true] {
            let mut settings = settings(Policy::Default, share_phone);
            for (bit, kind) in StateKind::ALL.into_iter().enumerate() {
                let rule = if rules & (1 << bit) == 0 {
                    PresenceRule::Auto
                } else {
                    PresenceRule::Away
                };
                settings.presence.insert(kind, rule);
            }
            for origin in OriginCase::ALL {
                let shown: Vec<(DesiredStatus, Presence)> = hidden
                    .iter()
                    .map(|kind| {
                        let decision = decide(&origin.input(state_of(*kind)), &settings, now());
                        (decision.status, decision.presence)
                    })
                    .collect();
                assert!(
                    shown.windows(2).all(|pair| pair[0] == pair[1]),
                    "Default told states apart with presence rules {rules:#b}, {origin:?}: {shown:?}"
                );
                combinations += 1;
            }
        }
    }
    assert_eq!(combinations, (1 << 11) * 2 * OriginCase::ALL.len());
}

#[test]
fn lease_length_comes_from_the_settings() {
    let mut settings = settings(Policy::Trusted, false);
    settings.lease = LeaseMinutes::new(10).unwrap();
    let decision = decide(&StatusInput::from_phone(CaretState::Walking), &settings, now());
    assert_eq!(
        status_of(&decision).unwrap().expiration,
        Expiration::Lease {
            at: now_utc() + Duration::minutes(10)
        }
    );
    assert_eq!(decision.recompute_at, None);
}

// --- Expirations in the past ---

#[test]
fn an_event_that_has_ended_shares_nothing() {
    let ended = EventDetails::new(
        TITLE,
        now_utc() - Duration::hours(2),
        now_utc() - Duration::minutes(1),
    )
    .unwrap();
    for policy in Policy::ALL {
        let decision = decide(
            &StatusInput::from_phone(CaretState::Event(ended.clone())),
            &settings(policy, true),
            now(),
        );
        assert_eq!(decision.status, DesiredStatus::Clear, "{policy:?}");
        assert_eq!(decision.recompute_at, None);
    }
}

#[test]
fn an_event_ending_exactly_now_has_ended() {
    let ending = EventDetails::new(TITLE, now_utc() - Duration::hours(1), now_utc()).unwrap();
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(ending)),
        &settings(Policy::Vip, false),
        now(),
    );
    assert_eq!(decision.status, DesiredStatus::Clear);
}

#[test]
fn a_manual_status_past_its_end_shares_nothing() {
    let input = StatusInput::manual(CaretState::InCall, Some(now_utc() - Duration::seconds(1)));
    let decision = decide(&input, &settings(Policy::Trusted, false), now());
    assert_eq!(decision.status, DesiredStatus::Clear);
}

#[test]
fn a_manual_event_ends_at_whichever_comes_first() {
    let input = StatusInput::manual(state_of(StateKind::Event), Some(now_utc() + Duration::hours(3)));
    let decision = decide(&input, &settings(Policy::Trusted, false), now());
    assert_eq!(decision.recompute_at, Some(event().end));
}

#[test]
fn manual_status_wins_over_the_phone_until_it_expires() {
    let phone = CaretState::Walking;
    let manual = ManualStatus {
        state: CaretState::InCall,
        until: Some(now_utc() + Duration::minutes(30)),
    };
    let quiet = DesktopSignals::default();
    let inputs = |phone, manual| Inputs {
        manual,
        phone,
        desktop: &quiet,
    };
    let chosen = choose_input(inputs(Some(&phone), Some(&manual)), now_utc()).unwrap();
    assert_eq!(chosen, StatusInput::manual(CaretState::InCall, manual.until));
    let later = choose_input(
        inputs(Some(&phone), Some(&manual)),
        now_utc() + Duration::minutes(30),
    )
    .unwrap();
    assert_eq!(later, StatusInput::from_phone(CaretState::Walking));
    assert_eq!(
        choose_input(inputs(None, Some(&manual)), now_utc() + Duration::hours(1)),
        None
    );
    assert_eq!(choose_input(inputs(None, None), now_utc()), None);
}

// --- Slack's 100-character limit ---

fn vip_event_titled(title: &str, share_phone: bool) -> String {
    let mut titled = event();
    titled.title = title.into();
    let decision = decide(
        &StatusInput::from_phone(CaretState::Event(titled)),
        &settings(Policy::Vip, share_phone),
        now(),
    );
    status_of(&decision).unwrap().text.clone()
}

const UNTIL: &str = " (until 11:30)"; // 14 units

#[test]
fn a_text_of_exactly_100_is_kept_whole() {
    let title = "t".repeat(100 - UNTIL.len());
    let text = vip_event_titled(&title, false);
    assert_eq!(slack_length(&text), 100);
    assert_eq!(text, format!("{title}{UNTIL}"));
}

#[test]
fn a_text_of_101_is_cut_on_a_grapheme_with_an_ellipsis() {
    let title = "t".repeat(101 - UNTIL.len());
    let text = vip_event_titled(&title, false);
    assert_eq!(slack_length(&text), 100);
    assert!(text.ends_with(ELLIPSIS));
}

#[test]
fn the_phone_number_is_never_cut() {
    for title_length in [0, 1, 50, 70, 71, 72, 73, 99, 100, 250] {
        let text = vip_event_titled(&"w".repeat(title_length), true);
        assert!(text.ends_with(&format!(" · {PHONE}")), "{title_length}: {text}");
        assert!(slack_length(&text) <= 100, "{title_length}: {text}");
    }
}

#[test]
fn the_phone_number_fits_exactly_at_the_edge() {
    let suffix = format!(" · {PHONE}"); // 18 units
    let title = "a".repeat(100 - UNTIL.len() - slack_length(&suffix));
    let text = vip_event_titled(&title, true);
    assert_eq!(slack_length(&text), 100);
    assert!(!text.contains(ELLIPSIS));
    let text = vip_event_titled(&format!("{title}a"), true);
    assert_eq!(slack_length(&text), 100);
    assert!(text.contains(&format!("{ELLIPSIS}{suffix}")));
}

#[test]
fn multibyte_titles_are_cut_on_characters_not_bytes() {
    let text = vip_event_titled(&"日本語の会議".repeat(20), true);
    assert!(slack_length(&text) <= 100);
    assert!(text.ends_with(PHONE));
    assert!(
        text.is_char_boundary(text.len()),
        "valid UTF-8 by construction; the length is what matters"
    );
    assert!(text.contains(ELLIPSIS));
}

#[test]
fn emoji_titles_are_never_split_inside_a_sequence() {
    let family = "👨\u{200d}👩\u{200d}👧";
    let flag = "🇩🇪";
    let title = format!("{family}{flag}").repeat(12);
    let text = vip_event_titled(&title, true);
    assert!(slack_length(&text) <= 100);
    let body = text.split(ELLIPSIS).next().unwrap();
    let whole_pairs = body.matches(&format!("{family}{flag}")).count();
    let rest = body.replacen(&format!("{family}{flag}").repeat(whole_pairs), "", 1);
    assert!(
        rest.is_empty() || rest == family,
        "cut inside a grapheme: {rest:?}"
    );
}

#[test]
fn every_title_length_up_to_300_fits_and_keeps_the_phone_number() {
    for unit in ["x", "é", "日", "😀", "👍🏽", "e\u{301}"] {
        for count in 0..150 {
            let text = vip_event_titled(&unit.repeat(count), true);
            assert!(slack_length(&text) <= 100, "{unit} × {count}");
            assert!(text.ends_with(PHONE), "{unit} × {count}");
        }
    }
}

#[test]
fn a_long_custom_template_with_a_phone_number_still_fits() {
    let mut settings = settings(Policy::Trusted, true);
    settings.templates.insert(
        StateKind::Busy,
        StateTemplate {
            text: "b".repeat(100),
            emoji: ":no_entry:".into(),
            detailed_text: None,
        },
    );
    let decision = decide(&StatusInput::from_phone(CaretState::Busy), &settings, now());
    let text = &status_of(&decision).unwrap().text;
    assert_eq!(slack_length(text), 100);
    assert!(text.ends_with(&format!("{ELLIPSIS} · {PHONE}")));
}

#[test]
fn expiration_is_written_for_slack_in_unix_seconds() {
    assert_eq!(Expiration::Never.slack_seconds(), 0);
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    assert_eq!(Expiration::Fixed { at }.slack_seconds(), at.timestamp());
    assert_eq!(Expiration::Lease { at }.slack_seconds(), at.timestamp());
}

// --- The user-facing table in docs/status-mapping.md, written from `decide` itself ---

fn cell(decision: &Decision) -> String {
    match &decision.status {
        DesiredStatus::Clear => "*(no status)*".to_owned(),
        DesiredStatus::Set(status) => format!("`{}` {}", status.emoji, status.text.replace('|', "\\|")),
    }
}

fn expiration_words(expiration: Expiration) -> String {
    match expiration {
        Expiration::Never => "never (until you clear it)".to_owned(),
        Expiration::Fixed { at } => {
            format!("at {} (fixed)", at.with_timezone(now().offset()).format("%H:%M"))
        }
        Expiration::Lease { at } => {
            format!(
                "at {} (a lease, renewed while the state lasts)",
                at.with_timezone(now().offset()).format("%H:%M")
            )
        }
    }
}

fn render_status_mapping_doc() -> String {
    let mut out = String::from(
        "# What Slack shows, state by state\n\n\
         Generated from `caret_core::decide` by `cargo test -p caret-core` (the test command fails if this file is\n\
         not current). Example: it is Monday 10:00, the event is \"Quarterly review with ACME\" from 09:45 to\n\
         11:30, the lease is 30 minutes, the phone number is +49 170 1234567.\n\n\
         ## Status text and emoji\n\n| State | Default | Trusted | VIP | Blocked |\n|---|---|---|---|---|\n",
    );
    for kind in StateKind::ALL {
        let input = StatusInput::from_phone(state_of(kind));
        let cells: Vec<String> = Policy::ALL
            .iter()
            .map(|policy| cell(&decide(&input, &settings(*policy, false), now())))
            .collect();
        out.push_str(&format!("| {} | {} |\n", kind.label(), cells.join(" | ")));
    }
    out.push_str(
        "\n## With the phone number shared\n\nThe number is appended whole; only the text before it is ever \
         shortened to fit Slack's 100 characters.\n\n| State | Default | Trusted | VIP |\n|---|---|---|---|\n",
    );
    for kind in [StateKind::InCall, StateKind::Event] {
        let input = StatusInput::from_phone(state_of(kind));
        let cells: Vec<String> = [Policy::Default, Policy::Trusted, Policy::Vip]
            .iter()
            .map(|policy| cell(&decide(&input, &settings(*policy, true), now())))
            .collect();
        out.push_str(&format!("| {} | {} |\n", kind.label(), cells.join(" | ")));
    }
    out.push_str("\n## When the status ends\n\n| Where it came from | Trusted | VIP |\n|---|---|---|\n");
    let origins = [
        ("Phone: In a call", StatusInput::from_phone(CaretState::InCall)),
        (
            "Phone: event",
            StatusInput::from_phone(state_of(StateKind::Event)),
        ),
        (
            "You, for 1 hour",
            StatusInput::manual(CaretState::InCall, Some(now_utc() + Duration::hours(1))),
        ),
        (
            "You, until cleared",
            StatusInput::manual(CaretState::InCall, None),
        ),
        (
            "Microphone: In a call",
            StatusInput::from_desktop(CaretState::InCall, DesktopSource::Microphone),
        ),
        (
            "Calendar: event",
            StatusInput::from_desktop(state_of(StateKind::Event), DesktopSource::Calendar),
        ),
    ];
    for (name, input) in origins {
        let cells: Vec<String> = [Policy::Trusted, Policy::Vip]
            .iter()
            .map(
                |policy| match decide(&input, &settings(*policy, false), now()).status {
                    DesiredStatus::Set(status) => expiration_words(status.expiration),
                    DesiredStatus::Clear => "—".to_owned(),
                },
            )
            .collect();
        out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    }
    out.push_str(
        "\nUnder Default, as under Trusted, an event gets a lease rather than its end time: the end is a detail only VIP shares. Every status \
         is cleared when its event or chosen time is over.\n\n\
         ## Presence\n\nWith the built-in presence rules (Sleeping away, every other state automatic):\n\n\
         | State | Default | Trusted | VIP | Blocked |\n|---|---|---|---|---|\n",
    );
    for kind in StateKind::ALL {
        let input = StatusInput::from_phone(state_of(kind));
        let cells: Vec<&str> = Policy::ALL
            .iter()
            .map(
                |policy| match decide(&input, &settings(*policy, false), now()).presence {
                    Presence::Auto => "automatic",
                    Presence::Away => "**away**",
                },
            )
            .collect();
        out.push_str(&format!("| {} | {} |\n", kind.label(), cells.join(" | ")));
    }
    out.push_str(
        "\nUnder Default every state shown as Busy takes Busy's presence rule, whatever its own rule says, so that \
         presence tells those states apart no more than the status does (Sleeping is away under Trusted and VIP, \
         automatic under Default unless you make Busy away). Blocked and an offline phone always return presence \
         to automatic. \"Automatic\" means Slack decides from your activity, as if Caret Desktop were not there; \
         Slack has no way to force \"active\".\n",
    );
    out.push_str(&render_dnd());
    out.push_str(&render_which_input_speaks());
    out.push_str(&render_screen_locked());
    out.push_str(&render_off_hours());
    out
}

/// Which states pause Slack's notifications (a Do Not Disturb snooze), with the built-in rules.
fn render_dnd() -> String {
    let mut out = String::from(
        "\n## Do Not Disturb\n\nWith the built-in rules (Driving and Sleeping pause notifications, every other \
         state leaves them alone), a state from the phone:\n\n\
         | State | Default | Trusted | VIP | Blocked |\n|---|---|---|---|---|\n",
    );
    for kind in StateKind::ALL {
        let input = StatusInput::from_phone(state_of(kind));
        let cells: Vec<String> = Policy::ALL
            .iter()
            .map(
                |policy| match decide(&input, &settings(*policy, false), now()).snooze {
                    None => "—".to_owned(),
                    Some(snooze) if snooze.renewed => "**paused** (30-minute lease, renewed)".to_owned(),
                    Some(snooze) => format!(
                        "**paused** until {}",
                        snooze.until.with_timezone(now().offset()).format("%H:%M")
                    ),
                },
            )
            .collect();
        out.push_str(&format!("| {} | {} |\n", kind.label(), cells.join(" | ")));
    }
    out.push_str(
        "\nA snooze ends with the status: at its chosen end, at an event's end under VIP, else on a lease that is \
         renewed while the state lasts (a status \"until cleared\" too: a snooze needs an end). Under Default every \
         state shown as Busy takes Busy's rule, as for the presence: people see that your notifications are \
         paused, so Driving's own rule would single it out. Blocked, Available and an offline phone never \
         pause notifications; neither do \"Away from the desk\" and \"Off for the day\" (Slack's own \
         notification schedule is the tool for hours). A snooze you started yourself in Slack is never changed \
         or ended.\n",
    );
    out
}

/// What the working hours do (`caret_core::decide_inputs`), under each policy, with nothing else speaking and
/// with the phone in a call.
fn render_off_hours() -> String {
    let mut out = String::from(
        "\n## Outside working hours\n\nThe working hours (when they are on) are not an input either. Outside them, \
         unless a status you chose yourself speaks, the presence is away under every policy that shares anything; \
         with \"Off for the day\" turned on, that status fills a status nothing else sets, until the next start, \
         under Trusted and VIP only (Default shares Available and Busy and nothing else; the away presence says \
         enough there). A call at 9 pm stays a call (`caret_core::decide_inputs`).\n\n\
         | Policy | What speaks | \"Off for the day\" | Status | Presence |\n|---|---|---|---|---|\n",
    );
    let policies = doc_policies();
    let back_at = now().with_timezone(&Utc) + chrono::Duration::hours(15);
    for (name, settings) in &policies {
        for (speaks, phone) in [
            ("nothing", None),
            ("the phone: in a call", Some(CaretState::InCall)),
        ] {
            for show_status in [false, true] {
                let desktop = DesktopSignals {
                    off_hours: Some(crate::sources::OffHours {
                        back_at: Some(back_at),
                        show_status,
                    }),
                    ..DesktopSignals::default()
                };
                let decision = desk_decision(settings, phone.as_ref(), &desktop);
                let status = match &decision.status {
                    DesiredStatus::Clear => "none".to_owned(),
                    DesiredStatus::Set(status) => {
                        let until = match status.expiration {
                            Expiration::Fixed { at } if at == back_at => " (until the next start)",
                            _ => "",
                        };
                        format!("{} {}{until}", status.emoji, status.text)
                    }
                };
                let presence = match decision.presence {
                    Presence::Away => "**away**",
                    Presence::Auto => "automatic",
                };
                let shown = if show_status { "on" } else { "off" };
                out.push_str(&format!(
                    "| {name} | {speaks} | {shown} | {status} | {presence} |\n"
                ));
            }
        }
    }
    out
}

/// The four policies as the doc's tables name them.
fn doc_policies() -> [(&'static str, WorkspaceSettings); 4] {
    [
        ("Default", settings(Policy::Default, false)),
        ("Trusted", settings(Policy::Trusted, false)),
        ("VIP", settings(Policy::Vip, false)),
        ("Blocked", settings(Policy::Blocked, false)),
    ]
}

/// `decide_inputs` with only the phone (or nothing) speaking and the desk as `desktop` says.
fn desk_decision(
    settings: &WorkspaceSettings,
    phone: Option<&CaretState>,
    desktop: &DesktopSignals,
) -> Decision {
    let inputs = Inputs {
        manual: None,
        phone,
        desktop,
    };
    crate::sources::decide_inputs(inputs, settings, now()).1
}

/// What a locked screen does (`caret_core::decide_inputs`), shown on one input under each policy.
fn render_screen_locked() -> String {
    let mut out = String::from(
        "\n## The screen locked\n\nA locked screen (the screen-lock source, when it is on) is not an input of \
         its own: whatever input speaks keeps its status, and the presence is away under every policy that \
         shares anything (`caret_core::decide_inputs`). Blocked shares nothing, not even that. With \"Away from \
         the desk\" turned on, that status fills a status nothing else sets while the screen is locked, under \
         Trusted and VIP only, not while a status you chose yourself speaks, with a lease like any status of \
         open length; outside working hours \"Off for the day\" goes first.\n\n\
         | Policy | What speaks | Screen | \"Away from the desk\" | Status | Presence |\n|---|---|---|---|---|---|\n",
    );
    let policies = doc_policies();
    let rows = [
        ("the phone: in a call", Some(CaretState::InCall), false, false),
        ("the phone: in a call", Some(CaretState::InCall), true, false),
        ("the phone: in a call", Some(CaretState::InCall), true, true),
        ("nothing", None, true, false),
        ("nothing", None, true, true),
    ];
    for (name, settings) in &policies {
        for (speaks, phone, screen_locked, away_status) in &rows {
            let desktop = DesktopSignals {
                screen_locked: *screen_locked,
                away_status: *away_status,
                ..DesktopSignals::default()
            };
            let decision = desk_decision(settings, phone.as_ref(), &desktop);
            let status = match &decision.status {
                DesiredStatus::Clear => "none".to_owned(),
                DesiredStatus::Set(status) => format!("{} {}", status.emoji, status.text),
            };
            let presence = match decision.presence {
                Presence::Away => "**away**",
                Presence::Auto => "automatic",
            };
            let screen = if *screen_locked { "locked" } else { "unlocked" };
            let asked = if *away_status { "on" } else { "off" };
            out.push_str(&format!(
                "| {name} | {speaks} | {screen} | {asked} | {status} | {presence} |\n"
            ));
        }
    }
    out
}

/// The order of `choose_input`, shown on the combinations people meet.
fn render_which_input_speaks() -> String {
    let mut out = String::from(
        "\n## Which input speaks\n\nWhen several inputs speak at once, one wins (`caret_core::choose_input`), in \
         this order: your own choice while it lasts; a call, whichever source sees it (the phone's In a call, \
         then the desktop's microphone, then its camera); what the phone senses you doing (in a vehicle, \
         walking, running, biking, sleeping, or an event on the phone); an event from your calendar; the \
         phone's busy or silent; nothing. The winner is then shared under each workspace's policy exactly as \
         in the tables above: a source adds inputs, never exposure.\n\n\
         | You chose | Phone | Microphone | Calendar | The input that speaks (its source) |\n|---|---|---|---|---|\n",
    );
    let manual = ManualStatus {
        state: CaretState::Sleeping,
        until: None,
    };
    let rows: [(Option<&ManualStatus>, Option<CaretState>, bool, bool); 8] = [
        (Some(&manual), Some(CaretState::InCall), true, true),
        (None, Some(CaretState::InVehicle), true, true),
        (None, Some(CaretState::InVehicle), false, true),
        (None, Some(CaretState::Busy), false, true),
        (None, Some(CaretState::Available), false, true),
        (None, Some(CaretState::Available), true, false),
        (None, Some(CaretState::Offline), false, false),
        (None, None, false, true),
    ];
    for (manual, phone, microphone_in_use, has_event) in rows {
        let desktop = DesktopSignals {
            microphone_in_use,
            calendar_event: has_event.then(event),
            ..DesktopSignals::default()
        };
        let chosen = choose_input(
            Inputs {
                manual,
                phone: phone.as_ref(),
                desktop: &desktop,
            },
            now_utc(),
        );
        let shared = chosen.map_or_else(
            || "nothing".to_owned(),
            |input| format!("{} ({})", input.state.kind().label(), input.source().label()),
        );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {shared} |\n",
            manual.map_or("—", |manual| manual.state.kind().label()),
            phone.map_or("—", |phone| phone.kind().label()),
            if microphone_in_use { "in use" } else { "—" },
            if has_event { "an event" } else { "—" },
        ));
    }
    out
}

/// Writes docs/status-mapping.md (CI checks the committed file did not change).
#[test]
fn status_mapping_doc_is_written_from_decide() {
    let doc = render_status_mapping_doc();
    assert!(doc.contains(
        "| In a vehicle | `:no_entry:` Busy | `:car:` Driving | `:car:` Driving | *(no status)* |"
    ));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/status-mapping.md");
    std::fs::write(path, doc).unwrap();
}
