//! A desktop portal offering global shortcuts on the test session bus, written from the portal's documented
//! D-Bus interfaces (org.freedesktop.portal.GlobalShortcuts, .Request, .Session and
//! org.freedesktop.host.portal.Registry), as a Wayland desktop's xdg-desktop-portal offers them to an app.
//!
//! It records what the app asks (the registered app id, each BindShortcuts with its shortcuts and preferred
//! triggers), answers each request as the test says (the user grants, declines, or has not answered yet), and
//! emits `Activated` for a bound shortcut, as the desktop does when the user presses its keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zbus::message::Header;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, interface};

pub const PORTAL_NAME: &str = "org.freedesktop.portal.Desktop";
pub const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";

/// How the fake user answers the desktop's dialog for the next BindShortcuts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Binds every shortcut, with these keys as the desktop describes them.
    Grant { trigger_description: String },
    /// Cancels the dialog (response 1).
    Decline,
    /// Leaves the dialog open: no Response until [`FakePortal::answer_pending`].
    Wait,
}

/// One BindShortcuts call as the app made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub session: String,
    /// Each shortcut's id, description and preferred trigger ("" when none was given).
    pub shortcuts: Vec<(String, String, String)>,
}

#[derive(Debug, Default)]
struct Recorded {
    /// (peer, app id) per Register call.
    registered: Vec<(String, String)>,
    binds: Vec<Bind>,
    open_sessions: Vec<String>,
    closed_sessions: Vec<String>,
    /// The app's connection, to which Activated is sent.
    app: Option<String>,
    /// A request left unanswered: (its path, its session, the shortcuts).
    pending: Option<(String, Bind)>,
    next_answer: Option<Answer>,
}

type Shared = Arc<Mutex<Recorded>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Recorded> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The object path a portal gives a request or session: `prefix/<sender without ':' and with '.' as '_'>/token`.
fn handle_path(kind: &str, sender: &str, token: &str) -> String {
    let sender = sender.trim_start_matches(':').replace('.', "_");
    format!("{PORTAL_PATH}/{kind}/{sender}/{token}")
}

fn token_of(options: &HashMap<String, OwnedValue>, key: &str, fallback: &str) -> String {
    options
        .get(key)
        .and_then(|value| <&str>::try_from(value).ok().map(str::to_owned))
        .unwrap_or_else(|| fallback.to_owned())
}

fn sender_of(header: &Header<'_>) -> String {
    header.sender().map(|name| name.to_string()).unwrap_or_default()
}

/// Sends `Response(code, results)` on a request's path to the app, a moment after the method's reply (as the
/// real portal does once the user has answered).
fn respond(
    runtime: &tokio::runtime::Handle,
    connection: Connection,
    app: String,
    request: String,
    code: u32,
    results: HashMap<String, OwnedValue>,
) {
    // zbus runs the methods on its own executor, outside the test's runtime.
    runtime.spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent = connection
            .emit_signal(
                Some(app.as_str()),
                request.as_str(),
                "org.freedesktop.portal.Request",
                "Response",
                &(code, results),
            )
            .await;
        if let Err(error) = sent {
            eprintln!("fake portal: cannot send Response on {request}: {error}");
        }
    });
}

fn granted_results(bind: &Bind, trigger_description: &str) -> HashMap<String, OwnedValue> {
    let shortcuts: Vec<(String, HashMap<String, OwnedValue>)> = bind
        .shortcuts
        .iter()
        .map(|(id, description, _)| {
            let mut info = HashMap::new();
            info.insert("description".to_owned(), owned(Value::from(description.as_str())));
            info.insert(
                "trigger_description".to_owned(),
                owned(Value::from(trigger_description)),
            );
            (id.clone(), info)
        })
        .collect();
    HashMap::from([("shortcuts".to_owned(), owned(Value::from(shortcuts)))])
}

/// The Response a user's answer to a BindShortcuts dialog makes: none while the dialog stays open.
fn response_to(answer: &Answer, bind: &Bind) -> Option<(u32, HashMap<String, OwnedValue>)> {
    match answer {
        Answer::Grant { trigger_description } => Some((0, granted_results(bind, trigger_description))),
        Answer::Decline => Some((1, HashMap::new())),
        Answer::Wait => None,
    }
}

fn owned(value: Value<'_>) -> OwnedValue {
    OwnedValue::try_from(value).expect("a plain value has no file descriptors")
}

struct GlobalShortcutsPortal {
    shared: Shared,
    runtime: tokio::runtime::Handle,
}

impl GlobalShortcutsPortal {
    /// Sends `Response(code, results)` on `request` (when `code` is given) and returns the request's handle,
    /// which is what each of the portal's methods replies.
    fn reply(
        &self,
        connection: &Connection,
        sender: String,
        request: String,
        response: Option<(u32, HashMap<String, OwnedValue>)>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        if let Some((code, results)) = response {
            respond(
                &self.runtime,
                connection.clone(),
                sender,
                request.clone(),
                code,
                results,
            );
        }
        OwnedObjectPath::try_from(request).map_err(|error| zbus::fdo::Error::InvalidArgs(error.to_string()))
    }
}

#[interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl GlobalShortcutsPortal {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let sender = sender_of(&header);
        let request = handle_path("request", &sender, &token_of(&options, "handle_token", "t1"));
        let session = handle_path(
            "session",
            &sender,
            &token_of(&options, "session_handle_token", "s1"),
        );
        connection
            .object_server()
            .at(
                session.as_str(),
                SessionObject {
                    path: session.clone(),
                    shared: Arc::clone(&self.shared),
                    runtime: self.runtime.clone(),
                },
            )
            .await
            .map_err(|error| zbus::fdo::Error::Failed(error.to_string()))?;
        {
            let mut recorded = lock(&self.shared);
            recorded.open_sessions.push(session.clone());
            recorded.app = Some(sender.clone());
        }
        // The specification's type for the handle is a string (an object path in it).
        let results = HashMap::from([("session_handle".to_owned(), owned(Value::from(session.as_str())))]);
        self.reply(connection, sender, request, Some((0, results)))
    }

    async fn bind_shortcuts(
        &self,
        session_handle: OwnedObjectPath,
        shortcuts: Vec<(String, HashMap<String, OwnedValue>)>,
        _parent_window: String,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let sender = sender_of(&header);
        let request = handle_path("request", &sender, &token_of(&options, "handle_token", "t2"));
        let text = |info: &HashMap<String, OwnedValue>, key: &str| {
            info.get(key)
                .and_then(|value| <&str>::try_from(value).ok().map(str::to_owned))
                .unwrap_or_default()
        };
        let bind = Bind {
            session: session_handle.as_str().to_owned(),
            shortcuts: shortcuts
                .iter()
                .map(|(id, info)| {
                    (
                        id.clone(),
                        text(info, "description"),
                        text(info, "preferred_trigger"),
                    )
                })
                .collect(),
        };
        let answer = {
            let mut recorded = lock(&self.shared);
            if !recorded.open_sessions.contains(&bind.session) {
                return Err(zbus::fdo::Error::InvalidArgs(format!(
                    "no open session {}",
                    bind.session
                )));
            }
            recorded.binds.push(bind.clone());
            recorded.app = Some(sender.clone());
            let answer = recorded.next_answer.clone().unwrap_or(Answer::Wait);
            if answer == Answer::Wait {
                recorded.pending = Some((request.clone(), bind.clone()));
            }
            answer
        };
        self.reply(connection, sender, request, response_to(&answer, &bind))
    }

    async fn list_shortcuts(
        &self,
        _session_handle: OwnedObjectPath,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let sender = sender_of(&header);
        let request = handle_path("request", &sender, &token_of(&options, "handle_token", "t3"));
        let bound = lock(&self.shared).binds.last().cloned();
        let results = bound.map_or_else(HashMap::new, |bind| granted_results(&bind, ""));
        self.reply(connection, sender, request, Some((0, results)))
    }

    // The portal documents it in lower case; zbus would name it "Version".
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

/// A session's own object: the app closes it to release its shortcuts.
struct SessionObject {
    path: String,
    shared: Shared,
    runtime: tokio::runtime::Handle,
}

#[interface(name = "org.freedesktop.portal.Session")]
impl SessionObject {
    async fn close(&self, #[zbus(connection)] connection: &Connection) -> zbus::fdo::Result<()> {
        {
            let mut recorded = lock(&self.shared);
            recorded.open_sessions.retain(|open| *open != self.path);
            recorded.closed_sessions.push(self.path.clone());
        }
        let path = self.path.clone();
        let connection = connection.clone();
        // Not from inside this method's own dispatch: the object server is busy with it.
        self.runtime.spawn(async move {
            let _ = connection
                .object_server()
                .remove::<SessionObject, _>(path.as_str())
                .await;
        });
        Ok(())
    }

    // The portal documents it in lower case; zbus would name it "Version".
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

/// org.freedesktop.host.portal.Registry: an unsandboxed app says which app id it is.
struct Registry {
    shared: Shared,
}

#[interface(name = "org.freedesktop.host.portal.Registry")]
impl Registry {
    /// Once per peer (connection), as the interface documents.
    fn register(
        &self,
        app_id: String,
        _options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
    ) -> zbus::fdo::Result<()> {
        let sender = sender_of(&header);
        let mut recorded = lock(&self.shared);
        if recorded.registered.iter().any(|(peer, _)| *peer == sender) {
            return Err(zbus::fdo::Error::Failed("already registered".to_owned()));
        }
        recorded.registered.push((sender, app_id));
        Ok(())
    }

    // The portal documents it in lower case; zbus would name it "Version".
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

/// Takes the portal's bus name. No real portal can hold it: the harness makes its D-Bus activation fail
/// (tests/harness/desktop-session.sh), and tests that start a portal hold the desktop lock.
pub(crate) async fn take_portal_name(connection: &Connection) {
    crate::take_bus_name(connection, PORTAL_NAME).await;
}

/// The portal, owning `org.freedesktop.portal.Desktop` on the session bus while it lives.
pub struct FakePortal {
    connection: Connection,
    shared: Shared,
    runtime: tokio::runtime::Handle,
}

impl FakePortal {
    /// Starts the portal; `answer` is what the user says to each BindShortcuts dialog until changed.
    pub async fn start(answer: Answer) -> FakePortal {
        let runtime = tokio::runtime::Handle::current();
        let shared: Shared = Arc::new(Mutex::new(Recorded {
            next_answer: Some(answer),
            ..Recorded::default()
        }));
        let connection = Connection::session().await.expect("session bus");
        connection
            .object_server()
            .at(
                PORTAL_PATH,
                GlobalShortcutsPortal {
                    shared: Arc::clone(&shared),
                    runtime: runtime.clone(),
                },
            )
            .await
            .expect("GlobalShortcuts");
        connection
            .object_server()
            .at(
                PORTAL_PATH,
                Registry {
                    shared: Arc::clone(&shared),
                },
            )
            .await
            .expect("Registry");
        take_portal_name(&connection).await;
        FakePortal {
            connection,
            shared,
            runtime,
        }
    }

    /// What the user answers to the next dialogs.
    pub fn set_answer(&self, answer: Answer) {
        lock(&self.shared).next_answer = Some(answer);
    }

    /// Answers the dialog left open (by [`Answer::Wait`]) with `answer`.
    pub fn answer_pending(&self, answer: Answer) {
        let (app, pending) = {
            let mut recorded = lock(&self.shared);
            (recorded.app.clone(), recorded.pending.take())
        };
        let (Some(app), Some((request, bind))) = (app, pending) else {
            panic!("no dialog is open");
        };
        if let Some((code, results)) = response_to(&answer, &bind) {
            respond(
                &self.runtime,
                self.connection.clone(),
                app,
                request,
                code,
                results,
            );
        }
    }

    /// The app ids registered, one per peer, in order.
    pub fn registered_app_ids(&self) -> Vec<String> {
        lock(&self.shared)
            .registered
            .iter()
            .map(|(_, app_id)| app_id.clone())
            .collect()
    }

    pub fn binds(&self) -> Vec<Bind> {
        lock(&self.shared).binds.clone()
    }

    pub fn open_sessions(&self) -> Vec<String> {
        lock(&self.shared).open_sessions.clone()
    }

    pub fn closed_sessions(&self) -> Vec<String> {
        lock(&self.shared).closed_sessions.clone()
    }

    /// Emits `Activated` for `shortcut_id` in the newest open session, as the desktop does on a key press.
    pub async fn activate(&self, shortcut_id: &str) {
        let (app, session) = {
            let recorded = lock(&self.shared);
            (
                recorded.app.clone().expect("an app talked to the portal"),
                recorded.open_sessions.last().cloned().expect("an open session"),
            )
        };
        let session = ObjectPath::try_from(session.as_str()).expect("session path");
        let timestamp_ms: u64 = 1;
        self.connection
            .emit_signal(
                Some(app.as_str()),
                PORTAL_PATH,
                "org.freedesktop.portal.GlobalShortcuts",
                "Activated",
                &(
                    session,
                    shortcut_id,
                    timestamp_ms,
                    HashMap::<String, OwnedValue>::new(),
                ),
            )
            .await
            .expect("Activated is sent");
    }
}
