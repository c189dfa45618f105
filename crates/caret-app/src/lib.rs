//! The Caret Desktop runtime, shared by the tray app (`src-tauri`), `--headless` and the tests. It knows nothing
//! of Tauri or of a display.
//!
//! # Layout: one room per concern
//! Each room below is a folder with one handle or a few functions as its surface. The imports go one way,
//! top to bottom of this list (a room uses the ones below it, never one above):
//!
//! - [`launch`]: starting the app (the services, then the control socket) and `--headless`.
//! - [`control`]: the control plane: the local socket the command line reaches the running app by, and the
//!   command line itself ([`control::cli`], one module per command).
//! - [`views`]: what the windows and the tray show, computed here: the Settings preview, the tray icon, the
//!   sync log's pages and export (off the async threads).
//! - [`runtime`]: the running app: [`AppCore`] (the cheap-to-clone handle on its state, and what it tells the
//!   tray), the services and the tasks that connect them, and carrying out the [`Action`]s every entry point
//!   produces.
//! - [`slack`]: the Slack connection, one handle ([`slack::Workspaces`]): connecting workspaces (a pasted
//!   token, or Sign in with Slack: OAuth v2 with PKCE through a loopback redirect), their tokens in the OS
//!   keyring and the tokens' rotation, security notices by direct message to yourself, and the Slack app
//!   manifest generated from the scopes the code checks.
//! - [`sources`]: the desktop's own sources, one handle ([`sources::DesktopSources`]): the ones the user
//!   turned on (a microphone in use, the screen lock, calendars), started, stopped and tried again, their
//!   readings fed to the engine.
//! - [`phones`]: the phones' side, one handle ([`phones::Phones`]): the relay, pairing, the paired devices,
//!   and which networks phones can reach this computer on (the relay opens to the LAN on networks where a
//!   phone was paired, or as the user chose, and only there).
//! - The ground floor, single files every room may use: [`config`] (where things live, which Slack API),
//!   [`preferences`] (the app's own preferences file), [`action`] (the one [`Action`] type), [`error`],
//!   [`autostart`] (the XDG Autostart entry), `blocking` (work off the async threads), [`secrets`] (the desktop
//!   keyring, where every secret is kept), [`instance`] (one
//!   running instance per data directory), [`logging`] (to stderr; never a secret) and [`notify`]
//!   (desktop notifications; a missing daemon is logged, never fatal).

pub mod action;
pub mod autostart;
mod blocking;
pub mod config;
pub mod control;
pub mod error;
pub mod instance;
pub mod launch;
pub mod logging;
pub mod notify;
pub mod phones;
pub mod preferences;
pub mod runtime;
pub mod secrets;
pub mod slack;
pub mod sources;
pub mod views;

pub use action::{Action, PolicyChoice, StatusDuration, WindowKind};
pub use config::{AppConfig, AppPaths};
pub use error::{AppError, Result};
pub use instance::InstanceLock;
pub use runtime::core::{AppCore, AppInfo, PhoneLink, Snapshot};
