//! What the command line asks the running app, and what it answers: one JSON object per line.

use caret_store::{LogEntry, LogFilter};
use serde::{Deserialize, Serialize};

use crate::phones::views::{DeviceView, PairingView};
use crate::slack::oauth::OAuthStart;
use crate::slack::workspaces::{Disconnected, PastedSecret, WorkspaceView};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    StartPairing,
    CancelPairing,
    Devices,
    Revoke {
        device_id: String,
    },
    Status,
    /// Connect a workspace with a pasted token (checked with Slack, then kept in the keyring only).
    ConnectWorkspace {
        token: PastedSecret,
    },
    DisconnectWorkspace {
        workspace_id: i64,
    },
    /// Sign in with Slack in the browser: answers `o_auth_started` (the link) at once, then the connected
    /// workspace or an error when the browser comes back (or the sign-in times out). Hanging up cancels it.
    SignIn {
        client_id: String,
        #[serde(default)]
        open_browser: bool,
    },
    /// Security notices by direct message for a workspace, on or off.
    SetSecurityNotices {
        workspace_id: i64,
        on: bool,
    },
    Workspaces,
    /// Carry out an action (set or clear a status, a policy, pause, resume) as the tray would.
    Perform {
        action: crate::action::Action,
    },
    /// The sync log, oldest first; with `follow`, the connection stays open and each new row is sent as it
    /// is written, until the client hangs up.
    Log {
        #[serde(default)]
        filter: LogFilter,
        #[serde(default)]
        follow: bool,
    },
    /// Where phones can reach this computer, and why.
    Reach,
    /// Changes where phones can reach this computer (saved in the preferences).
    SetReach {
        choice: crate::phones::reach::PhoneReach,
    },
    /// The desktop's own sources: which are on and what each sees now.
    Sources,
    /// Turns one of the desktop's sources on or off, the others as they are.
    SetSource {
        source: crate::preferences::SourceName,
        on: bool,
    },
    /// Adds a calendar (its address goes to the keyring); answers with the sources once it was read or said
    /// why not.
    AddCalendar {
        calendar: crate::sources::calendars::NewCalendar,
    },
    /// Removes the calendar with this name (or id), and its address from the keyring.
    RemoveCalendar {
        name: String,
    },
    /// Changes the parts of the working week it names (saved in the preferences, the others kept as they are
    /// saved); answers with the sources once they follow them.
    ChangeWorkingHours {
        change: crate::sources::WorkingHoursChange,
    },
    /// Forgets one known network (by id), or every one.
    ForgetNetworks {
        #[serde(default)]
        id: Option<String>,
    },
    /// What the tray's first lines say; with `follow`, again at every change, until the client hangs up.
    State {
        #[serde(default)]
        follow: bool,
    },
    /// A workspace's settings, its policy included; with a change, after making it (checked as the Settings
    /// form's changes are; nothing changes if the check refuses).
    Settings {
        workspace_id: i64,
        #[serde(default)]
        change: Option<SettingsChange>,
    },
    /// A call one of the windows made (the window host hands it over): answered `answer` or `refused`.
    Ui {
        call: super::host::UiCall,
    },
    /// The window host's own connection: what the app has for the windows comes on it, one
    /// [`super::host::ToHost`] a line, until either side hangs up; the host sends [`super::host::FromHost`]
    /// lines on it. `number` is the one the app started it with: only the host started last is taken.
    WindowHost {
        number: u64,
    },
}

/// A change to a workspace's settings from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsChange {
    /// One setting by name ([`crate::slack::setting_keys`]).
    Set { key: String, value: String },
    /// A state's look back to the built-in one.
    ResetState { state: String },
    /// All of them (an import). The policy is not taken from them: it changes through its own action.
    Replace { settings: caret_core::WorkspaceSettings },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlResponse {
    Pairing {
        pairing: PairingView,
    },
    Devices {
        devices: Vec<DeviceView>,
    },
    Revoked {
        revoked: bool,
    },
    Done,
    Status {
        state_line: String,
    },
    Workspace {
        workspace: WorkspaceView,
    },
    Workspaces {
        workspaces: Vec<WorkspaceView>,
    },
    Disconnected {
        disconnected: Disconnected,
    },
    OAuthStarted {
        start: OAuthStart,
    },
    /// Sync log rows, oldest first.
    Log {
        entries: Vec<LogEntry>,
    },
    Reach {
        reach: crate::phones::reach::ReachView,
    },
    Sources {
        sources: crate::sources::SourcesView,
    },
    State {
        state: crate::runtime::core::StateReport,
    },
    Settings {
        workspace: WorkspaceView,
        settings: caret_core::WorkspaceSettings,
    },
    Error {
        message: String,
    },
    /// A window's call answered: its result as the UI reads it.
    Answer {
        value: serde_json::Value,
    },
    /// A window's call refused: the error as the UI reads it (`{code, message}`).
    Refused {
        error: serde_json::Value,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_have_a_stable_json_form() {
        assert_eq!(
            serde_json::to_string(&ControlRequest::Revoke {
                device_id: "d_1".into()
            })
            .unwrap(),
            r#"{"command":"revoke","device_id":"d_1"}"#
        );
        assert_eq!(
            serde_json::from_str::<ControlRequest>(r#"{"command":"start_pairing"}"#).unwrap(),
            ControlRequest::StartPairing
        );
        assert_eq!(
            serde_json::to_string(&ControlRequest::Settings {
                workspace_id: 1,
                change: Some(SettingsChange::Set {
                    key: "lease".into(),
                    value: "45".into()
                })
            })
            .unwrap(),
            r#"{"command":"settings","workspace_id":1,"change":{"set":{"key":"lease","value":"45"}}}"#
        );
        assert_eq!(
            serde_json::from_str::<ControlRequest>(r#"{"command":"settings","workspace_id":2}"#).unwrap(),
            ControlRequest::Settings {
                workspace_id: 2,
                change: None
            }
        );
        assert_eq!(
            serde_json::to_string(&ControlResponse::Revoked { revoked: true }).unwrap(),
            r#"{"type":"revoked","revoked":true}"#
        );
    }
}
