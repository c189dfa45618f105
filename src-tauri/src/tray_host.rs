//! Putting the tray icon in place even when no panel can show it yet.
//!
//! On Linux the icon is a StatusNotifierItem exported over D-Bus (ksni, through tray-icon). Such an item can
//! only be created while some panel owns `org.kde.StatusNotifierWatcher`; without one the tray library refuses
//! (and it offers no way to start anyway). That happens for real: a session whose autostarted apps start before
//! the panel, a panel being restarted, a bare X session. The app then runs without its icon (the shortcut, the
//! CLI and the windows all work) and creates the icon as soon as a watcher appears. Once created, the item
//! registers again by itself whenever the watcher goes away and comes back.

use caret_app::AppCore;
use tauri::{AppHandle, Runtime};

/// Creates the tray icon now, or, on Linux when no StatusNotifierWatcher is there, once one appears.
pub fn install<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> tauri::Result<()> {
    match crate::tray::create(app, core) {
        Ok(()) => Ok(()),
        #[cfg(target_os = "linux")]
        Err(error) => {
            tracing::warn!(
                "no tray icon yet ({error}); it appears as soon as a panel that shows StatusNotifier items starts"
            );
            linux::create_when_a_watcher_appears(app.clone(), core.clone());
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        Err(error) => Err(error),
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::mpsc;

    use caret_app::AppCore;
    use tauri::{AppHandle, Runtime};
    use zbus::blocking::Connection;
    use zbus::blocking::fdo::DBusProxy;
    use zbus::names::BusName;

    const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";

    /// Waits on its own thread (blocking D-Bus, no timer) for the watcher's name to get an owner, then creates
    /// the icon on the main thread. A creation that fails again waits for the next owner.
    pub fn create_when_a_watcher_appears<R: Runtime>(app: AppHandle<R>, core: AppCore) {
        let spawned = std::thread::Builder::new()
            .name("tray-waits-for-a-panel".into())
            .spawn(move || {
                if let Err(error) = wait_then_create(&app, &core) {
                    tracing::warn!(
                        "cannot wait for a panel to show the tray icon: {error}; the app runs without it"
                    );
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot wait for a panel to show the tray icon: {error}; the app runs without it");
        }
    }

    fn wait_then_create<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> zbus::Result<()> {
        let connection = Connection::session()?;
        let bus = DBusProxy::new(&connection)?;
        let owner_changes = bus.receive_name_owner_changed_with_args(&[(0, WATCHER_NAME)])?;
        // Asked after subscribing, so a watcher that arrives in between is seen one way or the other.
        let watcher = BusName::try_from(WATCHER_NAME)?;
        if bus.name_has_owner(watcher)? && create_on_main_thread(app, core) {
            return Ok(());
        }
        for change in owner_changes {
            let args = change.args()?;
            if args.new_owner().is_some() && create_on_main_thread(app, core) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether the icon now exists.
    fn create_on_main_thread<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> bool {
        let (sender, created) = mpsc::channel();
        let (handle, core) = (app.clone(), core.clone());
        let dispatched = app.run_on_main_thread(move || {
            let _ = sender.send(crate::tray::create(&handle, &core));
        });
        let outcome = match dispatched {
            Ok(()) => created
                .recv()
                .unwrap_or_else(|_| Err(tauri::Error::FailedToReceiveMessage)),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => {
                tracing::info!("a panel that shows StatusNotifier items appeared: the tray icon is in place");
                true
            }
            Err(error) => {
                tracing::warn!(
                    "a panel appeared but the tray icon could not be created ({error}); waiting for the next"
                );
                false
            }
        }
    }
}
