//! The tray app's side of the windows: it asks its window host ([`crate::host`], a child process) to show
//! them, and sends the host the events every window follows. The tray process itself never makes a webview,
//! so what a webview leaves behind never stays in it.

use std::sync::{Arc, OnceLock, Weak};

use caret_app::control::host::{HostLink, ToHost, UiCall, UiHandler};
use caret_app::{AppCore, WindowKind};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};

use crate::commands::Caller;
use crate::error::Result;

/// Shows a window: the picker through its openings ([`crate::picker`]), the others as they are.
pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind) -> Result<()> {
    if kind == WindowKind::Picker {
        return crate::picker::open(app);
    }
    let core = app.try_state::<AppCore>().ok_or(crate::ShellError::NotSetUp)?;
    core.window_host()?.send(ToHost::Open {
        window: kind,
        waited_ms: 0.0,
        opening: 0,
    });
    Ok(())
}

/// Sends an event to every open window (none open: nobody to tell).
pub fn tell<R: Runtime>(app: &AppHandle<R>, name: &str, payload: &impl Serialize) {
    let Some(core) = app.try_state::<AppCore>() else {
        return;
    };
    let Ok(link) = core.window_host() else {
        return;
    };
    match serde_json::to_value(payload) {
        Ok(payload) => link.send(ToHost::Event {
            name: name.to_owned(),
            payload,
        }),
        Err(error) => tracing::warn!("cannot send {name} to the windows: {error}"),
    }
}

/// Sets up the link to the window host: a host is started (this same program, `--window-host`) when a window
/// is wanted, and the windows' calls are answered by the dispatcher, as if they were made here.
pub fn install<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> Result<()> {
    let program = this_program()?;
    let link_for_watcher: Arc<OnceLock<Weak<HostLink>>> = Arc::default();
    let watcher_link = link_for_watcher.clone();
    let start_host = Box::new(move |number: u64| -> std::io::Result<()> {
        // The host is started by a thread of its own that then waits for it: if that thread cannot be made, no
        // process is left unwatched.
        let (started, outcome) = std::sync::mpsc::channel();
        let program = program.clone();
        let watcher_link = watcher_link.clone();
        std::thread::Builder::new()
            .name("caret-window-host".into())
            .spawn(move || {
                // Its log goes where the app's goes (standard error); its environment is the app's.
                let child = std::process::Command::new(&program)
                    .arg("--window-host")
                    .env(crate::host::HOST_NUMBER_VAR, number.to_string())
                    .stdin(std::process::Stdio::null())
                    .spawn();
                let mut child = match child {
                    Ok(child) => {
                        let _ = started.send(Ok(()));
                        child
                    }
                    Err(error) => {
                        let _ = started.send(Err(error));
                        return;
                    }
                };
                match child.wait() {
                    Ok(status) if status.success() => tracing::info!(number, "window host exited"),
                    Ok(status) => tracing::warn!(number, "window host ended: {status}"),
                    Err(error) => tracing::warn!("cannot wait for the window host: {error}"),
                }
                if let Some(link) = watcher_link.get().and_then(Weak::upgrade) {
                    link.host_ended(number);
                }
            })?;
        outcome
            .recv()
            .map_err(|_| std::io::Error::other("the window host's watcher ended before starting it"))?
    });
    let dispatcher = app.clone();
    let ui: UiHandler = Arc::new(move |call: UiCall| {
        let caller = Caller {
            app: dispatcher.clone(),
            window: call.window,
        };
        Box::pin(async move {
            crate::ipc::dispatch(caller, &call.command, call.args)
                .await
                .map_err(|error| serde_json::to_value(&error).unwrap_or_default())
        })
    });
    let link = Arc::new(HostLink::new(start_host, ui));
    let _first = link_for_watcher.set(Arc::downgrade(&link));
    core.attach_window_host(link);
    Ok(())
}

/// The program to start as the window host: this very one. On Linux through `/proc/self/exe`, which stays the
/// running version even after a package upgrade replaced the file, so that a host never speaks another
/// version's protocol or shows another version's pages.
fn this_program() -> Result<std::path::PathBuf> {
    if cfg!(target_os = "linux") {
        return Ok("/proc/self/exe".into());
    }
    std::env::current_exe().map_err(crate::ShellError::Runtime)
}
