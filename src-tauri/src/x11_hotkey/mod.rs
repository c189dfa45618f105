//! The global shortcut on X11, grabbed on the root window and waited for without polling.
//!
//! Why not the global-shortcut plugin here: its X11 backend (global-hotkey 0.8) wakes every 50 ms to look for
//! events, which was 97 % of the tray app's idle wake-ups (about 78,000 an hour; docs/performance.md). This
//! listener blocks in `wait_for_event` on its own X connection, so an idle app wakes only when a key is
//! pressed. The accelerator is parsed as the plugin parses it ("Ctrl+Alt+S"), so saved shortcuts keep working.
//!
//! # Keys typed before the picker is ready
//! A fast typist presses the shortcut and types "sle" and Enter before the picker's window can take keys; those
//! keys went to whatever had the focus, and the Enter alone reached the picker (issue 15). So the shortcut is
//! grabbed with the keyboard frozen (the X server queues what comes next instead of delivering it), the press
//! turns that into a grab of the whole keyboard, and every key typed from then on comes to this listener, which
//! keeps them ([`X11Hotkeys::take_typed`]) until the picker asks for them. Then the grab is released, and what
//! comes after goes to the focused window as usual. A picker that never asks cannot hold the keyboard: the grab
//! ends after [`CAPTURE_LIMIT`].
//!
//! Here: the app's handle ([`X11Hotkeys`]), the connection, and what the two threads share. The listener
//! thread is in `listener`; the keyboard map, read without a display, in `keymap`.

mod keymap;
mod listener;

use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use caret_app::action::TypedKey;
use parking_lot::Mutex;
use tauri_plugin_global_shortcut::{Code, Shortcut as HotKey};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, GrabMode, Keycode,
    ModMask, PropMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{COPY_DEPTH_FROM_PARENT, CURRENT_TIME};

use keymap::{KeyMap, keysym_of, lock_masks, modifier_mask};
use listener::Listener;

/// The longest the keyboard stays grabbed for a picker that does not ask for its keys (it failed to load).
pub const CAPTURE_LIMIT: Duration = Duration::from_secs(2);

/// The name of the listener's own (never shown) window: tests find the listener's connection by it.
pub const LISTENER_WINDOW_NAME: &str = "caret-desktop shortcut listener";

/// What the user asked for, by key symbol: grabbed again with the new keycode when the layout changes, and on
/// a new connection after the X server was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    key: Code,
    keysym: u32,
    modifiers: ModMask,
}

/// The combination grabbed now, with the lock masks it was grabbed under (to release exactly those).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grab {
    keycode: Keycode,
    modifiers: ModMask,
    locks: Vec<ModMask>,
    num_lock: ModMask,
}

/// The shortcut asked for and its grab, changed together.
#[derive(Debug, Default)]
struct Grabs {
    wanted: Option<Wanted>,
    active: Option<Grab>,
}

/// Keys captured for the picker, shared by the listener and whoever asks for them.
#[derive(Debug, Default)]
struct Capture {
    /// The keyboard is grabbed for the picker now.
    active: bool,
    keys: Vec<TypedKey>,
    /// Counts captures, so that the limit of an older one leaves a newer one alone.
    generation: u32,
    /// Asked for the keys while the keyboard was grabbed: answered once it is released.
    waiting: Vec<mpsc::Sender<Vec<TypedKey>>>,
    map: Option<KeyMap>,
}

/// A window of ours that nobody sees, to wake the listener with a message (the release of a capture).
#[derive(Debug, Clone, Copy)]
struct Wake {
    window: Window,
    atom: Atom,
}

/// One connection to the X server, with what the listener made on it. Replaced whole when the X server is
/// lost and reached again.
struct Link {
    connection: RustConnection,
    root: Window,
    wake: Wake,
}

impl Link {
    /// Connects to the X server of `$DISPLAY` and sets up what the listener needs there.
    fn open() -> Result<Link, String> {
        let (connection, screen) =
            x11rb::connect(None).map_err(|error| format!("cannot reach the X server: {error}"))?;
        let root = connection
            .setup()
            .roots
            .get(screen)
            .map(|screen| screen.root)
            .ok_or("the X server has no such screen")?;
        // Without this, holding the keys sends release-press pairs as if the user pressed again and again.
        let detectable_repeat = connection
            .xkb_use_extension(1, 0)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .is_some_and(|reply| reply.supported)
            && connection
                .xkb_per_client_flags(
                    xkb::ID::USE_CORE_KBD.into(),
                    xkb::PerClientFlag::DETECTABLE_AUTO_REPEAT,
                    xkb::PerClientFlag::DETECTABLE_AUTO_REPEAT,
                    xkb::BoolCtrl::default(),
                    xkb::BoolCtrl::default(),
                    xkb::BoolCtrl::default(),
                )
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .is_some();
        if !detectable_repeat {
            tracing::info!("the X server cannot tell key repeats apart: holding the shortcut repeats it");
        }
        // A client that uses XKB gets no core MappingNotify from the server: it must ask for XKB's own
        // notices of a new keyboard map (a layout change, xmodmap, another keyboard).
        let map_changes = xkb::EventType::MAP_NOTIFY | xkb::EventType::NEW_KEYBOARD_NOTIFY;
        let map_parts = xkb::MapPart::KEY_SYMS | xkb::MapPart::MODIFIER_MAP;
        let follows_changes = detectable_repeat
            && connection
                .xkb_select_events(
                    xkb::ID::USE_CORE_KBD.into(),
                    xkb::EventType::from(0u16),
                    map_changes,
                    map_parts,
                    map_parts,
                    &xkb::SelectEventsAux::new(),
                )
                .ok()
                .and_then(|cookie| cookie.check().ok())
                .is_some();
        if !follows_changes {
            tracing::info!(
                "the X server does not announce keyboard map changes: only core MappingNotify is followed"
            );
        }
        let wake =
            make_wake(&connection, root).map_err(|error| format!("cannot set up the shortcut: {error}"))?;
        Ok(Link {
            connection,
            root,
            wake,
        })
    }

    /// The keyboard's map and its Num Lock modifier, as the server has them now.
    fn key_map(&self) -> Result<KeyMap, String> {
        let setup = self.connection.setup();
        let (first, last) = (setup.min_keycode, setup.max_keycode);
        let mapping = self
            .connection
            .get_keyboard_mapping(first, last - first + 1)
            .map_err(|error| error.to_string())?
            .reply()
            .map_err(|error| error.to_string())?;
        let modifiers = self
            .connection
            .get_modifier_mapping()
            .map_err(|error| error.to_string())?
            .reply()
            .map_err(|error| error.to_string())?;
        Ok(KeyMap::from_replies(first, mapping, &modifiers))
    }

    /// Grabs `wanted` on the root window, on `map`'s keycode for it, with every lock combination; nothing
    /// stays grabbed if one fails.
    fn grab(&self, map: &KeyMap, wanted: Wanted) -> Result<Grab, String> {
        let keycode = map
            .keycode_of(wanted.keysym)
            .ok_or_else(|| format!("no key on this keyboard gives {:?}", wanted.key))?;
        let grab = Grab {
            keycode,
            modifiers: wanted.modifiers,
            locks: lock_masks(map.num_lock()),
            num_lock: map.num_lock(),
        };
        for lock in &grab.locks {
            let outcome = self
                .connection
                .grab_key(
                    false,
                    self.root,
                    grab.modifiers | *lock,
                    grab.keycode,
                    GrabMode::ASYNC,
                    // Frozen after the press: the keys typed next wait in the server until the listener has
                    // grabbed the keyboard for them (see the module's documentation).
                    GrabMode::SYNC,
                )
                .map_err(|error| error.to_string())
                .and_then(|cookie| cookie.check().map_err(|error| describe(&error)));
            if let Err(reason) = outcome {
                self.release(&grab);
                return Err(reason);
            }
        }
        Ok(grab)
    }

    /// Releases the combinations of `old` that `new` does not hold (both grabbed by this connection).
    fn release_all_but(&self, old: &Grab, new: &Grab) {
        let held_by_new = |modifiers: ModMask| {
            new.keycode == old.keycode && new.locks.iter().any(|lock| new.modifiers | *lock == modifiers)
        };
        for lock in &old.locks {
            let modifiers = old.modifiers | *lock;
            if !held_by_new(modifiers) {
                let _ = self.connection.ungrab_key(old.keycode, self.root, modifiers);
            }
        }
        let _ = self.connection.flush();
    }

    fn release(&self, grab: &Grab) {
        for lock in &grab.locks {
            let _ = self
                .connection
                .ungrab_key(grab.keycode, self.root, grab.modifiers | *lock);
        }
        let _ = self.connection.flush();
    }
}

/// The link in use, shared by the listener (which replaces it after a reconnection) and the app's side.
type SharedLink = Arc<Mutex<Arc<Link>>>;

fn current(link: &SharedLink) -> Arc<Link> {
    link.lock().clone()
}

/// A shortcut grabbed on the X server's root window; `on_press` runs on the listener's thread.
pub struct X11Hotkeys {
    link: SharedLink,
    grabs: Arc<Mutex<Grabs>>,
    capture: Arc<Mutex<Capture>>,
}

impl X11Hotkeys {
    /// Connects to the X server and starts the listener thread. At each press of the shortcut, `wants_keys`
    /// says whether the keys typed next are for the picker (false when it already shows and takes keys itself);
    /// if so they are kept from then on, and only then does `on_press` run (it opens the picker, which may ask
    /// for them at once).
    pub fn start(
        wants_keys: impl Fn() -> bool + Send + 'static,
        on_press: impl Fn() + Send + 'static,
    ) -> Result<X11Hotkeys, String> {
        let link: SharedLink = Arc::new(Mutex::new(Arc::new(Link::open()?)));
        let grabs: Arc<Mutex<Grabs>> = Arc::default();
        let capture: Arc<Mutex<Capture>> = Arc::default();
        let listener = Listener {
            link: link.clone(),
            grabs: grabs.clone(),
            capture: capture.clone(),
        };
        std::thread::Builder::new()
            .name("caret-shortcut".into())
            .spawn(move || listener.listen(wants_keys, on_press))
            .map_err(|error| format!("cannot start the shortcut listener: {error}"))?;
        Ok(X11Hotkeys { link, grabs, capture })
    }

    /// The keys typed since the shortcut, in order, releasing the keyboard if it is still grabbed for them
    /// (waiting `patience` at most for the listener to hand over the last ones). Empty when the picker was not
    /// opened by the shortcut.
    pub fn take_typed(&self, patience: Duration) -> Vec<TypedKey> {
        let (sender, receiver) = mpsc::channel();
        {
            let mut capture = self.capture.lock();
            if !capture.active {
                return std::mem::take(&mut capture.keys);
            }
            capture.waiting.push(sender);
        }
        let link = current(&self.link);
        wake_listener(&link, 0);
        receiver.recv_timeout(patience).unwrap_or_else(|_| {
            // The listener is stuck or gone: release the keyboard from here and hand over what it kept.
            tracing::warn!("the shortcut listener did not hand over the typed keys in time");
            let _ = link.connection.ungrab_keyboard(CURRENT_TIME);
            let _ = link.connection.flush();
            let mut capture = self.capture.lock();
            capture.active = false;
            capture.waiting.clear();
            std::mem::take(&mut capture.keys)
        })
    }

    /// Grabs `accelerator` in place of the shortcut grabbed before (which is released even if this fails).
    pub fn register(&self, accelerator: &str) -> Result<(), String> {
        self.unregister();
        let hotkey = HotKey::from_str(accelerator).map_err(|error| error.to_string())?;
        let keysym =
            keysym_of(hotkey.key).ok_or_else(|| format!("{:?} cannot be a global shortcut", hotkey.key))?;
        let wanted = Wanted {
            key: hotkey.key,
            keysym,
            modifiers: modifier_mask(hotkey.mods),
        };
        let mut grabs = self.grabs.lock();
        let link = current(&self.link);
        let grab = link.grab(&link.key_map()?, wanted)?;
        grabs.active = Some(grab);
        grabs.wanted = Some(wanted);
        Ok(())
    }

    /// Releases the grabbed shortcut, if any.
    pub fn unregister(&self) {
        let mut grabs = self.grabs.lock();
        grabs.wanted = None;
        if let Some(grab) = grabs.active.take() {
            current(&self.link).release(&grab);
        }
    }
}

impl Drop for X11Hotkeys {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// An unmapped input-only window of ours, and the message type that asks the listener to release a capture.
fn make_wake(connection: &RustConnection, root: Window) -> Result<Wake, String> {
    let window = connection.generate_id().map_err(|error| error.to_string())?;
    connection
        .create_window(
            COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_ONLY,
            0,
            &CreateWindowAux::new(),
        )
        .map_err(|error| error.to_string())?
        .check()
        .map_err(|error| error.to_string())?;
    connection
        .change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            LISTENER_WINDOW_NAME.as_bytes(),
        )
        .map_err(|error| error.to_string())?;
    let atom = connection
        .intern_atom(false, b"_CARET_RELEASE_TYPED_KEYS")
        .map_err(|error| error.to_string())?
        .reply()
        .map_err(|error| error.to_string())?
        .atom;
    Ok(Wake { window, atom })
}

/// Asks the listener to release the keyboard: for capture `generation`, or whichever is active (0).
fn wake_listener(link: &Link, generation: u32) {
    let message = ClientMessageEvent::new(32, link.wake.window, link.wake.atom, [generation, 0, 0, 0, 0]);
    // With no event mask the message goes to the window's creator: this listener.
    let sent = link
        .connection
        .send_event(false, link.wake.window, EventMask::NO_EVENT, message)
        .and_then(|_| link.connection.flush());
    if let Err(error) = sent {
        tracing::warn!("cannot reach the shortcut listener: {error}");
    }
}

fn describe(error: &ReplyError) -> String {
    match error {
        ReplyError::X11Error(error) if error.error_kind == x11rb::protocol::ErrorKind::Access => {
            "another application already uses this combination".to_owned()
        }
        other => other.to_string(),
    }
}
