import type { PreferencesView } from "../bindings/PreferencesView";
import { clipboardCopy, type Copy } from "../clipboard";
import { clockChoice, type ClockChoice, type TimeFormat } from "../clock";
import { focusLost, h } from "../dom";
import { describeError, subscribe, type Call, type OnEvent } from "../ipc";
import { captureShortcut } from "../shortcut";

/** The running Preferences section. */
export interface PreferencesPanel {
  refresh: () => Promise<void>;
  /** Stops following the app's events. */
  stop: () => void;
}

/** What the shortcut status line says, and whether it is a problem. */
export function shortcutStatusText(view: PreferencesView): [text: string, problem: boolean] {
  const status = view.shortcut;
  switch (status.state) {
    case "registered":
      return [`Working: ${status.shortcut} opens the quick status picker from any app.`, false];
    case "off":
      return ["Off: no shortcut opens the quick status picker.", false];
    case "failed":
      return [`Not working: ${status.shortcut} could not be set up on this desktop. ${status.reason}`, true];
    case "asked":
      return [
        `Waiting for your desktop: it asks you to confirm ${status.shortcut} for the quick status picker. ` +
          "Answer its dialog.",
        false,
      ];
    case "granted":
      return status.trigger === ""
        ? [
            "Almost: your desktop accepted the quick status picker's shortcut but gave it no keys yet. Give it " +
              "keys in your desktop's keyboard settings.",
            true,
          ]
        : [
            `Working: your desktop opens the quick status picker with ${status.trigger} from any app. Your ` +
              "desktop's keyboard settings can change it.",
            false,
          ];
    case "declined":
      return [
        `Not working: you turned down ${status.shortcut} when your desktop asked. Save to be asked again.`,
        true,
      ];
  }
}

/** The choices of how the windows write times, each with an example. */
const CLOCKS: readonly [TimeFormat, string][] = [
  ["h24", "24-hour (15:42)"],
  ["h12", "12-hour (3:42 PM)"],
];

/**
 * The app-wide Preferences section of the Settings window: the global shortcut of the quick status picker
 * (captured from the keys pressed in its field), what became of it with the fallback when it cannot work,
 * starting at login, and how the windows write times (saved at once; `clock`, the window's choice, hears what
 * the app answered). With `onEvent`, the shortcut's status follows the app's `shortcut` event: on Wayland the
 * desktop answers the request only after asking the user, long after Save.
 */
export function mountPreferences(
  container: HTMLElement,
  call: Call,
  copy: Copy = clipboardCopy,
  clock: ClockChoice = clockChoice(),
  onEvent: OnEvent | null = null,
): PreferencesPanel {
  let view: PreferencesView | null = null;
  /** The shortcut in the field: what Save would send. */
  let captured = "";
  let busy = false;
  /** The clock asked for and not yet answered: its radio stays picked while waiting. */
  let pendingClock: TimeFormat | null = null;

  const input = h("input", {
    type: "text",
    id: "shortcut-input",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "None",
    "aria-describedby": "shortcut-help shortcut-hint shortcut-status",
    "data-testid": "shortcut-input",
  });
  const save = h("button", { type: "button", class: "primary", "data-testid": "shortcut-save" }, "Save");
  const clear = h("button", { type: "button", "data-testid": "shortcut-clear" }, "Clear");
  const hint = h("p", { class: "capture-hint", id: "shortcut-hint", "aria-live": "polite" });
  const status = h("p", { id: "shortcut-status", class: "shortcut-status", "data-testid": "shortcut-status" });
  const command = h("input", {
    type: "text",
    readonly: "",
    class: "command",
    "aria-label": "Command that opens the quick status picker",
    "data-testid": "picker-command",
  });
  const copyButton = h("button", { type: "button", "data-testid": "shortcut-copy" }, "Copy");
  const copied = h("span", { role: "status", class: "copy-result" });
  const fallback = h(
    "div",
    { class: "fallback", hidden: "", "data-testid": "shortcut-fallback" },
    h(
      "p",
      {},
      "Instead, open your desktop's keyboard settings, add a custom shortcut, and make it run this command:",
    ),
    h("div", { class: "inline" }, command, copyButton, copied),
  );
  const autostart = h("input", { type: "checkbox", id: "autostart", "data-testid": "autostart" });
  const autostartNote = h("p", { class: "note", "data-testid": "autostart-note" });
  const clockRadios = CLOCKS.map(([format, label]) => {
    const radio = h("input", {
      type: "radio",
      id: `clock-${format}`,
      name: "clock",
      value: format,
      "data-testid": `clock-${format}`,
    });
    radio.addEventListener("change", () => {
      if (radio.checked) setClock(format);
    });
    return [format, radio, h("div", { class: "check" }, radio, h("label", { for: `clock-${format}` }, label))] as const;
  });
  const messages = h("div", { role: "alert", class: "form-messages" });

  const show = () => {
    const saved = view?.preferences.shortcut ?? "";
    input.value = captured;
    // A shortcut the user declined in the desktop's dialog can be saved again: that asks again.
    const declined = view?.shortcut.state === "declined";
    save.disabled = busy || view === null || (captured === saved && !(declined && captured !== ""));
    clear.disabled = busy || view === null || saved === "";
    input.readOnly = busy;
    autostart.disabled = busy || view === null;
    const chosenClock = pendingClock ?? view?.preferences.clock ?? null;
    for (const [format, radio] of clockRadios) {
      radio.disabled = busy || view === null;
      radio.checked = format === chosenClock;
    }
    if (view === null) return;
    const [text, problem] = shortcutStatusText(view);
    status.textContent = text;
    status.className = problem ? "shortcut-status problem" : "shortcut-status";
    fallback.hidden = view.shortcut.state !== "failed";
    command.value = view.picker_command;
    autostart.checked = view.autostart_enabled;
    autostartNote.textContent =
      view.preferences.autostart && !view.autostart_enabled
        ? "You turned this on, but the login item is missing (it may have been removed outside Caret Desktop). " +
          "Tick the box to put it back."
        : "";
  };

  const say = (message: string | null) => {
    messages.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  const accept = (next: PreferencesView) => {
    view = next;
    captured = next.preferences.shortcut;
    clock.set(next.preferences.clock);
  };

  const refresh = async (): Promise<void> => {
    try {
      accept(await call("preferences", {}));
      say(null);
    } catch (error) {
      say(`Could not load the preferences: ${describeError(error)}`);
    }
    show();
  };

  const setShortcut = async (shortcut: string): Promise<void> => {
    if (busy) return;
    busy = true;
    say(null);
    hint.textContent = "";
    show();
    try {
      accept(await call("set_shortcut", { shortcut }));
    } catch (error) {
      say(`Could not change the shortcut: ${describeError(error)}`);
    } finally {
      busy = false;
    }
    show();
    // Save and Clear disable themselves while waiting: the focus goes back to the field.
    if (focusLost()) input.focus();
  };

  input.addEventListener("keydown", (event) => {
    if (busy || event.isComposing) return;
    const plain = !event.ctrlKey && !event.altKey && !event.metaKey;
    // Tab still moves the focus: the field must never trap the keyboard.
    if (event.key === "Tab" && plain) return;
    event.preventDefault();
    if (plain && !event.shiftKey) {
      if (event.key === "Escape") {
        captured = view?.preferences.shortcut ?? "";
        hint.textContent = "Back to the saved shortcut.";
        show();
        return;
      }
      if (event.key === "Backspace" || event.key === "Delete") {
        captured = "";
        hint.textContent = "No shortcut: Save to turn it off.";
        show();
        return;
      }
      if (event.key === "Enter") {
        if (!save.disabled) void setShortcut(captured);
        return;
      }
    }
    const capture = captureShortcut(event);
    switch (capture.kind) {
      case "shortcut":
        captured = capture.accelerator;
        hint.textContent = `${capture.accelerator}: press Save to use it.`;
        show();
        break;
      case "partial":
        input.value = capture.text;
        break;
      case "needs-modifier":
        hint.textContent = `${capture.text} alone would be taken from every app: hold Ctrl, Alt or Super too.`;
        break;
      case "unsupported":
        hint.textContent = "That key cannot be part of a shortcut.";
        break;
    }
  });
  // A released modifier leaves the field showing the shortcut, not "Ctrl+…".
  input.addEventListener("keyup", () => {
    input.value = captured;
  });
  input.addEventListener("blur", () => {
    input.value = captured;
  });
  // Nothing typed, pasted or dropped becomes a shortcut: only key presses do.
  input.addEventListener("beforeinput", (event) => {
    event.preventDefault();
  });

  save.addEventListener("click", () => void setShortcut(captured));
  clear.addEventListener("click", () => void setShortcut(""));

  copyButton.addEventListener("click", () => {
    const text = command.value;
    copy(text).then(
      () => {
        copied.textContent = "Copied.";
      },
      () => {
        command.focus();
        command.select();
        copied.textContent = "Copying is not available here: the command is selected, press Ctrl+C.";
      },
    );
  });

  autostart.addEventListener("change", () => {
    const enabled = autostart.checked;
    if (busy) return;
    busy = true;
    say(null);
    show();
    void call("set_autostart", { enabled })
      .then(
        (next) => {
          accept(next);
          if (next.autostart_enabled !== enabled) {
            say(
              enabled
                ? "Could not turn on starting at login: the login item was not created."
                : "Could not turn off starting at login: the login item is still there.",
            );
          }
        },
        (error: unknown) => {
          say(`Could not change starting at login: ${describeError(error)}`);
        },
      )
      .finally(() => {
        busy = false;
        show();
        if (focusLost()) autostart.focus();
      });
  });

  const setClock = (format: TimeFormat): void => {
    if (busy || format === view?.preferences.clock) return;
    busy = true;
    pendingClock = format;
    say(null);
    show();
    void call("set_clock", { clock: format })
      .then(accept, (error: unknown) => {
        // The radio goes back to the choice in force.
        say(`Could not change how times are written: ${describeError(error)}`);
      })
      .finally(() => {
        busy = false;
        pendingClock = null;
        show();
        if (focusLost()) clockRadios.find(([, radio]) => radio.checked)?.[1].focus();
      });
  };

  container.replaceChildren(
    h(
      "section",
      { class: "preferences", "aria-labelledby": "preferences-title" },
      h("h2", { id: "preferences-title" }, "Preferences"),
      h(
        "div",
        { class: "form-group field" },
        h("label", { for: "shortcut-input" }, "Shortcut for the quick status picker"),
        h("div", { class: "inline" }, input, save, clear),
        h(
          "p",
          { class: "note", id: "shortcut-help" },
          "Focus the field and press the keys together, for example Ctrl+Alt+S. Backspace empties it, Escape " +
            "goes back to the saved one, Tab moves on.",
        ),
        hint,
        status,
        fallback,
      ),
      h(
        "div",
        { class: "form-group" },
        h("div", { class: "check" }, autostart, h("label", { for: "autostart" }, "Start Caret Desktop when I log in")),
        autostartNote,
      ),
      h(
        "fieldset",
        { class: "form-group", "aria-describedby": "clock-help", "data-testid": "clock" },
        h("legend", {}, "Times"),
        h("div", { class: "inline-choices" }, ...clockRadios.map(([, , row]) => row)),
        h(
          "p",
          { class: "note", id: "clock-help" },
          "How Caret Desktop's windows write a time: the quick picker, Settings, Phones and the sync log. A " +
            "workspace's own time setting (in its status settings above) covers only the times in its Slack status.",
        ),
      ),
      messages,
    ),
  );
  const stop =
    onEvent === null
      ? () => undefined
      : subscribe(onEvent, "shortcut", (shortcut) => {
          if (view === null) return;
          view = { ...view, shortcut };
          show();
        });
  show();
  void refresh();
  return { refresh, stop };
}
