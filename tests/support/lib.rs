//! Helpers for whole-flow tests of the real `caret-desktop` binary.
//!
//! # Layout
//! - [`app`]: launching the binary with its own config, data and home directories, and reading its log.
//! - [`audio`]: a PipeWire server of the test's own with a virtual microphone, and real recording clients.
//! - [`browser`]: following a sign-in through Slack's authorize page to the app's callback.
//! - [`fake_slack`]: a local Slack Web API server that behaves as documented, with injectable faults.
//! - [`sni`]: a StatusNotifierWatcher the test owns, so the app's tray registers with the test, and a
//!   dbusmenu client that lists the tray menu and clicks its items like a panel would.
//! - [`webdriver`]: a WebDriver client (over tauri-driver) that drives the app's real windows.
//! - [`x11`]: finding the app's windows and closing one the way a window manager does.
//!
//! Tests that need a display run under `tests/harness/desktop-session.sh` (the test command does that);
//! [`require_desktop_session`] fails them with a clear message otherwise.

pub mod app;
pub mod audio;
pub mod bench;
pub mod browser;
pub mod calendar_server;
pub mod fake_slack;
pub mod faketime;
pub mod logind;
pub mod notifications;
pub mod phone;
pub mod portal;
pub mod portal_settings;
pub mod screensaver;
pub mod sni;
pub mod webdriver;
pub mod x11;

/// Exclusive use of the desktop session. Tray tests own the session bus's StatusNotifierWatcher name and the
/// app's single-instance name, so two at once would steal each other's tray; the lock is a file lock, so it
/// holds across test processes (nextest) as well as threads (cargo test).
pub async fn exclusive_desktop() -> std::fs::File {
    require_desktop_session();
    let dir = std::env::var_os("CARET_HARNESS_DIR").map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("desktop.lock"))
        .expect("desktop lock file");
    tokio::task::spawn_blocking(move || {
        file.lock().expect("lock the desktop");
        file
    })
    .await
    .expect("lock task")
}

/// Polls `condition` every 100 ms until it holds, or panics with `what` (and the last value seen) after
/// `timeout`. For observing another process, which offers no event to wait on.
pub async fn eventually<T: std::fmt::Debug>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> T,
    condition: impl Fn(&T) -> bool,
) -> T {
    eventually_async(what, timeout, || std::future::ready(probe()), condition).await
}

/// [`eventually`], with `context` (an app's log, say) read and printed when it fails: for a flow whose failure
/// only the app's own account can explain.
pub async fn eventually_or_tell<T: std::fmt::Debug>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> T,
    condition: impl Fn(&T) -> bool,
    context: impl FnOnce() -> String,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let value = probe();
        if condition(&value) {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "{what}: not within {timeout:?}; last seen {value:?}\n{}",
                context()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// [`eventually`] for a probe that must wait on something (a D-Bus call, a file).
pub async fn eventually_async<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> F,
    condition: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let value = probe().await;
        if condition(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}; last seen {value:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Fails the test unless it runs inside the harness's desktop session.
pub fn require_desktop_session() {
    let inside = std::env::var_os("CARET_HARNESS").is_some()
        && std::env::var_os("DISPLAY").is_some()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    assert!(
        inside,
        "this test drives the real desktop app: run it inside tests/harness/desktop-session.sh \
         (bash scripts/test.sh does), e.g. tests/harness/desktop-session.sh cargo nextest run -p caret-e2e"
    );
}

/// Takes `name` on the bus for a fake service of the tests (a portal, a screen saver), failing the test if
/// another program holds it: two fakes of the same service must never run at once.
pub(crate) async fn take_bus_name(connection: &zbus::Connection, name: &str) {
    let reply = zbus::fdo::DBusProxy::new(connection)
        .await
        .expect("the bus")
        .request_name(
            name.try_into().expect("a bus name"),
            zbus::fdo::RequestNameFlags::DoNotQueue.into(),
        )
        .await
        .expect("RequestName answers");
    assert_eq!(
        reply,
        zbus::fdo::RequestNameReply::PrimaryOwner,
        "the fake service cannot take {name}: another program holds it"
    );
}
