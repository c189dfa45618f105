//! logind on a bus of the test's own, standing in for the system bus: a `dbus-daemon` of its own (the app
//! is pointed at it with `DBUS_SYSTEM_BUS_ADDRESS`), owning `org.freedesktop.login1`, written from logind's
//! documented interfaces: the manager at `/org/freedesktop/login1` answers `GetSession("auto")` with the
//! session's own path, and the session there (`org.freedesktop.login1.Session`) has the one property the app
//! reads, `LockedHint` (read-only, announced with `PropertiesChanged` from that path as it changes). Nothing
//! is served at the `auto` alias, as in logind, which resolves it only for method calls. The test locks and
//! unlocks it as GNOME or KDE do.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zbus::object_server::InterfaceRef;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, interface};

const MANAGER_PATH: &str = "/org/freedesktop/login1";
const SESSION_PATH: &str = "/org/freedesktop/login1/session/_32";

struct Manager;

#[interface(name = "org.freedesktop.login1.Manager")]
impl Manager {
    fn get_session(&self, session_id: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        if session_id == "auto" || session_id == "32" {
            OwnedObjectPath::try_from(SESSION_PATH)
                .map_err(|error| zbus::fdo::Error::Failed(error.to_string()))
        } else {
            Err(zbus::fdo::Error::Failed(format!(
                "No session '{session_id}' known"
            )))
        }
    }
}

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
            .serve_at(MANAGER_PATH, Manager)
            .expect("the manager object")
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
