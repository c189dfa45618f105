// Turns a key press into a global shortcut as Tauri spells accelerators ("Ctrl+Alt+S"): the modifiers in a
// fixed order, then one key named from its physical position (`KeyboardEvent.code`), so the same keys give the
// same shortcut whatever the keyboard layout.

/** What a key press in the shortcut field amounts to. */
export type Capture =
  /** A whole shortcut. */
  | { kind: "shortcut"; accelerator: string }
  /** Only modifiers so far ("Ctrl+Alt+…"). */
  | { kind: "partial"; text: string }
  /** A key that needs a modifier to make a global shortcut (every plain letter would be taken). */
  | { kind: "needs-modifier"; text: string }
  /** A key a shortcut cannot use. */
  | { kind: "unsupported" };

const MODIFIER_CODES = new Set([
  "ControlLeft",
  "ControlRight",
  "AltLeft",
  "AltRight",
  "ShiftLeft",
  "ShiftRight",
  "MetaLeft",
  "MetaRight",
  "OSLeft",
  "OSRight",
]);

// Keys whose `code` is already a name the accelerator parser knows.
const NAMED_KEYS = new Set([
  "Space",
  "Enter",
  "Tab",
  "Backspace",
  "Delete",
  "Insert",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "Escape",
  "PrintScreen",
  "ScrollLock",
  "Pause",
  "Minus",
  "Equal",
  "Comma",
  "Period",
  "Slash",
  "Semicolon",
  "Quote",
  "Backquote",
  "BracketLeft",
  "BracketRight",
  "Backslash",
  "NumpadAdd",
  "NumpadSubtract",
  "NumpadMultiply",
  "NumpadDivide",
  "NumpadDecimal",
  "NumpadEnter",
]);

const ARROWS: Record<string, string> = { ArrowUp: "Up", ArrowDown: "Down", ArrowLeft: "Left", ArrowRight: "Right" };

/** The accelerator name of the key at `code`, or null when a shortcut cannot use it. */
export function keyName(code: string): string | null {
  const letter = /^Key([A-Z])$/.exec(code);
  if (letter) return letter[1] ?? null;
  const digit = /^Digit([0-9])$/.exec(code);
  if (digit) return digit[1] ?? null;
  const numpad = /^Numpad([0-9])$/.exec(code);
  if (numpad) return `Num${numpad[1] ?? ""}`;
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) return code;
  if (code in ARROWS) return ARROWS[code] ?? null;
  return NAMED_KEYS.has(code) ? code : null;
}

type KeyPress = Pick<KeyboardEvent, "code" | "ctrlKey" | "altKey" | "shiftKey" | "metaKey">;

function modifiers(event: KeyPress): string[] {
  const names: string[] = [];
  if (event.ctrlKey) names.push("Ctrl");
  if (event.altKey) names.push("Alt");
  if (event.shiftKey) names.push("Shift");
  if (event.metaKey) names.push("Super");
  return names;
}

/** What pressing these keys together means for the shortcut field. */
export function captureShortcut(event: KeyPress): Capture {
  const held = modifiers(event);
  if (MODIFIER_CODES.has(event.code)) return { kind: "partial", text: [...held, "…"].join("+") };
  const key = keyName(event.code);
  if (key === null) return { kind: "unsupported" };
  const text = [...held, key].join("+");
  const functionKey = /^F\d+$/.test(key);
  const strongModifier = event.ctrlKey || event.altKey || event.metaKey;
  if (!strongModifier && !functionKey) return { kind: "needs-modifier", text };
  return { kind: "shortcut", accelerator: text };
}
