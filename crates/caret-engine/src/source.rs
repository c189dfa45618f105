//! Who caused an input, as the sync log and the events say it.

use serde::{Deserialize, Serialize};

/// Who caused an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Phone,
    Tray,
    Shortcut,
    Cli,
    Ui,
    Engine,
    /// The desktop's own sources.
    Microphone,
    Camera,
    Calendar,
    /// The session's screen lock (not a state: the presence).
    ScreenLock,
    /// The working hours (not a state: the presence, and "Off for the day" where asked for).
    WorkingHours,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Phone => "phone",
            Source::Tray => "tray",
            Source::Shortcut => "shortcut",
            Source::Cli => "cli",
            Source::Ui => "ui",
            Source::Engine => "engine",
            Source::Microphone => "microphone",
            Source::Camera => "camera",
            Source::Calendar => "calendar",
            Source::ScreenLock => "screen lock",
            Source::WorkingHours => "working hours",
        }
    }
}
