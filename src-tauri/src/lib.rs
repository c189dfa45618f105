//! The desktop shell: the only crate that knows Tauri. It wires the plain runtime ([`caret_app`]) to a tray
//! icon, windows and the single-instance plugin, and keeps every decision in the plain crates.
//!
//! # Layout
//! - [`tray`]: the tray icon and its menu, kept in line with the core's snapshot; menu ids ↔ [`Action`]s.
//! - [`tray_host`]: the icon created at start, or once a panel that can show it appears.
//! - [`actions`]: the one place where an [`Action`] from any entry point is carried out.
//! - [`windows`]: the link to the window host, the child process that shows the windows, and the events
//!   sent to them.
//! - [`host`]: the window host itself (`caret-desktop --window-host`): the windows, the quick picker kept
//!   hidden between uses, and the pages' calls handed to the app.
//! - [`picker`]: the quick picker's openings, and the keys typed before it shows.
//! - [`commands`]: the IPC commands the UI calls (thin; they delegate to the core).
//! - [`ipc`]: the list of commands and events, shared by the dispatcher by name and the generated TypeScript.
//! - [`shortcut`]: the global shortcut that opens the quick picker (a refusal is reported, never fatal) and
//!   starting at login.
//! - `theme`: dark mode in the window host, following the desktop portal's colour scheme (Linux).
//! - [`error`]: the shell's error, serialised for the UI as a code and a message.

pub mod actions;
pub mod commands;
pub mod error;
pub mod host;
pub mod ipc;
#[cfg(target_os = "linux")]
mod keys;
pub mod picker;
#[cfg(target_os = "linux")]
mod portal_shortcut;
pub mod shortcut;
#[cfg(target_os = "linux")]
mod theme;
pub mod tray;
pub mod tray_host;
pub mod windows;
#[cfg(target_os = "linux")]
mod x11_hotkey;

use caret_app::{Action, AppConfig, AppCore, InstanceLock, WindowKind};
use tauri::{AppHandle, Manager, RunEvent, Runtime};

pub use error::{Result, ShellError};

/// The window named by `--window LABEL` (or `--window=LABEL`) in a command line, if any.
pub fn window_from_args(args: &[String]) -> Option<WindowKind> {
    args.iter().enumerate().find_map(|(at, arg)| {
        let label = match arg.strip_prefix("--window") {
            Some("") => args.get(at + 1)?.as_str(),
            Some(rest) => rest.strip_prefix('=')?,
            None => return None,
        };
        WindowKind::from_label(label)
    })
}

/// Runs the tray app until the user quits; `open` is a window to show at once (from `--window`).
pub fn run_tray(open: Option<WindowKind>) -> Result<()> {
    let config = AppConfig::from_env()?;
    config.paths.create()?;
    let app = tauri::Builder::default()
        // First, so that a second launch forwards to the first and exits before doing anything else.
        // Launching the app again (from the app menu, say) opens its Settings, or the window it names.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!(?argv, "second launch forwarded here");
            let window = window_from_args(&argv).unwrap_or(WindowKind::Settings);
            actions::handle(
                app,
                Action::OpenWindow { window },
                caret_app::runtime::apply::Source::Tray,
            );
        }))
        .setup(move |app| {
            // The single-instance plugin only sees tray apps; the lock also covers a headless instance on the
            // same data directory.
            let lock = InstanceLock::acquire(&config.paths.data_dir)?;
            let core = AppCore::new(config, false);
            // The relay and the database run on Tauri's tokio runtime, like everything async in the shell.
            tauri::async_runtime::block_on(caret_app::launch::start(&core))?;
            app.manage(lock);
            app.manage(core.clone());
            app.manage(picker::PickerRequests::default());
            windows::install(app.handle(), &core)?;
            tray_host::install(app.handle(), &core)?;
            let handle = app.handle().clone();
            core.attach_shell(Box::new(move |action| {
                actions::handle(&handle, action, caret_app::runtime::apply::Source::Cli);
            }));
            forward_events(app.handle(), &core);
            let preferences =
                caret_app::preferences::load_or_reset(&core.config().paths).unwrap_or_else(|error| {
                    tracing::warn!("{error}; using the default preferences");
                    caret_app::preferences::Preferences::default()
                });
            shortcut::install(app.handle(), &preferences);
            if let Some(window) = open {
                windows::open(app.handle(), window)?;
            }
            tracing::info!(data_dir = %core.info().data_dir, "{} (tray)", caret_app::launch::READY_LINE);
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|app, event| match event {
        // Closing the last window must not quit a tray app; only Quit does (it exits with a code).
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        // The engine stops and phones are told (`shutting_down`), and the LAN announcement withdrawn, before the
        // process ends.
        RunEvent::Exit => {
            if let Some(core) = app.try_state::<AppCore>()
                && let Ok(services) = core.services()
            {
                tauri::async_runtime::block_on(services.stop());
            }
        }
        _ => {}
    });
    Ok(())
}

/// Tells every open window when the snapshot changes, the desktop's sources change or the sync log grows, so
/// no window polls.
fn forward_events<R: Runtime>(app: &AppHandle<R>, core: &AppCore) {
    let mut snapshots = core.subscribe();
    let emitter = app.clone();
    tauri::async_runtime::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let snapshot = snapshots.borrow_and_update().clone();
            windows::tell(&emitter, ipc::SNAPSHOT_EVENT, &snapshot);
        }
    });
    let Ok(services) = core.services() else {
        return;
    };
    let mut sources = services.sources.changes();
    let emitter = app.clone();
    tauri::async_runtime::spawn(async move {
        while sources.changed().await.is_ok() {
            let view = sources.borrow_and_update().clone();
            windows::tell(&emitter, ipc::SOURCES_EVENT, &view);
        }
    });
    let mut newest = services.store.watch_log();
    let emitter = app.clone();
    tauri::async_runtime::spawn(async move {
        while newest.changed().await.is_ok() {
            let id = *newest.borrow_and_update();
            windows::tell(&emitter, ipc::SYNC_LOG_EVENT, &id);
        }
    });
}

/// Runs the same core without tray or windows until SIGINT/SIGTERM.
pub fn run_headless() -> Result<()> {
    let config = AppConfig::from_env()?;
    config.paths.create()?;
    let _lock = InstanceLock::acquire(&config.paths.data_dir)?;
    let core = AppCore::new(config, true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ShellError::Runtime)?;
    runtime.block_on(caret_app::launch::run_headless(core))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_named_on_the_command_line_either_way() {
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            window_from_args(&args("caret-desktop --window sync-log")),
            Some(WindowKind::SyncLog)
        );
        assert_eq!(
            window_from_args(&args("caret-desktop --window=phones")),
            Some(WindowKind::Phones)
        );
        assert_eq!(window_from_args(&args("caret-desktop --window nowhere")), None);
        assert_eq!(window_from_args(&args("caret-desktop")), None);
        assert_eq!(window_from_args(&args("caret-desktop --window")), None);
    }
}
