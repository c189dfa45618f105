import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CalendarsView } from "../bindings/CalendarsView";
import type { SourcesView } from "../bindings/SourcesView";
import { byTestId, deferred, fakeApp, fakeEvents, inputByTestId, settle, type Handlers } from "../test/fake-app";
import type { ScreenLockView } from "../bindings/ScreenLockView";
import { officeWeek } from "../test/fixtures";
import { microphoneText, mountSources, screenLockText, type SourcesPanel } from "./sources";

const lockOff: ScreenLockView = { state: "off" };
const unlocked: ScreenLockView = { state: "watching", locked: false, through: ["org.freedesktop.ScreenSaver", "logind"] };
const locked: ScreenLockView = { state: "watching", locked: true, through: ["org.freedesktop.ScreenSaver", "logind"] };
const noCalendars: CalendarsView = { calendars: [], now: null };
/** The parts of every view these tests leave alone: the working hours are not followed. */
const hoursOff = { working_hours: { state: "off" }, working_week: officeWeek } as const;
const off: SourcesView = {
  microphone: { state: "off" },
  screen_lock: lockOff,
  screen_lock_status: false,
  calendar: noCalendars,
  ...hoursOff,
};
const watching: SourcesView = {
  microphone: { state: "watching", microphone_in_use: false, camera_in_use: false },
  screen_lock: lockOff,
  screen_lock_status: false,
  calendar: noCalendars,
  ...hoursOff,
};
const inCall: SourcesView = {
  microphone: { state: "watching", microphone_in_use: true, camera_in_use: false },
  screen_lock: lockOff,
  screen_lock_status: false,
  calendar: noCalendars,
  ...hoursOff,
};

describe("microphoneText", () => {
  it("says what the source does in each state", () => {
    expect(microphoneText({ state: "off" })).toEqual(["Off.", false]);
    expect(microphoneText({ state: "watching", microphone_in_use: false, camera_in_use: false })).toEqual([
      "Watching: no microphone or camera in use.",
      false,
    ]);
    expect(microphoneText({ state: "watching", microphone_in_use: true, camera_in_use: false })).toEqual([
      "A microphone is in use: you are in a call.",
      false,
    ]);
    expect(microphoneText({ state: "watching", microphone_in_use: false, camera_in_use: true })).toEqual([
      "A camera is in use: you are in a call.",
      false,
    ]);
    expect(microphoneText({ state: "watching", microphone_in_use: true, camera_in_use: true })).toEqual([
      "A microphone and a camera are in use: you are in a call.",
      false,
    ]);
    expect(microphoneText({ state: "unavailable", reason: "PipeWire is not running" })).toEqual([
      "Not watching: PipeWire is not running. Caret Desktop keeps trying (soon at first, then every 5 minutes).",
      true,
    ]);
  });
});

describe("screenLockText", () => {
  it("says what the source does in each state", () => {
    expect(screenLockText({ state: "off" })).toEqual(["Off.", false]);
    expect(screenLockText(unlocked)).toEqual(["Watching: the screen is unlocked.", false]);
    expect(screenLockText(locked)).toEqual(["Locked: Slack shows you away.", false]);
    expect(screenLockText({ state: "unavailable", reason: "no screen-lock interface answered" })).toEqual([
      "Not watching: no screen-lock interface answered. Caret Desktop keeps trying (soon at first, then every 5 minutes).",
      true,
    ]);
  });
});

describe("mountSources", () => {
  let root: HTMLElement;
  let current: SourcesView;
  let panel: SourcesPanel | null;
  let events: ReturnType<typeof fakeEvents>;

  const handlers: Partial<Handlers> = {
    sources: () => current,
    set_source: ({ source, on }) => {
      const wanted = {
        microphone: current.microphone.state !== "off",
        screen_lock: current.screen_lock.state !== "off",
        screen_lock_status: current.screen_lock_status,
        [source]: on,
      };
      current = {
        ...(wanted.microphone ? watching : off),
        screen_lock: wanted.screen_lock ? unlocked : lockOff,
        screen_lock_status: wanted.screen_lock_status,
      };
      return current;
    },
  };

  const mount = (app = fakeApp(handlers)) => {
    panel?.stop();
    panel = mountSources(root, app.call, events.onEvent);
    return app;
  };
  const box = () => inputByTestId(root, "sources-microphone");
  const line = () => byTestId(root, "sources-microphone-status");
  const lockBox = () => inputByTestId(root, "sources-screen-lock");
  const lockLine = () => byTestId(root, "sources-screen-lock-status");
  const awayBox = () => inputByTestId(root, "sources-screen-lock-away");
  const awayHint = () => byTestId(root, "sources-screen-lock-away-hint")?.textContent;
  const alert = () => root.querySelector(".sources > [role=alert]")?.textContent;

  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
    current = off;
    events = fakeEvents();
    panel = null;
  });

  afterEach(() => {
    panel?.stop();
    root.remove();
  });

  it("is a titled section with a labelled, explained checkbox and a polite live line", async () => {
    mount();
    await settle();
    const section = root.querySelector("section");
    expect(section?.getAttribute("aria-labelledby")).toBe("sources-title");
    expect(root.querySelector("#sources-title")?.textContent).toBe("What the desktop sees");
    expect(box().labels?.[0]?.textContent).toBe("Microphone: in a call while another application records");
    const described = (box().getAttribute("aria-describedby") ?? "").split(" ");
    expect(described.map((id) => root.querySelector(`#${id}`)?.getAttribute("data-testid"))).toEqual([
      "sources-microphone-hint",
      "sources-microphone-status",
    ]);
    expect(byTestId(root, "sources-microphone-hint")?.textContent).toContain("never what they hear");
    expect(line()?.getAttribute("aria-live")).toBe("polite");
  });

  it("loads once, off until the person turns it on", async () => {
    const app = mount();
    await settle();
    expect(app.calls).toEqual([["sources", {}]]);
    expect(box().checked).toBe(false);
    expect(box().disabled).toBe(false);
    expect(line()?.textContent).toBe("Off.");
    expect(alert()).toBe("");
  });

  it("shows an unavailable source as on, with why it is not watching as a problem", async () => {
    current = { ...off, microphone: { state: "unavailable", reason: "PipeWire is not running" } };
    mount();
    await settle();
    expect(box().checked).toBe(true);
    expect(line()?.textContent).toBe("Not watching: PipeWire is not running. Caret Desktop keeps trying (soon at first, then every 5 minutes).");
    expect(line()?.classList.contains("problem")).toBe(true);
  });

  it("turns the microphone on with one set_source and shows the answer", async () => {
    const app = mount();
    await settle();
    box().click();
    await settle();
    expect(app.argsOf("set_source")).toEqual([{ source: "microphone", on: true }]);
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(false);
    expect(line()?.textContent).toBe("Watching: no microphone or camera in use.");
    expect(alert()).toBe("");
  });

  it("keeps the box as set and disabled while waiting, and the focus on it after", async () => {
    const answer = deferred<SourcesView>();
    mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
    await settle();
    box().focus();
    box().click();
    await settle();
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(true);
    expect(line()?.textContent).toBe("Off.");
    answer.resolve(inCall);
    await settle();
    expect(box().disabled).toBe(false);
    expect(line()?.textContent).toBe("A microphone is in use: you are in a call.");
    expect(document.activeElement).toBe(box());
  });

  it("puts the box back and says why when the change fails", async () => {
    mount(
      fakeApp({
        ...handlers,
        set_source: () => {
          throw new Error("cannot write preferences.json");
        },
      }),
    );
    await settle();
    box().click();
    await settle();
    expect(box().checked).toBe(false);
    expect(box().disabled).toBe(false);
    expect(line()?.textContent).toBe("Off.");
    expect(alert()).toBe("Could not change what the desktop sees: cannot write preferences.json");
  });

  it("shows the app's { code, message } error as its message", async () => {
    mount(
      fakeApp({
        ...handlers,
        set_source: () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "app", message: "services not started" };
        },
      }),
    );
    await settle();
    box().click();
    await settle();
    expect(alert()).toBe("Could not change what the desktop sees: services not started");
  });

  it("follows the sources event, box and line", async () => {
    current = watching;
    mount();
    await settle();
    events.emit("sources", {
      ...off,
      microphone: { state: "watching", microphone_in_use: true, camera_in_use: true },
      screen_lock: lockOff,
    });
    expect(line()?.textContent).toBe("A microphone and a camera are in use: you are in a call.");
    events.emit("sources", off);
    expect(line()?.textContent).toBe("Off.");
    expect(box().checked).toBe(false);
  });

  it("does not undo a pending change when an event arrives meanwhile", async () => {
    const answer = deferred<SourcesView>();
    const app = mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
    await settle();
    box().click();
    await settle();
    events.emit("sources", off);
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(true);
    // The line says what the source does now, even while waiting.
    events.emit("sources", inCall);
    expect(line()?.textContent).toBe("A microphone is in use: you are in a call.");
    expect(box().checked).toBe(true);
    answer.resolve(inCall);
    await settle();
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(false);
    expect(app.argsOf("set_source")).toEqual([{ source: "microphone", on: true }]);
  });

  it("shows the event rather than an older load answered after it", async () => {
    const load = deferred<SourcesView>();
    mount(fakeApp({ ...handlers, sources: () => load.promise }));
    await settle();
    events.emit("sources", inCall);
    load.resolve(off);
    await settle();
    expect(line()?.textContent).toBe("A microphone is in use: you are in a call.");
    expect(box().checked).toBe(true);
  });

  it("says why it could not load, with the box disabled, until the app sends a view", async () => {
    mount(
      fakeApp({
        sources: () => {
          throw new Error("services not started");
        },
      }),
    );
    await settle();
    expect(alert()).toBe("Could not load what the desktop sees: services not started");
    expect(box().disabled).toBe(true);
    expect(line()?.textContent).toBe("");
    events.emit("sources", watching);
    expect(alert()).toBe("");
    expect(box().disabled).toBe(false);
    expect(line()?.textContent).toBe("Watching: no microphone or camera in use.");
  });

  it("stops following the event when stopped", async () => {
    mount();
    await settle();
    expect(events.listeners("sources")).toBe(1);
    panel?.stop();
    expect(events.listeners("sources")).toBe(0);
  });

  it("never turns text from the core into markup", async () => {
    current = {
      ...off,
      microphone: { state: "unavailable", reason: '<img src=x onerror="alert(1)">' },
      screen_lock: { state: "unavailable", reason: '<img src=y onerror="alert(2)">' },
    };
    mount();
    await settle();
    expect(root.querySelector("img")).toBeNull();
    expect(line()?.textContent).toContain("<img");
    expect(lockLine()?.textContent).toContain("<img");
  });

  describe("screen lock", () => {
    it("is a labelled, explained checkbox with a polite live line, after the microphone", async () => {
      mount();
      await settle();
      expect(lockBox().labels?.[0]?.textContent).toBe("Screen lock: away in Slack while the screen is locked");
      const described = (lockBox().getAttribute("aria-describedby") ?? "").split(" ");
      expect(described.map((id) => root.querySelector(`#${id}`)?.getAttribute("data-testid"))).toEqual([
        "sources-screen-lock-hint",
        "sources-screen-lock-status",
      ]);
      expect(byTestId(root, "sources-screen-lock-hint")?.textContent).toBe(
        "Caret Desktop watches only whether your session is locked (the desktop's screen saver interface, or " +
          "logind). Slack shows you away while it is; your status stays as your other inputs set it, unless you " +
          "ask for “Away from the desk” below. Nothing else leaves this machine. Blocked workspaces see nothing.",
      );
      expect(lockLine()?.getAttribute("aria-live")).toBe("polite");
      const boxes = [...root.querySelectorAll("input[type=checkbox]")].map((box) => box.getAttribute("data-testid"));
      // "Away from the desk" right under the screen lock; the working hours, then the calendars, after them.
      expect(boxes).toEqual([
        "sources-microphone",
        "sources-screen-lock",
        "sources-screen-lock-away",
        "working-hours-on",
        "working-hours-off-status",
        ...["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => `working-hours-${day}-works`),
        "calendar-all-day",
      ]);
    });

    it("loads off until the person turns it on", async () => {
      mount();
      await settle();
      expect(lockBox().checked).toBe(false);
      expect(lockBox().disabled).toBe(false);
      expect(lockLine()?.textContent).toBe("Off.");
    });

    it("shows an unavailable source as on, with why it is not watching as a problem", async () => {
      current = { ...off, screen_lock: { state: "unavailable", reason: "no screen-lock interface answered" } };
      mount();
      await settle();
      expect(lockBox().checked).toBe(true);
      expect(box().checked).toBe(false);
      expect(lockLine()?.textContent).toBe(
        "Not watching: no screen-lock interface answered. Caret Desktop keeps trying (soon at first, then every 5 minutes).",
      );
      expect(lockLine()?.classList.contains("problem")).toBe(true);
      expect(lockLine()?.hasAttribute("title")).toBe(false);
    });

    it("turns the screen lock on with one set_source, keeping the microphone off", async () => {
      const app = mount();
      await settle();
      lockBox().click();
      await settle();
      expect(app.argsOf("set_source")).toEqual([{ source: "screen_lock", on: true }]);
      expect(lockBox().checked).toBe(true);
      expect(lockBox().disabled).toBe(false);
      expect(lockLine()?.textContent).toBe("Watching: the screen is unlocked.");
      expect(lockLine()?.getAttribute("title")).toBe("org.freedesktop.ScreenSaver, logind");
      expect(box().checked).toBe(false);
      expect(line()?.textContent).toBe("Off.");
      expect(alert()).toBe("");
    });

    it("keeps the microphone on when the screen lock is turned on", async () => {
      current = watching;
      const app = mount();
      await settle();
      lockBox().click();
      await settle();
      expect(app.argsOf("set_source")).toEqual([{ source: "screen_lock", on: true }]);
      expect(box().checked).toBe(true);
      expect(lockBox().checked).toBe(true);
    });

    it("keeps the screen lock on when the microphone is turned off, and the other way round", async () => {
      current = { ...watching, screen_lock: locked };
      const app = mount();
      await settle();
      box().click();
      await settle();
      expect(box().checked).toBe(false);
      expect(lockBox().checked).toBe(true);
      lockBox().click();
      await settle();
      expect(box().checked).toBe(false);
      expect(lockBox().checked).toBe(false);
      box().click();
      await settle();
      expect(app.argsOf("set_source")).toEqual([
        { source: "microphone", on: false },
        { source: "screen_lock", on: false },
        { source: "microphone", on: true },
      ]);
      expect(box().checked).toBe(true);
      expect(lockBox().checked).toBe(false);
    });

    it("keeps both boxes as sent and disabled while waiting, and the focus on the one changed after", async () => {
      const answer = deferred<SourcesView>();
      const app = mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
      await settle();
      lockBox().focus();
      lockBox().click();
      await settle();
      expect(lockBox().checked).toBe(true);
      expect(lockBox().disabled).toBe(true);
      expect(box().checked).toBe(false);
      expect(box().disabled).toBe(true);
      expect(lockLine()?.textContent).toBe("Off.");
      // The other box waits too: its change would race this one.
      box().click();
      await settle();
      expect(box().checked).toBe(false);
      answer.resolve({ ...off, screen_lock: locked });
      await settle();
      expect(lockBox().disabled).toBe(false);
      expect(box().disabled).toBe(false);
      expect(lockLine()?.textContent).toBe("Locked: Slack shows you away.");
      expect(document.activeElement).toBe(lockBox());
      expect(app.argsOf("set_source")).toEqual([{ source: "screen_lock", on: true }]);
    });

    it("keeps the microphone's choice sent while its change waits, whatever an event says", async () => {
      const answer = deferred<SourcesView>();
      current = { ...off, screen_lock: unlocked };
      mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
      await settle();
      box().click();
      await settle();
      events.emit("sources", { ...off, screen_lock: locked });
      expect(box().checked).toBe(true);
      expect(lockBox().checked).toBe(true);
      expect(lockLine()?.textContent).toBe("Locked: Slack shows you away.");
      answer.resolve({ ...watching, screen_lock: locked });
      await settle();
      expect(box().checked).toBe(true);
      expect(lockBox().checked).toBe(true);
    });

    it("puts the box back and says why when the change fails, leaving the microphone alone", async () => {
      current = watching;
      mount(
        fakeApp({
          ...handlers,
          set_source: () => {
            throw new Error("cannot write preferences.json");
          },
        }),
      );
      await settle();
      lockBox().click();
      await settle();
      expect(lockBox().checked).toBe(false);
      expect(lockBox().disabled).toBe(false);
      expect(lockLine()?.textContent).toBe("Off.");
      expect(box().checked).toBe(true);
      expect(line()?.textContent).toBe("Watching: no microphone or camera in use.");
      expect(alert()).toBe("Could not change what the desktop sees: cannot write preferences.json");
    });

    it("follows the sources event, both rows", async () => {
      current = { ...off, screen_lock: unlocked };
      mount();
      await settle();
      lockBox().focus();
      events.emit("sources", { ...inCall, screen_lock: locked });
      expect(lockLine()?.textContent).toBe("Locked: Slack shows you away.");
      expect(lockBox().checked).toBe(true);
      expect(line()?.textContent).toBe("A microphone is in use: you are in a call.");
      expect(box().checked).toBe(true);
      events.emit("sources", { ...off, screen_lock: { state: "watching", locked: false, through: [] } });
      expect(lockLine()?.textContent).toBe("Watching: the screen is unlocked.");
      expect(lockLine()?.hasAttribute("title")).toBe(false);
      expect(box().checked).toBe(false);
      events.emit("sources", off);
      expect(lockLine()?.textContent).toBe("Off.");
      expect(lockBox().checked).toBe(false);
      // Updated in place: the focus stays on the box.
      expect(document.activeElement).toBe(lockBox());
    });

    it("is disabled with the microphone while the sources cannot be loaded", async () => {
      mount(
        fakeApp({
          sources: () => {
            throw new Error("services not started");
          },
        }),
      );
      await settle();
      expect(lockBox().disabled).toBe(true);
      expect(lockLine()?.textContent).toBe("");
      events.emit("sources", { ...off, screen_lock: locked });
      expect(lockBox().disabled).toBe(false);
      expect(lockLine()?.textContent).toBe("Locked: Slack shows you away.");
    });
  });

  describe("Away from the desk", () => {
    const hint =
      "Only where nothing else sets a status, and not over a status you chose; Default shows only that you are away.";
    const waitsForLock = `${hint} It takes effect while the screen lock is on.`;

    it("is a labelled checkbox under the screen lock, described by its hint, with no status line", async () => {
      mount();
      await settle();
      expect(awayBox().labels?.[0]?.textContent).toBe("Show “Away from the desk” while locked (Trusted and VIP)");
      const described = (awayBox().getAttribute("aria-describedby") ?? "").split(" ");
      expect(described.map((id) => root.querySelector(`#${id}`)?.getAttribute("data-testid"))).toEqual([
        "sources-screen-lock-away-hint",
      ]);
      expect(byTestId(root, "sources-screen-lock-away-status")).toBeNull();
      // Every id once, so each label and description finds its own element (the lock's line keeps its name).
      const ids = [...root.querySelectorAll("[id]")].map((element) => element.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(lockLine()?.tagName).toBe("P");
      const group = awayBox().closest(".form-group");
      expect(group?.classList.contains("sources-option")).toBe(true);
      expect(group?.previousElementSibling).toBe(lockBox().closest(".form-group"));
    });

    it("loads off and usable with the screen lock off, its hint saying it waits for the lock", async () => {
      mount();
      await settle();
      expect(awayBox().checked).toBe(false);
      expect(awayBox().disabled).toBe(false);
      expect(awayHint()).toBe(waitsForLock);
    });

    it("draws the view: on as the app follows it, the hint plain while the screen lock is on", async () => {
      current = { ...off, screen_lock: unlocked, screen_lock_status: true };
      mount();
      await settle();
      expect(awayBox().checked).toBe(true);
      expect(lockBox().checked).toBe(true);
      expect(awayHint()).toBe(hint);
      // An unavailable screen lock is on too: the option waits for it with the source, not in the hint.
      events.emit("sources", { ...off, screen_lock: { state: "unavailable", reason: "no interface" }, screen_lock_status: true });
      expect(awayHint()).toBe(hint);
      events.emit("sources", { ...off, screen_lock_status: true });
      expect(awayBox().checked).toBe(true);
      expect(awayHint()).toBe(waitsForLock);
      events.emit("sources", off);
      expect(awayBox().checked).toBe(false);
    });

    it("turns on with one set_source of its own, leaving both sources as they are", async () => {
      current = { ...watching, screen_lock: locked };
      const app = mount();
      await settle();
      awayBox().click();
      await settle();
      expect(app.argsOf("set_source")).toEqual([{ source: "screen_lock_status", on: true }]);
      expect(awayBox().checked).toBe(true);
      expect(awayBox().disabled).toBe(false);
      expect(box().checked).toBe(true);
      expect(lockBox().checked).toBe(true);
      expect(alert()).toBe("");
    });

    it("can be chosen with the screen lock off, and is kept when the screen lock is turned off", async () => {
      const app = mount();
      await settle();
      awayBox().click();
      await settle();
      expect(awayBox().checked).toBe(true);
      expect(awayHint()).toBe(waitsForLock);
      lockBox().click();
      await settle();
      expect(awayHint()).toBe(hint);
      lockBox().click();
      await settle();
      expect(awayBox().checked).toBe(true);
      expect(awayHint()).toBe(waitsForLock);
      awayBox().click();
      await settle();
      expect(app.argsOf("set_source")).toEqual([
        { source: "screen_lock_status", on: true },
        { source: "screen_lock", on: true },
        { source: "screen_lock", on: false },
        { source: "screen_lock_status", on: false },
      ]);
      expect(awayBox().checked).toBe(false);
      expect(lockBox().checked).toBe(false);
    });

    it("keeps every box as sent and disabled while waiting, and the focus on it after", async () => {
      const answer = deferred<SourcesView>();
      const app = mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
      await settle();
      awayBox().focus();
      awayBox().click();
      await settle();
      expect(awayBox().checked).toBe(true);
      expect([box(), lockBox(), awayBox()].map((each) => each.disabled)).toEqual([true, true, true]);
      // A view meanwhile does not flip it back.
      events.emit("sources", off);
      expect(awayBox().checked).toBe(true);
      lockBox().click();
      await settle();
      expect(lockBox().checked).toBe(false);
      answer.resolve({ ...off, screen_lock_status: true });
      await settle();
      expect([box(), lockBox(), awayBox()].map((each) => each.disabled)).toEqual([false, false, false]);
      expect(awayBox().checked).toBe(true);
      expect(document.activeElement).toBe(awayBox());
      expect(app.argsOf("set_source")).toEqual([{ source: "screen_lock_status", on: true }]);
    });

    it("stays as chosen while another box's change waits", async () => {
      const answer = deferred<SourcesView>();
      current = { ...off, screen_lock_status: true };
      mount(fakeApp({ ...handlers, set_source: () => answer.promise }));
      await settle();
      lockBox().click();
      await settle();
      expect(lockBox().checked).toBe(true);
      expect(awayBox().checked).toBe(true);
      expect(awayHint()).toBe(hint);
      answer.resolve({ ...off, screen_lock: unlocked, screen_lock_status: true });
      await settle();
      expect(awayBox().checked).toBe(true);
    });

    it("puts the box back and says why when the change fails", async () => {
      current = { ...off, screen_lock: locked };
      mount(
        fakeApp({
          ...handlers,
          set_source: () => {
            throw new Error("cannot write preferences.json");
          },
        }),
      );
      await settle();
      awayBox().click();
      await settle();
      expect(awayBox().checked).toBe(false);
      expect(awayBox().disabled).toBe(false);
      expect(lockBox().checked).toBe(true);
      expect(alert()).toBe("Could not change what the desktop sees: cannot write preferences.json");
    });

    it("is disabled with the sources while they cannot be loaded, its hint plain", async () => {
      mount(
        fakeApp({
          sources: () => {
            throw new Error("services not started");
          },
        }),
      );
      await settle();
      expect(awayBox().disabled).toBe(true);
      expect(awayBox().checked).toBe(false);
      expect(awayHint()).toBe(hint);
      events.emit("sources", { ...off, screen_lock: locked, screen_lock_status: true });
      expect(awayBox().disabled).toBe(false);
      expect(awayBox().checked).toBe(true);
    });
  });
});
