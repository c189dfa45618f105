import { describe, expect, it } from "vitest";
import { captureShortcut, keyName } from "./shortcut";

const press = (code: string, held: { ctrl?: boolean; alt?: boolean; shift?: boolean; meta?: boolean } = {}) => ({
  code,
  ctrlKey: held.ctrl ?? false,
  altKey: held.alt ?? false,
  shiftKey: held.shift ?? false,
  metaKey: held.meta ?? false,
});

describe("keyName", () => {
  it("names keys as Tauri accelerators do", () => {
    expect(keyName("KeyS")).toBe("S");
    expect(keyName("Digit7")).toBe("7");
    expect(keyName("F5")).toBe("F5");
    expect(keyName("F24")).toBe("F24");
    expect(keyName("Space")).toBe("Space");
    expect(keyName("ArrowUp")).toBe("Up");
    expect(keyName("Numpad3")).toBe("Num3");
    expect(keyName("Backquote")).toBe("Backquote");
  });

  it("refuses keys a shortcut cannot use", () => {
    expect(keyName("F25")).toBeNull();
    expect(keyName("ContextMenu")).toBeNull();
    expect(keyName("")).toBeNull();
  });
});

describe("captureShortcut", () => {
  it("writes the modifiers in a fixed order, then the key", () => {
    expect(captureShortcut(press("KeyS", { ctrl: true, alt: true }))).toEqual({
      kind: "shortcut",
      accelerator: "Ctrl+Alt+S",
    });
    expect(captureShortcut(press("KeyK", { meta: true, shift: true, ctrl: true, alt: true }))).toEqual({
      kind: "shortcut",
      accelerator: "Ctrl+Alt+Shift+Super+K",
    });
    expect(captureShortcut(press("Space", { meta: true }))).toEqual({ kind: "shortcut", accelerator: "Super+Space" });
  });

  it("takes a function key alone", () => {
    expect(captureShortcut(press("F5"))).toEqual({ kind: "shortcut", accelerator: "F5" });
    expect(captureShortcut(press("F9", { shift: true }))).toEqual({ kind: "shortcut", accelerator: "Shift+F9" });
  });

  it("shows modifiers held so far", () => {
    expect(captureShortcut(press("ControlLeft", { ctrl: true }))).toEqual({ kind: "partial", text: "Ctrl+…" });
    expect(captureShortcut(press("AltRight", { ctrl: true, alt: true }))).toEqual({
      kind: "partial",
      text: "Ctrl+Alt+…",
    });
  });

  it("asks for a modifier for a letter alone or with Shift only", () => {
    expect(captureShortcut(press("KeyS"))).toEqual({ kind: "needs-modifier", text: "S" });
    expect(captureShortcut(press("KeyS", { shift: true }))).toEqual({ kind: "needs-modifier", text: "Shift+S" });
  });

  it("refuses keys it cannot name", () => {
    expect(captureShortcut(press("ContextMenu", { ctrl: true }))).toEqual({ kind: "unsupported" });
  });
});
