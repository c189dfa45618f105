//! The keyboard as the X server maps it, once read: the keycode that gives a key symbol, the modifier Num Lock
//! is on, the lock-key variants a shortcut is grabbed under, and what a key typed for the picker means. No X
//! connection here, so all of it is tested without a display.

use caret_app::action::TypedKey;
use tauri_plugin_global_shortcut::{Code, Modifiers};
use x11rb::protocol::xproto::{GetKeyboardMappingReply, GetModifierMappingReply, Keycode, ModMask};

/// The `Num_Lock` keysym (X11/keysymdef.h).
const NUM_LOCK_KEYSYM: u32 = 0xff7f;

/// Lock keys (Caps Lock, and Num Lock on whichever modifier the keyboard puts it) that must not stop the
/// shortcut: it is grabbed with and without each.
pub(super) fn lock_masks(num_lock: ModMask) -> Vec<ModMask> {
    let mut masks = vec![ModMask::from(0u16), ModMask::LOCK];
    if u16::from(num_lock) != 0 {
        masks.extend([num_lock, ModMask::LOCK | num_lock]);
    }
    masks
}

/// The keyboard as the X server maps it: keycode → keysyms, and the modifier Num Lock is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyMap {
    first: Keycode,
    per_keycode: usize,
    keysyms: Vec<u32>,
    num_lock: ModMask,
}

impl KeyMap {
    /// The map from the server's answers: the keyboard mapping of every keycode from `first` on, and the
    /// modifier mapping (which says where Num Lock is).
    pub(super) fn from_replies(
        first: Keycode,
        mapping: GetKeyboardMappingReply,
        modifiers: &GetModifierMappingReply,
    ) -> KeyMap {
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
        map
    }

    /// The modifier Num Lock is on, or none (0).
    pub(super) fn num_lock(&self) -> ModMask {
        self.num_lock
    }

    /// The first keycode whose symbols include `keysym`.
    pub(super) fn keycode_of(&self, keysym: u32) -> Option<Keycode> {
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

/// What a key press means to the picker, read with the keyboard's map and the modifiers held (`state`); `None`
/// for keys it does not use (modifiers alone, function keys) and for combinations with Ctrl, Alt or Super.
pub(super) fn typed_key(map: &KeyMap, keycode: Keycode, state: u16) -> Option<TypedKey> {
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

/// The X modifier mask of an accelerator's modifiers (Super and Meta both become Mod4).
pub(super) fn modifier_mask(modifiers: Modifiers) -> ModMask {
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
pub(super) fn keysym_of(code: Code) -> Option<u32> {
    crate::keys::keysym(code).map(|keysym| keysym.value)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tauri_plugin_global_shortcut::Shortcut as HotKey;

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
