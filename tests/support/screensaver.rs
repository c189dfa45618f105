//! A screen saver on the test session bus, written from the interface KDE Plasma (and Xfce, LXQt…) provide,
//! `org.freedesktop.ScreenSaver` at `/org/freedesktop/ScreenSaver` (and GNOME as `org.gnome.ScreenSaver` at
//! `/org/gnome/ScreenSaver`, the same two members): `GetActive` answers whether the lock screen is up, and
//! `ActiveChanged(bool)` is emitted as it goes up and down. The test locks and unlocks it as a user would.
//!
//! Only one program can own the name at a time: the tests that start one run one at a time
//! (`.config/nextest.toml`, group `desktop`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zbus::{Connection, interface};

/// Which desktop's flavour of the interface to offer.
#[derive(Debug, Clone, Copy)]
pub enum Flavour {
    /// `org.freedesktop.ScreenSaver` (KDE Plasma, Xfce, LXQt).
    Freedesktop,
    /// `org.gnome.ScreenSaver` (GNOME Shell).
    Gnome,
}

impl Flavour {
    fn name_and_path(self) -> (&'static str, &'static str) {
        match self {
            Flavour::Freedesktop => ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver"),
            Flavour::Gnome => ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver"),
        }
    }
}

struct FreedesktopScreenSaver {
    active: Arc<AtomicBool>,
}

#[interface(name = "org.freedesktop.ScreenSaver")]
impl FreedesktopScreenSaver {
    fn get_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

struct GnomeScreenSaver {
    active: Arc<AtomicBool>,
}

#[interface(name = "org.gnome.ScreenSaver")]
impl GnomeScreenSaver {
    fn get_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

/// The screen saver, owning its name on the session bus while it lives.
pub struct FakeScreenSaver {
    connection: Connection,
    flavour: Flavour,
    active: Arc<AtomicBool>,
}

impl FakeScreenSaver {
    /// Starts it, locked or not.
    pub async fn start(flavour: Flavour, locked: bool) -> FakeScreenSaver {
        let active = Arc::new(AtomicBool::new(locked));
        let (name, path) = flavour.name_and_path();
        let connection = Connection::session().await.expect("session bus");
        let served = match flavour {
            Flavour::Freedesktop => {
                connection
                    .object_server()
                    .at(
                        path,
                        FreedesktopScreenSaver {
                            active: Arc::clone(&active),
                        },
                    )
                    .await
            }
            Flavour::Gnome => {
                connection
                    .object_server()
                    .at(
                        path,
                        GnomeScreenSaver {
                            active: Arc::clone(&active),
                        },
                    )
                    .await
            }
        };
        served.expect("the screen saver's object");
        crate::take_bus_name(&connection, name).await;
        FakeScreenSaver {
            connection,
            flavour,
            active,
        }
    }

    /// The lock screen goes up: `ActiveChanged(true)`.
    pub async fn lock(&self) {
        self.set(true).await;
    }

    /// The user unlocks: `ActiveChanged(false)`.
    pub async fn unlock(&self) {
        self.set(false).await;
    }

    async fn set(&self, active: bool) {
        self.active.store(active, Ordering::SeqCst);
        let (name, path) = self.flavour.name_and_path();
        self.connection
            .emit_signal(None::<&str>, path, name, "ActiveChanged", &active)
            .await
            .expect("ActiveChanged is sent");
    }

    /// A malformed signal (a string where a boolean belongs), as a buggy locker might send: to be ignored.
    pub async fn send_malformed(&self) {
        let (name, path) = self.flavour.name_and_path();
        self.connection
            .emit_signal(None::<&str>, path, name, "ActiveChanged", &"yes")
            .await
            .expect("the malformed signal is sent");
    }

    /// The screen saver quits (its name leaves the bus), as when the desktop's shell restarts.
    pub async fn quit(self) {
        let (name, _) = self.flavour.name_and_path();
        zbus::fdo::DBusProxy::new(&self.connection)
            .await
            .expect("the bus")
            .release_name(name.try_into().expect("name"))
            .await
            .expect("ReleaseName answers");
        drop(self.connection);
    }
}
