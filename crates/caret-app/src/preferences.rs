//! The app's own preferences (not a workspace's): the global shortcut, starting at login, where phones can
//! reach this computer, the clock, and which of the desktop's own sources are on. Kept as a small
//! JSON file in the config directory, written atomically (a temporary file renamed over the old one), so a
//! crash mid-write leaves the previous preferences rather than half a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::AppPaths;
use crate::error::{AppError, Result};

pub const PREFERENCES_FILE: &str = "preferences.json";
/// The shortcut that opens the quick status picker unless the user chose another.
pub const DEFAULT_SHORTCUT: &str = "Ctrl+Alt+S";
/// The command a desktop's own keyboard settings can bind when the global shortcut cannot be registered.
pub const PICKER_COMMAND: &str = "caret-desktop picker";

/// Where phones can reach this computer, as the user chose (Settings, `caret-desktop reach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PhoneReach {
    /// On networks where a phone was paired, and on any network while a pairing window is open.
    #[default]
    KnownNetworks,
    /// On any network the computer joins (the relay is always open to the LAN).
    AnyNetwork,
    /// Only from this computer (127.0.0.1): phones reach it through a tunnel the user sets up.
    ThisComputer,
}

impl PhoneReach {
    pub fn parse(word: &str) -> Option<PhoneReach> {
        match word {
            "known-networks" | "known_networks" | "known" => Some(PhoneReach::KnownNetworks),
            "any-network" | "any_network" | "any" => Some(PhoneReach::AnyNetwork),
            "this-computer" | "this_computer" | "local" => Some(PhoneReach::ThisComputer),
            _ => None,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            PhoneReach::KnownNetworks => "on networks where you paired a phone",
            PhoneReach::AnyNetwork => "on any network",
            PhoneReach::ThisComputer => "from this computer only",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Preferences {
    /// The global shortcut for the quick picker, as Tauri spells accelerators ("Ctrl+Alt+S"); "" for none.
    #[serde(default = "default_shortcut")]
    pub shortcut: String,
    /// Start Caret Desktop when the user logs in. Off until the user turns it on.
    #[serde(default)]
    pub autostart: bool,
    /// Where phones can reach this computer (the relay on the LAN): on networks where a phone was paired,
    /// unless the user chose otherwise.
    #[serde(default)]
    pub phone_reach: PhoneReach,
    /// How the app's windows write a time of day (the picker, Settings, Phones, the sync log): 24-hour unless
    /// the user chose 12-hour. A workspace's own choice covers only the times in its Slack status.
    #[serde(default)]
    pub clock: caret_core::TimeFormat,
    /// Which of the desktop's own sources feed the status; each is off until the user turns it on.
    #[serde(default)]
    pub sources: SourcePreferences,
}

/// The desktop's own sources the user turned on (Settings, `caret-desktop sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourcePreferences {
    /// Another application recording from a microphone (or reading a camera) means "in a call".
    #[serde(default)]
    pub microphone: bool,
    /// The session's screen lock: while it is locked, Slack shows the person away.
    #[serde(default)]
    pub screen_lock: bool,
    /// While the screen is locked, also "Away from the desk" where nothing else sets a status (Trusted, VIP).
    #[serde(default)]
    pub screen_lock_status: bool,
    /// The working week: outside it, Slack shows the person away (and "Off for the day" if they want).
    #[serde(default)]
    pub working_hours: caret_core::WorkingHours,
}

/// One of the desktop's sources, or an option of one: `microphone`, `screen_lock`, `screen_lock_status` (the
/// field names of [`SourcePreferences`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SourceName {
    Microphone,
    ScreenLock,
    ScreenLockStatus,
}

impl SourceName {
    /// The word `caret-desktop sources` takes: `microphone`, `screen-lock`.
    pub fn parse(word: &str) -> Option<SourceName> {
        match word {
            "microphone" => Some(SourceName::Microphone),
            "screen-lock" => Some(SourceName::ScreenLock),
            "screen-lock-status" => Some(SourceName::ScreenLockStatus),
            _ => None,
        }
    }
}

impl SourcePreferences {
    /// The same choices with one source turned on or off.
    pub fn with(mut self, source: SourceName, on: bool) -> SourcePreferences {
        match source {
            SourceName::Microphone => self.microphone = on,
            SourceName::ScreenLock => self.screen_lock = on,
            SourceName::ScreenLockStatus => self.screen_lock_status = on,
        }
        self
    }
}

fn default_shortcut() -> String {
    DEFAULT_SHORTCUT.to_owned()
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            shortcut: default_shortcut(),
            autostart: false,
            phone_reach: PhoneReach::default(),
            clock: caret_core::TimeFormat::default(),
            sources: SourcePreferences::default(),
        }
    }
}

/// Whether the global shortcut works, as the Settings window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum ShortcutStatus {
    /// Pressing it opens the picker.
    Registered { shortcut: String },
    /// The user chose no shortcut.
    Off,
    /// The system refused it (taken by another app, or a Wayland session whose desktop offers no global
    /// shortcuts portal).
    Failed { shortcut: String, reason: String },
    /// Wayland: the desktop's global shortcuts portal was asked to bind it and has not answered yet (it asks
    /// the user first).
    Asked { shortcut: String },
    /// Wayland: the desktop bound it. `trigger` is the desktop's own description of the keys (the user may
    /// have chosen others than `shortcut` in its dialog); "" when it bound the action without keys yet.
    Granted { shortcut: String, trigger: String },
    /// Wayland: the user turned it down in the desktop's dialog. Saving asks again.
    Declined { shortcut: String },
}

/// The preferences with what became of them, for the Settings window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PreferencesView {
    pub preferences: Preferences,
    pub shortcut: ShortcutStatus,
    /// What to bind in the desktop's own keyboard settings if the shortcut cannot be registered.
    pub picker_command: String,
    /// Whether the login item is really in place (it can be removed outside the app).
    pub autostart_enabled: bool,
}

/// Saves which of the desktop's sources are on; the preferences as they are now.
pub fn set_sources(paths: &AppPaths, sources: SourcePreferences) -> Result<Preferences> {
    let mut saved = load_or_reset(paths)?;
    saved.sources = sources;
    save(paths, &saved)?;
    Ok(saved)
}

/// Saves how the windows write times; the preferences as they are now.
pub fn set_clock(paths: &AppPaths, clock: caret_core::TimeFormat) -> Result<Preferences> {
    let mut saved = load_or_reset(paths)?;
    saved.clock = clock;
    save(paths, &saved)?;
    Ok(saved)
}

pub fn preferences_path(paths: &AppPaths) -> PathBuf {
    paths.config_dir.join(PREFERENCES_FILE)
}

fn file_error(path: &Path) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |source| AppError::Preferences {
        path: path.to_path_buf(),
        reason: source.to_string(),
    }
}

/// Reads the preferences; a missing file means the defaults. A damaged file is an error naming it, rather
/// than a silent reset of what the user chose.
pub fn load(paths: &AppPaths) -> Result<Preferences> {
    let path = preferences_path(paths);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| AppError::Preferences {
            path: path.clone(),
            reason: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Preferences::default()),
        Err(error) => Err(file_error(&path)(error)),
    }
}

/// Reads the preferences; a damaged file is moved aside to `preferences.json.bad` (kept for the user to look
/// at) and the defaults are used, so that the next change can be saved. Only an unreadable folder is an error.
pub fn load_or_reset(paths: &AppPaths) -> Result<Preferences> {
    match load(paths) {
        Ok(preferences) => Ok(preferences),
        Err(AppError::Preferences { path, reason }) if path.exists() => {
            let aside = path.with_extension("json.bad");
            tracing::warn!(
                "preferences file {} is damaged ({reason}); kept as {} and the defaults used",
                path.display(),
                aside.display()
            );
            std::fs::rename(&path, &aside).map_err(file_error(&path))?;
            Ok(Preferences::default())
        }
        Err(error) => Err(error),
    }
}

pub fn save(paths: &AppPaths, preferences: &Preferences) -> Result<()> {
    let path = preferences_path(paths);
    let json = serde_json::to_vec_pretty(preferences).map_err(|error| AppError::Preferences {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    // After a crash the file is the old one or the new one, never a truncated one.
    caret_relay::identity::write_private_file(&path, &json).map_err(|(file, error)| AppError::Preferences {
        path: file,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> AppPaths {
        AppPaths {
            config_dir: dir.to_path_buf(),
            data_dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn missing_file_means_defaults_and_autostart_off() {
        let dir = tempfile::tempdir().unwrap();
        let preferences = load(&paths(dir.path())).unwrap();
        assert_eq!(preferences.shortcut, DEFAULT_SHORTCUT);
        assert!(!preferences.autostart);
        assert!(
            !preferences.sources.microphone,
            "the microphone is watched only once the user says so"
        );
    }

    #[test]
    fn saved_preferences_read_back_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let chosen = Preferences {
            shortcut: "Super+Shift+K".into(),
            autostart: true,
            phone_reach: PhoneReach::AnyNetwork,
            clock: caret_core::TimeFormat::H12,
            sources: SourcePreferences {
                microphone: true,
                screen_lock: true,
                screen_lock_status: true,
                working_hours: caret_core::WorkingHours {
                    on: true,
                    off_status: true,
                    ..caret_core::WorkingHours::default()
                },
            },
        };
        save(&paths(dir.path()), &chosen).unwrap();
        assert_eq!(load(&paths(dir.path())).unwrap(), chosen);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(PREFERENCES_FILE)]);
    }

    #[test]
    fn one_source_turned_on_or_off_leaves_the_other_as_it_was() {
        let both_off = SourcePreferences::default();
        let microphone = both_off.with(SourceName::Microphone, true);
        assert_eq!(
            microphone,
            SourcePreferences {
                microphone: true,
                screen_lock: false,
                screen_lock_status: false,
                working_hours: caret_core::WorkingHours::default(),
            }
        );
        let both = microphone.with(SourceName::ScreenLock, true);
        assert!(both.microphone && both.screen_lock);
        assert_eq!(
            both.with(SourceName::Microphone, false),
            SourcePreferences {
                microphone: false,
                screen_lock: true,
                screen_lock_status: false,
                working_hours: caret_core::WorkingHours::default(),
            }
        );
        assert_eq!(SourceName::parse("screen-lock"), Some(SourceName::ScreenLock));
        assert_eq!(SourceName::parse("microphone"), Some(SourceName::Microphone));
        assert_eq!(SourceName::parse("camera"), None);
    }

    #[test]
    fn the_clock_is_24_hour_until_chosen_and_a_file_from_before_it_keeps_its_other_choices() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PREFERENCES_FILE),
            r#"{"shortcut":"Super+K","autostart":true}"#,
        )
        .unwrap();
        let before = load(&paths(dir.path())).unwrap();
        assert_eq!(before.clock, caret_core::TimeFormat::H24);
        let after = set_clock(&paths(dir.path()), caret_core::TimeFormat::H12).unwrap();
        assert_eq!(after.clock, caret_core::TimeFormat::H12);
        assert_eq!((after.shortcut.as_str(), after.autostart), ("Super+K", true));
        assert_eq!(load(&paths(dir.path())).unwrap(), after);
    }

    #[test]
    fn a_damaged_file_is_reported_with_its_path_and_kept_aside_when_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PREFERENCES_FILE), "{not json").unwrap();
        let error = load(&paths(dir.path())).unwrap_err().to_string();
        assert!(error.contains(PREFERENCES_FILE), "{error}");
        assert_eq!(load_or_reset(&paths(dir.path())).unwrap(), Preferences::default());
        let kept = std::fs::read_to_string(dir.path().join("preferences.json.bad")).unwrap();
        assert_eq!(kept, "{not json", "what the user had is kept, not destroyed");
        assert!(!dir.path().join(PREFERENCES_FILE).exists());
    }
}
