//! Windows exist only while shown: created on demand, destroyed on close (Tauri's default for a close), so the
//! tray-only app does not carry a ~160 MB webview. Opening one that exists focuses it instead. The quick
//! picker is the exception: it is kept hidden between uses for a while (see [`crate::picker`]).

use caret_app::WindowKind;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind) -> tauri::Result<()> {
    if kind == WindowKind::Picker {
        return crate::picker::open(app);
    }
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
