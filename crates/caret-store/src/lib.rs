//! Caret Desktop's persistence, in one SQLite file (`caret.sqlite3` in the data directory).
//!
//! # Layout
//! - [`migrations`]: the schema, as SQL files in `migrations/` beside this crate, applied in order and
//!   recorded in `PRAGMA user_version`.
//! - [`store`]: [`Store`], a cheap handle over two connections (the writer, and a read-only reader for the sync
//!   log's pages and exports, so a large query never waits on or holds up a write): workspaces and their
//!   settings, the inputs and per-workspace sync state that let a restart converge, and the sync log.
//! - [`devices`]: paired phones (token hashes only, never tokens), last seen, revocation.
//! - [`networks`]: the networks a phone was paired on, where the relay opens to the LAN.
//! - [`snooze`]: the Slack Do Not Disturb snooze the engine started, so that a restart can end it.
//! - [`log`]: sync log entries, queries for the UI (newest first, filters), retention, JSON-lines and CSV
//!   export.
//!
//! Durability: WAL; every commit survives `kill -9`. The user's changes are fsynced at commit
//! (`synchronous = FULL`) and survive a power cut too. An input is committed at once and put on the disk by
//! [`Store::sync_to_disk`], which the engine runs beside its look at Slack and waits for before it writes to
//! Slack; the engine's and the relay's bookkeeping commits without an fsync of its own ([`Store`]'s
//! `with_bookkeeping`) and reaches the disk with the next one.
//! Tokens are never stored here: they live in the OS keyring.

pub mod devices;
pub mod error;
pub mod log;
pub mod migrations;
pub mod networks;
pub mod snooze;
pub mod store;

pub use devices::Device;
pub use error::{Result, StoreError};
pub use log::{LogEntry, LogFilter, LogKind, NewLogEntry, OUTCOME_REACHED_BEFORE_RESTART, Retention};
pub use networks::KnownNetwork;
pub use snooze::{SnoozeRecord, SnoozeState};
pub use store::{InFlight, StatusRecord, Store, SyncState, Workspace, WorkspaceId, off_the_async_workers};
