//! The quick picker's window and its openings.
//!
//! A person presses the shortcut and types at once, so the picker must show its list and take keys in a blink
//! (issue 15: under 150 ms warm, 400 ms for the first opening, release build; measured by `bench-picker`). Two
//! things make that so:
//! - **The window is kept between uses.** Closing it hides it; its page stays loaded and shows again at once.
//!   A hidden picker still holds its webview (about 150 MB), so it is destroyed after [`KEPT_HIDDEN_FOR`]
//!   unused: the tray-only app goes back to its small size, and the next opening is a first one again.
//! - **Keys typed before it is ready are kept** (on X11, by the shortcut's listener: `x11_hotkey`), handed to
//!   the page with its list ([`opened`]) and applied in order, so "sle" + Enter sets Sleeping however early it
//!   was typed, and never acts on a list that does not show the filter.
//!
//! Each opening is numbered; the page says when its list is ready ([`ready`]) and the time since the request
//! (the key press, the click) goes to the log, which `bench-picker` reads.

use std::time::{Duration, Instant};

use caret_app::action::{PickerChoices, PickerOpening, TypedKey};
use caret_app::{AppCore, WindowKind};
use parking_lot::{Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

/// How long a hidden picker keeps its webview before it is destroyed.
pub const KEPT_HIDDEN_FOR: Duration = Duration::from_secs(10 * 60);

/// How long the page waits at most for the shortcut's listener to hand over the keys typed so far.
const TYPED_KEYS_PATIENCE: Duration = Duration::from_millis(500);

/// Where the picker is in its life, managed once by the shell.
#[derive(Debug, Default)]
pub struct PickerState(Mutex<PickerLife>);

#[derive(Debug, Default)]
struct PickerLife {
    /// Counts the openings since the app started.
    opening: u32,
    /// When the current opening was asked for (the shortcut's key press, a click, a command).
    asked_at: Option<Instant>,
    /// A request noted off the main thread (the shortcut's listener), picked up by the opening it causes.
    pending_since: Option<Instant>,
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

/// The shortcut was pressed (on the listener's thread, before the opening itself runs on the main thread):
/// notes when, and says whether the keys typed next are for a picker that is not showing yet.
pub fn shortcut_pressed<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(state) = app.try_state::<PickerState>() else {
        return false;
    };
    let mut life = state.life();
    if life.shown {
        return false;
    }
    life.pending_since = Some(Instant::now());
    true
}

/// Shows the picker: the kept window again, or a new one. A picker already showing is brought to the front.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = app.state::<PickerState>();
    let existing = app.get_webview_window(WindowKind::Picker.label());
    let opening = {
        let mut life = state.life();
        if life.shown
            && let Some(window) = &existing
        {
            window.show()?;
            window.set_focus()?;
            return Ok(());
        }
        life.opening = life.opening.wrapping_add(1);
        life.asked_at = Some(life.pending_since.take().unwrap_or_else(Instant::now));
        life.made_for_it = existing.is_none();
        life.shown = true;
        life.hidden += 1;
        life.opening
    };
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

/// Hides the picker (its close button, Escape, a status set, the focus gone) and destroys it once it has stayed
/// hidden for [`KEPT_HIDDEN_FOR`].
fn hide<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window(WindowKind::Picker.label()) else {
        return;
    };
    if let Err(error) = window.hide() {
        tracing::warn!("cannot hide the picker, closing it: {error}");
        let _ = window.destroy();
    }
    let state = app.state::<PickerState>();
    let hidden = {
        let mut life = state.life();
        life.shown = false;
        life.hidden += 1;
        life.hidden
    };
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

/// The states and durations, each state with the texts the connected workspaces show for it.
pub fn choices(core: &AppCore) -> PickerChoices {
    let settings: Vec<caret_core::WorkspaceSettings> = core
        .services()
        .ok()
        .and_then(|services| services.store.workspaces().ok())
        .map(|workspaces| {
            workspaces
                .into_iter()
                .map(|workspace| workspace.settings)
                .collect()
        })
        .unwrap_or_default();
    PickerChoices::with_texts_of(&settings)
}

/// What the page needs to show this opening, with the keys typed for it so far (the keyboard is theirs again
/// from here).
pub fn opened<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> PickerOpening {
    let opening = app
        .try_state::<PickerState>()
        .map_or(0, |state| state.life().opening);
    let typed = typed_keys(app);
    tracing::debug!(opening, ?typed, "the picker takes the keys typed for it");
    PickerOpening {
        opening,
        choices: choices(core),
        snapshot: core.snapshot(),
        typed,
        clock: caret_app::preferences::load(&core.config().paths)
            .map(|preferences| preferences.clock)
            .unwrap_or_default(),
    }
}

#[cfg(target_os = "linux")]
fn typed_keys<R: Runtime>(app: &AppHandle<R>) -> Vec<TypedKey> {
    app.try_state::<crate::x11_hotkey::X11Hotkeys>()
        .map(|hotkeys| hotkeys.take_typed(TYPED_KEYS_PATIENCE))
        .unwrap_or_default()
}

#[cfg(not(target_os = "linux"))]
fn typed_keys<R: Runtime>(_app: &AppHandle<R>) -> Vec<TypedKey> {
    let _ = TYPED_KEYS_PATIENCE;
    Vec::new()
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
