//! The global shortcut on Wayland, through the desktop's portal (`org.freedesktop.portal.GlobalShortcuts`).
//!
//! On Wayland no app may grab keys for the whole desktop: the desktop binds them on the app's behalf (KDE
//! Plasma, GNOME 48 and later), after asking the user once. The app opens a session, offers the picker's action
//! with the user's keys as the *preferred* trigger, and the desktop answers with what it bound, which the user
//! may have changed in its dialog; `Activated` then says the keys were pressed.
//!
//! The desktop answers only once the user has confirmed, so none of this may wait on the main thread: one task
//! owns the portal and takes requests from a channel, and every answer is reported through `on_status` (the
//! shell records it and tells the Settings window). A request that comes while the desktop's dialog is still
//! open replaces it: the old session is closed, which ends its dialog, and the new keys are offered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ashpd::desktop::Session;
use ashpd::desktop::global_shortcuts::{BindShortcutsOptions, GlobalShortcuts, NewShortcut};
use ashpd::desktop::{CreateSessionOptions, ResponseError};
use caret_app::preferences::ShortcutStatus;
use futures_util::StreamExt;
use parking_lot::Mutex;
use tauri_plugin_global_shortcut::{Modifiers, Shortcut as HotKey};
use tokio::sync::mpsc;

/// The id of the picker's action in the portal session; the desktop keeps the user's keys under it.
pub const PICKER_SHORTCUT_ID: &str = "open-quick-status-picker";
/// What the desktop's dialog and shortcut settings call the action.
const PICKER_SHORTCUT_DESCRIPTION: &str = "Open the Caret Desktop quick status picker";
/// The application id the portal knows us by: the AppStream id, and the basename of the desktop entry the
/// packages install for it (the portal's registry looks the app's name and icon up there).
pub const PORTAL_APP_ID: &str = "app.caret.desktop";

/// Why no portal offers global shortcuts in this session, once the task knows there is none (for Settings).
/// `None` while connecting or connected: a request is queued for the task either way.
type Missing = Arc<Mutex<Option<String>>>;

enum Request {
    Bind(String),
    Release,
}

type Report = Arc<dyn Fn(ShortcutStatus) + Send + Sync>;

/// The shortcut's link to the desktop's portal; requests are answered later, through `on_status`.
pub struct PortalShortcuts {
    requests: mpsc::UnboundedSender<Request>,
    missing: Missing,
}

impl PortalShortcuts {
    /// Starts the task that talks to the portal. `on_press` runs (on that task) when the desktop says the keys
    /// were pressed; `on_status` hears every answer.
    pub fn start(
        on_press: impl Fn() + Send + Sync + 'static,
        on_status: impl Fn(ShortcutStatus) + Send + Sync + 'static,
    ) -> PortalShortcuts {
        let (requests, receiver) = mpsc::unbounded_channel();
        let missing = Missing::default();
        let task = Task {
            requests: receiver,
            missing: Arc::clone(&missing),
            on_press: Arc::new(on_press),
            report: Arc::new(on_status),
            bound: Arc::new(AtomicBool::new(false)),
        };
        tauri::async_runtime::spawn(task.run());
        PortalShortcuts { requests, missing }
    }

    /// Asks for `shortcut` ("" for none) in place of the one asked for before. The status to show until the
    /// desktop answers; the caller records it before [`send`](Self::send), so the answer always comes after it.
    pub fn status_for(&self, shortcut: &str) -> ShortcutStatus {
        let shortcut = shortcut.trim().to_owned();
        if shortcut.is_empty() {
            return ShortcutStatus::Off;
        }
        let missing = self.missing.lock().clone();
        match missing.map_or_else(|| portal_trigger(&shortcut), Err) {
            Ok(_) => ShortcutStatus::Asked { shortcut },
            Err(reason) => ShortcutStatus::Failed { shortcut, reason },
        }
    }

    /// Sends the request for `shortcut` ("" releases the one bound) to the portal's task.
    pub fn send(&self, shortcut: &str) {
        let shortcut = shortcut.trim();
        let request = if shortcut.is_empty() {
            Request::Release
        } else {
            Request::Bind(shortcut.to_owned())
        };
        if self.requests.send(request).is_err() {
            tracing::warn!("the global shortcuts portal's task has ended; the shortcut request is dropped");
        }
    }
}

/// The task that owns the portal connection and its session.
struct Task {
    requests: mpsc::UnboundedReceiver<Request>,
    missing: Missing,
    on_press: Arc<dyn Fn() + Send + Sync>,
    report: Report,
    /// Whether a session with the picker's action is bound now: `Activated` is acted on only then.
    bound: Arc<AtomicBool>,
}

impl Task {
    async fn run(mut self) {
        let portal = match connect().await {
            Ok(portal) => Arc::new(portal),
            Err(reason) => {
                tracing::warn!("global shortcuts are unavailable here: {reason}");
                *self.missing.lock() = Some(reason.clone());
                self.refuse_all(reason).await;
                return;
            }
        };
        tracing::info!(
            version = portal.version(),
            "connected to the desktop's global shortcuts portal"
        );
        self.listen_for_presses(&portal).await;

        let mut session: Option<Session<GlobalShortcuts>> = None;
        let mut next = self.requests.recv().await;
        while let Some(request) = next.take() {
            // Only the newest request matters: older ones queued behind a slow answer are dropped.
            let mut request = request;
            while let Ok(newer) = self.requests.try_recv() {
                request = newer;
            }
            close(&self.bound, session.take()).await;
            let Request::Bind(shortcut) = request else {
                next = self.requests.recv().await;
                continue;
            };
            let opened = match open_session(&portal, &shortcut).await {
                Ok(opened) => opened,
                Err(status) => {
                    (self.report)(status);
                    next = self.requests.recv().await;
                    continue;
                }
            };
            let answer = tokio::select! {
                answer = ask(&portal, &opened, &shortcut) => answer,
                newer = self.requests.recv() => {
                    // The user asked for something else while the desktop's dialog was open: closing the
                    // session ends that dialog, and the newer request is taken next.
                    tracing::info!(shortcut, "the shortcut request was replaced before the desktop answered");
                    close(&self.bound, Some(opened)).await;
                    next = newer;
                    continue;
                }
            };
            if matches!(answer, ShortcutStatus::Granted { .. }) {
                session = Some(opened);
                self.bound.store(true, Ordering::SeqCst);
            } else {
                close(&self.bound, Some(opened)).await;
            }
            (self.report)(answer);
            next = self.requests.recv().await;
        }
        close(&self.bound, session.take()).await;
    }

    /// Without a portal every request gets the same refusal, so Settings can show the fallback command.
    async fn refuse_all(mut self, reason: String) {
        while let Some(request) = self.requests.recv().await {
            if let Request::Bind(shortcut) = request {
                (self.report)(ShortcutStatus::Failed {
                    shortcut,
                    reason: reason.clone(),
                });
            }
        }
    }

    /// Follows `Activated` for the picker's action on its own task, for as long as the portal is there.
    async fn listen_for_presses(&self, portal: &GlobalShortcuts) {
        let activations = match portal.receive_activated().await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!("cannot follow the global shortcuts portal's Activated signal: {error}");
                return;
            }
        };
        let on_press = Arc::clone(&self.on_press);
        let bound = Arc::clone(&self.bound);
        tauri::async_runtime::spawn(async move {
            let mut activations = std::pin::pin!(activations);
            while let Some(activated) = activations.next().await {
                if activated.shortcut_id() == PICKER_SHORTCUT_ID && bound.load(Ordering::SeqCst) {
                    tracing::info!("global shortcut pressed (portal)");
                    on_press();
                }
            }
        });
    }
}

/// Introduces the app to the portal (so its dialog names it), then opens the GlobalShortcuts interface. An
/// error is why global shortcuts cannot work in this session.
async fn connect() -> Result<GlobalShortcuts, String> {
    // The registry must be told first, before any other portal call; it is optional (older portals have
    // none, and a sandboxed app is known by its sandbox), so its refusal is only logged.
    match ashpd::AppID::try_from(PORTAL_APP_ID) {
        Ok(app_id) => {
            if let Err(error) = ashpd::register_host_app(app_id).await {
                tracing::info!(
                    "the portal did not register the app by its id ({error}); it may name it less well"
                );
            }
        }
        Err(error) => tracing::warn!("{PORTAL_APP_ID} is not an application id: {error}"),
    }
    let missing = |error: String| {
        format!("this is a Wayland session and the desktop offers no global shortcuts portal ({error})")
    };
    let portal = GlobalShortcuts::new()
        .await
        .map_err(|error| missing(error.to_string()))?;
    // ashpd takes "no such service" for a portal of version 1; asking for the version again tells a missing
    // portal (no owner of its bus name, nothing to activate) from an old one.
    portal
        .get_property::<u32>("version")
        .await
        .map_err(|error| missing(error.to_string()))?;
    Ok(portal)
}

/// Opens a shortcuts session for `shortcut` (the desktop answers this at once, without asking the user).
async fn open_session(
    portal: &GlobalShortcuts,
    shortcut: &str,
) -> Result<Session<GlobalShortcuts>, ShortcutStatus> {
    portal
        .create_session(CreateSessionOptions::default())
        .await
        .map_err(|error| ShortcutStatus::Failed {
            shortcut: shortcut.to_owned(),
            reason: format!("the desktop's portal refused a shortcuts session ({error})"),
        })
}

/// Offers the picker's action in `session` with `shortcut` as its preferred keys, and waits for the desktop's
/// answer (it comes once the user has confirmed). What the answer means.
async fn ask(portal: &GlobalShortcuts, session: &Session<GlobalShortcuts>, shortcut: &str) -> ShortcutStatus {
    let failed = |reason: String| ShortcutStatus::Failed {
        shortcut: shortcut.to_owned(),
        reason,
    };
    let trigger = match portal_trigger(shortcut) {
        Ok(trigger) => trigger,
        Err(reason) => return failed(reason),
    };
    let offered =
        [NewShortcut::new(PICKER_SHORTCUT_ID, PICKER_SHORTCUT_DESCRIPTION)
            .preferred_trigger(trigger.as_str())];
    tracing::debug!(shortcut, trigger, "offering the global shortcut to the desktop");
    let answer = match portal
        .bind_shortcuts(session, &offered, None, BindShortcutsOptions::default())
        .await
    {
        Ok(request) => request.response(),
        Err(error) => Err(error),
    };
    let declined = || ShortcutStatus::Declined {
        shortcut: shortcut.to_owned(),
    };
    match answer {
        Ok(bound) => bound
            .shortcuts()
            .iter()
            .find(|candidate| candidate.id() == PICKER_SHORTCUT_ID)
            .map_or_else(declined, |granted| ShortcutStatus::Granted {
                shortcut: shortcut.to_owned(),
                trigger: granted.trigger_description().to_owned(),
            }),
        Err(ashpd::Error::Response(ResponseError::Cancelled)) => declined(),
        Err(error) => failed(format!("the desktop's portal did not bind it ({error})")),
    }
}

/// Closes `session` (releasing its keys on the desktop); presses stop counting first.
async fn close(bound: &AtomicBool, session: Option<Session<GlobalShortcuts>>) {
    bound.store(false, Ordering::SeqCst);
    if let Some(session) = session
        && let Err(error) = session.close().await
    {
        tracing::debug!("closing the shortcuts session: {error}");
    }
}

/// `accelerator` as the portal's preferred trigger: the XDG shortcuts specification's modifiers (CTRL, ALT,
/// SHIFT, LOGO) and an xkbcommon keysym name, joined by "+" ("Ctrl+Alt+S" is "CTRL+ALT+s").
pub fn portal_trigger(accelerator: &str) -> Result<String, String> {
    let hotkey: HotKey = accelerator.parse().map_err(|error| format!("{error}"))?;
    let key = crate::keys::keysym(hotkey.key)
        .ok_or_else(|| format!("{:?} cannot be a global shortcut", hotkey.key))?
        .name;
    let mut parts: Vec<&str> = Vec::new();
    for (modifier, name) in [
        (Modifiers::CONTROL, "CTRL"),
        (Modifiers::ALT, "ALT"),
        (Modifiers::SHIFT, "SHIFT"),
    ] {
        if hotkey.mods.contains(modifier) {
            parts.push(name);
        }
    }
    if hotkey.mods.intersects(Modifiers::SUPER | Modifiers::META) {
        parts.push("LOGO");
    }
    parts.push(key);
    Ok(parts.join("+"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerators_become_the_shortcuts_specification_s_triggers() {
        assert_eq!(portal_trigger("Ctrl+Alt+S").as_deref(), Ok("CTRL+ALT+s"));
        assert_eq!(portal_trigger("Super+Shift+F12").as_deref(), Ok("SHIFT+LOGO+F12"));
        assert_eq!(portal_trigger("Alt+Space").as_deref(), Ok("ALT+space"));
        assert_eq!(portal_trigger("Ctrl+PageDown").as_deref(), Ok("CTRL+Page_Down"));
        assert_eq!(portal_trigger("Ctrl+Alt+7").as_deref(), Ok("CTRL+ALT+7"));
        assert_eq!(
            portal_trigger("Ctrl+Alt+Backquote").as_deref(),
            Ok("CTRL+ALT+grave")
        );
        assert!(
            portal_trigger("Ctrl+Alt+NumpadAdd").is_err(),
            "a key the table does not name"
        );
        assert!(portal_trigger("Ctrl+Nonsense").is_err());
    }
}
