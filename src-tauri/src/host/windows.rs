//! The windows other than the picker, in the window host: made when asked for and destroyed on close (Tauri's
//! default for a close). Opening one that exists focuses it instead. When the last window closes, the host
//! exits, and what its webviews held goes with it.

use caret_app::WindowKind;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(kind.label()) {
        window.unminimize()?;
        window.show()?;
        window.set_focus()?;
        return Ok(());
    }
    // The UI picks its view from the window label.
    let builder = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App("index.html".into()));
    let builder = match kind {
        WindowKind::SyncLog => builder.inner_size(1040.0, 680.0).min_inner_size(640.0, 420.0),
        WindowKind::Settings | WindowKind::Phones | WindowKind::Picker => {
            builder.inner_size(880.0, 640.0).min_inner_size(560.0, 420.0)
        }
    }
    .title(kind.title());
    builder.build()?;
    tracing::info!(window = kind.label(), "window opened");
    Ok(())
}
