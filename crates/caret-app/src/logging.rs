//! Logging to stderr, filtered by `CARET_LOG` (e.g. `CARET_LOG=debug`), `info` by default. Stderr and not
//! stdout because tauri-driver discards the app's stdout, and tests read the log. Nothing secret is ever
//! logged: tokens are wrapped in types whose `Debug` hides them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub const LOG_FILTER_VAR: &str = "CARET_LOG";

/// Installs the global subscriber once; later calls do nothing (tests may call it repeatedly).
pub fn init() {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VAR).unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only for a person at a terminal, never in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
