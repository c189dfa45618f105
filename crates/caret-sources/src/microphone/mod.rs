//! Microphone (and camera) in use → in a call. [`CaptureWatcher`] follows PipeWire's graph on a thread of its
//! own; [`graph`] holds the rule that reads a recording from it; [`hold_uses`] keeps a use alive a few
//! seconds after it ends, so that a stream re-opened mid-call does not end the call in Slack.

pub mod graph;
pub mod hold;
mod server;

pub use graph::CaptureReading;
pub use hold::{DEFAULT_HOLD, hold_uses};
pub use server::CaptureWatcher;
