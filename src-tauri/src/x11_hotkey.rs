//! The global shortcut on X11, grabbed on the root window and waited for without polling.
//!
//! Why not the global-shortcut plugin here: its X11 backend (global-hotkey 0.8) wakes every 50 ms to look for
//! events, which was 97 % of the tray app's idle wake-ups (about 78,000 an hour; docs/performance.md). This
//! listener blocks in `wait_for_event` on its own X connection, so an idle app wakes only when a key is
//! pressed. The accelerator is parsed as the plugin parses it ("Ctrl+Alt+S"), so saved shortcuts keep working.

use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use tauri_plugin_global_shortcut::{Code, Modifiers, Shortcut as HotKey};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::Event;
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, GrabMode, Keycode, ModMask, Window};
use x11rb::rust_connection::RustConnection;

/// Lock keys (Caps Lock, Num Lock) that must not stop the shortcut: it is grabbed with and without each.
fn lock_masks() -> [ModMask; 4] {
    [
        ModMask::from(0u16),
        ModMask::LOCK,
        ModMask::M2,
        ModMask::LOCK | ModMask::M2,
    ]
}

/// The combination grabbed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grab {
    keycode: Keycode,
    modifiers: ModMask,
}

/// A shortcut grabbed on the X server's root window; `on_press` runs on the listener's thread.
pub struct X11Hotkeys {
    connection: Arc<RustConnection>,
    root: Window,
    grabbed: Arc<Mutex<Option<Grab>>>,
}

impl X11Hotkeys {
    /// Connects to the X server and starts the listener thread.
    pub fn start(on_press: impl Fn() + Send + 'static) -> Result<X11Hotkeys, String> {
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
        let connection = Arc::new(connection);
        let grabbed: Arc<Mutex<Option<Grab>>> = Arc::default();
        let listener = (connection.clone(), grabbed.clone());
        std::thread::Builder::new()
            .name("caret-shortcut".into())
            .spawn(move || listen(&listener.0, &listener.1, on_press))
            .map_err(|error| format!("cannot start the shortcut listener: {error}"))?;
        Ok(X11Hotkeys {
            connection,
            root,
            grabbed,
        })
    }

    /// Grabs `accelerator` in place of the shortcut grabbed before (which is released even if this fails).
    pub fn register(&self, accelerator: &str) -> Result<(), String> {
        self.unregister();
        let hotkey = HotKey::from_str(accelerator).map_err(|error| error.to_string())?;
        let keysym =
            keysym_of(hotkey.key).ok_or_else(|| format!("{:?} cannot be a global shortcut", hotkey.key))?;
        let keycode = self
            .keycode_of(keysym)?
            .ok_or_else(|| format!("no key on this keyboard gives {:?}", hotkey.key))?;
        let grab = Grab {
            keycode,
            modifiers: modifier_mask(hotkey.mods),
        };
        for lock in lock_masks() {
            let outcome = self
                .connection
                .grab_key(
                    false,
                    self.root,
                    grab.modifiers | lock,
                    grab.keycode,
                    GrabMode::ASYNC,
                    GrabMode::ASYNC,
                )
                .map_err(|error| error.to_string())
                .and_then(|cookie| cookie.check().map_err(|error| describe(&error)));
            if let Err(reason) = outcome {
                self.release(grab);
                return Err(reason);
            }
        }
        *self.grabbed.lock().unwrap_or_else(PoisonError::into_inner) = Some(grab);
        Ok(())
    }

    /// Releases the grabbed shortcut, if any.
    pub fn unregister(&self) {
        let previous = self.grabbed.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(grab) = previous {
            self.release(grab);
        }
    }

    fn release(&self, grab: Grab) {
        for lock in lock_masks() {
            let _ = self
                .connection
                .ungrab_key(grab.keycode, self.root, grab.modifiers | lock);
        }
        let _ = self.connection.flush();
    }

    /// The first keycode whose symbols include `keysym`.
    fn keycode_of(&self, keysym: u32) -> Result<Option<Keycode>, String> {
        let setup = self.connection.setup();
        let (first, last) = (setup.min_keycode, setup.max_keycode);
        let mapping = self
            .connection
            .get_keyboard_mapping(first, last - first + 1)
            .map_err(|error| error.to_string())?
            .reply()
            .map_err(|error| error.to_string())?;
        let per_keycode = usize::from(mapping.keysyms_per_keycode.max(1));
        Ok(mapping
            .keysyms
            .chunks(per_keycode)
            .position(|symbols| symbols.contains(&keysym))
            .and_then(|index| u8::try_from(index).ok())
            .map(|index| first + index))
    }
}

impl Drop for X11Hotkeys {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Waits for key events (blocking: no wake-up while nothing happens) and runs `on_press` once per press.
fn listen(connection: &RustConnection, grabbed: &Mutex<Option<Grab>>, on_press: impl Fn()) {
    let relevant = ModMask::SHIFT | ModMask::CONTROL | ModMask::M1 | ModMask::M4;
    let mut held = false;
    loop {
        let event = match connection.wait_for_event() {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!("the shortcut listener lost the X server: {error}");
                return;
            }
        };
        let current = *grabbed.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(grab) = current else { continue };
        match event {
            Event::KeyPress(press) if press.detail == grab.keycode => {
                let modifiers = ModMask::from(u16::from(press.state)) & relevant;
                if modifiers == grab.modifiers && !held {
                    held = true;
                    on_press();
                }
            }
            Event::KeyRelease(release) if release.detail == grab.keycode => held = false,
            _ => {}
        }
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
    let letters = [
        Code::KeyA,
        Code::KeyB,
        Code::KeyC,
        Code::KeyD,
        Code::KeyE,
        Code::KeyF,
        Code::KeyG,
        Code::KeyH,
        Code::KeyI,
        Code::KeyJ,
        Code::KeyK,
        Code::KeyL,
        Code::KeyM,
        Code::KeyN,
        Code::KeyO,
        Code::KeyP,
        Code::KeyQ,
        Code::KeyR,
        Code::KeyS,
        Code::KeyT,
        Code::KeyU,
        Code::KeyV,
        Code::KeyW,
        Code::KeyX,
        Code::KeyY,
        Code::KeyZ,
    ];
    let digits = [
        Code::Digit0,
        Code::Digit1,
        Code::Digit2,
        Code::Digit3,
        Code::Digit4,
        Code::Digit5,
        Code::Digit6,
        Code::Digit7,
        Code::Digit8,
        Code::Digit9,
    ];
    let functions = [
        Code::F1,
        Code::F2,
        Code::F3,
        Code::F4,
        Code::F5,
        Code::F6,
        Code::F7,
        Code::F8,
        Code::F9,
        Code::F10,
        Code::F11,
        Code::F12,
    ];
    let offset = |list: &[Code], base: u32| {
        list.iter()
            .position(|candidate| *candidate == code)
            .and_then(|index| u32::try_from(index).ok())
            .map(|index| base + index)
    };
    offset(&letters, u32::from(b'a'))
        .or_else(|| offset(&digits, u32::from(b'0')))
        .or_else(|| offset(&functions, 0xffbe))
        .or(match code {
            Code::Space => Some(0x0020),
            Code::Quote => Some(0x0027),
            Code::Comma => Some(0x002c),
            Code::Minus => Some(0x002d),
            Code::Period => Some(0x002e),
            Code::Slash => Some(0x002f),
            Code::Semicolon => Some(0x003b),
            Code::Equal => Some(0x003d),
            Code::BracketLeft => Some(0x005b),
            Code::Backslash => Some(0x005c),
            Code::BracketRight => Some(0x005d),
            Code::Backquote => Some(0x0060),
            Code::Backspace => Some(0xff08),
            Code::Tab => Some(0xff09),
            Code::Enter => Some(0xff0d),
            Code::Pause => Some(0xff13),
            Code::Escape => Some(0xff1b),
            Code::Home => Some(0xff50),
            Code::ArrowLeft => Some(0xff51),
            Code::ArrowUp => Some(0xff52),
            Code::ArrowRight => Some(0xff53),
            Code::ArrowDown => Some(0xff54),
            Code::PageUp => Some(0xff55),
            Code::PageDown => Some(0xff56),
            Code::End => Some(0xff57),
            Code::Insert => Some(0xff63),
            Code::Delete => Some(0xffff),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
