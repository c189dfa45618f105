//! The keys a global shortcut may use, with their X keysym and its xkbcommon name: one table for both Linux
//! backends (the X11 listener grabs the keysym; the Wayland portal is offered the name), so a shortcut saved on
//! one works on the other.

use tauri_plugin_global_shortcut::Code;

/// A key's keysym (X11/keysymdef.h) and its name (xkbcommon-keysyms.h without `XKB_KEY_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keysym {
    pub value: u32,
    pub name: &'static str,
}

const fn key(code: Code, value: u32, name: &'static str) -> (Code, Keysym) {
    (code, Keysym { value, name })
}

const KEYS: [(Code, Keysym); 75] = [
    key(Code::KeyA, 0x61, "a"),
    key(Code::KeyB, 0x62, "b"),
    key(Code::KeyC, 0x63, "c"),
    key(Code::KeyD, 0x64, "d"),
    key(Code::KeyE, 0x65, "e"),
    key(Code::KeyF, 0x66, "f"),
    key(Code::KeyG, 0x67, "g"),
    key(Code::KeyH, 0x68, "h"),
    key(Code::KeyI, 0x69, "i"),
    key(Code::KeyJ, 0x6a, "j"),
    key(Code::KeyK, 0x6b, "k"),
    key(Code::KeyL, 0x6c, "l"),
    key(Code::KeyM, 0x6d, "m"),
    key(Code::KeyN, 0x6e, "n"),
    key(Code::KeyO, 0x6f, "o"),
    key(Code::KeyP, 0x70, "p"),
    key(Code::KeyQ, 0x71, "q"),
    key(Code::KeyR, 0x72, "r"),
    key(Code::KeyS, 0x73, "s"),
    key(Code::KeyT, 0x74, "t"),
    key(Code::KeyU, 0x75, "u"),
    key(Code::KeyV, 0x76, "v"),
    key(Code::KeyW, 0x77, "w"),
    key(Code::KeyX, 0x78, "x"),
    key(Code::KeyY, 0x79, "y"),
    key(Code::KeyZ, 0x7a, "z"),
    key(Code::Digit0, 0x30, "0"),
    key(Code::Digit1, 0x31, "1"),
    key(Code::Digit2, 0x32, "2"),
    key(Code::Digit3, 0x33, "3"),
    key(Code::Digit4, 0x34, "4"),
    key(Code::Digit5, 0x35, "5"),
    key(Code::Digit6, 0x36, "6"),
    key(Code::Digit7, 0x37, "7"),
    key(Code::Digit8, 0x38, "8"),
    key(Code::Digit9, 0x39, "9"),
    key(Code::F1, 0xffbe, "F1"),
    key(Code::F2, 0xffbf, "F2"),
    key(Code::F3, 0xffc0, "F3"),
    key(Code::F4, 0xffc1, "F4"),
    key(Code::F5, 0xffc2, "F5"),
    key(Code::F6, 0xffc3, "F6"),
    key(Code::F7, 0xffc4, "F7"),
    key(Code::F8, 0xffc5, "F8"),
    key(Code::F9, 0xffc6, "F9"),
    key(Code::F10, 0xffc7, "F10"),
    key(Code::F11, 0xffc8, "F11"),
    key(Code::F12, 0xffc9, "F12"),
    key(Code::Space, 0x0020, "space"),
    key(Code::Quote, 0x0027, "apostrophe"),
    key(Code::Comma, 0x002c, "comma"),
    key(Code::Minus, 0x002d, "minus"),
    key(Code::Period, 0x002e, "period"),
    key(Code::Slash, 0x002f, "slash"),
    key(Code::Semicolon, 0x003b, "semicolon"),
    key(Code::Equal, 0x003d, "equal"),
    key(Code::BracketLeft, 0x005b, "bracketleft"),
    key(Code::Backslash, 0x005c, "backslash"),
    key(Code::BracketRight, 0x005d, "bracketright"),
    key(Code::Backquote, 0x0060, "grave"),
    key(Code::Backspace, 0xff08, "BackSpace"),
    key(Code::Tab, 0xff09, "Tab"),
    key(Code::Enter, 0xff0d, "Return"),
    key(Code::Pause, 0xff13, "Pause"),
    key(Code::Escape, 0xff1b, "Escape"),
    key(Code::Home, 0xff50, "Home"),
    key(Code::ArrowLeft, 0xff51, "Left"),
    key(Code::ArrowUp, 0xff52, "Up"),
    key(Code::ArrowRight, 0xff53, "Right"),
    key(Code::ArrowDown, 0xff54, "Down"),
    key(Code::PageUp, 0xff55, "Page_Up"),
    key(Code::PageDown, 0xff56, "Page_Down"),
    key(Code::End, 0xff57, "End"),
    key(Code::Insert, 0xff63, "Insert"),
    key(Code::Delete, 0xffff, "Delete"),
];

/// The keysym of a key a shortcut may use; `None` for the others.
pub fn keysym(code: Code) -> Option<Keysym> {
    KEYS.iter()
        .find(|(candidate, _)| *candidate == code)
        .map(|(_, keysym)| *keysym)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_digits_are_their_ascii_keysyms_and_names() {
        for (code, keysym) in &KEYS {
            if keysym.name.len() == 1 {
                assert_eq!(keysym.value, u32::from(keysym.name.as_bytes()[0]), "{code:?}");
            }
        }
        assert_eq!(keysym(Code::MediaPlayPause), None);
    }
}
