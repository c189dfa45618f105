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
