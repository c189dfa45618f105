//! Screen locked → away. [`ScreenLockWatcher`] follows the session's lock through every interface this
//! desktop offers, on the D-Bus buses the session already has:
//!
//! - `org.freedesktop.ScreenSaver` (KDE Plasma, Xfce, LXQt and others) and `org.gnome.ScreenSaver` (GNOME) on
//!   the session bus: `GetActive` for the state at start, the `ActiveChanged` signal for each change. Their
//!   "active" is the lock screen (or the blanking that comes with the session going idle), which is what the
//!   desk being left looks like from here.
//! - logind's `LockedHint` on the user's session, on the system bus, which GNOME and KDE set as they lock
//!   (swaylock does not talk to logind). The session is found with `Manager.GetSession("auto")`; its
//!   changes come as `PropertiesChanged` from its own path, never from the `auto` alias.
//!
//! The screen counts as locked while any of them says so. A name not on the bus at start is waited for
//! (`NameOwnerChanged`), never started: a call would make D-Bus activate a screen saver that is not there.

use std::time::Duration;

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::BoxStream;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use zbus::Connection;
use zbus::zvariant::OwnedObjectPath;

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
            // The path is the session's own, asked of the manager (see `Follower::connect`).
            LockInterface::Logind => (
                "org.freedesktop.login1",
                "/org/freedesktop/login1",
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
        let mut through: Vec<LockInterface> = self.0.iter().map(|(interface, _)| *interface).collect();
        through.sort_by_key(|interface| LockInterface::ALL.iter().position(|known| known == interface));
        LockReading {
            locked: self.0.iter().any(|(_, locked)| *locked),
            through,
        }
    }

    /// Records an interface's answer, adding the interface if it was not watched yet.
    fn set(&mut self, interface: LockInterface, locked: bool) {
        match self.0.iter_mut().find(|(seen, _)| *seen == interface) {
            Some(answer) => answer.1 = locked,
            None => self.0.push((interface, locked)),
        }
    }
}

/// The answers and the readings made of them, changed together under one lock: two interfaces changing at
/// once (the screen saver and logind, on GNOME and KDE) can never publish a reading older than the answers.
#[derive(Clone)]
struct Publisher {
    answers: Arc<Mutex<Answers>>,
    readings: watch::Sender<LockReading>,
}

impl Publisher {
    fn publish(&self, interface: LockInterface, locked: bool) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers.set(interface, locked);
        let reading = answers.reading();
        self.readings.send_if_modified(|current| {
            let changed = *current != reading;
            *current = reading;
            changed
        });
    }
}

/// How long a bus gets to answer the first questions; a bus that does not answer is not watched.
const FIRST_ANSWER: Duration = Duration::from_secs(2);

/// Follows the session's lock while it lives. Its readings end (the receiver sees the sender gone) when the
/// buses it watched went away: the owner restarts it.
#[derive(Debug)]
pub struct ScreenLockWatcher {
    readings: watch::Receiver<LockReading>,
    supervisor: JoinHandle<()>,
}

impl Drop for ScreenLockWatcher {
    fn drop(&mut self) {
        // Its followers live in the supervisor's JoinSet, which aborts them as it is dropped.
        self.supervisor.abort();
    }
}

impl ScreenLockWatcher {
    /// Connects to the session bus (and the system bus for logind, when there is one), watches every lock
    /// interface that answers and waits for the others to appear. An error when none answers.
    pub async fn start() -> Result<ScreenLockWatcher> {
        let session = Connection::session().await.map_err(SourceError::NoSessionBus)?;
        // Many test sessions and containers have no system bus: logind is then simply not watched.
        let system = Connection::system().await.ok();
        let candidates: Vec<(LockInterface, Connection)> = LockInterface::ALL
            .into_iter()
            .filter_map(|interface| match interface {
                LockInterface::Logind => system.clone().map(|bus| (interface, bus)),
                _ => Some((interface, session.clone())),
            })
            .collect();
        // Asked at once, so that a bus that does not answer costs the start 2 s, not 2 s each.
        let answers = join_all(candidates.iter().map(|(interface, bus)| async move {
            match tokio::time::timeout(FIRST_ANSWER, Follower::connect(bus, *interface)).await {
                Ok(Ok(found)) => found,
                Ok(Err(error)) => {
                    tracing::debug!("{}: not watched ({error})", interface.name());
                    None
                }
                Err(_) => {
                    tracing::debug!("{}: not watched (no answer)", interface.name());
                    None
                }
            }
        }))
        .await;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for ((interface, bus), answer) in candidates.into_iter().zip(answers) {
            match answer {
                Some(follower) => found.push(follower),
                None => missing.push((interface, bus)),
            }
        }
        if found.is_empty() {
            return Err(SourceError::NoLockInterface);
        }
        let mut first = Answers::default();
        for follower in &found {
            first.set(follower.interface, follower.locked);
        }
        let (readings_tx, readings) = watch::channel(first.reading());
        let publisher = Publisher {
            answers: Arc::new(Mutex::new(first)),
            readings: readings_tx,
        };
        let supervisor = tokio::spawn(supervise(found, missing, publisher));
        Ok(ScreenLockWatcher { readings, supervisor })
    }

    /// The readings, the first one at once; ends when every interface went away.
    pub fn readings(&self) -> watch::Receiver<LockReading> {
        self.readings.clone()
    }
}

/// Runs the followers, and waits for each interface not there at start to appear, then follows it too.
async fn supervise(found: Vec<Follower>, missing: Vec<(LockInterface, Connection)>, publisher: Publisher) {
    let mut tasks = JoinSet::new();
    for follower in found {
        tasks.spawn(follower.follow(publisher.clone()));
    }
    for (interface, bus) in missing {
        let publisher = publisher.clone();
        tasks.spawn(async move {
            if let Some(follower) = appearing(&bus, interface).await {
                publisher.publish(interface, follower.locked);
                follower.follow(publisher).await;
            }
        });
    }
    drop(publisher);
    while tasks.join_next().await.is_some() {}
}

/// Waits for `interface`'s name to appear on `bus`, then follows it; `None` if the bus goes away first.
async fn appearing(bus: &Connection, interface: LockInterface) -> Option<Follower> {
    let (service, ..) = interface.address();
    let dbus = zbus::fdo::DBusProxy::new(bus).await.ok()?;
    let mut owners = dbus
        .receive_name_owner_changed_with_args(&[(0, service)])
        .await
        .ok()?;
    // It may have appeared between the first look and the subscription.
    if let Ok(Some(follower)) = Follower::connect(bus, interface).await {
        return Some(follower);
    }
    while let Some(change) = owners.next().await {
        let appeared = change.args().is_ok_and(|args| args.new_owner().is_some());
        if appeared && let Ok(Some(follower)) = Follower::connect(bus, interface).await {
            tracing::info!("{} appeared: watching it too", interface.name());
            return Some(follower);
        }
    }
    None
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
    /// Asks the interface once; `None` when its name is not on the bus (never starting it).
    async fn connect(bus: &Connection, interface: LockInterface) -> zbus::Result<Option<Follower>> {
        let (service, path, name) = interface.address();
        let dbus = zbus::fdo::DBusProxy::new(bus).await?;
        if !dbus.name_has_owner(service.try_into()?).await? {
            return Ok(None);
        }
        let path: OwnedObjectPath = match interface {
            // logind announces a session's changes from its own path: ask which one is ours.
            LockInterface::Logind => {
                let manager = zbus::Proxy::new(bus, service, path, "org.freedesktop.login1.Manager").await?;
                manager.call("GetSession", &("auto",)).await?
            }
            _ => path.try_into()?,
        };
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
        Ok(Some(Follower {
            interface,
            proxy,
            locked,
            changes,
            owners,
        }))
    }

    /// Follows the interface's changes until its bus goes away.
    async fn follow(mut self, publisher: Publisher) {
        let interface = self.interface;
        loop {
            tokio::select! {
                change = self.changes.next() => match change {
                    Some(Some(locked)) => publisher.publish(interface, locked),
                    Some(None) => {} // a malformed signal: the next one says the truth
                    None => break,   // the bus went away
                },
                owner = self.owners.next() => match owner {
                    // The locker restarted: ask it again; gone, it can no longer say locked.
                    Some(Some(_)) => publisher.publish(interface, ask(&self.proxy, interface).await.unwrap_or(false)),
                    Some(None) => publisher.publish(interface, false),
                    None => break,
                },
            }
        }
        publisher.publish(interface, false);
    }
}

/// Asks the interface now, never from a cache (a restarted logind has a new answer).
async fn ask(proxy: &zbus::Proxy<'static>, interface: LockInterface) -> zbus::Result<bool> {
    match interface {
        LockInterface::Logind => {
            let properties = zbus::fdo::PropertiesProxy::builder(proxy.connection())
                .destination(proxy.destination().to_owned())?
                .path(proxy.path().to_owned())?
                .build()
                .await?;
            let value = properties.get(proxy.interface().to_owned(), "LockedHint").await?;
            Ok(bool::try_from(value)?)
        }
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
    fn an_interface_that_appears_later_is_watched_and_listed_in_the_usual_order() {
        let mut answers = Answers(vec![(LockInterface::Logind, false)]);
        answers.set(LockInterface::GnomeScreenSaver, true);
        assert_eq!(
            answers.reading(),
            LockReading {
                locked: true,
                through: vec![LockInterface::GnomeScreenSaver, LockInterface::Logind],
            }
        );
    }
}
