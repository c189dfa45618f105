//! The Slack sync engine (being built; see issue 3): from the effective Caret state and each workspace's
//! settings, keep every connected workspace's Slack status and presence equal to what the policy says.
//!
//! # Layout
//! - [`clock`]: [`Clock`], the engine's only source of "now", so tests run on paused tokio time.
//! - [`budget`]: [`Budget`], the per-user write budget that keeps us under Slack's 10 `users.profile.set`
//!   per minute, so a 429 is an exception rather than the mechanism.

pub mod budget;
pub mod clock;

pub use budget::Budget;
pub use clock::{Clock, SystemClock, TokioClock};
