//! The one action type every entry point produces: a tray menu click, the global shortcut, a CLI command and
//! the UI all turn into an [`Action`], handled in one place. The shell maps its own identifiers (menu ids) to
//! these with `TryFrom`, never by scattered string matching.

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
}

impl WindowKind {
    pub const ALL: [WindowKind; 2] = [WindowKind::Settings, WindowKind::Phones];

    /// The window's label, also the fragment of the page the UI shows in it (`index.html#settings`).
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Settings => "settings",
            WindowKind::Phones => "phones",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            WindowKind::Settings => "Caret Desktop — Settings",
            WindowKind::Phones => "Caret Desktop — Phones",
        }
    }

    pub fn from_label(label: &str) -> Option<WindowKind> {
        WindowKind::ALL.into_iter().find(|kind| kind.label() == label)
    }
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
    Quit,
}

#[cfg(test)]
mod tests {
    use super::*;

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
