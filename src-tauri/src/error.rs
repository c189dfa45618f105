//! The shell's one error type: the runtime's errors and Tauri's, serialised for the UI as `{code, message}`.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    App(#[from] caret_app::AppError),
    #[error("desktop shell: {0}")]
    Tauri(#[from] tauri::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the app is not set up yet")]
    NotSetUp,
    #[error("--window-host is started by the running app itself, not by hand")]
    NotStartedByTheApp,
    #[error("no such command: {0}")]
    UnknownCommand(String),
    #[error("{command}: wrong arguments: {reason}")]
    BadArguments { command: &'static str, reason: String },
    #[error("{command}: cannot write the answer: {reason}")]
    Answer { command: &'static str, reason: String },
}

pub type Result<T> = std::result::Result<T, ShellError>;

/// How an error reaches the UI: a stable code to branch on and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl ShellError {
    pub fn code(&self) -> &'static str {
        match self {
            ShellError::App(caret_app::AppError::Settings(_)) => "invalid_settings",
            ShellError::App(caret_app::AppError::Autostart { .. }) => "autostart",
            ShellError::App(_) => "app",
            ShellError::Tauri(_) => "shell",
            ShellError::Runtime(_) => "runtime",
            ShellError::NotSetUp => "not_set_up",
            ShellError::NotStartedByTheApp => "not_started_by_the_app",
            ShellError::UnknownCommand(_) => "unknown_command",
            ShellError::BadArguments { .. } => "bad_arguments",
            ShellError::Answer { .. } => "answer",
        }
    }
}

impl Serialize for ShellError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        CommandError {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
        .serialize(serializer)
    }
}
