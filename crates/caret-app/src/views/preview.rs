//! The live preview of Settings: exactly what Slack will show for each state under each policy, computed by
//! the same [`caret_core::decide`] the sync engine uses (never a second copy of the rules), for the settings
//! the user is editing, before they are saved.

use caret_core::{
    CaretState, Decision, DesiredStatus, EventDetails, Expiration, Policy, PolicySetting, Presence,
    SharingPolicy, StateKind, StatusInput, WorkspaceSettings, decide,
};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use ts_rs::TS;

/// The event the preview uses to show what VIP reveals of one.
pub const EXAMPLE_EVENT_TITLE: &str = "Quarterly planning";
const EXAMPLE_EVENT_MINUTES: i64 = 45;

/// One state as Slack would show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PreviewRow {
    pub state: StateKind,
    /// The state's name in the app ("In a call").
    pub label: String,
    /// The status text and emoji; `None`: no status from us (Slack shows nothing, or what you set yourself).
    pub status: Option<PreviewStatus>,
    pub presence: Presence,
    /// Slack's notifications paused (a Do Not Disturb snooze) while in this state.
    pub snooze: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PreviewStatus {
    pub text: String,
    pub emoji: String,
    /// When Slack removes it, in words ("renewed while your phone says so", "at 15:45").
    pub expires: String,
}

/// Every state under one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PolicyPreview {
    pub policy: Policy,
    pub rows: Vec<PreviewRow>,
}

/// What the Settings window shows beside the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SettingsPreview {
    /// Default, Trusted, VIP, Blocked, in that order.
    pub policies: Vec<PolicyPreview>,
    /// Why these settings cannot be saved as they are (a template too long, a phone number missing…).
    pub problem: Option<String>,
    /// The example event used for "In a meeting".
    pub example_event: String,
    /// What speaks right now, so that the window can mark its row and say where it comes from.
    pub now: Option<PreviewNow>,
}

/// The input in force now, as the tray says it ("In a call (microphone)"), and whether the screen is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PreviewNow {
    /// The state speaking now, `None` when nothing does (no phone, nothing chosen, no source sees anything).
    pub state: Option<StateKind>,
    /// Where it comes from, in the tray's words: "your choice", "phone", "microphone", "camera", "calendar".
    pub source: Option<String>,
    /// The whole line: "In a call (microphone)", "Nothing known now".
    pub said: String,
    /// The screen-lock source sees the screen locked: every policy but Blocked shows the presence away.
    pub screen_locked: bool,
    /// Off work, and no status the person chose speaks: every policy but Blocked shows the presence away, and
    /// Trusted and VIP "Off for the day" (if asked for) where nothing else sets a status.
    pub off_hours: Option<caret_core::OffHours>,
    /// The screen is locked and "Away from the desk" is asked for, and no status the person chose speaks:
    /// Trusted and VIP show it where nothing else sets a status.
    pub away_status: bool,
}

impl PreviewNow {
    /// From the input `caret_core::choose_input` picked and what the desktop's lock and working hours say.
    pub fn new(input: Option<&StatusInput>, desktop: &caret_core::DesktopSignals) -> PreviewNow {
        let chosen = input.is_some_and(|input| matches!(input.origin, caret_core::Origin::Manual { .. }));
        let said = input.map_or_else(
            || "Nothing known now".to_owned(),
            |input| format!("{} ({})", input.state.kind().label(), input.source().label()),
        );
        PreviewNow {
            state: input.map(|input| input.state.kind()),
            source: input.map(|input| input.source().label().to_owned()),
            said,
            screen_locked: desktop.screen_locked,
            off_hours: desktop.off_hours.filter(|_| !chosen),
            away_status: desktop.screen_locked && desktop.away_status && !chosen,
        }
    }
}

/// A state whose look in Slack the user can change, with its built-in look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct TemplateState {
    pub state: StateKind,
    pub label: String,
    pub builtin: caret_core::StateTemplate,
    /// Whether the state pauses Slack's notifications unless the user says otherwise.
    pub builtin_dnd: caret_core::DndRule,
}

/// What the Settings form's template editor starts from: the built-in look of each state that shows a status
/// (`WorkspaceSettings::templates` holds only the user's changes), and the placeholders VIP texts may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct TemplateCatalog {
    pub states: Vec<TemplateState>,
    pub detail_placeholders: Vec<String>,
}

impl TemplateCatalog {
    pub fn new() -> TemplateCatalog {
        TemplateCatalog {
            states: StateKind::ALL
                .into_iter()
                .filter_map(|state| {
                    caret_core::StateTemplate::builtin(state).map(|builtin| TemplateState {
                        state,
                        label: state.label().to_owned(),
                        builtin,
                        builtin_dnd: caret_core::DndRule::builtin(state),
                    })
                })
                .collect(),
            detail_placeholders: caret_core::settings::DETAIL_PLACEHOLDERS
                .iter()
                .map(|placeholder| (*placeholder).to_owned())
                .collect(),
        }
    }
}

impl Default for TemplateCatalog {
    fn default() -> Self {
        TemplateCatalog::new()
    }
}

/// The same settings with `policy` in force, keeping everything else.
fn under(settings: &WorkspaceSettings, policy: Policy) -> WorkspaceSettings {
    let mut settings = settings.clone();
    settings.policy = match policy {
        Policy::Default => PolicySetting::sharing(SharingPolicy::Default),
        Policy::Trusted => PolicySetting::sharing(SharingPolicy::Trusted),
        Policy::Vip => PolicySetting::sharing(SharingPolicy::Vip),
        Policy::Blocked => {
            let mut blocked = PolicySetting::sharing(settings.policy.sharing);
            blocked.block_until_resumed();
            blocked
        }
    };
    settings
}

fn example_state(kind: StateKind, now: DateTime<Utc>) -> CaretState {
    CaretState::without_details(kind).unwrap_or_else(|| {
        CaretState::Event(EventDetails {
            title: EXAMPLE_EVENT_TITLE.to_owned(),
            start: now,
            end: now + chrono::Duration::minutes(EXAMPLE_EVENT_MINUTES),
        })
    })
}

fn describe_expiration(
    expiration: &Expiration,
    settings: &WorkspaceSettings,
    now: DateTime<FixedOffset>,
) -> String {
    match expiration {
        Expiration::Never => "stays until cleared".to_owned(),
        Expiration::Fixed { at } => {
            format!(
                "ends at {}",
                settings.time_format.clock(&at.with_timezone(now.offset()))
            )
        }
        Expiration::Lease { .. } => format!(
            "renewed while your phone says so; gone {} min after it stops",
            settings.lease.minutes()
        ),
    }
}

fn row(
    kind: StateKind,
    decision: &Decision,
    settings: &WorkspaceSettings,
    now: DateTime<FixedOffset>,
) -> PreviewRow {
    PreviewRow {
        state: kind,
        label: kind.label().to_owned(),
        status: match &decision.status {
            DesiredStatus::Clear => None,
            DesiredStatus::Set(status) => Some(PreviewStatus {
                text: status.text.clone(),
                emoji: status.emoji.clone(),
                expires: describe_expiration(&status.expiration, settings, now),
            }),
        },
        presence: decision.presence,
        snooze: decision.snooze.is_some(),
    }
}

/// What Slack shows for each state reported by the phone, under each policy, with `settings` as edited, and
/// what speaks `current`ly.
pub fn preview(
    settings: &WorkspaceSettings,
    now: DateTime<FixedOffset>,
    current: Option<PreviewNow>,
) -> SettingsPreview {
    let now_utc = now.with_timezone(&Utc);
    let policies = Policy::ALL
        .into_iter()
        .map(|policy| {
            let settings = under(settings, policy);
            let rows = StateKind::ALL
                .into_iter()
                .map(|kind| {
                    let input = StatusInput::from_phone(example_state(kind, now_utc));
                    row(kind, &decide(&input, &settings, now), &settings, now)
                })
                .collect();
            PolicyPreview { policy, rows }
        })
        .collect();
    SettingsPreview {
        policies,
        problem: settings.validate().err().map(|error| error.to_string()),
        example_event: format!("“{EXAMPLE_EVENT_TITLE}”, {EXAMPLE_EVENT_MINUTES} minutes from now"),
        now: current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_says_what_speaks_now_and_where_it_comes_from() {
        let microphone = StatusInput::from_desktop(CaretState::InCall, caret_core::DesktopSource::Microphone);
        let off_work = caret_core::OffHours {
            back_at: None,
            show_status: true,
        };
        let locked_off_work = caret_core::DesktopSignals {
            screen_locked: true,
            off_hours: Some(off_work),
            ..caret_core::DesktopSignals::default()
        };
        let speaking = PreviewNow::new(Some(&microphone), &locked_off_work);
        assert_eq!(speaking.said, "In a call (microphone)");
        assert_eq!(speaking.state, Some(StateKind::InCall));
        assert_eq!(speaking.source.as_deref(), Some("microphone"));
        assert!(speaking.screen_locked);
        assert_eq!(speaking.off_hours, Some(off_work));
        let chosen = StatusInput::manual(CaretState::Busy, None);
        assert_eq!(
            PreviewNow::new(Some(&chosen), &locked_off_work).off_hours,
            None,
            "the person's own choice beats the working hours"
        );
        let nothing = PreviewNow::new(None, &caret_core::DesktopSignals::default());
        assert_eq!(nothing.said, "Nothing known now");
        assert_eq!(nothing.state, None);
        let preview = preview(&WorkspaceSettings::default(), now(), Some(nothing.clone()));
        assert_eq!(preview.now, Some(nothing));
    }
    use caret_core::{PhoneNumber, PhoneSharing, StateTemplate};

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-11-23T14:00:00+01:00").unwrap()
    }

    fn row(preview: &SettingsPreview, policy: Policy, kind: StateKind) -> &PreviewRow {
        preview
            .policies
            .iter()
            .find(|column| column.policy == policy)
            .and_then(|column| column.rows.iter().find(|row| row.state == kind))
            .expect("every state under every policy")
    }

    fn shown(preview: &SettingsPreview, policy: Policy, kind: StateKind) -> Option<String> {
        row(preview, policy, kind)
            .status
            .as_ref()
            .map(|status| format!("{} {}", status.emoji, status.text))
    }

    #[test]
    fn the_template_catalog_lists_the_states_that_show_a_status_with_their_built_in_look() {
        let catalog = TemplateCatalog::new();
        let states: Vec<StateKind> = catalog.states.iter().map(|entry| entry.state).collect();
        assert!(!states.contains(&StateKind::Available) && !states.contains(&StateKind::Offline));
        assert_eq!(states.len(), StateKind::ALL.len() - 2);
        let event = catalog
            .states
            .iter()
            .find(|entry| entry.state == StateKind::Event)
            .unwrap();
        assert_eq!(
            event.builtin.detailed_text.as_deref(),
            Some("{title} (until {end})")
        );
        assert_eq!(catalog.detail_placeholders, ["{title}", "{start}", "{end}"]);
    }

    #[test]
    fn every_state_is_previewed_under_every_policy() {
        let preview = preview(&WorkspaceSettings::default(), now(), None);
        let policies: Vec<Policy> = preview.policies.iter().map(|column| column.policy).collect();
        assert_eq!(policies, Policy::ALL.to_vec());
        for column in &preview.policies {
            assert_eq!(column.rows.len(), StateKind::ALL.len());
        }
        assert_eq!(preview.problem, None);
    }

    #[test]
    fn default_preview_shows_busy_for_driving_and_nothing_for_available() {
        let preview = preview(&WorkspaceSettings::default(), now(), None);
        assert_eq!(
            shown(&preview, Policy::Default, StateKind::InVehicle).as_deref(),
            Some(":no_entry: Busy")
        );
        assert_eq!(shown(&preview, Policy::Default, StateKind::Available), None);
        assert_eq!(shown(&preview, Policy::Default, StateKind::Offline), None);
    }

    #[test]
    fn trusted_preview_names_the_state_and_hides_the_event_title() {
        let preview = preview(&WorkspaceSettings::default(), now(), None);
        assert_eq!(
            shown(&preview, Policy::Trusted, StateKind::InVehicle).as_deref(),
            Some(":car: Driving")
        );
        let meeting = shown(&preview, Policy::Trusted, StateKind::Event).unwrap();
        assert!(!meeting.contains(EXAMPLE_EVENT_TITLE), "{meeting}");
    }

    #[test]
    fn vip_preview_shows_the_event_title_and_its_local_end() {
        let preview = preview(&WorkspaceSettings::default(), now(), None);
        let meeting = shown(&preview, Policy::Vip, StateKind::Event).unwrap();
        assert_eq!(meeting, ":calendar: Quarterly planning (until 14:45)");
        let event = row(&preview, Policy::Vip, StateKind::Event);
        assert_eq!(event.status.as_ref().unwrap().expires, "ends at 14:45");
    }

    #[test]
    fn blocked_preview_shows_nothing_at_all() {
        let settings = WorkspaceSettings {
            phone: PhoneSharing {
                share: true,
                number: Some(PhoneNumber::parse("+1 555 0100").unwrap()),
            },
            ..WorkspaceSettings::default()
        };
        let preview = preview(&settings, now(), None);
        for kind in StateKind::ALL {
            assert_eq!(shown(&preview, Policy::Blocked, kind), None, "{kind:?}");
        }
        let sleeping = row(&preview, Policy::Blocked, StateKind::Sleeping);
        assert_eq!(
            sleeping.presence,
            Presence::Auto,
            "Blocked does not even show away"
        );
    }

    #[test]
    fn default_preview_shows_one_presence_for_every_state_shown_as_busy() {
        let mut settings = WorkspaceSettings::default();
        let preview_now = preview(&settings, now(), None);
        let sleeping = row(&preview_now, Policy::Default, StateKind::Sleeping);
        assert_eq!(sleeping.presence, Presence::Auto, "Sleeping is not singled out");
        assert_eq!(
            row(&preview_now, Policy::Trusted, StateKind::Sleeping).presence,
            Presence::Away
        );
        settings
            .presence
            .insert(StateKind::Busy, caret_core::PresenceRule::Away);
        let preview_away = preview(&settings, now(), None);
        for kind in StateKind::ALL {
            let expected = if matches!(kind, StateKind::Available | StateKind::Offline) {
                Presence::Auto
            } else {
                Presence::Away
            };
            assert_eq!(
                row(&preview_away, Policy::Default, kind).presence,
                expected,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn the_preview_says_which_states_pause_notifications_under_each_policy() {
        let mut settings = WorkspaceSettings::default();
        let built_in = preview(&settings, now(), None);
        for policy in [Policy::Trusted, Policy::Vip] {
            for kind in StateKind::ALL {
                let snoozes = matches!(kind, StateKind::InVehicle | StateKind::Sleeping);
                assert_eq!(
                    row(&built_in, policy, kind).snooze,
                    snoozes,
                    "{policy:?} {kind:?}"
                );
            }
        }
        for kind in StateKind::ALL {
            assert!(
                !row(&built_in, Policy::Default, kind).snooze,
                "Driving is not singled out"
            );
            assert!(!row(&built_in, Policy::Blocked, kind).snooze);
        }
        settings
            .dnd
            .insert(StateKind::InCall, caret_core::DndRule::Snooze);
        let edited = preview(&settings, now(), None);
        assert!(row(&edited, Policy::Trusted, StateKind::InCall).snooze);
        assert!(!row(&edited, Policy::Blocked, StateKind::InCall).snooze);
    }

    #[test]
    fn a_shared_phone_number_appears_in_the_preview_as_it_will_in_slack() {
        let settings = WorkspaceSettings {
            phone: PhoneSharing {
                share: true,
                number: Some(PhoneNumber::parse("+1 555 0100").unwrap()),
            },
            ..WorkspaceSettings::default()
        };
        let preview = preview(&settings, now(), None);
        assert_eq!(
            shown(&preview, Policy::Trusted, StateKind::InCall).as_deref(),
            Some(":telephone_receiver: In a call · +1 555 0100")
        );
    }

    #[test]
    fn an_edited_template_shows_before_it_is_saved_and_a_bad_one_is_explained() {
        let mut settings = WorkspaceSettings::default();
        settings.templates.insert(
            StateKind::InVehicle,
            StateTemplate {
                text: "On the road".into(),
                emoji: ":red_car:".into(),
                detailed_text: None,
            },
        );
        let preview = preview(&settings, now(), None);
        assert_eq!(
            shown(&preview, Policy::Trusted, StateKind::InVehicle).as_deref(),
            Some(":red_car: On the road")
        );
        settings.templates.insert(
            StateKind::InCall,
            StateTemplate {
                text: "Call about {title}".into(),
                emoji: String::new(),
                detailed_text: None,
            },
        );
        let problem = super::preview(&settings, now(), None).problem.expect("a problem");
        assert!(problem.contains("{title}"), "{problem}");
    }

    #[test]
    fn phone_states_are_described_as_leases_of_the_chosen_length() {
        let settings = WorkspaceSettings {
            lease: caret_core::LeaseMinutes::new(15).unwrap(),
            ..WorkspaceSettings::default()
        };
        let preview = preview(&settings, now(), None);
        let walking = row(&preview, Policy::Trusted, StateKind::Walking);
        assert_eq!(
            walking.status.as_ref().unwrap().expires,
            "renewed while your phone says so; gone 15 min after it stops"
        );
    }
}
