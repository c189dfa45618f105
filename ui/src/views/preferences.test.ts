import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PreferencesView } from "../bindings/PreferencesView";
import { clockChoice } from "../clock";
import { byTestId, fakeApp, fakeEvents, inputByTestId, press, settle, type Handlers } from "../test/fake-app";
import { preferences } from "../test/fixtures";
import { mountPreferences, shortcutStatusText } from "./preferences";

describe("shortcutStatusText", () => {
  it("says plainly whether the shortcut works", () => {
    expect(shortcutStatusText(preferences)).toEqual([
      "Working: Ctrl+Alt+S opens the quick status picker from any app.",
      false,
    ]);
    expect(shortcutStatusText({ ...preferences, shortcut: { state: "off" } })).toEqual([
      "Off: no shortcut opens the quick status picker.",
      false,
    ]);
    expect(
      shortcutStatusText({
        ...preferences,
        shortcut: { state: "failed", shortcut: "Ctrl+Alt+S", reason: "Wayland does not let apps grab keys." },
      }),
    ).toEqual([
      "Not working: Ctrl+Alt+S could not be set up on this desktop. Wayland does not let apps grab keys.",
      true,
    ]);
  });

  it("says what the desktop's portal answered on Wayland", () => {
    expect(shortcutStatusText({ ...preferences, shortcut: { state: "asked", shortcut: "Ctrl+Alt+S" } })).toEqual([
      "Waiting for your desktop: it asks you to confirm Ctrl+Alt+S for the quick status picker. Answer its dialog.",
      false,
    ]);
    expect(
      shortcutStatusText({ ...preferences, shortcut: { state: "granted", shortcut: "Ctrl+Alt+S", trigger: "Super+P" } }),
    ).toEqual([
      "Working: your desktop opens the quick status picker with Super+P from any app. Your desktop's keyboard " +
        "settings can change it.",
      false,
    ]);
    const [noKeys, noKeysProblem] = shortcutStatusText({
      ...preferences,
      shortcut: { state: "granted", shortcut: "Ctrl+Alt+S", trigger: "" },
    });
    expect(noKeys).toContain("gave it no keys yet");
    expect(noKeysProblem).toBe(true);
    expect(shortcutStatusText({ ...preferences, shortcut: { state: "declined", shortcut: "Ctrl+Alt+S" } })).toEqual([
      "Not working: you turned down Ctrl+Alt+S when your desktop asked. Save to be asked again.",
      true,
    ]);
  });
});

describe("mountPreferences", () => {
  let root: HTMLElement;
  let current: PreferencesView;

  const handlers: Partial<Handlers> = {
    preferences: () => current,
    set_shortcut: ({ shortcut }) => {
      current = {
        ...current,
        preferences: { ...current.preferences, shortcut },
        shortcut: shortcut === "" ? { state: "off" } : { state: "registered", shortcut },
      };
      return current;
    },
    set_autostart: ({ enabled }) => {
      current = { ...current, preferences: { ...current.preferences, autostart: enabled }, autostart_enabled: enabled };
      return current;
    },
    set_clock: ({ clock }) => {
      current = { ...current, preferences: { ...current.preferences, clock } };
      return current;
    },
  };

  const field = () => inputByTestId(root, "shortcut-input");
  const saveButton = () => byTestId(root, "shortcut-save") as HTMLButtonElement;
  const status = () => byTestId(root, "shortcut-status")?.textContent;

  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
    current = preferences;
  });

  afterEach(() => {
    root.remove();
  });

  it("shows the saved shortcut, whether it works, and the autostart box", async () => {
    const app = fakeApp(handlers);
    mountPreferences(root, app.call);
    await settle();
    expect(app.calls).toEqual([["preferences", {}]]);
    expect(root.querySelector("#preferences-title")?.textContent).toBe("Preferences");
    expect(field().value).toBe("Ctrl+Alt+S");
    expect(field().labels?.[0]?.textContent).toBe("Shortcut for the quick status picker");
    expect(status()).toBe("Working: Ctrl+Alt+S opens the quick status picker from any app.");
    expect(saveButton().disabled).toBe(true);
    expect(byTestId(root, "shortcut-fallback")?.hidden).toBe(true);
    const autostart = inputByTestId(root, "autostart");
    expect(autostart.checked).toBe(false);
    expect(autostart.labels?.[0]?.textContent).toBe("Start Caret Desktop when I log in");
  });

  it("captures a key combination and saves it", async () => {
    const app = fakeApp(handlers);
    mountPreferences(root, app.call);
    await settle();
    field().focus();
    press(field(), "Control", { code: "ControlLeft", ctrlKey: true });
    expect(field().value).toBe("Ctrl+…");
    const event = press(field(), "K", { code: "KeyK", ctrlKey: true, shiftKey: true });
    expect(event.defaultPrevented).toBe(true);
    expect(field().value).toBe("Ctrl+Shift+K");
    expect(saveButton().disabled).toBe(false);
    saveButton().click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_shortcut", { shortcut: "Ctrl+Shift+K" }]);
    expect(status()).toBe("Working: Ctrl+Shift+K opens the quick status picker from any app.");
    expect(saveButton().disabled).toBe(true);
  });

  it("asks for a modifier, leaves Tab alone, and goes back on Escape", async () => {
    mountPreferences(root, fakeApp(handlers).call);
    await settle();
    press(field(), "s", { code: "KeyS" });
    expect(field().value).toBe("Ctrl+Alt+S");
    expect(root.querySelector("#shortcut-hint")?.textContent).toContain("hold Ctrl, Alt or Super too");
    expect(press(field(), "Tab", { code: "Tab" }).defaultPrevented).toBe(false);
    press(field(), "F8", { code: "F8" });
    expect(field().value).toBe("F8");
    press(field(), "Escape", { code: "Escape" });
    expect(field().value).toBe("Ctrl+Alt+S");
  });

  it("clears the shortcut with Clear, or with Backspace then Save", async () => {
    const app = fakeApp(handlers);
    mountPreferences(root, app.call);
    await settle();
    press(field(), "Backspace", { code: "Backspace" });
    expect(field().value).toBe("");
    press(field(), "Enter", { code: "Enter" });
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_shortcut", { shortcut: "" }]);
    expect(status()).toBe("Off: no shortcut opens the quick status picker.");
    expect((byTestId(root, "shortcut-clear") as HTMLButtonElement).disabled).toBe(true);

    current = preferences;
    mountPreferences(root, app.call);
    await settle();
    byTestId(root, "shortcut-clear")?.click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_shortcut", { shortcut: "" }]);
  });

  it("shows a failed shortcut plainly, with the command to bind instead and a Copy button", async () => {
    current = {
      ...preferences,
      shortcut: { state: "failed", shortcut: "Ctrl+Alt+S", reason: "Another app holds it." },
    };
    const copy = vi.fn(() => Promise.resolve());
    mountPreferences(root, fakeApp(handlers).call, copy);
    await settle();
    expect(byTestId(root, "shortcut-status")?.className).toContain("problem");
    const fallback = byTestId(root, "shortcut-fallback");
    expect(fallback?.hidden).toBe(false);
    expect(fallback?.textContent).toContain("keyboard settings");
    expect(inputByTestId(root, "picker-command").value).toBe("caret-desktop picker");
    byTestId(root, "shortcut-copy")?.click();
    await settle();
    expect(copy).toHaveBeenCalledWith("caret-desktop picker");
    expect(fallback?.querySelector("[role=status]")?.textContent).toBe("Copied.");
  });

  it("selects the command when copying is not possible", async () => {
    current = { ...preferences, shortcut: { state: "failed", shortcut: "Ctrl+Alt+S", reason: "Wayland." } };
    mountPreferences(root, fakeApp(handlers).call, () => Promise.reject(new Error("denied")));
    await settle();
    byTestId(root, "shortcut-copy")?.click();
    await settle();
    expect(document.activeElement).toBe(inputByTestId(root, "picker-command"));
    expect(byTestId(root, "shortcut-fallback")?.querySelector("[role=status]")?.textContent).toContain("Ctrl+C");
  });

  it("follows the desktop's answer after Save, and offers to ask again after a refusal", async () => {
    const events = fakeEvents();
    const app = fakeApp({
      ...handlers,
      set_shortcut: ({ shortcut }) => {
        current = {
          ...current,
          preferences: { ...current.preferences, shortcut },
          shortcut: { state: "asked", shortcut },
        };
        return current;
      },
    });
    const panel = mountPreferences(root, app.call, undefined, undefined, events.onEvent);
    await settle();
    press(field(), "K", { code: "KeyK", ctrlKey: true, altKey: true });
    saveButton().click();
    await settle();
    expect(status()).toContain("Waiting for your desktop: it asks you to confirm Ctrl+Alt+K");
    expect(byTestId(root, "shortcut-fallback")?.hidden).toBe(true);

    events.emit("shortcut", { state: "declined", shortcut: "Ctrl+Alt+K" });
    expect(status()).toBe("Not working: you turned down Ctrl+Alt+K when your desktop asked. Save to be asked again.");
    expect(byTestId(root, "shortcut-status")?.className).toContain("problem");
    // The fallback command is for desktops without the portal, not for a refusal that Save can undo.
    expect(byTestId(root, "shortcut-fallback")?.hidden).toBe(true);
    expect(saveButton().disabled).toBe(false);
    saveButton().click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_shortcut", { shortcut: "Ctrl+Alt+K" }]);

    events.emit("shortcut", { state: "granted", shortcut: "Ctrl+Alt+K", trigger: "Ctrl+Alt+K" });
    expect(status()).toContain("Working: your desktop opens the quick status picker with Ctrl+Alt+K");
    expect(saveButton().disabled).toBe(true);

    panel.stop();
    expect(events.listeners("shortcut")).toBe(0);
  });

  it("turns starting at login on and off", async () => {
    const app = fakeApp(handlers);
    mountPreferences(root, app.call);
    await settle();
    inputByTestId(root, "autostart").click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_autostart", { enabled: true }]);
    expect(inputByTestId(root, "autostart").checked).toBe(true);
    inputByTestId(root, "autostart").click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_autostart", { enabled: false }]);
    expect(inputByTestId(root, "autostart").checked).toBe(false);
  });

  it("says when the login item could not be made, and when it went missing", async () => {
    const app = fakeApp({ ...handlers, set_autostart: () => current });
    current = { ...preferences, preferences: { ...preferences.preferences, autostart: true } };
    mountPreferences(root, app.call);
    await settle();
    expect(byTestId(root, "autostart-note")?.textContent).toContain("the login item is missing");
    inputByTestId(root, "autostart").click();
    await settle();
    expect(inputByTestId(root, "autostart").checked).toBe(false);
    expect(root.querySelector(".preferences > [role=alert]")?.textContent).toBe(
      "Could not turn on starting at login: the login item was not created.",
    );
  });

  it("offers 24-hour and 12-hour times, saved at once, and tells the window", async () => {
    const app = fakeApp(handlers);
    const clock = clockChoice();
    const heard = vi.fn();
    clock.watch(heard);
    mountPreferences(root, app.call, undefined, clock);
    await settle();
    const h24 = inputByTestId(root, "clock-h24");
    const h12 = inputByTestId(root, "clock-h12");
    expect(h24.labels?.[0]?.textContent).toBe("24-hour (15:42)");
    expect(h12.labels?.[0]?.textContent).toBe("12-hour (3:42 PM)");
    expect(h24.checked).toBe(true);
    const group = byTestId(root, "clock");
    expect(group?.querySelector("legend")?.textContent).toBe("Times");
    const help = document.getElementById(group?.getAttribute("aria-describedby") ?? "");
    expect(help?.textContent).toContain("covers only the times in its Slack status");

    h12.focus();
    h12.click();
    // Waiting for the app: the radio picked stays picked, the group is disabled.
    expect(h12.checked).toBe(true);
    expect(h24.disabled).toBe(true);
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_clock", { clock: "h12" }]);
    expect(h12.checked).toBe(true);
    expect(h24.disabled).toBe(false);
    expect(clock.current()).toBe("h12");
    expect(heard).toHaveBeenCalledWith("h12");
    expect(document.activeElement).toBe(h12);
  });

  it("takes the clock the app has, and puts the radio back when saving fails", async () => {
    current = { ...preferences, preferences: { ...preferences.preferences, clock: "h12" } };
    const clock = clockChoice();
    const app = fakeApp({
      ...handlers,
      set_clock: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "preferences", message: "cannot write preferences.json" };
      },
    });
    mountPreferences(root, app.call, undefined, clock);
    await settle();
    expect(clock.current()).toBe("h12");
    expect(inputByTestId(root, "clock-h12").checked).toBe(true);
    inputByTestId(root, "clock-h24").click();
    await settle();
    expect(inputByTestId(root, "clock-h12").checked).toBe(true);
    expect(inputByTestId(root, "clock-h24").checked).toBe(false);
    expect(clock.current()).toBe("h12");
    expect(root.querySelector(".preferences > [role=alert]")?.textContent).toBe(
      "Could not change how times are written: cannot write preferences.json",
    );
  });

  it("shows a failed call's message", async () => {
    const app = fakeApp({
      ...handlers,
      set_shortcut: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "preferences", message: "cannot write preferences.json" };
      },
    });
    mountPreferences(root, app.call);
    await settle();
    press(field(), "F9", { code: "F9" });
    saveButton().click();
    await settle();
    expect(root.querySelector(".preferences > [role=alert]")?.textContent).toBe(
      "Could not change the shortcut: cannot write preferences.json",
    );
  });
});
