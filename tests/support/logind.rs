//! logind on a bus of the test's own, standing in for the system bus: a `dbus-daemon` of its own (the app
//! is pointed at it with `DBUS_SYSTEM_BUS_ADDRESS`), owning `org.freedesktop.login1` and serving the caller's
//! session at `/org/freedesktop/login1/session/auto` with the one property the app reads, written from
//! logind's documented interface `org.freedesktop.login1.Session`: `LockedHint` (read-only, announced with
//! `PropertiesChanged` as it changes). The test locks and unlocks it as a screen locker that talks to logind
//! (swaylock, GNOME, KDE) would.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zbus::object_server::InterfaceRef;
use zbus::{Connection, interface};

const SESSION_PATH: &str = "/org/freedesktop/login1/session/auto";

struct Session {
    locked_hint: bool,
}

#[interface(name = "org.freedesktop.login1.Session")]
impl Session {
    #[zbus(property)]
    fn locked_hint(&self) -> bool {
        self.locked_hint
    }
}

/// The bus and logind on it, until dropped.
pub struct FakeLogind {
    bus: Child,
    address: String,
    session: InterfaceRef<Session>,
    _connection: Connection,
}

impl FakeLogind {
    /// Starts a bus and logind on it, the session locked or not.
    pub async fn start(locked: bool) -> FakeLogind {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start dbus-daemon (the dbus package)");
        let stdout = bus.stdout.take().expect("dbus-daemon's output");
        let mut address = String::new();
        BufReader::new(stdout)
            .read_line(&mut address)
            .await
            .expect("dbus-daemon prints its address");
        let address = address.trim().to_owned();
        let connection = zbus::connection::Builder::address(address.as_str())
            .expect("the bus's address")
            .serve_at(SESSION_PATH, Session { locked_hint: locked })
            .expect("the session object")
            .name("org.freedesktop.login1")
            .expect("logind's name")
            .build()
            .await
            .expect("logind on its bus");
        let session = connection
            .object_server()
            .interface::<_, Session>(SESSION_PATH)
            .await
            .expect("the session interface");
        FakeLogind {
            bus,
            address,
            session,
            _connection: connection,
        }
    }

    /// What to set `DBUS_SYSTEM_BUS_ADDRESS` to.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub async fn lock(&self) {
        self.set(true).await;
    }

    pub async fn unlock(&self) {
        self.set(false).await;
    }

    async fn set(&self, locked: bool) {
        self.session.get_mut().await.locked_hint = locked;
        self.session
            .get()
            .await
            .locked_hint_changed(self.session.signal_emitter())
            .await
            .expect("PropertiesChanged is sent");
    }
}

impl Drop for FakeLogind {
    fn drop(&mut self) {
        let _ = self.bus.start_kill();
    }
}
