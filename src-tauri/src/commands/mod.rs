//! The IPC commands the UI calls. Each is a few lines that delegate to the core or to [`crate::actions`].
//! They are listed once, in [`crate::ipc`], which registers them and generates their TypeScript signatures.

use caret_app::{Action, AppCore, AppInfo};
use tauri::{AppHandle, Runtime, State};

/// Facts about the running app, for the About section.
#[tauri::command]
pub fn app_info(core: State<'_, AppCore>) -> AppInfo {
    core.info()
}

/// Carries out an action the user took in the UI, exactly as if it came from the tray.
#[tauri::command]
pub fn perform<R: Runtime>(app: AppHandle<R>, action: Action) {
    crate::actions::handle(&app, action);
}
