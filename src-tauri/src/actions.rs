//! Where every [`Action`] is carried out, whatever produced it (tray, shortcut, CLI, UI).

use caret_app::Action;
use tauri::{AppHandle, Runtime};

use crate::windows;

pub fn handle<R: Runtime>(app: &AppHandle<R>, action: Action) {
    tracing::debug!(?action, "action");
    match action {
        Action::OpenWindow { window } => {
            if let Err(error) = windows::open(app, window) {
                tracing::error!(?window, "cannot open window: {error}");
            }
        }
        Action::Quit => {
            tracing::info!("quit requested");
            app.exit(0);
        }
    }
}
