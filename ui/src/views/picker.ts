import type { Action } from "../bindings/Action";
import type { CaretState } from "../bindings/CaretState";
import type { PickerChoices } from "../bindings/PickerChoices";
import type { PickerOpening } from "../bindings/PickerOpening";
import type { Snapshot } from "../bindings/Snapshot";
import type { StatusChoice } from "../bindings/StatusChoice";
import type { TypedKey } from "../bindings/TypedKey";
import { clockTime, DEFAULT_CLOCK, type TimeFormat } from "../clock";
import { h } from "../dom";
import { renderEmoji } from "../emoji";
import { describeError, subscribe, type Call, type OnEvent } from "../ipc";

/** Closes the picker's window. */
export type Close = () => unknown;

/** The running quick picker. */
export interface PickerWindow {
  /** Drops the window-wide listeners (the window is going away). */
  stop: () => void;
}

/** One line of the list: a state to set, or clearing the status. */
export type PickerEntry = { kind: "state"; choice: StatusChoice } | { kind: "clear" };

const CLEAR_LABEL = "Clear status";

/** A name as it is compared: lower case, without accents ("Café" and "cafe" are the same). */
function folded(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * The entries a person typing `query` means: those whose label, state id or text in Slack ("Driving" for In a
 * vehicle) holds it, in any case and with or without accents, with "Clear status" last.
 */
export function filterEntries(states: StatusChoice[], query: string): PickerEntry[] {
  const wanted = folded(query.trim());
  const matches = (...names: string[]) => names.some((name) => folded(name).includes(wanted));
  const entries: PickerEntry[] = states
    .filter((choice) => matches(choice.label, choice.state, choice.state.replaceAll("_", " "), ...choice.slack_texts))
    .map((choice) => ({ kind: "state", choice }));
  if (matches(CLEAR_LABEL, "clear")) entries.push({ kind: "clear" });
  return entries;
}

function stateName(state: CaretState, states: StatusChoice[]): string {
  if (state.kind === "event") return `“${state.title}”`;
  const choice = states.find((candidate) => candidate.state === state.kind);
  return choice?.label ?? state.kind.replaceAll("_", " ");
}

/** The short line at the top: what the app shows now and where it comes from (the input the app chose, as
 * the sync engine chooses it), its end written in the `clock` chosen. */
export function currentLine(snapshot: Snapshot, states: StatusChoice[], clock: TimeFormat): string {
  let line: string;
  const input = snapshot.input;
  if (input !== null) {
    const name = stateName(input.state, states);
    switch (input.origin.type) {
      case "manual": {
        const until = input.origin.until;
        const ends = until === null ? "" : ` until ${clockTime(until, clock)}`;
        line = `Now: ${name}, set by you${ends}`;
        break;
      }
      case "phone":
        line = `Now: ${name} (from the phone)`;
        break;
      case "desktop":
        line = `Now: ${name} (from the ${input.origin.source})`;
        break;
    }
  } else {
    switch (snapshot.phone.link) {
      case "not_paired":
        line = "Now: no phone paired";
        break;
      case "offline":
        line = "Now: phone offline";
        break;
      case "connected":
        line = `Now: ${stateName(snapshot.phone.state, states)} (from the phone)`;
        break;
    }
  }
  return snapshot.paused ? `${line} · syncing paused` : line;
}

/** `text` less its last character as a person sees it (an accented letter or an emoji, whole). */
function withoutLastCharacter(text: string): string {
  const characters = Array.from(new Intl.Segmenter().segment(text), (part) => part.segment);
  return characters.slice(0, -1).join("");
}

/** How long the focus may be gone before the picker takes it as the person leaving. */
export const BLUR_GRACE_MS = 150;

const optionId = (entry: PickerEntry) => `picker-option-${entry.kind === "clear" ? "clear" : entry.choice.state}`;

/**
 * The quick status picker: type to filter the states, ↑ and ↓ to choose, a digit for how long, Enter to set it
 * (or clear the status). It closes once used, on Escape, and when the person leaves it. Its window is kept
 * (hidden) between uses: each showing is an opening (`picker-shown`), which starts clean, and the keys typed
 * after the shortcut but before the list could take them arrive with the opening and are applied in order.
 * Times are written as the person chose: with each opening, and as the `preferences` event says.
 */
export function mountPicker(root: HTMLElement, call: Call, onEvent: OnEvent, close: Close): PickerWindow {
  let choices: PickerChoices | null = null;
  let entries: PickerEntry[] = [];
  let highlight = 0;
  /** The duration's digit; null until one is pressed or the default arrives. */
  let digit: number | null = null;
  let busy = false;
  let closing = false;
  /** Enter was pressed before the states arrived: set the status as soon as they do. */
  let applyOnLoad = false;
  /** An opening is on its way (the kept window shown again): the list drawn is the last opening's, so keys
   * wait for the new one instead of acting on it. */
  let loading = true;
  /** The opening shown (its current line is drawn again when the clock changes). */
  let shown: PickerOpening | null = null;
  let clock: TimeFormat = DEFAULT_CLOCK;

  const current = h("p", { class: "picker-current", "data-testid": "picker-current" }, "Loading…");
  const filter = h("input", {
    type: "text",
    id: "picker-filter",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": "picker-list",
    "aria-autocomplete": "list",
    "aria-describedby": "picker-keys",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Type to filter…",
    "data-testid": "picker-filter",
  });
  filter.autofocus = true;
  const list = h("ul", { id: "picker-list", role: "listbox", "aria-label": "States", class: "picker-list" });
  const durations = h("div", { role: "group", "aria-label": "For how long", class: "picker-durations" });
  const problem = h("div", { role: "alert", class: "picker-problem" });

  const doClose = () => {
    if (closing) return;
    closing = true;
    // The window is kept: the next opening must not show this one's filter or choice.
    filter.value = "";
    digit = choices?.default_digit ?? null;
    applyOnLoad = false;
    problem.replaceChildren();
    refilter();
    drawDurations();
    void Promise.resolve()
      .then(close)
      .catch(() => {
        closing = false;
      });
  };

  const drawList = () => {
    if (entries.length === 0) {
      list.replaceChildren(h("li", { class: "picker-none", role: "presentation" }, "No state matches."));
      filter.removeAttribute("aria-activedescendant");
      return;
    }
    list.replaceChildren(
      ...entries.map((entry, index) => {
        const selected = index === highlight;
        const label = entry.kind === "clear" ? CLEAR_LABEL : entry.choice.label;
        const item = h(
          "li",
          {
            id: optionId(entry),
            role: "option",
            "aria-selected": String(selected),
            class: `picker-option${selected ? " highlighted" : ""}${entry.kind === "clear" ? " picker-clear" : ""}`,
            "data-testid": "picker-option",
            "data-state": entry.kind === "clear" ? "clear" : entry.choice.state,
          },
          h("span", { class: "picker-label" }, label),
          // The row is named by its label; the emoji (its code in the tooltip) only decorates it.
          entry.kind === "state" && renderEmoji(entry.choice.emoji, { decorative: true }),
        );
        // Keep the focus in the field; a click chooses and sets.
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
        });
        item.addEventListener("click", () => {
          highlight = index;
          drawList();
          void apply();
        });
        return item;
      }),
    );
    const active = entries[highlight];
    if (active === undefined) filter.removeAttribute("aria-activedescendant");
    else filter.setAttribute("aria-activedescendant", optionId(active));
    const item = list.children[highlight];
    if (item instanceof HTMLElement && typeof item.scrollIntoView === "function") {
      item.scrollIntoView({ block: "nearest" });
    }
  };

  const drawDurations = () => {
    if (choices === null) return;
    durations.replaceChildren(
      ...choices.durations.map((choice) => {
        const pressed = choice.digit === digit;
        const button = h(
          "button",
          {
            type: "button",
            class: `picker-duration${pressed ? " chosen" : ""}`,
            "aria-pressed": String(pressed),
            "data-testid": "picker-duration",
            "data-digit": String(choice.digit),
          },
          h("kbd", {}, String(choice.digit)),
          " ",
          choice.label,
        );
        button.addEventListener("click", () => {
          digit = choice.digit;
          drawDurations();
          filter.focus();
        });
        return button;
      }),
    );
  };

  const refilter = () => {
    entries = choices === null ? [] : filterEntries(choices.states, filter.value);
    highlight = 0;
    drawList();
  };

  const pickDigit = (wanted: number) => {
    // Before the durations arrive, any digit is kept and checked then.
    if (choices === null || choices.durations.some((choice) => choice.digit === wanted)) {
      digit = wanted;
      drawDurations();
    }
  };

  const move = (by: number) => {
    if (entries.length === 0) return;
    highlight = (highlight + by + entries.length) % entries.length;
    drawList();
  };

  const apply = async (): Promise<void> => {
    if (choices === null || loading) {
      applyOnLoad = true;
      return;
    }
    const entry = entries[highlight];
    if (busy || entry === undefined) return;
    let action: Action;
    if (entry.kind === "clear") {
      action = { type: "clear_status" };
    } else {
      const duration = choices.durations.find((choice) => choice.digit === digit);
      if (duration === undefined) return;
      action = { type: "set_status", state: entry.choice.state, duration: duration.duration };
    }
    busy = true;
    problem.replaceChildren();
    root.setAttribute("aria-busy", "true");
    try {
      await call("perform", { action });
      doClose();
    } catch (error) {
      problem.replaceChildren(h("p", { class: "alert" }, `Could not set the status: ${describeError(error)}`));
    } finally {
      busy = false;
      root.setAttribute("aria-busy", "false");
    }
  };

  filter.addEventListener("input", refilter);
  filter.addEventListener("keydown", (event) => {
    if (event.isComposing || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      void apply();
    } else if (/^[0-9]$/.test(event.key)) {
      // Digits pick how long; no state has one in its name.
      event.preventDefault();
      pickDigit(Number(event.key));
    }
  });

  /** Applies a key typed before the list could take it, as the field would have; false once it ends the
   * opening (Enter sets, Escape closes). */
  const replay = (key: TypedKey): boolean => {
    switch (key.type) {
      case "text":
        for (const character of key.text) {
          if (/^[0-9]$/.test(character)) pickDigit(Number(character));
          else filter.value += character;
        }
        refilter();
        return true;
      case "backspace":
        filter.value = withoutLastCharacter(filter.value);
        refilter();
        return true;
      case "up":
      case "down":
        move(key.type === "down" ? 1 : -1);
        return true;
      case "enter":
        void apply();
        return false;
      case "escape":
        doClose();
        return false;
    }
  };

  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      event.preventDefault();
      doClose();
    }
  };
  // The focus can leave for a moment and come back without the person leaving: the shortcut's keyboard grab
  // ending (X sends the window a focus-out and a focus-in). Only a focus still gone a moment later closes.
  let blurCheck: ReturnType<typeof setTimeout> | undefined;
  const onBlur = () => {
    clearTimeout(blurCheck);
    blurCheck = setTimeout(() => {
      if (!document.hasFocus()) doClose();
    }, BLUR_GRACE_MS);
  };
  document.addEventListener("keydown", onKey);
  window.addEventListener("blur", onBlur);

  root.replaceChildren(
    h(
      "section",
      { class: "picker", "aria-label": "Set your status" },
      current,
      h("label", { for: "picker-filter", class: "visually-hidden" }, "Filter the states"),
      filter,
      list,
      durations,
      problem,
      h("p", { class: "picker-keys", id: "picker-keys" }, "↑↓ choose · 1–4 how long · Enter set · Esc close"),
    ),
  );
  filter.focus();

  const drawCurrent = () => {
    if (shown !== null) current.textContent = currentLine(shown.snapshot, shown.choices.states, clock);
  };

  const show = (opened: PickerOpening) => {
    loading = false;
    choices = opened.choices;
    const pressed = digit;
    if (pressed === null || !opened.choices.durations.some((choice) => choice.digit === pressed)) {
      digit = opened.choices.default_digit;
    }
    shown = opened;
    clock = opened.clock;
    drawCurrent();
    // What reached the field itself came after the keys kept for it.
    const typedHere = filter.value;
    filter.value = "";
    drawDurations();
    refilter();
    void call("picker_ready", { opening: opened.opening }).catch(() => undefined);
    for (const key of opened.typed) {
      if (!replay(key)) return;
    }
    if (typedHere !== "") {
      filter.value += typedHere;
      refilter();
    }
    if (applyOnLoad) void apply();
  };

  /** Starts an opening: the first, or the kept window shown again. */
  const begin = () => {
    closing = false;
    loading = true;
    call("picker_opened", {}).then(show, (error: unknown) => {
      current.textContent = "";
      problem.replaceChildren(
        h("p", { class: "alert" }, `Could not load the states: ${describeError(error)}. Esc closes this window.`),
      );
    });
  };
  begin();
  const stopShown = subscribe(onEvent, "picker-shown", () => {
    // The blur of the hiding just before may still be waiting its grace; it was the last opening's leaving,
    // and must not close this one while its focus is on the way (a click on the icon right after a close).
    clearTimeout(blurCheck);
    filter.focus();
    begin();
  });
  const stopPreferences = subscribe(onEvent, "preferences", (preferences) => {
    clock = preferences.clock;
    drawCurrent();
  });

  return {
    stop: () => {
      clearTimeout(blurCheck);
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("blur", onBlur);
      stopShown();
      stopPreferences();
    },
  };
}
