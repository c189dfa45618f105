//! The one error type of the runtime.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{name} is set to {value:?}, which is not a valid http(s) URL: {reason}")]
    InvalidUrl {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{name} is set to {value:?}; expected {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{name} is set but empty; unset it or give a directory")]
    EmptyDirectory { name: &'static str },
    #[error("no home directory found: set CARET_CONFIG_DIR and CARET_DATA_DIR")]
    NoHomeDirectory,
    #[error("cannot create or use directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error(
        "another Caret Desktop is already running with data directory {data_dir} (lock {lock_file}); quit it first, or run this one with another CARET_DATA_DIR"
    )]
    AlreadyRunning { data_dir: PathBuf, lock_file: PathBuf },
    #[error("cannot change starting at login ({path}): {reason}")]
    Autostart { path: PathBuf, reason: String },
    #[error("cannot take the instance lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot listen for stop signals: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Store(#[from] caret_store::StoreError),
    #[error(transparent)]
    Relay(#[from] caret_relay::RelayError),
    #[error("the sync engine: {0}")]
    Engine(#[from] caret_engine::EngineError),
    #[error("the Slack client: {0}")]
    Slack(#[from] caret_slack::SlackError),
    #[error("control socket {path}: {source}")]
    Control { path: PathBuf, source: std::io::Error },
    #[error("Caret Desktop is not running (no answer on {path}); start it first")]
    NotRunning { path: PathBuf },
    /// Refused by the app's own rules (a token that is not one, an unknown state): the message says why, and
    /// is the whole line a person reads (a window's alert, or `caret-desktop: …`).
    #[error("{0}")]
    Refused(String),
    /// The running app answered a command-line request with an error: its message, said once.
    #[error("the running Caret Desktop refused: {0}")]
    RunningAppRefused(String),
    /// The running app's answer was missing, late or not one this command knows.
    #[error("the running Caret Desktop {0}")]
    RunningAppAnswer(String),
    #[error("the desktop keyring: {0}")]
    Keyring(String),
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the token for {team} lacks {}: {fix}", missing.join(", "))]
    MissingScopes {
        team: String,
        missing: Vec<String>,
        /// How to add them, in the user's words.
        fix: String,
    },
    #[error("cannot export the sync log to {path}: {reason}")]
    Export { path: PathBuf, reason: String },
    #[error("preferences file {path}: {reason}")]
    Preferences { path: PathBuf, reason: String },
    #[error("{0} needs the tray app; this Caret Desktop runs headless")]
    NeedsTray(String),
    #[error("Caret Desktop's settings: {0}")]
    Settings(#[from] caret_core::CoreError),
    /// Work handed to the blocking pool never came back (the app is stopping, or a bug panicked in it).
    #[error("{work} was interrupted: {reason}")]
    Interrupted { work: &'static str, reason: String },
    /// The browser sign-in did not connect a workspace (cancelled, refused, timed out, its port taken).
    #[error("Sign in with Slack: {0}")]
    OAuth(String),
}

pub type Result<T> = std::result::Result<T, AppError>;
