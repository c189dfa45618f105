//! Screen locked → away. [`ScreenLockWatcher`] follows the session's lock through every interface this
//! desktop offers, on the D-Bus buses the session already has:
//!
//! - `org.freedesktop.ScreenSaver` (KDE Plasma, Xfce, LXQt and others) and `org.gnome.ScreenSaver` (GNOME) on
//!   the session bus: `GetActive` for the state at start, the `ActiveChanged` signal for each change. Their
//!   "active" is the lock screen (or the blanking that comes with the session going idle), which is what the
//!   desk being left looks like from here.
//! - logind's `LockedHint` on the user's session (`/org/freedesktop/login1/session/auto`), on the system bus,
//!   which lockers that talk to logind set (swaylock, GNOME, KDE).
//!
//! The screen counts as locked while any of them says so. Only the names already running are watched: a
//! call never starts (D-Bus activates) a screen saver that is not there.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zbus::Connection;

use crate::error::{Result, SourceError};

/// One way the desktop tells whether the session is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockInterface {
    FreedesktopScreenSaver,
    GnomeScreenSaver,
    Logind,
}

impl LockInterface {
    pub const ALL: [LockInterface; 3] = [
        LockInterface::FreedesktopScreenSaver,
        LockInterface::GnomeScreenSaver,
        LockInterface::Logind,
    ];

    /// How Settings and the command line name it.
    pub fn name(self) -> &'static str {
        match self {
            LockInterface::FreedesktopScreenSaver => "org.freedesktop.ScreenSaver",
            LockInterface::GnomeScreenSaver => "org.gnome.ScreenSaver",
            LockInterface::Logind => "logind",
        }
    }

    /// The bus name, object and interface to ask.
    fn address(self) -> (&'static str, &'static str, &'static str) {
        match self {
            LockInterface::FreedesktopScreenSaver => (
                "org.freedesktop.ScreenSaver",
                "/org/freedesktop/ScreenSaver",
                "org.freedesktop.ScreenSaver",
            ),
            LockInterface::GnomeScreenSaver => (
                "org.gnome.ScreenSaver",
                "/org/gnome/ScreenSaver",
                "org.gnome.ScreenSaver",
            ),
            LockInterface::Logind => (
                "org.freedesktop.login1",
                "/org/freedesktop/login1/session/auto",
                "org.freedesktop.login1.Session",
            ),
        }
    }
}

/// What the watcher sees: whether the session is locked, and through which interfaces it looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockReading {
    pub locked: bool,
    pub through: Vec<LockInterface>,
}

/// Each interface's own answer; the session is locked when any says so.
#[derive(Debug, Clone, Default)]
struct Answers(Vec<(LockInterface, bool)>);

impl Answers {
    fn reading(&self) -> LockReading {
        LockReading {
            locked: self.0.iter().any(|(_, locked)| *locked),
            through: self.0.iter().map(|(interface, _)| *interface).collect(),
        }
    }

    fn set(&mut self, interface: LockInterface, locked: bool) {
        if let Some(answer) = self.0.iter_mut().find(|(seen, _)| *seen == interface) {
            answer.1 = locked;
        }
    }
}

/// How long a bus gets to answer the first question; a bus that does not answer is not watched.
const FIRST_ANSWER: Duration = Duration::from_secs(5);

/// Follows the session's lock while it lives. Its readings end (the receiver sees the sender gone) when every
/// interface it watched went away: the owner restarts it.
#[derive(Debug)]
pub struct ScreenLockWatcher {
    readings: watch::Receiver<LockReading>,
    followers: Vec<JoinHandle<()>>,
}

impl Drop for ScreenLockWatcher {
    fn drop(&mut self) {
        for follower in &self.followers {
            follower.abort();
        }
    }
}

impl ScreenLockWatcher {
    /// Connects to the session bus (and the system bus for logind, when there is one) and watches every lock
    /// interface that answers. An error when none does.
    pub async fn start() -> Result<ScreenLockWatcher> {
        let session = Connection::session()
            .await
            .map_err(|error| SourceError::ScreenLock {
                reason: format!("no session bus: {error}"),
            })?;
        // Many test sessions and containers have no system bus: logind is then simply not watched.
        let system = Connection::system().await.ok();
        let mut found = Vec::new();
        for interface in LockInterface::ALL {
            let bus = match interface {
                LockInterface::Logind => system.as_ref(),
                _ => Some(&session),
            };
            let Some(bus) = bus else { continue };
            match tokio::time::timeout(FIRST_ANSWER, Follower::connect(bus, interface)).await {
                Ok(Ok(follower)) => found.push(follower),
                Ok(Err(error)) => tracing::debug!("{}: not watched ({error})", interface.name()),
                Err(_) => tracing::debug!("{}: not watched (no answer)", interface.name()),
            }
        }
        if found.is_empty() {
            return Err(SourceError::ScreenLock {
                reason: "this session offers no screen-lock interface (org.freedesktop.ScreenSaver, \
                         org.gnome.ScreenSaver, logind)"
                    .to_owned(),
            });
        }
        let answers = Answers(found.iter().map(|f| (f.interface, f.locked)).collect());
        let (readings_tx, readings) = watch::channel(answers.reading());
        let (answers_tx, _) = watch::channel(answers);
        let followers = found
            .into_iter()
            .map(|follower| tokio::spawn(follower.follow(answers_tx.clone(), readings_tx.clone())))
            .collect();
        Ok(ScreenLockWatcher { readings, followers })
    }

    /// The readings, the first one at once; ends when every interface went away.
    pub fn readings(&self) -> watch::Receiver<LockReading> {
        self.readings.clone()
    }
}

/// One interface being watched: subscribed to its changes before it was first asked, so that none is missed.
struct Follower {
    interface: LockInterface,
    proxy: zbus::Proxy<'static>,
    locked: bool,
    changes: BoxStream<'static, Option<bool>>,
    owners: zbus::proxy::OwnerChangedStream<'static>,
}

impl Follower {
    /// Asks the interface once, only if its name is already on the bus.
    async fn connect(bus: &Connection, interface: LockInterface) -> zbus::Result<Follower> {
        let (service, path, name) = interface.address();
        let dbus = zbus::fdo::DBusProxy::new(bus).await?;
        if !dbus.name_has_owner(service.try_into()?).await? {
            return Err(zbus::Error::Failure(format!("{service} is not running")));
        }
        let proxy: zbus::Proxy<'static> = zbus::proxy::Builder::new(bus)
            .destination(service)?
            .path(path)?
            .interface(name)?
            // logind's LockedHint comes as PropertiesChanged, which zbus follows only on a proxy that
            // caches properties; the screen savers have a method and a signal, nothing to cache.
            .cache_properties(match interface {
                LockInterface::Logind => zbus::proxy::CacheProperties::Yes,
                _ => zbus::proxy::CacheProperties::No,
            })
            .build()
            .await?;
        let owners = proxy.receive_owner_changed().await?;
        let changes = match interface {
            LockInterface::Logind => proxy
                .receive_property_changed::<bool>("LockedHint")
                .await
                .then(|change| async move { change.get().await.ok() })
                .boxed(),
            _ => proxy
                .receive_signal("ActiveChanged")
                .await?
                .map(|message| message.body().deserialize::<bool>().ok())
                .boxed(),
        };
        let locked = ask(&proxy, interface).await?;
        Ok(Follower {
            interface,
            proxy,
            locked,
            changes,
            owners,
        })
    }

    /// Follows the interface's changes until its bus goes away.
    async fn follow(mut self, answers: watch::Sender<Answers>, readings: watch::Sender<LockReading>) {
        let interface = self.interface;
        let publish = |locked: bool| {
            answers.send_modify(|answers| answers.set(interface, locked));
            let reading = answers.borrow().reading();
            readings.send_if_modified(|current| {
                let changed = *current != reading;
                *current = reading;
                changed
            });
        };
        loop {
            tokio::select! {
                change = self.changes.next() => match change {
                    Some(Some(locked)) => publish(locked),
                    Some(None) => {} // a malformed signal: the next one says the truth
                    None => break,   // the bus went away
                },
                owner = self.owners.next() => match owner {
                    // The locker restarted: ask it again; gone, it can no longer say locked.
                    Some(Some(_)) => publish(ask(&self.proxy, interface).await.unwrap_or(false)),
                    Some(None) => publish(false),
                    None => break,
                },
            }
        }
        publish(false);
    }
}

async fn ask(proxy: &zbus::Proxy<'static>, interface: LockInterface) -> zbus::Result<bool> {
    match interface {
        LockInterface::Logind => proxy.get_property::<bool>("LockedHint").await,
        _ => proxy.call("GetActive", &()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_locked_while_any_interface_says_so() {
        let mut answers = Answers(vec![
            (LockInterface::FreedesktopScreenSaver, false),
            (LockInterface::Logind, false),
        ]);
        assert!(!answers.reading().locked);
        answers.set(LockInterface::Logind, true);
        assert!(answers.reading().locked);
        answers.set(LockInterface::FreedesktopScreenSaver, true);
        answers.set(LockInterface::Logind, false);
        assert!(answers.reading().locked, "one still says locked");
        answers.set(LockInterface::FreedesktopScreenSaver, false);
        assert_eq!(
            answers.reading(),
            LockReading {
                locked: false,
                through: vec![LockInterface::FreedesktopScreenSaver, LockInterface::Logind],
            }
        );
    }

    #[test]
    fn an_interface_not_watched_cannot_lock() {
        let mut answers = Answers(vec![(LockInterface::GnomeScreenSaver, false)]);
        answers.set(LockInterface::Logind, true);
        assert!(!answers.reading().locked);
    }
}
