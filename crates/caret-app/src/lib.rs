//! The Caret Desktop runtime, shared by the tray app (`src-tauri`), `--headless` and the tests. It knows nothing
//! of Tauri or of a display.
//!
//! # Layout
//! - [`config`]: where things live (XDG directories, `CARET_CONFIG_DIR`/`CARET_DATA_DIR`) and which Slack API
//!   the app talks to (`CARET_SLACK_API_URL`).
//! - [`autostart`]: starting at login, an XDG Autostart entry that starts the installed app.
//! - [`instance`]: the lock that keeps one running instance per data directory.
//! - [`action`]: the one [`Action`] type that the tray, the shortcut, the CLI and the UI all produce.
//! - [`core`]: [`AppCore`], the cheap-to-clone handle to the running app's state, and what it tells the tray.
//! - [`headless`]: running the same core with no tray or window, until a signal says stop.
//! - [`logging`]: log setup (to stderr; never a secret).
//! - [`apply`]: carrying out the domain [`Action`]s (status, policy, pause) for every entry point.
//! - [`services`]: the store, the sync engine, the relay, and the tasks that connect them to the snapshot.
//! - [`control`] / [`cli`]: the local socket the command line uses to reach the running app.
//! - [`workspaces`] / [`oauth`]: connecting Slack workspaces (a pasted token, or Sign in with Slack: OAuth v2
//!   with PKCE through a loopback redirect); disconnecting revokes the token.
//! - [`credentials`] / [`tokens`]: the tokens in the OS keyring, and their rotation (refresh before expiry).
//! - [`notices`]: security notices by direct message to yourself (a phone paired, a policy less private).
//! - [`preview`]: what Slack will show for each state under each policy (the Settings window's preview).
//! - [`manifest`]: the Slack app manifest (JSON and YAML), generated from the scopes the code checks.
//! - [`export`]: exporting the sync log (JSON lines or CSV) for the Sync log window.
//! - [`preferences`]: the app's own preferences (shortcut, autostart, where phones can reach it), a small JSON
//!   file.
//! - [`reach`]: which networks phones can reach this computer on: the relay opens to the LAN on networks where
//!   a phone was paired (or as the user chose), and only there.
//! - [`notify`]: desktop notifications (a missing daemon is logged, never fatal).
//! - [`tray_icon`]: the tray icon drawn per state group, with a paused/disconnected badge.

pub mod action;
pub mod apply;
pub mod autostart;
pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod credentials;
pub mod error;
pub mod export;
pub mod headless;
pub mod instance;
pub mod logging;
pub mod manifest;
pub mod notices;
pub mod notify;
pub mod oauth;
pub mod preferences;
pub mod preview;
pub mod reach;
pub mod services;
pub mod synclog;
pub mod tokens;
pub mod tray_icon;
pub mod workspaces;

pub use action::{Action, PolicyChoice, StatusDuration, WindowKind};
pub use config::{AppConfig, AppPaths};
pub use core::{AppCore, AppInfo, PhoneLink, Snapshot};
pub use error::{AppError, Result};
pub use instance::InstanceLock;
