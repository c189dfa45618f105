//! Logging to stderr, filtered by `CARET_LOG` (e.g. `CARET_LOG=debug`), `info` by default. Stderr and not
//! stdout because tauri-driver discards the app's stdout, and tests read the log. Nothing secret is ever
//! logged: tokens are wrapped in types whose `Debug` hides them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub const LOG_FILTER_VAR: &str = "CARET_LOG";

/// zbus's proxy module below `error`, unless `CARET_LOG` names zbus itself: every request to the desktop portal
/// (the Wayland shortcut) builds a proxy for a request object the portal creates only when the call arrives,
/// and zbus warns that it could not read that object's properties yet, which is expected and says nothing to a
/// reader of the log.
const QUIET_ZBUS_PROXY: &str = "zbus::proxy=error";

/// Installs the global subscriber once; later calls do nothing (tests may call it repeatedly).
pub fn init() {
    let asked = std::env::var(LOG_FILTER_VAR).unwrap_or_default();
    let mut filter = if asked.trim().is_empty() {
        EnvFilter::new("info")
    } else {
        EnvFilter::try_new(&asked).unwrap_or_else(|_| EnvFilter::new("info"))
    };
    if !asked.contains("zbus")
        && let Ok(quiet) = QUIET_ZBUS_PROXY.parse()
    {
        filter = filter.add_directive(quiet);
    }
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only for a person at a terminal, never in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
