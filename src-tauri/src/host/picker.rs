//! The quick picker's window, in the window host.
//!
//! **The window is kept between uses**, so that a person who presses the shortcut and types at once finds it
//! ready: closing it hides it; its page stays loaded and shows again at once. A hidden picker still holds its
//! webview (and keeps the host running), so it is destroyed after [`KEPT_HIDDEN_FOR`] unused; with no other
//! window the host then exits, and the next opening is a first one again.
//!
//! The tray app numbers the openings and keeps the keys typed for them ([`crate::picker`]); this side says
//! when the picker hid ([`FromHost::PickerHidden`]) and logs how long each opening took from the user's
//! request to the list shown ([`ready`]), which `bench-picker` reads.

use std::time::{Duration, Instant};

use caret_app::WindowKind;
use caret_app::control::host::FromHost;
use parking_lot::{Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

/// How long a hidden picker keeps its webview before it is destroyed.
pub const KEPT_HIDDEN_FOR: Duration = Duration::from_secs(10 * 60);

/// Where the picker is in its life, managed once by the host.
#[derive(Debug, Default)]
pub struct PickerState(Mutex<PickerLife>);

#[derive(Debug, Default)]
struct PickerLife {
    /// The tray app's number for the current opening.
    opening: u32,
    /// When the current opening was asked for (the shortcut's key press, a click, a command).
    asked_at: Option<Instant>,
    /// The window was made for the current opening (a first opening), not shown again.
    made_for_it: bool,
    /// The window is showing.
    shown: bool,
    /// Counts hidings, so that the destruction meant for an older one leaves a picker shown since alone.
    hidden: u64,
}

impl PickerState {
    fn life(&self) -> MutexGuard<'_, PickerLife> {
        self.0.lock()
    }
}

/// Shows the picker for `opening`, asked for `waited` ago: the kept window again, or a new one. A picker
/// already showing is brought to the front.
pub fn show<R: Runtime>(app: &AppHandle<R>, opening: u32, waited: Duration) -> tauri::Result<()> {
    let state = app.state::<PickerState>();
    let existing = app.get_webview_window(WindowKind::Picker.label());
    {
        let mut life = state.life();
        if life.shown
            && let Some(window) = &existing
        {
            window.show()?;
            window.set_focus()?;
            return Ok(());
        }
        life.opening = opening;
        life.asked_at = Some(Instant::now().checked_sub(waited).unwrap_or_else(Instant::now));
        life.made_for_it = existing.is_none();
        life.shown = true;
        life.hidden += 1;
    }
    match existing {
        Some(window) => {
            window.show()?;
            window.set_focus()?;
            window.emit_to(
                WindowKind::Picker.label(),
                crate::ipc::PICKER_SHOWN_EVENT,
                opening,
            )?;
        }
        None => {
            let window = WebviewWindowBuilder::new(
                app,
                WindowKind::Picker.label(),
                WebviewUrl::App("index.html".into()),
            )
            .title(WindowKind::Picker.title())
            // A small panel in front of everything, hidden when used, dismissed or left (it closes itself on
            // blur), kept for the next time.
            .inner_size(440.0, 460.0)
            .resizable(false)
            .decorations(false)
            .always_on_top(true)
            .skip_taskbar(true)
            .center()
            .focused(true)
            .build()?;
            let handle = app.clone();
            window.on_window_event(move |event| {
                if let WindowEvent::CloseRequested { api, .. } = event {
                    api.prevent_close();
                    hide(&handle);
                }
            });
        }
    }
    let since = state
        .life()
        .asked_at
        .map_or(0.0, |at| at.elapsed().as_secs_f64() * 1000.0);
    tracing::info!(
        opening,
        "picker window shown {since:.1} ms after it was asked for"
    );
    Ok(())
}

/// Hides the picker (its close button, Escape, a status set, the focus gone), tells the tray app, and destroys
/// it once it has stayed hidden for [`KEPT_HIDDEN_FOR`].
fn hide<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window(WindowKind::Picker.label()) else {
        return;
    };
    if let Err(error) = window.hide() {
        tracing::warn!("cannot hide the picker, closing it: {error}");
        let _ = window.destroy();
    }
    let state = app.state::<PickerState>();
    let (hidden, opening) = {
        let mut life = state.life();
        life.shown = false;
        life.hidden += 1;
        (life.hidden, life.opening)
    };
    super::tell_app(app, FromHost::PickerHidden { opening });
    tracing::info!("picker hidden");
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(KEPT_HIDDEN_FOR).await;
        let state = handle.state::<PickerState>();
        let life = state.life();
        if life.hidden == hidden
            && !life.shown
            && let Some(window) = handle.get_webview_window(WindowKind::Picker.label())
        {
            drop(life);
            tracing::info!(
                "the picker was not used for {} minutes: its webview is freed",
                KEPT_HIDDEN_FOR.as_secs() / 60
            );
            if let Err(error) = window.destroy() {
                tracing::warn!("cannot free the hidden picker: {error}");
            }
        }
    });
}

/// The opening the picker shows (or showed last).
pub fn opening<R: Runtime>(app: &AppHandle<R>) -> u32 {
    app.try_state::<PickerState>()
        .map_or(0, |state| state.life().opening)
}

/// The page shows the list of `opening` and takes keys: logs how long that took since it was asked for.
pub fn ready<R: Runtime>(app: &AppHandle<R>, opening: u32) {
    let Some(state) = app.try_state::<PickerState>() else {
        return;
    };
    let life = state.life();
    if life.opening != opening {
        return;
    }
    if let Some(asked_at) = life.asked_at {
        let kind = if life.made_for_it { "first" } else { "warm" };
        tracing::info!(
            opening,
            "picker ready ({kind}): its list shows and takes keys {:.1} ms after it was asked for",
            asked_at.elapsed().as_secs_f64() * 1000.0
        );
    }
}
