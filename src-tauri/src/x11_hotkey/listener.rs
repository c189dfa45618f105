//! The listener thread: it waits for the X server's events, runs the shortcut, keeps the keys typed for the
//! picker while the keyboard is grabbed for them, grabs the shortcut again when the keyboard's map changes,
//! and connects again when the X server is lost.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use x11rb::CURRENT_TIME;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    Allow, ConnectionExt as _, GrabMode, GrabStatus, KeyPressEvent, Keycode, Mapping, ModMask,
};

use super::keymap::typed_key;
use super::{CAPTURE_LIMIT, Capture, Grabs, Link, SharedLink, current, wake_listener};

/// How long the listener waits before trying the X server again after losing it, at first and at most.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MOST: Duration = Duration::from_secs(30);

/// The listener thread's side.
pub(super) struct Listener {
    pub(super) link: SharedLink,
    pub(super) grabs: Arc<Mutex<Grabs>>,
    pub(super) capture: Arc<Mutex<Capture>>,
}

impl Listener {
    /// Waits for events (blocking: no wake-up while nothing happens), runs `on_press` once per press of the
    /// shortcut and keeps the keys typed for the picker. When the X server is lost, it connects again and
    /// grabs the shortcut again.
    pub(super) fn listen(self, wants_keys: impl Fn() -> bool, on_press: impl Fn()) {
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
        self.grabs.lock().active.as_ref().map(|grab| grab.keycode)
    }

    /// Grabs the wanted shortcut again with the keyboard's current map (after a layout change, or on a new
    /// connection where nothing is grabbed yet), and reads the map again for the keys typed for the picker.
    ///
    /// The old grab stays until the new one is in place, and only what the new one does not cover is released
    /// then: the server sends these notices when a program types through another keyboard device (xdotool's
    /// first key does), so one often arrives with the shortcut's own press on its heels, and a press that
    /// fell between a release and the grab again went to the focused window, lost.
    fn grab_again(&self, link: &Link) {
        let mut grabs = self.grabs.lock();
        let map = match link.key_map() {
            Ok(map) => map,
            Err(reason) => {
                tracing::warn!("cannot read the keyboard's new mapping: {reason}");
                self.capture.lock().map = None;
                return;
            }
        };
        self.capture.lock().map = Some(map.clone());
        let old = grabs.active.take();
        let Some(wanted) = grabs.wanted else {
            if let Some(old) = old {
                link.release(&old);
            }
            return;
        };
        // Grabbing a combination this connection holds already replaces that grab (X protocol, GrabKey).
        match link.grab(&map, wanted) {
            Ok(grab) => {
                let moved = old.as_ref() != Some(&grab);
                if let Some(old) = old {
                    link.release_all_but(&old, &grab);
                }
                if moved {
                    tracing::info!(
                        keycode = grab.keycode,
                        num_lock = u16::from(grab.num_lock),
                        "the keyboard's mapping is read again and the shortcut grabbed on it"
                    );
                } else {
                    tracing::debug!("the keyboard's mapping is read again; the shortcut's grab is unchanged");
                }
                grabs.active = Some(grab);
            }
            // Kept as wanted: the next change of the mapping may give the key back.
            Err(reason) => {
                // A failed grab releases what it took, some of which may have been the old grab's.
                if let Some(old) = old {
                    link.release(&old);
                }
                tracing::warn!("the shortcut cannot be grabbed on the new keyboard mapping: {reason}")
            }
        }
    }

    /// After the X connection dropped: whoever waits for typed keys gets what was kept, then the listener
    /// tries the X server again (sooner at first, then every 30 s) until it answers, and grabs the shortcut
    /// there again.
    fn reconnect(&self) -> Arc<Link> {
        {
            let mut capture = self.capture.lock();
            capture.active = false;
            let keys = std::mem::take(&mut capture.keys);
            for waiting in capture.waiting.drain(..) {
                let _ = waiting.send(keys.clone());
            }
        }
        // The grabs went with the connection.
        self.grabs.lock().active = None;
        let mut delay = RECONNECT_FIRST;
        loop {
            std::thread::sleep(delay);
            match Link::open() {
                Ok(link) => {
                    let link = Arc::new(link);
                    *self.link.lock() = link.clone();
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
        let map = match self.capture.lock().map.clone() {
            Some(map) => Some(map),
            None => link.key_map().ok(),
        };
        let generation = {
            let mut capture = self.capture.lock();
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
        let mut capture = self.capture.lock();
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
            let capture = self.capture.lock();
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
        let mut capture = self.capture.lock();
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
        let grabs = self.grabs.lock();
        grabs.active.as_ref().is_some_and(|grab| {
            let relevant = u16::from(ModMask::SHIFT | ModMask::CONTROL | ModMask::M1 | ModMask::M4)
                & !u16::from(grab.num_lock);
            press.detail == grab.keycode && u16::from(press.state) & relevant == u16::from(grab.modifiers)
        })
    }
}
