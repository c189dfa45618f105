//! What a user configures for one Slack workspace. Values from outside (the UI, the CLI, a settings file) are
//! checked by [`WorkspaceSettings::validate`] and the newtypes' constructors before they are used.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::policy::PolicySetting;
use crate::state::StateKind;
use crate::text::{STATUS_TEXT_LIMIT, is_valid_emoji_code, slack_length};

/// The placeholders a detailed (VIP) text may use. Each reveals a detail, so plain texts may use none.
pub const DETAIL_PLACEHOLDERS: [&str; 3] = ["{title}", "{start}", "{end}"];

/// How a state looks in Slack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StateTemplate {
    /// Shown under Trusted (and, for Busy, under Default). Never holds a detail.
    pub text: String,
    /// A `:name:` emoji code, or "" for Slack's default.
    pub emoji: String,
    /// Shown under VIP instead of `text` when set; may use `{title}`, `{start}`, `{end}`.
    #[serde(default)]
    pub detailed_text: Option<String>,
}

impl StateTemplate {
    fn new(text: &str, emoji: &str, detailed_text: Option<&str>) -> Self {
        StateTemplate {
            text: text.into(),
            emoji: emoji.into(),
            detailed_text: detailed_text.map(Into::into),
        }
    }

    /// The built-in look of a state. `None` for Available and Offline, which never show a status.
    pub fn builtin(kind: StateKind) -> Option<StateTemplate> {
        Some(match kind {
            StateKind::Available | StateKind::Offline => return None,
            StateKind::Busy => StateTemplate::new("Busy", ":no_entry:", None),
            StateKind::InCall => StateTemplate::new("In a call", ":telephone_receiver:", None),
            StateKind::InVehicle => StateTemplate::new("Driving", ":car:", None),
            StateKind::Silent => StateTemplate::new("Phone on silent", ":no_bell:", None),
            StateKind::Event => {
                StateTemplate::new("In a meeting", ":calendar:", Some("{title} (until {end})"))
            }
            StateKind::Walking => StateTemplate::new("Walking", ":walking:", None),
            StateKind::Running => StateTemplate::new("Out for a run", ":runner:", None),
            StateKind::Biking => StateTemplate::new("Cycling", ":bicyclist:", None),
            StateKind::Sleeping => StateTemplate::new("Sleeping", ":sleeping:", None),
        })
    }

    fn validate(&self, kind: StateKind) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(CoreError::TemplateEmpty { kind });
        }
        for text in std::iter::once(&self.text).chain(self.detailed_text.as_ref()) {
            let length = slack_length(text);
            if length > STATUS_TEXT_LIMIT {
                return Err(CoreError::TemplateTooLong { kind, length });
            }
        }
        if let Some(found) = placeholders(&self.text).next() {
            return Err(match DETAIL_PLACEHOLDERS.iter().find(|known| **known == found) {
                Some(placeholder) => CoreError::DetailPlaceholderInPlainText { kind, placeholder },
                None => CoreError::UnknownPlaceholder {
                    kind,
                    found: found.to_owned(),
                },
            });
        }
        if let Some(detailed) = &self.detailed_text
            && let Some(unknown) = placeholders(detailed).find(|found| !DETAIL_PLACEHOLDERS.contains(found))
        {
            return Err(CoreError::UnknownPlaceholder {
                kind,
                found: unknown.to_owned(),
            });
        }
        if !is_valid_emoji_code(&self.emoji) {
            return Err(CoreError::InvalidEmoji(self.emoji.clone()));
        }
        Ok(())
    }
}

/// Every `{word}` in a text (lowercase letters and `_` between braces), including the braces.
pub(crate) fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('{').filter_map(move |(open, _)| {
        let rest = &text[open + 1..];
        let close = rest.find('}')?;
        let name = &rest[..close];
        let is_word = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        is_word.then(|| &text[open..open + close + 2])
    })
}

/// Whether Slack shows the user as away while in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PresenceRule {
    /// Slack decides from activity, as if we were not there.
    #[default]
    Auto,
    /// Manually away (Slack has no way to force "active").
    Away,
}

impl PresenceRule {
    pub fn builtin(kind: StateKind) -> PresenceRule {
        match kind {
            StateKind::Sleeping => PresenceRule::Away,
            _ => PresenceRule::Auto,
        }
    }
}

/// Whether Slack's Do Not Disturb is snoozed ("pause notifications") while in a state: `dnd.setSnooze` when
/// the state begins, `dnd.endSnooze` when it ends. Others see that notifications are paused, so it follows the
/// policy like the presence does (see [`crate::decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DndRule {
    /// Notifications as the person has them.
    #[default]
    Off,
    /// Notifications paused while the state lasts.
    Snooze,
}

impl DndRule {
    /// Driving and sleeping pause notifications unless the person says otherwise: nobody can answer then.
    pub fn builtin(kind: StateKind) -> DndRule {
        match kind {
            StateKind::InVehicle | StateKind::Sleeping => DndRule::Snooze,
            _ => DndRule::Off,
        }
    }
}

/// A phone number the user chose to show in the status. Kept short and plain so that it always fits whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(try_from = "String", into = "String")]
#[ts(export, as = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub const MAX_LENGTH: usize = 32;

    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        let allowed = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let plus_only_first = trimmed.char_indices().all(|(index, c)| c != '+' || index == 0);
        if !allowed || !plus_only_first || !(3..=20).contains(&digits) || trimmed.len() > Self::MAX_LENGTH {
            return Err(CoreError::InvalidPhoneNumber(raw.to_owned()));
        }
        Ok(PhoneNumber(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = CoreError;
    fn try_from(raw: String) -> Result<Self> {
        PhoneNumber::parse(&raw)
    }
}

impl From<PhoneNumber> for String {
    fn from(number: PhoneNumber) -> String {
        number.0
    }
}

/// Whether the phone number appears in the status text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhoneSharing {
    pub share: bool,
    pub number: Option<PhoneNumber>,
}

impl PhoneSharing {
    /// The number to show, if sharing is on and a number is set.
    pub fn shown_number(&self) -> Option<&PhoneNumber> {
        if self.share { self.number.as_ref() } else { None }
    }
}

/// How long a status reported by the phone lives in Slack unless renewed, so that a status never outlives a
/// desktop that died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(try_from = "u32", into = "u32")]
#[ts(export, as = "u32")]
pub struct LeaseMinutes(u32);

impl LeaseMinutes {
    pub const MIN: u32 = 5;
    pub const MAX: u32 = 720;
    pub const DEFAULT: LeaseMinutes = LeaseMinutes(30);

    pub fn new(minutes: u32) -> Result<Self> {
        if (Self::MIN..=Self::MAX).contains(&minutes) {
            Ok(LeaseMinutes(minutes))
        } else {
            Err(CoreError::LeaseOutOfRange(minutes))
        }
    }

    pub fn minutes(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }
}

impl Default for LeaseMinutes {
    fn default() -> Self {
        LeaseMinutes::DEFAULT
    }
}

impl TryFrom<u32> for LeaseMinutes {
    type Error = CoreError;
    fn try_from(minutes: u32) -> Result<Self> {
        LeaseMinutes::new(minutes)
    }
}

impl From<LeaseMinutes> for u32 {
    fn from(lease: LeaseMinutes) -> u32 {
        lease.0
    }
}

/// How times (an event's end) are written in a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TimeFormat {
    /// 15:30
    #[default]
    H24,
    /// 3:30 PM
    H12,
}

impl TimeFormat {
    /// A time of day as this format writes it, in the time zone `at` carries: "15:30" or "3:30 PM".
    pub fn clock<Tz: chrono::TimeZone>(self, at: &chrono::DateTime<Tz>) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        match self {
            TimeFormat::H24 => at.format("%H:%M").to_string(),
            TimeFormat::H12 => at.format("%-I:%M %p").to_string(),
        }
    }
}

/// Everything the user configures for one Slack workspace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkspaceSettings {
    #[serde(default)]
    pub policy: PolicySetting,
    #[serde(default)]
    pub phone: PhoneSharing,
    /// The user's changes to the built-in templates; states not listed use [`StateTemplate::builtin`].
    #[serde(default)]
    pub templates: BTreeMap<StateKind, StateTemplate>,
    /// The user's changes to the built-in presence rules ([`PresenceRule::builtin`]).
    #[serde(default)]
    pub presence: BTreeMap<StateKind, PresenceRule>,
    /// The user's changes to the built-in Do Not Disturb rules ([`DndRule::builtin`]).
    #[serde(default)]
    pub dnd: BTreeMap<StateKind, DndRule>,
    #[serde(default)]
    pub lease: LeaseMinutes,
    #[serde(default)]
    pub time_format: TimeFormat,
    /// Replace a status set outside Caret Desktop (by the user, a calendar sync, another app) instead of leaving
    /// it alone until it is gone. Off unless the user turns it on.
    #[serde(default)]
    pub always_override: bool,
}

impl WorkspaceSettings {
    /// The template in force for a state, or `None` for the states that never show a status.
    pub fn template(&self, kind: StateKind) -> Option<StateTemplate> {
        let builtin = StateTemplate::builtin(kind)?;
        Some(self.templates.get(&kind).cloned().unwrap_or(builtin))
    }

    pub fn presence_rule(&self, kind: StateKind) -> PresenceRule {
        self.presence
            .get(&kind)
            .copied()
            .unwrap_or_else(|| PresenceRule::builtin(kind))
    }

    /// The Do Not Disturb rule in force for a state; always off for the states that never show a status.
    pub fn dnd_rule(&self, kind: StateKind) -> DndRule {
        if StateTemplate::builtin(kind).is_none() {
            return DndRule::Off;
        }
        self.dnd
            .get(&kind)
            .copied()
            .unwrap_or_else(|| DndRule::builtin(kind))
    }

    /// Checks everything a user could have typed. The mapping stays safe on unvalidated settings too (it never
    /// expands a detail outside VIP and always fits Slack's limit), but a user deserves an error, not a surprise.
    pub fn validate(&self) -> Result<()> {
        if self.phone.share && self.phone.number.is_none() {
            return Err(CoreError::PhoneNumberMissing);
        }
        for (kind, template) in &self.templates {
            template.validate(*kind)?;
        }
        if let Some((kind, _)) = self
            .dnd
            .iter()
            .find(|(kind, rule)| **rule == DndRule::Snooze && StateTemplate::builtin(**kind).is_none())
        {
            return Err(CoreError::DndWithoutStatus { kind: *kind });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_template(kind: StateKind, text: &str, emoji: &str, detailed: Option<&str>) -> WorkspaceSettings {
        let mut settings = WorkspaceSettings::default();
        settings
            .templates
            .insert(kind, StateTemplate::new(text, emoji, detailed));
        settings
    }

    #[test]
    fn builtin_templates_are_valid_and_plain_texts_hold_no_details() {
        for kind in StateKind::ALL {
            if let Some(template) = StateTemplate::builtin(kind) {
                template.validate(kind).unwrap();
            }
        }
        WorkspaceSettings::default().validate().unwrap();
    }

    #[test]
    fn only_available_and_offline_have_no_template() {
        for kind in StateKind::ALL {
            let has_none = matches!(kind, StateKind::Available | StateKind::Offline);
            assert_eq!(StateTemplate::builtin(kind).is_none(), has_none, "{kind:?}");
        }
    }

    #[test]
    fn a_detail_placeholder_in_a_plain_text_is_refused() {
        let settings = with_template(StateKind::Event, "Meeting: {title}", ":calendar:", None);
        assert_eq!(
            settings.validate(),
            Err(CoreError::DetailPlaceholderInPlainText {
                kind: StateKind::Event,
                placeholder: "{title}"
            })
        );
    }

    #[test]
    fn unknown_placeholders_are_refused_and_plain_braces_are_text() {
        let unknown = with_template(StateKind::Event, "Meeting", ":calendar:", Some("{room}"));
        assert!(matches!(
            unknown.validate(),
            Err(CoreError::UnknownPlaceholder { .. })
        ));
        let braces = with_template(StateKind::Busy, "Busy {A} { } {}", ":no_entry:", None);
        braces.validate().unwrap();
    }

    #[test]
    fn templates_must_fit_slack_and_not_be_empty() {
        let long = with_template(StateKind::Busy, &"x".repeat(101), "", None);
        assert_eq!(
            long.validate(),
            Err(CoreError::TemplateTooLong {
                kind: StateKind::Busy,
                length: 101
            })
        );
        let empty = with_template(StateKind::Busy, "  ", "", None);
        assert_eq!(
            empty.validate(),
            Err(CoreError::TemplateEmpty {
                kind: StateKind::Busy
            })
        );
        let bad_emoji = with_template(StateKind::Busy, "Busy", "😀", None);
        assert_eq!(bad_emoji.validate(), Err(CoreError::InvalidEmoji("😀".into())));
    }

    #[test]
    fn phone_numbers_are_validated() {
        for good in ["+49 170 1234567", "(555) 010-0199", "112", " +1.555.0100 "] {
            PhoneNumber::parse(good).unwrap();
        }
        for bad in [
            "",
            "12",
            "call me",
            "+49 170 1234567 ext 5",
            "1+2",
            &"1".repeat(21),
            "<@U123>",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
        let json: std::result::Result<PhoneNumber, _> = serde_json::from_str("\"not a number\"");
        assert!(json.is_err(), "deserialising validates too");
    }

    #[test]
    fn sharing_a_phone_number_needs_one() {
        let mut settings = WorkspaceSettings::default();
        settings.phone.share = true;
        assert_eq!(settings.validate(), Err(CoreError::PhoneNumberMissing));
        settings.phone.number = Some(PhoneNumber::parse("+1 555 0100").unwrap());
        settings.validate().unwrap();
    }

    #[test]
    fn lease_is_bounded() {
        assert_eq!(LeaseMinutes::default().minutes(), 30);
        assert!(LeaseMinutes::new(4).is_err());
        assert!(LeaseMinutes::new(721).is_err());
        assert_eq!(LeaseMinutes::new(5).unwrap().duration(), Duration::minutes(5));
        assert!(serde_json::from_str::<LeaseMinutes>("0").is_err());
    }

    #[test]
    fn settings_deserialise_from_an_empty_object_with_defaults() {
        let settings: WorkspaceSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, WorkspaceSettings::default());
    }

    #[test]
    fn driving_and_sleeping_pause_notifications_by_default_and_only_states_with_a_status_can() {
        let mut settings = WorkspaceSettings::default();
        for kind in StateKind::ALL {
            let snoozes = matches!(kind, StateKind::InVehicle | StateKind::Sleeping);
            assert_eq!(settings.dnd_rule(kind) == DndRule::Snooze, snoozes, "{kind:?}");
        }
        settings.dnd.insert(StateKind::InCall, DndRule::Snooze);
        settings.dnd.insert(StateKind::InVehicle, DndRule::Off);
        assert_eq!(settings.dnd_rule(StateKind::InCall), DndRule::Snooze);
        assert_eq!(settings.dnd_rule(StateKind::InVehicle), DndRule::Off);
        settings.validate().unwrap();
        settings.dnd.insert(StateKind::Available, DndRule::Snooze);
        assert_eq!(
            settings.validate(),
            Err(CoreError::DndWithoutStatus {
                kind: StateKind::Available
            })
        );
        assert_eq!(
            settings.dnd_rule(StateKind::Available),
            DndRule::Off,
            "unvalidated, still off"
        );
        settings.dnd.insert(StateKind::Available, DndRule::Off);
        settings.validate().unwrap();
    }

    #[test]
    fn sleeping_makes_you_away_by_default_and_rules_can_be_changed() {
        let mut settings = WorkspaceSettings::default();
        assert_eq!(settings.presence_rule(StateKind::Sleeping), PresenceRule::Away);
        assert_eq!(settings.presence_rule(StateKind::InCall), PresenceRule::Auto);
        settings.presence.insert(StateKind::InCall, PresenceRule::Away);
        assert_eq!(settings.presence_rule(StateKind::InCall), PresenceRule::Away);
    }
}
