//! The one error type of the desktop's sources.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SourceError {
    /// No PipeWire to watch (none running for this user, or it refused us).
    #[error("PipeWire is not available ({step}: {reason})")]
    PipeWire { step: &'static str, reason: String },
    /// No session bus to ask whether the session is locked.
    #[error("no session bus: {0}")]
    NoSessionBus(#[source] zbus::Error),
    /// The session bus is there, but nothing on it (nor logind) says whether the session is locked.
    #[error(
        "this session offers no screen-lock interface (org.freedesktop.ScreenSaver, org.gnome.ScreenSaver, logind)"
    )]
    NoLockInterface,
    /// A calendar's document is not iCalendar (the reason quotes nothing from it: titles are private).
    #[error("the calendar cannot be read: {reason}")]
    CalendarUnreadable { reason: String },
    /// What the person gave as a calendar's address is not one (the message does not repeat it).
    #[error("the calendar's address cannot be used: {0}")]
    CalendarAddress(String),
    /// A calendar's document could not be had this time (said without its address, which is a secret).
    #[error("{reason}")]
    CalendarFetch {
        reason: String,
        /// How long the server asked to be left alone, if it said.
        retry_after: Option<std::time::Duration>,
    },
    #[error("cannot start the source's thread: {0}")]
    Thread(#[source] std::io::Error),
}

pub type Result<T> = std::result::Result<T, SourceError>;
