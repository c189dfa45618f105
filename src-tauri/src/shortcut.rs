//! The global shortcut that opens the quick status picker, and starting at login.
//!
//! Registering a global shortcut can fail for reasons outside the app: a Wayland desktop without the global
//! shortcuts portal, the user declining the portal's request, another app holding the combination, an X server
//! without the needed extension. None of those may take the app down: the outcome is kept as a
//! [`ShortcutStatus`] the Settings window shows, with the fallback where no portal offers global shortcuts
//! (`caret-desktop picker`, bound in the desktop's own keyboard settings).

use caret_app::autostart::LoginItem;
use caret_app::preferences::{self, PICKER_COMMAND, Preferences, PreferencesView, ShortcutStatus};
use caret_app::{Action, AppCore, WindowKind};
use parking_lot::Mutex;
use tauri::{AppHandle, Manager, Runtime};

use crate::error::Result;

/// What became of the shortcut; a parking_lot `Mutex`: held for a copy, never across an `.await`.
#[derive(Default)]
pub struct ShortcutRegistry {
    status: Mutex<Option<ShortcutStatus>>,
    /// Why the global shortcut plugin itself could not start, if it could not.
    unavailable: Mutex<Option<String>>,
}

impl ShortcutRegistry {
    fn set(&self, status: ShortcutStatus) {
        *self.status.lock() = Some(status);
    }

    pub fn status(&self) -> ShortcutStatus {
        self.status.lock().clone().unwrap_or(ShortcutStatus::Off)
    }

    fn unavailable(&self) -> Option<String> {
        self.unavailable.lock().clone()
    }
}

/// Opens the picker: what the shortcut does, on the main thread whichever thread noticed the press.
fn open_picker<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    let opened = app.run_on_main_thread(move || {
        crate::actions::handle(
            &handle,
            Action::OpenWindow {
                window: WindowKind::Picker,
            },
            caret_app::runtime::apply::Source::Shortcut,
        );
    });
    if let Err(error) = opened {
        tracing::warn!("the shortcut could not open the picker: {error}");
    }
}

/// Starts the global shortcut's backend and registers the saved shortcut. Never fails: a refusal is recorded.
/// On Linux it is the desktop's GlobalShortcuts portal on Wayland (src/portal_shortcut.rs) and our own X11
/// listener elsewhere (src/x11_hotkey/: the plugin's X11 backend polls every 50 ms); on other systems the
/// global-shortcut plugin.
pub fn install<R: Runtime>(app: &AppHandle<R>, preferences: &Preferences) {
    app.manage(ShortcutRegistry::default());
    let backend: std::result::Result<(), String> = start_backend(app);
    if let Err(error) = backend {
        tracing::warn!("global shortcuts are unavailable here: {error}");
        let registry = app.state::<ShortcutRegistry>();
        *registry.unavailable.lock() = Some(error);
    }
    register(app, &preferences.shortcut);
}

#[cfg(target_os = "linux")]
fn start_backend<R: Runtime>(app: &AppHandle<R>) -> std::result::Result<(), String> {
    if is_wayland_session() {
        // Apps cannot grab keys on Wayland: the desktop's portal binds them for us, after asking the user.
        let pressed = app.clone();
        let told = app.clone();
        let portal = crate::portal_shortcut::PortalShortcuts::start(
            move || {
                crate::picker::shortcut_pressed(&pressed);
                open_picker(&pressed);
            },
            move |status| record(&told, status),
        );
        app.manage(portal);
        return Ok(());
    }
    if std::env::var_os("DISPLAY").is_none_or(|display| display.is_empty()) {
        return Err("there is no X display to grab keys on".to_owned());
    }
    let handle = app.clone();
    let noting = app.clone();
    let hotkeys = crate::x11_hotkey::X11Hotkeys::start(
        // Noted before the opening, so that the keys typed from now on are kept for the picker.
        move || crate::picker::shortcut_pressed(&noting),
        move || {
            tracing::info!("global shortcut pressed");
            open_picker(&handle);
        },
    )?;
    app.manage(hotkeys);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn start_backend<R: Runtime>(app: &AppHandle<R>) -> std::result::Result<(), String> {
    use tauri_plugin_global_shortcut::ShortcutState;
    let plugin = tauri_plugin_global_shortcut::Builder::new()
        .with_handler(|app, shortcut, event| {
            // Both the press and the release arrive; the picker opens once, on the press.
            if event.state() == ShortcutState::Pressed {
                tracing::info!(%shortcut, "global shortcut pressed");
                open_picker(app);
            }
        })
        .build();
    app.plugin(plugin).map_err(|error| error.to_string())
}

/// Grabs `shortcut` in place of the one grabbed before.
#[cfg(target_os = "linux")]
fn grab<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> std::result::Result<(), String> {
    let hotkeys = app
        .try_state::<crate::x11_hotkey::X11Hotkeys>()
        .ok_or("the shortcut listener is not running")?;
    hotkeys.register(shortcut)
}

#[cfg(not(target_os = "linux"))]
fn grab<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> std::result::Result<(), String> {
    use tauri_plugin_global_shortcut::GlobalShortcutExt;
    let shortcuts = app.global_shortcut();
    if let Err(error) = shortcuts.unregister_all() {
        tracing::warn!("cannot release the previous shortcut: {error}");
    }
    shortcuts.register(shortcut).map_err(|error| error.to_string())
}

/// Releases the grabbed shortcut, if any.
#[cfg(target_os = "linux")]
fn release<R: Runtime>(app: &AppHandle<R>) {
    if let Some(hotkeys) = app.try_state::<crate::x11_hotkey::X11Hotkeys>() {
        hotkeys.unregister();
    }
}

#[cfg(not(target_os = "linux"))]
fn release<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_global_shortcut::GlobalShortcutExt;
    if let Err(error) = app.global_shortcut().unregister_all() {
        tracing::warn!("cannot release the previous shortcut: {error}");
    }
}

/// Whether this is a Wayland session, where an X11 key grab is accepted without complaint but only fires while
/// an X11 window has focus: the shortcut goes through the desktop's portal instead.
#[cfg(target_os = "linux")]
fn is_wayland_session() -> bool {
    std::env::var("XDG_SESSION_TYPE").is_ok_and(|kind| kind.eq_ignore_ascii_case("wayland"))
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|display| !display.is_empty())
}

/// Keeps what became of the shortcut, logs it and tells the windows (Settings redraws when the desktop's
/// portal answers, which can be long after the request). Every outcome, from either backend, comes here.
fn record<R: Runtime>(app: &AppHandle<R>, status: ShortcutStatus) {
    log(&status);
    crate::windows::tell(app, crate::ipc::SHORTCUT_EVENT, &status);
    app.state::<ShortcutRegistry>().set(status);
}

/// Replaces the registered shortcut with `shortcut` ("" turns it off) and records the outcome.
fn register<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> ShortcutStatus {
    let shortcut = shortcut.trim();
    #[cfg(target_os = "linux")]
    if let Some(portal) = app.try_state::<crate::portal_shortcut::PortalShortcuts>() {
        // The desktop answers later; "asked" is recorded before the request leaves, so that its answer, which
        // comes through `record` too, is never overwritten by it.
        let status = portal.status_for(shortcut);
        record(app, status.clone());
        portal.send(shortcut);
        return status;
    }
    let registry = app.state::<ShortcutRegistry>();
    let status = if shortcut.is_empty() {
        if registry.unavailable().is_none() {
            release(app);
        }
        ShortcutStatus::Off
    } else if let Some(reason) = registry.unavailable() {
        ShortcutStatus::Failed {
            shortcut: shortcut.to_owned(),
            reason,
        }
    } else {
        match grab(app, shortcut) {
            Ok(()) => ShortcutStatus::Registered {
                shortcut: shortcut.to_owned(),
            },
            Err(reason) => ShortcutStatus::Failed {
                shortcut: shortcut.to_owned(),
                reason,
            },
        }
    };
    record(app, status.clone());
    status
}

fn log(status: &ShortcutStatus) {
    match status {
        ShortcutStatus::Off => tracing::info!("no global shortcut"),
        ShortcutStatus::Registered { shortcut } => tracing::info!(shortcut, "global shortcut registered"),
        ShortcutStatus::Asked { shortcut } => {
            tracing::info!(shortcut, "asking the desktop to bind the global shortcut");
        }
        ShortcutStatus::Granted { shortcut, trigger } => tracing::info!(
            shortcut,
            trigger,
            "global shortcut registered through the desktop's portal"
        ),
        ShortcutStatus::Declined { shortcut } => {
            tracing::warn!(
                shortcut,
                "the global shortcut is not registered: the user declined it"
            );
        }
        ShortcutStatus::Failed { shortcut, reason } => {
            tracing::warn!(shortcut, "the global shortcut is not registered: {reason}");
        }
    }
}

/// The preferences and what became of them, for the Settings window.
pub fn view<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> Result<PreferencesView> {
    let preferences = preferences::load(&core.config().paths)?;
    let autostart_enabled = LoginItem::for_this_user().is_ok_and(|item| item.is_enabled());
    Ok(PreferencesView {
        preferences,
        shortcut: app.state::<ShortcutRegistry>().status(),
        picker_command: PICKER_COMMAND.to_owned(),
        autostart_enabled,
    })
}

/// Saves the user's shortcut (even one the system refuses now: it may work in another session) and
/// registers it.
pub fn change<R: Runtime>(app: &AppHandle<R>, core: &AppCore, shortcut: &str) -> Result<PreferencesView> {
    let mut saved = preferences::load_or_reset(&core.config().paths)?;
    saved.shortcut = shortcut.trim().to_owned();
    preferences::save(&core.config().paths, &saved)?;
    register(app, &saved.shortcut);
    view(app, core)
}

/// Turns starting at login on or off (a desktop entry in `~/.config/autostart` on Linux).
pub fn set_autostart<R: Runtime>(
    app: &AppHandle<R>,
    core: &AppCore,
    enabled: bool,
) -> Result<PreferencesView> {
    // The preferences first: a file we cannot read must not leave the login item changed behind an error.
    let mut saved = preferences::load_or_reset(&core.config().paths)?;
    let item = LoginItem::for_this_user()?;
    if enabled {
        item.enable()?;
    } else {
        item.disable()?;
    }
    saved.autostart = enabled;
    preferences::save(&core.config().paths, &saved)?;
    view(app, core)
}
