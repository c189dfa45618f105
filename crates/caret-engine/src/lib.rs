//! The Slack sync engine: from the effective Caret state and each workspace's settings, keep every connected
//! workspace's Slack custom status and presence equal to what its policy says, as fast as Slack allows,
//! without losing or clobbering anything.
//!
//! # Layout
//! - [`engine`]: [`Engine`], the handle the app holds, and its [`EngineConfig`].
//! - `coordinator`: the task behind it. It keeps the inputs (phone state, manual status, what the desktop's
//!   sources see, pause), persists them, logs them, and hands each workspace's worker the latest.
//! - [`worker`]: one task per workspace. It decides (with [`caret_core::decide`], at send time, so leases are
//!   fresh), checks Slack before overwriting (never clobber), spends the [`Budget`], writes, and retries or
//!   stops as the error says. It also renews leases and wakes when an event, a manual status or a block ends.
//! - [`durability`]: when the inputs are on the disk. Each is committed before a worker sees it and synced
//!   beside the workers' looks at Slack; a write to Slack waits for it.
//! - [`clock`]: [`Clock`], the only source of "now", so tests run on paused tokio time.
//! - [`budget`]: [`Budget`], the per-user write budget under Slack's 10 `users.profile.set` per minute.
//! - [`tokens`]: [`TokenSource`], where workers get a workspace's token (the OS keyring in the app).
//! - [`source`]: [`Source`], who caused an input (phone, tray, shortcut, CLI, UI, the engine itself), as the sync log says it.
//! - [`events`]: [`EngineEvent`], what the UI and notifications are told.

pub mod budget;
pub mod clock;
mod coordinator;
pub mod durability;
pub mod engine;
pub mod error;
pub mod events;
pub mod source;
pub mod tokens;
pub mod worker;

pub use budget::Budget;
pub use clock::{Clock, SystemClock, TokioClock};
pub use durability::SyncInputs;
pub use engine::{Engine, EngineConfig, MANUAL_KEY, PAUSED_KEY};
pub use error::{EngineError, Result};
pub use events::EngineEvent;
pub use source::Source;
pub use tokens::{StaticTokens, TokenSource};
