//! The one error type of the desktop's sources.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SourceError {
    /// No PipeWire to watch (none running for this user, or it refused us).
    #[error("PipeWire is not available ({step}: {reason})")]
    PipeWire { step: &'static str, reason: String },
    /// No way to tell whether the session is locked.
    #[error("{reason}")]
    ScreenLock { reason: String },
    #[error("cannot start the source's thread: {0}")]
    Thread(#[source] std::io::Error),
}

pub type Result<T> = std::result::Result<T, SourceError>;
