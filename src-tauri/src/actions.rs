//! Where every [`Action`] is carried out, whatever produced it (tray, shortcut, CLI, UI).

use caret_app::runtime::apply::Source;
use caret_app::{Action, AppCore, WindowKind};
use tauri::{AppHandle, Manager, Runtime};

use crate::windows;

/// Carries out `action`, which came from `source` (the sync log records who asked).
pub fn handle<R: Runtime>(app: &AppHandle<R>, action: Action, source: Source) {
    tracing::debug!(?action, "action");
    if caret_app::runtime::apply::is_domain_action(&action) {
        match app.try_state::<AppCore>() {
            Some(core) => {
                if let Err(error) = caret_app::runtime::apply::apply(&core, &action, source) {
                    tracing::error!(?action, "cannot carry out: {error}");
                }
            }
            None => tracing::error!("cannot carry out {action:?}: the app is not set up"),
        }
        return;
    }
    match action {
        Action::OpenWindow { window } => {
            if let Err(error) = windows::open(app, window) {
                tracing::error!(?window, "cannot open window: {error}");
            }
        }
        Action::PairPhone => {
            // The pairing starts here, so the Phones window (new or already open) finds it and shows it.
            match app
                .try_state::<AppCore>()
                .map(|core| core.services().and_then(|s| s.phones.start_pairing()))
            {
                Some(Ok(_)) => tracing::info!("pairing window opened"),
                Some(Err(error)) => tracing::error!("cannot start pairing: {error}"),
                None => tracing::error!("cannot start pairing: the app is not set up"),
            }
            if let Err(error) = windows::open(app, WindowKind::Phones) {
                tracing::error!("cannot open the Phones window: {error}");
            }
        }
        Action::Quit => {
            tracing::info!("quit requested");
            app.exit(0);
        }
        // Carried out above.
        Action::SetStatus { .. }
        | Action::ClearStatus
        | Action::SetPolicy { .. }
        | Action::Pause
        | Action::Resume => {}
    }
}
