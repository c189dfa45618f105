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

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use caret_app::action::TypedKey;
use tauri_plugin_global_shortcut::{Code, Modifiers, Shortcut as HotKey};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::Event;
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    Allow, Atom, AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, GrabMode,
    GrabStatus, KeyPressEvent, Keycode, Mapping, ModMask, PropMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{COPY_DEPTH_FROM_PARENT, CURRENT_TIME};

/// The longest the keyboard stays grabbed for a picker that does not ask for its keys (it failed to load).
pub const CAPTURE_LIMIT: Duration = Duration::from_secs(2);

/// How long the listener waits before trying the X server again after losing it, at first and at most.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MOST: Duration = Duration::from_secs(30);

/// The name of the listener's own (never shown) window: tests find the listener's connection by it.
pub const LISTENER_WINDOW_NAME: &str = "caret-desktop shortcut listener";

/// The `Num_Lock` keysym (X11/keysymdef.h).
const NUM_LOCK_KEYSYM: u32 = 0xff7f;

/// Lock keys (Caps Lock, and Num Lock on whichever modifier the keyboard puts it) that must not stop the
/// shortcut: it is grabbed with and without each.
fn lock_masks(num_lock: ModMask) -> Vec<ModMask> {
    let mut masks = vec![ModMask::from(0u16), ModMask::LOCK];
    if u16::from(num_lock) != 0 {
        masks.extend([num_lock, ModMask::LOCK | num_lock]);
    }
    masks
}

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

/// The keyboard as the X server maps it: keycode → keysyms, and the modifier Num Lock is on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMap {
    first: Keycode,
    per_keycode: usize,
    keysyms: Vec<u32>,
    num_lock: ModMask,
}

impl KeyMap {
    /// The first keycode whose symbols include `keysym`.
    fn keycode_of(&self, keysym: u32) -> Option<Keycode> {
        self.keysyms
            .chunks(self.per_keycode)
            .position(|symbols| symbols.contains(&keysym))
            .and_then(|index| u8::try_from(index).ok())
            .and_then(|index| self.first.checked_add(index))
    }

    fn symbols_of(&self, keycode: Keycode) -> Option<&[u32]> {
        let start = usize::from(keycode.checked_sub(self.first)?) * self.per_keycode;
        self.keysyms.get(start..start + self.per_keycode)
    }

    /// The modifier whose keys include Num Lock, from the server's modifier mapping (eight modifiers, Shift
    /// first, `per_modifier` keycodes each, 0 for none); none when no key gives Num Lock. Usually Mod2, but a
    /// keyboard map may put it anywhere.
    fn num_lock_from(&self, modifier_keycodes: &[Keycode], per_modifier: usize) -> ModMask {
        let num_lock_key = |keycode: &Keycode| {
            *keycode != 0
                && self
                    .symbols_of(*keycode)
                    .is_some_and(|symbols| symbols.contains(&NUM_LOCK_KEYSYM))
        };
        modifier_keycodes
            .chunks(per_modifier.max(1))
            .take(8)
            .position(|keycodes| keycodes.iter().any(num_lock_key))
            .map_or(ModMask::from(0u16), |index| ModMask::from(1u16 << index))
    }
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
        let mut map = KeyMap {
            first,
            per_keycode: usize::from(mapping.keysyms_per_keycode.max(1)),
            keysyms: mapping.keysyms,
            num_lock: ModMask::from(0u16),
        };
        map.num_lock = map.num_lock_from(
            &modifiers.keycodes,
            usize::from(modifiers.keycodes_per_modifier()),
        );
        Ok(map)
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
            locks: lock_masks(map.num_lock),
            num_lock: map.num_lock,
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
    link.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// A shortcut grabbed on the X server's root window; `on_press` runs on the listener's thread.
pub struct X11Hotkeys {
    link: SharedLink,
    grabs: Arc<Mutex<Grabs>>,
    capture: Arc<Mutex<Capture>>,
}

fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
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
            let mut capture = lock(&self.capture);
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
            let mut capture = lock(&self.capture);
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
        let mut grabs = lock(&self.grabs);
        let link = current(&self.link);
        let grab = link.grab(&link.key_map()?, wanted)?;
        grabs.active = Some(grab);
        grabs.wanted = Some(wanted);
        Ok(())
    }

    /// Releases the grabbed shortcut, if any.
    pub fn unregister(&self) {
        let mut grabs = lock(&self.grabs);
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

/// The listener thread's side.
struct Listener {
    link: SharedLink,
    grabs: Arc<Mutex<Grabs>>,
    capture: Arc<Mutex<Capture>>,
}

impl Listener {
    /// Waits for events (blocking: no wake-up while nothing happens), runs `on_press` once per press of the
    /// shortcut and keeps the keys typed for the picker. When the X server is lost, it connects again and
    /// grabs the shortcut again.
    fn listen(self, wants_keys: impl Fn() -> bool, on_press: impl Fn()) {
        let mut held = false;
        let mut link = current(&self.link);
        // Events read while releasing a capture, to be handled like any other (the shortcut's release among
        // them: lost, it would leave the shortcut "held" and the next press ignored).
        let mut drained: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
        loop {
            let event = match drained
                .pop_front()
                .map_or_else(|| link.connection.wait_for_event(), Ok)
            {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!("the shortcut listener lost the X server: {error}");
                    held = false;
                    drained.clear();
                    link = self.reconnect();
                    continue;
                }
            };
            match event {
                Event::KeyPress(press) if self.is_shortcut(&press) => {
                    if !held {
                        held = true;
                        if wants_keys() {
                            self.start_capture(&link);
                        }
                        on_press();
                    }
                    // Whatever happened, the keyboard the press froze goes on (into our grab, if one started).
                    let _ = link.connection.allow_events(Allow::ASYNC_KEYBOARD, CURRENT_TIME);
                    let _ = link.connection.flush();
                }
                Event::KeyRelease(release) if self.grabbed_keycode() == Some(release.detail) => {
                    held = false;
                }
                Event::KeyPress(press) => self.keep(&press),
                Event::ClientMessage(message)
                    if message.window == link.wake.window && message.type_ == link.wake.atom =>
                {
                    drained.extend(self.release_capture(&link, message.data.as_data32()[0]));
                    // The shortcut's release may go to the picker from now on: a person holds keys longer
                    // than the picker takes to ask for them. A press while the picker shows only focuses it.
                    held = false;
                }
                // The layout or the modifiers changed: the shortcut's key may be on another keycode now, and
                // Num Lock on another modifier.
                Event::MappingNotify(notify) if notify.request != Mapping::POINTER => self.grab_again(&link),
                Event::XkbMapNotify(_) | Event::XkbNewKeyboardNotify(_) => self.grab_again(&link),
                _ => {}
            }
        }
    }

    fn grabbed_keycode(&self) -> Option<Keycode> {
        lock(&self.grabs).active.as_ref().map(|grab| grab.keycode)
    }

    /// Grabs the wanted shortcut again with the keyboard's current map (after a layout change, or on a new
    /// connection where nothing is grabbed yet), and reads the map again for the keys typed for the picker.
    fn grab_again(&self, link: &Link) {
        let mut grabs = lock(&self.grabs);
        if let Some(old) = grabs.active.take() {
            link.release(&old);
        }
        let map = match link.key_map() {
            Ok(map) => map,
            Err(reason) => {
                tracing::warn!("cannot read the keyboard's new mapping: {reason}");
                lock(&self.capture).map = None;
                return;
            }
        };
        lock(&self.capture).map = Some(map.clone());
        let Some(wanted) = grabs.wanted else {
            return;
        };
        match link.grab(&map, wanted) {
            Ok(grab) => {
                tracing::info!(
                    keycode = grab.keycode,
                    num_lock = u16::from(grab.num_lock),
                    "the keyboard's mapping is read again and the shortcut grabbed on it"
                );
                grabs.active = Some(grab);
            }
            // Kept as wanted: the next change of the mapping may give the key back.
            Err(reason) => {
                tracing::warn!("the shortcut cannot be grabbed on the new keyboard mapping: {reason}")
            }
        }
    }

    /// After the X connection dropped: whoever waits for typed keys gets what was kept, then the listener
    /// tries the X server again (sooner at first, then every 30 s) until it answers, and grabs the shortcut
    /// there again.
    fn reconnect(&self) -> Arc<Link> {
        {
            let mut capture = lock(&self.capture);
            capture.active = false;
            let keys = std::mem::take(&mut capture.keys);
            for waiting in capture.waiting.drain(..) {
                let _ = waiting.send(keys.clone());
            }
        }
        // The grabs went with the connection.
        lock(&self.grabs).active = None;
        let mut delay = RECONNECT_FIRST;
        loop {
            std::thread::sleep(delay);
            match Link::open() {
                Ok(link) => {
                    let link = Arc::new(link);
                    *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link.clone();
                    self.grab_again(&link);
                    tracing::info!("the shortcut listener reached the X server again");
                    return link;
                }
                Err(error) => {
                    tracing::debug!("the X server is still out of reach: {error}");
                    delay = (delay * 2).min(RECONNECT_MOST);
                }
            }
        }
    }

    /// Grabs the whole keyboard so that the keys typed next come here, and limits how long.
    fn start_capture(&self, link: &Arc<Link>) {
        let grabbed = link
            .connection
            .grab_keyboard(false, link.root, CURRENT_TIME, GrabMode::ASYNC, GrabMode::ASYNC)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .is_some_and(|reply| reply.status == GrabStatus::SUCCESS);
        if !grabbed {
            // Another program holds the keyboard (a menu open, a screen locker): the picker gets its keys as
            // windows usually do.
            tracing::info!("cannot hold the keys typed for the picker: the keyboard is grabbed elsewhere");
            return;
        }
        let map = match lock(&self.capture).map.clone() {
            Some(map) => Some(map),
            None => link.key_map().ok(),
        };
        let generation = {
            let mut capture = lock(&self.capture);
            capture.active = true;
            // Keys never asked for belong to an older opening.
            capture.keys.clear();
            capture.map = map;
            capture.generation = capture.generation.wrapping_add(1).max(1);
            capture.generation
        };
        let limit_link = link.clone();
        let limit = std::thread::Builder::new()
            .name("caret-typed-keys".into())
            .spawn(move || {
                std::thread::sleep(CAPTURE_LIMIT);
                wake_listener(&limit_link, generation);
            });
        if let Err(error) = limit {
            tracing::warn!("cannot limit the keyboard grab, releasing it: {error}");
            // Nothing else is waiting to be read this early.
            let _others = self.release_capture(link, generation);
        }
    }

    /// Keeps a key typed while the keyboard is grabbed for the picker.
    fn keep(&self, press: &KeyPressEvent) {
        let mut capture = lock(&self.capture);
        if !capture.active {
            return;
        }
        if let Some(key) = capture
            .map
            .as_ref()
            .and_then(|map| typed_key(map, press.detail, u16::from(press.state)))
        {
            capture.keys.push(key);
        }
    }

    /// Releases the keyboard (capture `generation`, or the active one for 0) and answers whoever waits. The
    /// round trip after the release makes sure every key typed before it has reached this connection, so none
    /// is lost between here and the window that takes the keys next.
    /// Returns the other events read meanwhile, for the listener to handle.
    fn release_capture(&self, link: &Link, generation: u32) -> Vec<Event> {
        {
            let capture = lock(&self.capture);
            if !capture.active || (generation != 0 && generation != capture.generation) {
                return Vec::new();
            }
        }
        let _ = link.connection.ungrab_keyboard(CURRENT_TIME);
        let synced = link
            .connection
            .get_input_focus()
            .ok()
            .and_then(|cookie| cookie.reply().ok());
        if synced.is_none() {
            tracing::warn!("the X server did not confirm the end of the keyboard grab");
        }
        let mut others = Vec::new();
        while let Ok(Some(event)) = link.connection.poll_for_event() {
            match event {
                Event::KeyPress(press) if !self.is_shortcut(&press) => self.keep(&press),
                other => others.push(other),
            }
        }
        let mut capture = lock(&self.capture);
        capture.active = false;
        if generation != 0 {
            tracing::info!(
                "the picker did not ask for the keys typed for it within {} s; the keyboard is free again",
                CAPTURE_LIMIT.as_secs()
            );
        }
        if !capture.waiting.is_empty() {
            let keys = std::mem::take(&mut capture.keys);
            for waiting in capture.waiting.drain(..) {
                let _ = waiting.send(keys.clone());
            }
        }
        others
    }

    /// Whether a press is the shortcut's (its key with its modifiers; lock keys do not count, wherever the
    /// keyboard puts Num Lock).
    fn is_shortcut(&self, press: &KeyPressEvent) -> bool {
        let grabs = lock(&self.grabs);
        grabs.active.as_ref().is_some_and(|grab| {
            let relevant = u16::from(ModMask::SHIFT | ModMask::CONTROL | ModMask::M1 | ModMask::M4)
                & !u16::from(grab.num_lock);
            press.detail == grab.keycode && u16::from(press.state) & relevant == u16::from(grab.modifiers)
        })
    }
}

/// What a key press means to the picker, read with the keyboard's map and the modifiers held (`state`); `None`
/// for keys it does not use (modifiers alone, function keys) and for combinations with Ctrl, Alt or Super.
fn typed_key(map: &KeyMap, keycode: Keycode, state: u16) -> Option<TypedKey> {
    let modifiers = ModMask::from(state);
    if modifiers.intersects(ModMask::CONTROL | ModMask::M1 | ModMask::M4) {
        return None;
    }
    let symbols = map.symbols_of(keycode)?;
    let plain = symbols.first().copied().unwrap_or(0);
    let shifted = symbols.get(1).copied().filter(|keysym| *keysym != 0);
    let shift = modifiers.contains(ModMask::SHIFT);
    let keypad = shifted.is_some_and(is_keypad_digit);
    let keysym = if keypad {
        // Num Lock (on the modifier the keyboard's map gives it) gives the digits; Shift inverts it.
        let num_lock = u16::from(map.num_lock) != 0 && modifiers.contains(map.num_lock);
        if num_lock != shift {
            shifted.unwrap_or(plain)
        } else {
            plain
        }
    } else if shift {
        shifted.unwrap_or_else(|| upper_case(plain))
    } else if modifiers.contains(ModMask::LOCK) {
        upper_case(plain)
    } else {
        plain
    };
    key_of(keysym)
}

fn is_keypad_digit(keysym: u32) -> bool {
    (0xffb0..=0xffb9).contains(&keysym)
}

/// The capital of a Latin-1 small letter keysym; anything else as it is.
fn upper_case(keysym: u32) -> u32 {
    match keysym {
        0x61..=0x7a => keysym - 0x20,
        0xe0..=0xfe if keysym != 0xf7 => keysym - 0x20,
        _ => keysym,
    }
}

/// The picker's meaning of an X keysym (X11/keysymdef.h: Latin-1 keysyms are their code points, Unicode ones
/// are 0x0100_0000 + the code point).
fn key_of(keysym: u32) -> Option<TypedKey> {
    let text = |code: u32| {
        char::from_u32(code).map(|character| TypedKey::Text {
            text: character.to_string(),
        })
    };
    match keysym {
        0xff0d | 0xff8d => Some(TypedKey::Enter),
        0xff1b => Some(TypedKey::Escape),
        0xff08 => Some(TypedKey::Backspace),
        0xff52 | 0xff97 => Some(TypedKey::Up),
        0xff54 | 0xff99 => Some(TypedKey::Down),
        0xff80 => text(0x20),
        0xffb0..=0xffb9 => text(keysym - 0xffb0 + 0x30),
        0x20..=0x7e | 0xa0..=0xff => text(keysym),
        0x0100_00a0..=0x0110_ffff => text(keysym - 0x0100_0000),
        _ => None,
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

fn modifier_mask(modifiers: Modifiers) -> ModMask {
    let mut mask = ModMask::from(0u16);
    if modifiers.contains(Modifiers::SHIFT) {
        mask |= ModMask::SHIFT;
    }
    if modifiers.contains(Modifiers::CONTROL) {
        mask |= ModMask::CONTROL;
    }
    if modifiers.contains(Modifiers::ALT) {
        mask |= ModMask::M1;
    }
    if modifiers.intersects(Modifiers::SUPER | Modifiers::META) {
        mask |= ModMask::M4;
    }
    mask
}

/// The X keysym of a key, for the keys a shortcut may use.
fn keysym_of(code: Code) -> Option<u32> {
    crate::keys::keysym(code).map(|keysym| keysym.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three keys of a US layout: a/A, 1/!, the keypad's End/1, and Return.
    fn us_keys() -> KeyMap {
        KeyMap {
            first: 38,
            per_keycode: 2,
            keysyms: vec![0x61, 0x41, 0x31, 0x21, 0xff9c, 0xffb1, 0xff0d, 0],
            num_lock: ModMask::M2,
        }
    }

    fn text(text: &str) -> Option<TypedKey> {
        Some(TypedKey::Text { text: text.into() })
    }

    #[test]
    fn captured_keys_read_as_typed_with_shift_caps_lock_and_num_lock() {
        let map = us_keys();
        let (shift, lock, num_lock) = (
            u16::from(ModMask::SHIFT),
            u16::from(ModMask::LOCK),
            u16::from(ModMask::M2),
        );
        assert_eq!(typed_key(&map, 38, 0), text("a"));
        assert_eq!(typed_key(&map, 38, shift), text("A"));
        assert_eq!(typed_key(&map, 38, lock), text("A"));
        assert_eq!(typed_key(&map, 39, 0), text("1"));
        assert_eq!(typed_key(&map, 39, shift), text("!"));
        assert_eq!(
            typed_key(&map, 40, num_lock),
            text("1"),
            "the keypad's 1 with Num Lock"
        );
        assert_eq!(typed_key(&map, 40, 0), None, "End without Num Lock");
        assert_eq!(typed_key(&map, 41, 0), Some(TypedKey::Enter));
        assert_eq!(
            typed_key(&map, 41, shift),
            Some(TypedKey::Enter),
            "no shifted symbol: the plain one"
        );
        assert_eq!(typed_key(&map, 37, 0), None, "below the map");
        assert_eq!(typed_key(&map, 42, 0), None, "beyond the map");
        assert_eq!(
            typed_key(&map, 38, u16::from(ModMask::CONTROL)),
            None,
            "Ctrl+A is not typing"
        );
        assert_eq!(typed_key(&map, 38, u16::from(ModMask::M1)), None, "nor Alt+A");
    }

    #[test]
    fn num_lock_is_found_on_whichever_modifier_the_map_puts_it() {
        // Keycode 42 gives Num_Lock; the modifier mapping has two keycodes per modifier, Shift first.
        let mut map = us_keys();
        map.keysyms.extend([NUM_LOCK_KEYSYM, 0]);
        let on = |modifier: usize| {
            let mut keycodes = vec![0u8; 16];
            keycodes[modifier * 2 + 1] = 42;
            keycodes
        };
        assert_eq!(map.num_lock_from(&on(4), 2), ModMask::M2, "the usual place");
        assert_eq!(
            map.num_lock_from(&on(5), 2),
            ModMask::M3,
            "moved by a keyboard map"
        );
        assert_eq!(
            map.num_lock_from(&[0u8; 16], 2),
            ModMask::from(0u16),
            "on no modifier"
        );
        // With Num Lock on Mod3, Mod2 no longer turns the keypad into digits, and Mod3 does.
        map.num_lock = ModMask::M3;
        assert_eq!(typed_key(&map, 40, u16::from(ModMask::M3)), text("1"));
        assert_eq!(typed_key(&map, 40, u16::from(ModMask::M2)), None);
        // The shortcut is grabbed with and without each lock key, on the modifier they are on.
        assert_eq!(
            lock_masks(ModMask::M3),
            vec![
                ModMask::from(0u16),
                ModMask::LOCK,
                ModMask::M3,
                ModMask::LOCK | ModMask::M3
            ]
        );
        assert_eq!(
            lock_masks(ModMask::from(0u16)),
            vec![ModMask::from(0u16), ModMask::LOCK]
        );
        assert_eq!(map.keycode_of(NUM_LOCK_KEYSYM), Some(42));
        assert_eq!(map.keycode_of(0xffbe), None, "F1 is not on this small keyboard");
    }

    #[test]
    fn keysyms_mean_what_the_picker_needs() {
        assert_eq!(key_of(0xff1b), Some(TypedKey::Escape));
        assert_eq!(key_of(0xff08), Some(TypedKey::Backspace));
        assert_eq!(key_of(0xff52), Some(TypedKey::Up));
        assert_eq!(key_of(0xff54), Some(TypedKey::Down));
        assert_eq!(key_of(0xff8d), Some(TypedKey::Enter), "the keypad's Enter");
        assert_eq!(key_of(0x20), text(" "));
        assert_eq!(key_of(0xe9), text("é"), "Latin-1 as its code point");
        assert_eq!(key_of(0x0100_20ac), text("€"), "Unicode keysyms");
        assert_eq!(key_of(0xffe1), None, "Shift alone");
        assert_eq!(key_of(0xffbe), None, "F1");
        assert_eq!(upper_case(0xe9), 0xc9);
        assert_eq!(upper_case(0xf7), 0xf7, "÷ has no capital");
    }

    #[test]
    fn accelerators_map_to_x_modifiers_and_keysyms() {
        let hotkey = HotKey::from_str("Ctrl+Alt+S").expect("parses");
        assert_eq!(modifier_mask(hotkey.mods), ModMask::CONTROL | ModMask::M1);
        assert_eq!(keysym_of(hotkey.key), Some(u32::from(b's')));
        let hotkey = HotKey::from_str("Super+Shift+K").expect("parses");
        assert_eq!(modifier_mask(hotkey.mods), ModMask::SHIFT | ModMask::M4);
        assert_eq!(keysym_of(Code::Digit7), Some(u32::from(b'7')));
        assert_eq!(keysym_of(Code::F12), Some(0xffc9));
        assert_eq!(keysym_of(Code::Space), Some(0x20));
        assert_eq!(keysym_of(Code::MediaPlayPause), None);
    }
}
