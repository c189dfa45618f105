//! The one error type of the runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::action::Action;

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
    /// Refused by the app's own rules (a token that is not one, an unknown state): the refusal says why, and
    /// its text is the whole line a person reads (a window's alert, or `caret-desktop: …`).
    #[error("{0}")]
    Refused(Refusal),
    /// A control request that would not turn into JSON: a bug, every request being plain data.
    #[error("{0}")]
    EncodeRequest(#[source] serde_json::Error),
    /// The relay did not start (its port taken, say); the app runs on without it, and says this when asked
    /// for anything that needs it.
    #[error("the phone relay is not running: {source}")]
    RelayNotRunning { source: Arc<AppError> },
    /// The running app answered a command-line request with an error: its message, said once. The control
    /// protocol carries the message only, so that is all there is to keep.
    #[error("the running Caret Desktop refused: {message}")]
    RunningAppRefused { message: String },
    /// The running app's answer was missing, late or not one this command knows.
    #[error("the running Caret Desktop {0}")]
    RunningAppAnswer(#[source] AnswerProblem),
    /// No keyring to keep tokens in (no Secret Service, or it is locked): only the user can mend that.
    #[error(
        "the desktop keyring: {source}. Caret Desktop keeps Slack tokens only in the desktop keyring (the Secret \
         Service): start gnome-keyring or KWallet and unlock it, then restart Caret Desktop and try again"
    )]
    KeyringUnavailable {
        action: KeyringAction,
        source: keyring::Error,
    },
    #[error("the desktop keyring: {source}")]
    Keyring {
        action: KeyringAction,
        source: keyring::Error,
    },
    /// A connected workspace whose token is not in the keyring (deleted there, or a keyring that was swapped).
    #[error("the desktop keyring: no token in the keyring for {account}")]
    KeyringEmpty { account: String },
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
    /// A window or quitting, asked of an app without a tray (`--headless`).
    #[error("{} needs the tray app; this Caret Desktop runs headless", tray_work(action))]
    NeedsTray { action: Action },
    #[error("Caret Desktop's settings: {0}")]
    Settings(#[from] caret_core::CoreError),
    /// Work handed to the blocking pool never came back (the app is stopping, or a bug panicked in it).
    #[error("{work} was interrupted: {reason}")]
    Interrupted { work: &'static str, reason: String },
    /// The browser sign-in did not connect a workspace (cancelled, refused, timed out, its port taken).
    #[error("Sign in with Slack: {0}")]
    OAuth(#[source] OAuthFailure),
}

pub type Result<T> = std::result::Result<T, AppError>;

impl AppError {
    /// Why a sign-in failed, without the "Sign in with Slack: " that the sign-in's own errors start with: for
    /// the browser's page, and for a sign-in's outcome handed on to whoever waits for it.
    pub(crate) fn sign_in_reason(&self) -> &dyn std::fmt::Display {
        match self {
            AppError::OAuth(reason) => reason,
            other => other,
        }
    }
}

/// What needs the tray, as [`AppError::NeedsTray`] says it: quitting, or a window of some kind.
fn tray_work(action: &Action) -> &'static str {
    match action {
        Action::Quit => "quitting from here",
        _ => "opening a window",
    }
}

// The reasons below are not error types of their own: each is what one `AppError` variant carries, so that a
// caller can match on it while the text a person reads stays in one place.

/// Why the app's own rules refused a request ([`AppError::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Caret Desktop is still starting")]
    StillStarting,
    /// A status set by hand cannot be an event: its title and times come from the phone.
    #[error("an event needs its title and times: set it from the phone")]
    EventNeedsDetails,
    /// Windows, pairing and quitting are the tray app's own, never applied as domain actions.
    #[error("that is done from the tray app's own windows, not from here")]
    ShellAction,
    /// A request whose answers come as a stream was asked for one answer.
    #[error("sign_in streams its answers")]
    StreamedRequest,
    /// A window's call or the window host's link, which `serve` answers on their own connections.
    #[error("only the window host asks that, on a connection of its own")]
    WindowHostRequest,
    #[error("{text:?} is not a duration: use 30m, 1h, 90 (minutes), eod or forever")]
    NotADuration { text: String },
    #[error("unknown status {text:?}; one of: {}", .choices.join(", "))]
    UnknownStatus {
        text: String,
        /// The states a person can set.
        choices: Vec<&'static str>,
    },
    #[error("unknown policy {text:?}: default, trusted, vip, blocked or resume")]
    UnknownPolicy { text: String },
    /// A duration given with a policy other than `blocked`.
    #[error("--for goes with `blocked` only")]
    DurationWithoutBlock,
    #[error("{word:?} is not a choice: known-networks, any-network, this-computer (or forget [ID])")]
    UnknownReach { word: String },
    #[error("{word} takes no id (only forget does)")]
    ReachTakesNoId { word: String },
    #[error(
        "unknown source {word:?}: the desktop's sources are: microphone, screen-lock (and screen-lock-status)"
    )]
    UnknownSource { word: String },
    #[error("turn a source on or off: {word:?} is neither `on` nor `off`")]
    SourceOnOrOff { word: String },
    /// The week as `caret-desktop hours --week` takes it could not be read.
    #[error(
        "cannot read the working week {text:?}: {reason} (write it like \"mon-fri 09:00-17:30, sat 10:00-13:00\")"
    )]
    WorkingWeek { text: String, reason: String },
    #[error("a calendar needs a name")]
    CalendarName,
    #[error("there is already a calendar named {name:?}")]
    CalendarNameTaken { name: String },
    #[error("no calendar is named {name:?}")]
    UnknownCalendar { name: String },
    #[error("no such file: a calendar file must be an iCalendar (.ics) file that exists")]
    CalendarFile,
    /// Says why without repeating the address, which is a secret.
    #[error("{reason}")]
    CalendarAddress { reason: String },
    #[error("no known network has the id {prefix:?}")]
    UnknownNetwork { prefix: String },
    #[error("{prefix:?} starts more than one known network's id: give more of it")]
    AmbiguousNetwork { prefix: String },
    #[error(
        "that is not a Slack User OAuth Token: it starts with xoxp- (OAuth & Permissions page of your Slack app)"
    )]
    NotAUserToken,
    /// A rotating token pasted: without its refresh token it dies within hours.
    #[error(
        "this token rotates (xoxe.xoxp-…) and stops working within hours; Caret Desktop can renew it only when it \
         gets it itself: use Sign in with Slack instead, or turn token rotation off in your Slack app and paste \
         its xoxp- token"
    )]
    RotatingTokenPasted,
    #[error("the workspace is disconnected; nothing to refresh")]
    WorkspaceDisconnected,
    #[error("this workspace's token does not rotate; there is nothing to refresh")]
    TokenDoesNotRotate,
    #[error("{text:?} is not a number of minutes")]
    NotMinutes { text: String },
    #[error("{key} is on or off, not {text:?}")]
    NotOnOrOff { key: String, text: String },
    #[error("{text:?} is not a time format: 24h (15:30) or 12h (3:30 PM)")]
    NotATimeFormat { text: String },
    #[error(
        "unknown setting {key:?}: phone, show-phone, lease, time-format, always-override, or STATE.text, STATE.emoji, \
         STATE.vip-text \
         (e.g. in_call.text) for a STATE among {}",
        .states.join(", ")
    )]
    UnknownSetting {
        key: String,
        /// The states whose look can be changed.
        states: Vec<&'static str>,
    },
    #[error("{path} is not a settings export of Caret Desktop: {reason}")]
    NotASettingsExport { path: String, reason: String },
}

/// What was wrong with the running app's answer ([`AppError::RunningAppAnswer`]).
#[derive(Debug, thiserror::Error)]
pub enum AnswerProblem {
    #[error(
        "gave no answer within {} s (it may still finish: check with `caret-desktop workspace list`)",
        .waited.as_secs()
    )]
    NoAnswer { waited: Duration },
    #[error(
        "gave an answer this command does not understand ({source}); are the app and the command the same version?"
    )]
    NotUnderstood { source: serde_json::Error },
    /// An answer of the wrong kind.
    #[error("gave an answer this command did not expect; are the app and the command the same version?")]
    Unexpected,
    #[error("ended the sign-in without connecting a workspace")]
    SignInWithoutWorkspace,
}

/// What the keyring was asked to do when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringAction {
    Read,
    /// Keeping credentials (a new workspace, or a refreshed pair).
    Write,
    Delete,
}

/// Why the browser sign-in did not connect a workspace ([`AppError::OAuth`]).
#[derive(Debug, thiserror::Error)]
pub enum OAuthFailure {
    /// Beside the Client ID on Slack's page sit the app's secrets, so what was typed is not kept.
    #[error(
        "that is not a Slack app's Client ID: it is two numbers joined by a dot, shown under Basic Information → \
         App Credentials in your Slack app (not the Client Secret or the Signing Secret)"
    )]
    InvalidClientId,
    /// Another program holds the loopback address Slack's answer comes to, and could receive it instead.
    #[error(
        "cannot listen on {address} for Slack's answer ({source}): another program listens there, and the \
         browser could bring Slack's answer to it instead; quit it, or paste a token instead"
    )]
    PortTaken {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the sign-in was cancelled")]
    Cancelled,
    /// The flow asked for is not the current one any more.
    #[error("a newer sign-in replaced this one")]
    Replaced,
    #[error("no sign-in is in progress; start one first")]
    NotInProgress,
    #[error("the sign-in ended without an answer")]
    NoOutcome,
    #[error("no answer from Slack within {} minutes; start again", .waited.as_secs() / 60)]
    TimedOut { waited: Duration },
    /// Finishing the sign-in (the code exchange, connecting the workspace) stopped half-way.
    #[error("the sign-in was interrupted")]
    Interrupted(#[source] tokio::task::JoinError),
    /// Slack's `access_denied`: the user said no on Slack's page.
    #[error("you declined in Slack, so nothing was connected")]
    Declined,
    /// Any other `error` Slack sent the browser back with, as Slack names it.
    #[error("Slack did not authorize Caret Desktop ({code})")]
    NotAuthorized { code: String },
    #[error("Slack's answer has no code")]
    NoCode,
    /// `oauth.v2.access` did not trade the code for a token.
    #[error("Slack refused the sign-in: {0}")]
    ExchangeRefused(#[source] caret_slack::SlackError),
    #[error("{0}")]
    BrowserNotOpened(#[source] BrowserProblem),
    /// A sign-in's failure as handed to whoever waits for it (the UI, the CLI: shared, hence the `Arc`); it
    /// reads as the failure itself.
    #[error("{}", .0.sign_in_reason())]
    Ended(#[source] Arc<AppError>),
}

/// Why no launcher opened the browser: each one tried, in turn.
#[derive(Debug, thiserror::Error)]
#[error("{}; open the link yourself", .failures.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
pub struct BrowserProblem {
    pub failures: Vec<LaunchFailure>,
}

/// One launcher (xdg-open, gio, `CARET_BROWSER`…) that did not open the browser.
#[derive(Debug, thiserror::Error)]
#[error("{program} {problem}")]
pub struct LaunchFailure {
    pub program: String,
    #[source]
    pub problem: LaunchProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchProblem {
    #[error("cannot run ({0})")]
    CannotRun(#[source] std::io::Error),
    /// It ran and exited unsuccessfully.
    #[error("failed ({0})")]
    Failed(std::process::ExitStatus),
    /// It ran, but waiting for it failed.
    #[error("failed ({0})")]
    Lost(#[source] std::io::Error),
}
