import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PickerOpening } from "../bindings/PickerOpening";
import type { TypedKey } from "../bindings/TypedKey";
import {
  allByTestId,
  byTestId,
  fakeApp,
  fakeEvents,
  inputByTestId,
  press,
  settle,
  typeInto,
  type Handlers,
} from "../test/fake-app";
import { choices, preferences, snapshot } from "../test/fixtures";
import { BLUR_GRACE_MS, currentLine, filterEntries, mountPicker, type PickerWindow } from "./picker";

const states = choices.states;

describe("filterEntries", () => {
  const names = (query: string) =>
    filterEntries(states, query).map((entry) => (entry.kind === "clear" ? "clear" : entry.choice.state));

  it("lists every state then Clear status when nothing is typed", () => {
    expect(names("")).toEqual([...states.map((choice) => choice.state), "clear"]);
  });

  it("matches the label or the state id, in any case", () => {
    expect(names("CALL")).toEqual(["in_call"]);
    expect(names("vehicle")).toEqual(["in_vehicle"]);
    expect(names("in_v")).toEqual(["in_vehicle"]);
    expect(names("clear")).toEqual(["clear"]);
    expect(names("cle")).toEqual(["in_vehicle", "clear"]);
    expect(names("zzz")).toEqual([]);
  });

  it("matches the text Slack shows, as README's example types it (issue 15, 3)", () => {
    expect(names("dri")).toEqual(["in_vehicle"]);
    expect(names("DRIVING")).toEqual(["in_vehicle"]);
    expect(names("on silent")).toEqual(["silent"]);
  });

  it("ignores accents either way", () => {
    expect(names("promenade a pied")).toEqual(["walking"]);
    expect(names("PROMENADE À")).toEqual(["walking"]);
    expect(names("càll")).toEqual(["in_call"]);
  });
});

describe("currentLine", () => {
  it("says what the app shows now, briefly", () => {
    expect(currentLine(snapshot, states, "h24")).toBe("Now: In a call (from the phone)");
    expect(currentLine({ ...snapshot, phone: { link: "offline" }, input: null }, states, "h24")).toBe(
      "Now: phone offline",
    );
    expect(currentLine({ ...snapshot, phone: { link: "not_paired" }, input: null, paused: true }, states, "h24")).toBe(
      "Now: no phone paired · syncing paused",
    );
    const busy = { state: { kind: "busy" as const }, until: null };
    expect(
      currentLine(
        { ...snapshot, manual: busy, input: { state: busy.state, origin: { type: "manual", until: null } } },
        states,
        "h24",
      ),
    ).toBe("Now: Busy, set by you");
    const standup = { kind: "event" as const, title: "Standup", start: "", end: "" };
    expect(
      currentLine(
        {
          ...snapshot,
          phone: { link: "connected", state: standup },
          input: { state: standup, origin: { type: "phone" } },
        },
        states,
        "h24",
      ),
    ).toBe("Now: “Standup” (from the phone)");
  });

  it("names the desktop's source when one of its own wins, as the app chose", () => {
    const walking = { ...snapshot, phone: { link: "connected" as const, state: { kind: "walking" as const } } };
    expect(
      currentLine(
        {
          ...walking,
          desktop: { ...snapshot.desktop, microphone_in_use: true },
          input: { state: { kind: "in_call" }, origin: { type: "desktop", source: "microphone" } },
        },
        states,
        "h24",
      ),
    ).toBe("Now: In a call (from the microphone)");
  });

  it("writes until when in the clock chosen", () => {
    const manual = { state: { kind: "sleeping" as const }, until: new Date(2025, 2, 1, 15, 30).toISOString() };
    const input = { state: manual.state, origin: { type: "manual" as const, until: manual.until } };
    expect(currentLine({ ...snapshot, manual, input }, states, "h24")).toBe("Now: Sleeping, set by you until 15:30");
    expect(currentLine({ ...snapshot, manual, input }, states, "h12")).toBe("Now: Sleeping, set by you until 3:30 PM");
  });
});

describe("mountPicker", () => {
  let root: HTMLElement;
  let picker: PickerWindow | null;

  let typedNext: TypedKey[] = [];
  let openings = 0;
  const opening = (): PickerOpening => {
    openings += 1;
    const typed = typedNext;
    typedNext = [];
    return { opening: openings, choices, snapshot, typed, clock: "h24" };
  };
  const handlers: Partial<Handlers> = {
    picker_opened: opening,
    picker_ready: () => null,
    perform: () => null,
  };

  const mount = (overrides: Partial<Handlers> = {}) => {
    const app = fakeApp({ ...handlers, ...overrides });
    const events = fakeEvents();
    const close = vi.fn();
    picker = mountPicker(root, app.call, events.onEvent, close);
    return { app, close, events };
  };
  const text = (typed: string): TypedKey => ({ type: "text", text: typed });

  const filter = () => inputByTestId(root, "picker-filter");
  const options = () => allByTestId(root, "picker-option");
  const highlighted = () => options().find((option) => option.getAttribute("aria-selected") === "true");
  const pressedDigit = () =>
    allByTestId(root, "picker-duration")
      .filter((button) => button.getAttribute("aria-pressed") === "true")
      .map((button) => button.dataset.digit);

  beforeEach(() => {
    typedNext = [];
    openings = 0;
    root = document.createElement("div");
    document.body.append(root);
    picker = null;
  });

  afterEach(() => {
    picker?.stop();
    root.remove();
  });

  it("shows the current state, a focused filter, the states and the four durations", async () => {
    const { app } = mount();
    expect(document.activeElement).toBe(filter());
    await settle();
    expect(app.names()).toEqual(["picker_opened", "picker_ready"]);
    expect(app.argsOf("picker_ready")).toEqual([{ opening: 1 }]);
    expect(byTestId(root, "picker-current")?.textContent).toBe("Now: In a call (from the phone)");
    expect(options().map((option) => option.dataset.state)).toEqual([
      ...states.map((choice) => choice.state),
      "clear",
    ]);
    expect(options().at(-1)?.textContent).toBe("Clear status");
    expect(root.querySelector('[role="listbox"]')?.id).toBe("picker-list");
    expect(filter().getAttribute("role")).toBe("combobox");
    expect(filter().getAttribute("aria-controls")).toBe("picker-list");
    expect(filter().labels?.[0]?.textContent).toBe("Filter the states");
    expect(highlighted()?.dataset.state).toBe("available");
    expect(filter().getAttribute("aria-activedescendant")).toBe(highlighted()?.id);
    expect(allByTestId(root, "picker-duration").map((button) => button.textContent)).toEqual([
      "1 For 30 minutes",
      "2 For 1 hour",
      "3 Until the end of the day",
      "4 Until I clear it",
    ]);
    expect(pressedDigit()).toEqual(["2"]);
  });

  it("shows each state's emoji as its picture, the code in its tooltip, and a custom one as its code", async () => {
    mount({
      picker_opened: () => ({
        ...opening(),
        choices: {
          ...choices,
          states: [...choices.states, { state: "running", label: "Running", emoji: ":acme-run:", slack_texts: [] }],
        },
      }),
    });
    await settle();
    const emojiOf = (state: string) =>
      options()
        .find((option) => option.dataset.state === state)
        ?.querySelector(".emoji");
    expect(emojiOf("in_call")?.textContent).toBe("📞");
    expect(emojiOf("in_call")?.getAttribute("title")).toBe(":telephone_receiver:");
    // The row is named by its label: the picture only decorates it.
    expect(emojiOf("in_call")?.getAttribute("aria-hidden")).toBe("true");
    expect(emojiOf("running")?.textContent).toBe(":acme-run:");
    expect(emojiOf("available")).toBeNull();
  });

  it("writes the current line's time as the opening says, and again when the preferences change", async () => {
    const until = new Date(2025, 2, 1, 9, 5).toISOString();
    const { events } = mount({
      picker_opened: () => ({
        ...opening(),
        snapshot: {
          ...snapshot,
          manual: { state: { kind: "busy" }, until },
          input: { state: { kind: "busy" }, origin: { type: "manual", until } },
        },
        clock: "h12",
      }),
    });
    await settle();
    const line = () => byTestId(root, "picker-current")?.textContent;
    expect(line()).toBe("Now: Busy, set by you until 9:05 AM");
    events.emit("preferences", { ...preferences.preferences, clock: "h24" });
    expect(line()).toBe("Now: Busy, set by you until 09:05");
  });

  it("filters as you type and moves the highlight with the arrows, wrapping", async () => {
    mount();
    await settle();
    typeInto(filter(), "i");
    const shown = options().map((option) => option.dataset.state);
    expect(shown).toContain("in_call");
    expect(shown).not.toContain("busy");
    expect(highlighted()?.dataset.state).toBe(shown[0]);
    press(filter(), "ArrowUp");
    expect(highlighted()?.dataset.state).toBe(shown.at(-1));
    press(filter(), "ArrowDown");
    expect(highlighted()?.dataset.state).toBe(shown[0]);
    press(filter(), "ArrowDown");
    expect(highlighted()?.dataset.state).toBe(shown[1]);
    expect(filter().getAttribute("aria-activedescendant")).toBe(`picker-option-${shown[1] ?? ""}`);

    typeInto(filter(), "zzz");
    expect(options()).toHaveLength(0);
    expect(root.textContent).toContain("No state matches.");
    expect(filter().hasAttribute("aria-activedescendant")).toBe(false);
  });

  it("picks the duration with a digit, not typing it", async () => {
    mount();
    await settle();
    const key = press(filter(), "4");
    expect(key.defaultPrevented).toBe(true);
    expect(filter().value).toBe("");
    expect(pressedDigit()).toEqual(["4"]);
    press(filter(), "9");
    expect(pressedDigit()).toEqual(["4"]);
    byTestId(root, "picker-duration")?.click();
    expect(pressedDigit()).toEqual(["1"]);
    expect(document.activeElement).toBe(filter());
  });

  it("sets the highlighted state for the chosen duration with Enter, then closes", async () => {
    const { app, close } = mount();
    await settle();
    typeInto(filter(), "call");
    press(filter(), "3");
    press(filter(), "Enter");
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "in_call", duration: { kind: "end_of_day" } } },
    ]);
    expect(close).toHaveBeenCalledOnce();
  });

  it("uses the default duration when no digit was pressed", async () => {
    const { app } = mount();
    await settle();
    press(filter(), "ArrowDown");
    press(filter(), "Enter");
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "busy", duration: { kind: "minutes", minutes: 60 } } },
    ]);
  });

  it("keeps what was typed before the states arrived, Enter included", async () => {
    let answer: (value: PickerOpening) => void = () => undefined;
    const { app, close } = mount({
      picker_opened: () =>
        new Promise((resolve) => {
          answer = resolve;
        }),
    });
    typeInto(filter(), "sleep");
    press(filter(), "1");
    press(filter(), "Enter");
    await settle();
    expect(app.argsOf("perform")).toEqual([]);
    answer(opening());
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "sleeping", duration: { kind: "minutes", minutes: 30 } } },
    ]);
    expect(close).toHaveBeenCalledOnce();
  });

  it("applies the keys typed before the window could take them, in order, Enter last (issue 15, 1)", async () => {
    typedNext = [text("s"), text("l"), text("x"), { type: "backspace" }, text("e"), { type: "enter" }];
    const { app, close } = mount();
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "sleeping", duration: { kind: "minutes", minutes: 60 } } },
    ]);
    expect(close).toHaveBeenCalledOnce();
  });

  it("applies typed digits and arrows to the list the filter shows", async () => {
    typedNext = [text("w"), text("a"), text("4"), { type: "down" }, { type: "up" }, { type: "enter" }];
    const { app } = mount();
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "walking", duration: { kind: "until_cleared" } } },
    ]);
  });

  it("without Enter, shows the typed filter and waits", async () => {
    typedNext = [text("c"), text("a"), text("l")];
    const { app } = mount();
    await settle();
    expect(filter().value).toBe("cal");
    expect(options().map((option) => option.dataset.state)).toEqual(["in_call"]);
    expect(app.argsOf("perform")).toEqual([]);
  });

  it("closes without setting anything on a typed Escape", async () => {
    typedNext = [text("b"), { type: "escape" }, { type: "enter" }];
    const { app, close } = mount();
    await settle();
    expect(close).toHaveBeenCalledOnce();
    expect(app.argsOf("perform")).toEqual([]);
  });

  it("starts each opening of the kept window clean, with that opening's keys", async () => {
    const { app, close, events } = mount();
    await settle();
    typeInto(filter(), "call");
    press(filter(), "3");
    press(filter(), "Enter");
    await settle();
    expect(close).toHaveBeenCalledOnce();
    // Hidden, not gone: nothing of the last opening shows, the default duration is back.
    expect(filter().value).toBe("");
    expect(options()).toHaveLength(states.length + 1);
    expect(pressedDigit()).toEqual(["2"]);

    typedNext = [text("d"), text("r"), text("i"), { type: "enter" }];
    events.emit("picker-shown", 2);
    await settle();
    expect(app.argsOf("picker_ready")).toEqual([{ opening: 1 }, { opening: 2 }]);
    expect(app.argsOf("perform")[1]).toEqual({
      action: { type: "set_status", state: "in_vehicle", duration: { kind: "minutes", minutes: 60 } },
    });
    expect(close).toHaveBeenCalledTimes(2);
  });

  it("on a warm opening, an Enter typed before the opening arrives waits for it", async () => {
    let answer: (value: PickerOpening) => void = () => undefined;
    let deferred = false;
    const { app, events } = mount({
      picker_opened: () => {
        if (!deferred) return opening();
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
    });
    await settle();
    press(document.body, "Escape");
    await settle();
    // Shown again: "sle" was kept for it by the shortcut, Enter reached the field before the opening did.
    deferred = true;
    events.emit("picker-shown", 2);
    press(filter(), "Enter");
    await settle();
    expect(app.argsOf("perform")).toEqual([]);
    typedNext = [text("s"), text("l"), text("e")];
    answer(opening());
    await settle();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_status", state: "sleeping", duration: { kind: "minutes", minutes: 60 } } },
    ]);
  });

  it("clears the status from the last entry", async () => {
    const { app, close } = mount();
    await settle();
    press(filter(), "ArrowUp");
    expect(highlighted()?.dataset.state).toBe("clear");
    press(filter(), "Enter");
    await settle();
    expect(app.argsOf("perform")).toEqual([{ action: { type: "clear_status" } }]);
    expect(close).toHaveBeenCalledOnce();
  });

  it("sets a state on click", async () => {
    const { app } = mount();
    await settle();
    options().find((option) => option.dataset.state === "walking")?.click();
    await settle();
    expect(app.argsOf("perform")[0]?.action).toMatchObject({ type: "set_status", state: "walking" });
  });

  it("closes on Escape and when the window loses focus", async () => {
    const first = mount();
    await settle();
    press(document.body, "Escape");
    await settle();
    expect(first.close).toHaveBeenCalledOnce();
    picker?.stop();

    const second = mount();
    await settle();
    const focused = vi.spyOn(document, "hasFocus").mockReturnValue(false);
    window.dispatchEvent(new Event("blur"));
    await new Promise((resolve) => setTimeout(resolve, BLUR_GRACE_MS + 20));
    expect(second.close).toHaveBeenCalledOnce();
    focused.mockRestore();
  });

  it("stays open when the focus comes back at once (a keyboard grab ending)", async () => {
    const { close } = mount();
    await settle();
    const focused = vi.spyOn(document, "hasFocus").mockReturnValue(true);
    window.dispatchEvent(new Event("blur"));
    await new Promise((resolve) => setTimeout(resolve, BLUR_GRACE_MS + 20));
    expect(close).not.toHaveBeenCalled();
    focused.mockRestore();
  });

  it("a new opening is not closed by the blur of the hiding just before it", async () => {
    const { close, events } = mount();
    await settle();
    const focused = vi.spyOn(document, "hasFocus").mockReturnValue(false);
    // Closed by the window's close button (the host hides it), shown again at once, its focus not there yet.
    window.dispatchEvent(new Event("blur"));
    events.emit("picker-shown", 2);
    await new Promise((resolve) => setTimeout(resolve, BLUR_GRACE_MS + 20));
    expect(close).not.toHaveBeenCalled();
    // Its own leaving still closes it.
    window.dispatchEvent(new Event("blur"));
    await new Promise((resolve) => setTimeout(resolve, BLUR_GRACE_MS + 20));
    expect(close).toHaveBeenCalledOnce();
    focused.mockRestore();
  });

  it("stays open and says why when setting the status failed", async () => {
    const { close } = mount({
      perform: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "app", message: "the app is not set up" };
      },
    });
    await settle();
    press(filter(), "Enter");
    await settle();
    expect(close).not.toHaveBeenCalled();
    expect(root.querySelector("[role=alert]")?.textContent).toBe("Could not set the status: the app is not set up");
  });

  it("says why it could not load", async () => {
    mount({
      picker_opened: () => {
        throw new Error("app gone");
      },
    });
    await settle();
    expect(root.querySelector("[role=alert]")?.textContent).toContain("Could not load the states: app gone");
  });

  it("stops listening to the window when stopped", async () => {
    const { close } = mount();
    await settle();
    picker?.stop();
    picker = null;
    press(document.body, "Escape");
    window.dispatchEvent(new Event("blur"));
    await settle();
    expect(close).not.toHaveBeenCalled();
  });
});
