//! The control plane: the local socket the command line (`caret-desktop pair`, `devices`, `workspace`,
//! `status`, `policy`, `log`…) talks to the running app (tray or headless) by, and the command line itself.
//! A Unix socket in the data directory (0700), itself 0600: only the user can reach it.
//!
//! - [`protocol`]: the requests and answers, one JSON line each.
//! - [`server`]: the running app's side: answering on the socket.
//! - [`client`]: the command line's side: sending a request, reading its answers.
//! - [`cli`]: the `caret-desktop` commands, one module per command.
//! - [`host`]: the window host, the child process that shows the tray app's windows, and its link to the app.

pub mod cli;
pub mod client;
pub mod host;
pub mod protocol;
pub mod server;

use std::path::{Path, PathBuf};

pub use client::{request, request_stream};
pub use protocol::{ControlRequest, ControlResponse};
pub use server::start;

use crate::config::AppPaths;
use crate::error::AppError;

pub const SOCKET_FILE: &str = "control.sock";

pub fn socket_path(paths: &AppPaths) -> PathBuf {
    paths.data_dir.join(SOCKET_FILE)
}

fn control_error(path: &Path) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |source| AppError::Control {
        path: path.to_path_buf(),
        source,
    }
}
