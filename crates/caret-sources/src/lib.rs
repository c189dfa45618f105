//! What the desktop itself sees, turned into the inputs the sync engine takes (caret-core's `DesktopSignals`).
//! Each source is a module with one job; none knows Tauri, and each can be tested without a display.
//!
//! - [`microphone`]: another application recording from a microphone, or reading a camera (PipeWire).
//! - [`calendar`]: the event the person's calendars say they are in (iCalendar documents).
//! - [`screen_lock`]: the session locked (the desktop's ScreenSaver interface, logind's LockedHint).
//!
//! Nothing a source sees leaves the machine: only the status the engine decides from it (under the
//! workspace's policy) reaches Slack.

pub mod calendar;
pub mod error;
pub mod microphone;
pub mod screen_lock;

pub use error::{Result, SourceError};
