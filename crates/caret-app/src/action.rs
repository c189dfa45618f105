//! The one action type every entry point produces: a tray menu click, the global shortcut, a CLI command and
//! the UI all turn into an [`Action`], handled in one place. The shell maps its own identifiers (menu ids) to
//! these with `TryFrom`, never by scattered string matching.

use caret_core::StateKind;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The windows the app can open. Each is created on demand and destroyed on close: a hidden webview costs
/// about 160 MB, a tray icon almost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum WindowKind {
    Settings,
    /// Paired phones and pairing a new one.
    Phones,
    /// Every input and every Slack call, live.
    SyncLog,
    /// The quick status picker the global shortcut opens: type, arrows, Enter.
    Picker,
}

impl WindowKind {
    pub const ALL: [WindowKind; 4] = [
        WindowKind::Settings,
        WindowKind::Phones,
        WindowKind::SyncLog,
        WindowKind::Picker,
    ];

    /// The window's label, also the fragment of the page the UI shows in it (`index.html#settings`).
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Settings => "settings",
            WindowKind::Phones => "phones",
            WindowKind::SyncLog => "sync-log",
            WindowKind::Picker => "picker",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            WindowKind::Settings => "Caret Desktop — Settings",
            WindowKind::Phones => "Caret Desktop — Phones",
            WindowKind::SyncLog => "Caret Desktop — Sync log",
            WindowKind::Picker => "Set status",
        }
    }

    pub fn from_label(label: &str) -> Option<WindowKind> {
        WindowKind::ALL.into_iter().find(|kind| kind.label() == label)
    }
}

/// How long a manual status lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum StatusDuration {
    Minutes {
        minutes: u32,
    },
    /// Until the next local midnight.
    EndOfDay,
    UntilCleared,
}

impl StatusDuration {
    /// `30m`, `1h`, `90` (minutes), `eod`, `forever`: what the command line takes.
    pub fn parse(text: &str) -> Option<StatusDuration> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "eod" | "end-of-day" | "today" => return Some(StatusDuration::EndOfDay),
            "forever" | "until-cleared" | "never" => return Some(StatusDuration::UntilCleared),
            _ => {}
        }
        let (number, factor) = if let Some(hours) = text.strip_suffix('h') {
            (hours, 60)
        } else if let Some(minutes) = text.strip_suffix('m') {
            (minutes, 1)
        } else {
            (text.as_str(), 1)
        };
        let minutes = number.parse::<u32>().ok()?.checked_mul(factor)?;
        // Slack takes any expiration; a week is far more than a manual status should need.
        (1..=7 * 24 * 60)
            .contains(&minutes)
            .then_some(StatusDuration::Minutes { minutes })
    }
}

/// A policy change for one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum PolicyChoice {
    Default,
    Trusted,
    Vip,
    BlockFor { minutes: u32 },
    BlockUntilResumed,
    Resume,
}

/// Something the user asked for, from any entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Action {
    OpenWindow {
        window: WindowKind,
    },
    /// Open a pairing window (two minutes) and show its QR code and short code.
    PairPhone,
    /// A status set by hand; it wins over the phone until it ends.
    SetStatus {
        state: StateKind,
        duration: StatusDuration,
    },
    ClearStatus,
    /// A workspace's policy: a sharing level, a block, or the end of a block.
    SetPolicy {
        #[ts(type = "number")]
        workspace: i64,
        choice: PolicyChoice,
    },
    /// Stop writing to Slack (nothing is lost: what is due is sent on resume).
    Pause,
    Resume,
    Quit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_type_them() {
        assert_eq!(
            StatusDuration::parse("30m"),
            Some(StatusDuration::Minutes { minutes: 30 })
        );
        assert_eq!(
            StatusDuration::parse("1H"),
            Some(StatusDuration::Minutes { minutes: 60 })
        );
        assert_eq!(
            StatusDuration::parse("90"),
            Some(StatusDuration::Minutes { minutes: 90 })
        );
        assert_eq!(StatusDuration::parse("eod"), Some(StatusDuration::EndOfDay));
        assert_eq!(
            StatusDuration::parse("forever"),
            Some(StatusDuration::UntilCleared)
        );
        for bad in ["0m", "soon", "-5m", "1000h", "4294967295h", ""] {
            assert_eq!(StatusDuration::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn window_labels_round_trip() {
        for kind in WindowKind::ALL {
            assert_eq!(WindowKind::from_label(kind.label()), Some(kind));
        }
        assert_eq!(WindowKind::from_label("nope"), None);
    }

    #[test]
    fn actions_serialise_with_a_type_tag_for_the_ui_and_the_cli() {
        let json = serde_json::to_string(&Action::OpenWindow {
            window: WindowKind::Settings,
        })
        .unwrap();
        assert_eq!(json, r#"{"type":"open_window","window":"settings"}"#);
        assert_eq!(
            serde_json::from_str::<Action>(r#"{"type":"quit"}"#).unwrap(),
            Action::Quit
        );
    }
}

/// A status the quick picker and the tray offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StatusChoice {
    pub state: StateKind,
    /// "In a call"
    pub label: String,
    /// The built-in emoji (":telephone_receiver:"), "" for the states that show no status.
    pub emoji: String,
    /// The texts Slack shows for it ("Driving" for In a vehicle): the built-in one and each workspace's own,
    /// without repeats, so that the picker finds a state by the words a person sees in Slack.
    pub slack_texts: Vec<String>,
}

/// A duration the quick picker offers, with the digit that picks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct DurationChoice {
    pub digit: u8,
    pub label: String,
    pub duration: StatusDuration,
}

/// What the quick picker lists: every state a person can set by hand (an event needs the phone's details),
/// and the four durations the tray offers too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PickerChoices {
    pub states: Vec<StatusChoice>,
    pub durations: Vec<DurationChoice>,
    /// The duration Enter uses when no digit was pressed.
    pub default_digit: u8,
}

impl PickerChoices {
    /// The choices with the built-in texts only.
    pub fn new() -> PickerChoices {
        PickerChoices::with_texts_of(&[])
    }

    /// The choices, each state also found by the text each of these workspaces' settings give it.
    pub fn with_texts_of(workspaces: &[caret_core::WorkspaceSettings]) -> PickerChoices {
        let states = StateKind::ALL
            .into_iter()
            .filter(|kind| *kind != StateKind::Event)
            .map(|state| {
                let builtin = caret_core::StateTemplate::builtin(state);
                let mut slack_texts: Vec<String> = Vec::new();
                let texts = builtin.iter().map(|template| template.text.clone()).chain(
                    workspaces
                        .iter()
                        .filter_map(|settings| settings.template(state).map(|template| template.text)),
                );
                for text in texts {
                    if !text.trim().is_empty() && !slack_texts.contains(&text) {
                        slack_texts.push(text);
                    }
                }
                StatusChoice {
                    state,
                    label: state.label().to_owned(),
                    emoji: builtin.map(|template| template.emoji).unwrap_or_default(),
                    slack_texts,
                }
            })
            .collect();
        let durations = [
            (1, "For 30 minutes", StatusDuration::Minutes { minutes: 30 }),
            (2, "For 1 hour", StatusDuration::Minutes { minutes: 60 }),
            (3, "Until the end of the day", StatusDuration::EndOfDay),
            (4, "Until I clear it", StatusDuration::UntilCleared),
        ]
        .into_iter()
        .map(|(digit, label, duration)| DurationChoice {
            digit,
            label: label.to_owned(),
            duration,
        })
        .collect();
        PickerChoices {
            states,
            durations,
            default_digit: 2,
        }
    }
}

/// A key pressed for the quick picker before its list could take it (after the shortcut, while the window
/// was still opening): the picker applies them in order once its list shows, as if typed into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum TypedKey {
    /// Characters as typed (a letter, a digit for how long, a space).
    Text {
        text: String,
    },
    Enter,
    Escape,
    Backspace,
    Up,
    Down,
}

/// What the quick picker needs each time it shows: its list, what the app shows now, and the keys typed
/// before it was ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PickerOpening {
    /// Counts the picker's showings since the app started; the picker names it when its list is ready.
    pub opening: u32,
    pub choices: PickerChoices,
    pub snapshot: crate::Snapshot,
    pub typed: Vec<TypedKey>,
    /// How to write a time ("until 15:42"), as the user chose in Settings.
    pub clock: caret_core::TimeFormat,
}

impl Default for PickerChoices {
    fn default() -> Self {
        PickerChoices::new()
    }
}

#[cfg(test)]
mod picker_tests {
    use super::*;

    #[test]
    fn the_picker_offers_every_settable_state_and_four_durations_by_digit() {
        let choices = PickerChoices::new();
        assert_eq!(choices.states.len(), 10, "every state but an event");
        assert!(
            choices
                .states
                .iter()
                .all(|choice| choice.state != StateKind::Event)
        );
        let digits: Vec<u8> = choices.durations.iter().map(|choice| choice.digit).collect();
        assert_eq!(digits, vec![1, 2, 3, 4]);
        assert!(digits.contains(&choices.default_digit));
        let call = choices
            .states
            .iter()
            .find(|c| c.state == StateKind::InCall)
            .unwrap();
        assert_eq!(
            (call.label.as_str(), call.emoji.as_str()),
            ("In a call", ":telephone_receiver:")
        );
    }

    #[test]
    fn each_state_carries_the_texts_slack_shows_for_it_built_in_and_the_users_own() {
        let text_of = |choices: &PickerChoices, kind: StateKind| {
            choices
                .states
                .iter()
                .find(|choice| choice.state == kind)
                .map(|choice| choice.slack_texts.clone())
                .unwrap_or_default()
        };
        let builtin = PickerChoices::new();
        assert_eq!(text_of(&builtin, StateKind::InVehicle), vec!["Driving"]);
        assert!(
            text_of(&builtin, StateKind::Available).is_empty(),
            "no status text"
        );

        let mut renamed = caret_core::WorkspaceSettings::default();
        let mut template = caret_core::StateTemplate::builtin(StateKind::InVehicle).unwrap();
        template.text = "On the road".into();
        renamed.templates.insert(StateKind::InVehicle, template);
        let choices = PickerChoices::with_texts_of(&[renamed, caret_core::WorkspaceSettings::default()]);
        assert_eq!(
            text_of(&choices, StateKind::InVehicle),
            vec!["Driving", "On the road"],
            "each text once"
        );
    }
}
