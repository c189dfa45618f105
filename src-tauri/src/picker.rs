//! The quick picker, from the tray app's side: asking the window host to show it, and what the page needs
//! when it shows. The window itself lives in the host ([`crate::host::picker`]).
//!
//! A person presses the shortcut and types at once, so the picker must show its list and take keys in a blink
//! (issue 15: under 150 ms warm, 400 ms for the first opening, release build; measured by `bench-picker`).
//! Keys typed before it is ready are kept (on X11, by the shortcut's listener: `x11_hotkey`), handed to the
//! page with its list ([`opened`]) and applied in order, so "sle" + Enter sets Sleeping however early it was
//! typed, and never acts on a list that does not show the filter.
//!
//! Each opening is numbered here; the host says when the picker hid, so that the next press of the shortcut
//! keeps the keys typed after it for the new opening.

use std::time::{Duration, Instant};

use caret_app::action::{PickerChoices, PickerOpening, TypedKey};
use caret_app::control::host::ToHost;
use caret_app::{AppCore, WindowKind};
use parking_lot::Mutex;
use tauri::{AppHandle, Manager, Runtime};

/// How long the page waits at most for the shortcut's listener to hand over the keys typed so far.
const TYPED_KEYS_PATIENCE: Duration = Duration::from_millis(500);

/// The picker's openings, managed once by the tray app.
#[derive(Debug, Default)]
pub struct PickerRequests(Mutex<Requests>);

#[derive(Debug, Default)]
struct Requests {
    /// Counts the openings since the app started.
    opening: u32,
    /// A request noted off the main thread (the shortcut's listener), picked up by the opening it causes.
    pending_since: Option<Instant>,
}

fn picker_shown(core: &AppCore) -> bool {
    core.window_host().is_ok_and(|link| link.picker_shown())
}

/// The shortcut was pressed (on the listener's thread, before the opening itself runs): notes when, and says
/// whether the keys typed next are for a picker that is not showing yet.
pub fn shortcut_pressed<R: Runtime>(app: &AppHandle<R>) -> bool {
    let (Some(requests), Some(core)) = (app.try_state::<PickerRequests>(), app.try_state::<AppCore>()) else {
        return false;
    };
    if picker_shown(&core) {
        return false;
    }
    requests.0.lock().pending_since = Some(Instant::now());
    true
}

/// Asks the window host to show the picker: a new opening unless it shows already (then it comes to the
/// front).
pub fn open<R: Runtime>(app: &AppHandle<R>) -> crate::Result<()> {
    let (Some(requests), Some(core)) = (app.try_state::<PickerRequests>(), app.try_state::<AppCore>()) else {
        return Err(crate::ShellError::NotSetUp);
    };
    let link = core.window_host()?;
    let (opening, asked_at) = {
        let mut requests = requests.0.lock();
        let asked_at = requests.pending_since.take().unwrap_or_else(Instant::now);
        if !link.picker_shown() {
            requests.opening = requests.opening.wrapping_add(1);
        }
        (requests.opening, asked_at)
    };
    link.send(ToHost::Open {
        window: WindowKind::Picker,
        waited_ms: asked_at.elapsed().as_secs_f64() * 1000.0,
        opening,
    });
    Ok(())
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
        .try_state::<PickerRequests>()
        .map_or(0, |requests| requests.0.lock().opening);
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
