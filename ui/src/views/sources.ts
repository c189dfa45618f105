import type { MicrophoneView } from "../bindings/MicrophoneView";
import type { ScreenLockView } from "../bindings/ScreenLockView";
import type { SourceName } from "../bindings/SourceName";
import type { SourcePreferences } from "../bindings/SourcePreferences";
import type { SourcesView } from "../bindings/SourcesView";
import { clockChoice, type ClockChoice } from "../clock";
import { focusLost, h } from "../dom";
import { describeError, subscribe, type Call, type OnEvent } from "../ipc";
import { createCalendars } from "./calendars";
import { createWorkingHours } from "./working-hours";

/** The running "What the desktop sees" section. */
export interface SourcesPanel {
  refresh: () => Promise<void>;
  /** Stops following the app's events. */
  stop: () => void;
}

/**
 * One of the desktop's own sources, or an option of one, turned on or off by its checkbox, named as in
 * `set_source`.
 */
type Source = SourceName;

/** How an unavailable source is retried, as the person is told. */
const keepsTrying = "Caret Desktop keeps trying (soon at first, then every 5 minutes).";

/** What the microphone source does now, and whether that is a problem. */
export function microphoneText(view: MicrophoneView): [text: string, problem: boolean] {
  switch (view.state) {
    case "off":
      return ["Off.", false];
    case "watching":
      return [watchingText(view.microphone_in_use, view.camera_in_use), false];
    case "unavailable":
      return [`Not watching: ${view.reason}. ${keepsTrying}`, true];
  }
}

/** What the screen-lock source does now, and whether that is a problem. */
export function screenLockText(view: ScreenLockView): [text: string, problem: boolean] {
  switch (view.state) {
    case "off":
      return ["Off.", false];
    case "watching":
      return [view.locked ? "Locked: Slack shows you away." : "Watching: the screen is unlocked.", false];
    case "unavailable":
      return [`Not watching: ${view.reason}. ${keepsTrying}`, true];
  }
}

/** What is in use while watching: either of them means a call. */
function watchingText(microphone: boolean, camera: boolean): string {
  if (microphone && camera) return "A microphone and a camera are in use: you are in a call.";
  if (microphone) return "A microphone is in use: you are in a call.";
  if (camera) return "A camera is in use: you are in a call.";
  return "Watching: no microphone or camera in use.";
}

/**
 * Which sources and options the person turned on (unavailable is on, waiting for PipeWire or a screen-lock
 * interface; "Away from the desk" is kept while the screen lock is off), and the working week as saved (its own
 * part of the section changes it, with `set_working_hours`).
 */
function sourcesOn(view: SourcesView): SourcePreferences {
  return {
    microphone: view.microphone.state !== "off",
    screen_lock: view.screen_lock.state !== "off",
    screen_lock_status: view.screen_lock_status,
    working_hours: view.working_week,
  };
}

/** A checkbox of the section, with what it does: every source and option has one. */
interface SourceBox {
  box: HTMLInputElement;
  /** What it does, read out with the box (`-hint`). */
  hint: HTMLParagraphElement;
  group: HTMLDivElement;
}

/** A source's row: its checkbox, what it watches, and what it does now. */
interface SourceRow extends SourceBox {
  status: HTMLParagraphElement;
}

/**
 * Draws a checkbox with its label and hint, and the status line if it has one; `id` makes its ids and test ids
 * (`<id>`, `-hint`, `-status`), and `extraClass` sets the group apart (an option under its source).
 */
function checkRow(
  id: string,
  label: string,
  hint: string,
  status: HTMLParagraphElement | null,
  extraClass = "",
): SourceBox {
  const box = h("input", {
    type: "checkbox",
    id,
    "aria-describedby": status === null ? `${id}-hint` : `${id}-hint ${id}-status`,
    "data-testid": id,
  });
  const hintLine = h("p", { class: "note", id: `${id}-hint`, "data-testid": `${id}-hint` }, hint);
  const group = h(
    "div",
    { class: `form-group ${extraClass}`.trim() },
    h("div", { class: "check" }, box, h("label", { for: id }, label)),
    hintLine,
    status,
  );
  return { box, hint: hintLine, group };
}

/** Draws a source's row; `name` makes its ids and test ids (`sources-<name>`, `-hint`, `-status`). */
function sourceRow(name: string, label: string, hint: string): SourceRow {
  const id = `sources-${name}`;
  // Read out when what the source sees changes, or the source stops working.
  const status = h("p", {
    class: "sources-status",
    id: `${id}-status`,
    "aria-live": "polite",
    "data-testid": `${id}-status`,
  });
  return { ...checkRow(id, label, hint, status), status };
}

/**
 * Draws an option of the source above it (`sources-<name>`, `-hint`): it watches nothing of its own, so it has no
 * status line; what it changes shows in each workspace's preview.
 */
function optionRow(name: string, label: string, hint: string): SourceBox {
  return checkRow(`sources-${name}`, label, hint, null, "sources-option");
}

/** What "Away from the desk" does, as its hint says it. */
const awayHint =
  "Only where nothing else sets a status, and not over a status you chose; Default shows only that you are away.";
/** Added to the hint while the screen lock is off: the choice is kept, and waits for it. */
const awayWaitsForLock = " It takes effect while the screen lock is on.";

/** Shows what a source does now on its status line. */
function showStatus(status: HTMLElement, [text, problem]: [string, boolean]) {
  status.textContent = text;
  status.className = problem ? "sources-status problem" : "sources-status";
}

/**
 * Settings' "What the desktop sees": the desktop's own sources, each off until the person turns it on, with what
 * it does now, the working hours, and the person's calendars. The `sources` event keeps the lines current (a
 * microphone starting or stopping being in use, the screen locking, PipeWire going away, the end of the working
 * day, a calendar read or failing, the event now). The checkboxes, the working week and the add-a-calendar form
 * are drawn once and updated in place, so keyboard focus and what is being typed stay across updates. Times follow
 * `clock`.
 */
export function mountSources(
  container: HTMLElement,
  call: Call,
  onEvent: OnEvent,
  clock: ClockChoice = clockChoice(),
): SourcesPanel {
  let view: SourcesView | null = null;
  /**
   * The choice sent and not yet answered, for every source (the one changed, the others kept): the boxes stay as
   * sent while waiting, and both are disabled, so a second change never races the first or flips its box back.
   */
  let pending: SourcePreferences | null = null;
  /**
   * Bumped by every call and every event: a load's answer is shown only if nothing newer came meanwhile (an event
   * may say the microphone went into use after the load was answered but before its answer arrived).
   */
  let generation = 0;
  /** The message shown is about loading (a later view clears it; it leaves a failed change's message alone). */
  let loadFailed = false;

  const microphone = sourceRow(
    "microphone",
    "Microphone: in a call while another application records",
    "Watches which applications record from a microphone or read a camera (through PipeWire), never what they " +
      "hear. Only the status decided from it, under each workspace's policy, goes to Slack.",
  );
  const screenLock = sourceRow(
    "screen-lock",
    "Screen lock: away in Slack while the screen is locked",
    "Caret Desktop watches only whether your session is locked (the desktop's screen saver interface, or " +
      "logind). Slack shows you away while it is; your status stays as your other inputs set it, unless you ask " +
      "for “Away from the desk” below. Nothing else leaves this machine. Blocked workspaces see nothing.",
  );
  // Not "screen-lock-status": that names the screen lock's status line already (the end-to-end tests read it).
  const awayStatus = optionRow("screen-lock-away", "Show “Away from the desk” while locked (Trusted and VIP)", awayHint);
  // In the order drawn: the option right under the source it belongs to.
  const rows: Record<Source, SourceBox> = {
    microphone,
    screen_lock: screenLock,
    screen_lock_status: awayStatus,
  };
  const sources = Object.keys(rows) as Source[];
  const messages = h("div", { role: "alert", class: "form-messages" });

  const say = (message: string | null) => {
    messages.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  /** A saved week's, an added or removed calendar's answer: the newest view, for every row. */
  const answered = (next: SourcesView) => {
    ++generation;
    accept(next);
    show();
  };
  const workingHours = createWorkingHours(call, answered, clock);
  const calendars = createCalendars(call, answered, clock);

  const show = () => {
    workingHours.show(view);
    calendars.show(view?.calendar ?? null);
    const chosen = pending ?? (view === null ? null : sourcesOn(view));
    for (const source of sources) {
      rows[source].box.disabled = pending !== null || view === null;
      rows[source].box.checked = chosen?.[source] ?? false;
    }
    // The option stays usable with the lock off (the choice is kept), so its hint says when it applies.
    const lockOff = chosen !== null && !chosen.screen_lock;
    awayStatus.hint.textContent = lockOff ? awayHint + awayWaitsForLock : awayHint;
    if (view === null) return;
    showStatus(microphone.status, microphoneText(view.microphone));
    const lockLine = screenLock.status;
    showStatus(lockLine, screenLockText(view.screen_lock));
    // Which interfaces tell the lock, for whoever wonders (hovering the line).
    if (view.screen_lock.state === "watching" && view.screen_lock.through.length > 0) {
      lockLine.title = view.screen_lock.through.join(", ");
    } else {
      lockLine.removeAttribute("title");
    }
  };

  /** Shows a view the app sent, clearing a failed load's message: the section works again. */
  const accept = (next: SourcesView) => {
    view = next;
    if (loadFailed) say(null);
    loadFailed = false;
  };

  const refresh = async (): Promise<void> => {
    // The answer to the change will say it all.
    if (pending !== null) return;
    const mine = ++generation;
    try {
      const next = await call("sources", {});
      if (mine === generation) accept(next);
    } catch (error) {
      if (mine !== generation) return;
      say(`Could not load what the desktop sees: ${describeError(error)}`);
      loadFailed = true;
    }
    show();
  };

  /** Turns `source` on or off as the person set it; the app leaves the others as they are. */
  const change = async (current: SourcesView, source: Source, on: boolean): Promise<void> => {
    const choice = sourcesOn(current);
    choice[source] = on;
    pending = choice;
    ++generation;
    say(null);
    show();
    try {
      // The answer comes once the sources started or failed to: it is the newest view, whatever came meanwhile.
      accept(await call("set_source", { source, on }));
    } catch (error) {
      // `view` is as it was, so the box goes back.
      say(`Could not change what the desktop sees: ${describeError(error)}`);
    } finally {
      pending = null;
    }
    show();
    // Disabling the checkboxes while waiting may have taken the focus away.
    if (focusLost()) rows[source].box.focus();
  };

  for (const source of sources) {
    const box = rows[source].box;
    box.addEventListener("change", () => {
      // Not ready or still waiting: the box goes back to what it showed.
      if (pending !== null || view === null) {
        show();
        return;
      }
      void change(view, source, box.checked);
    });
  }

  const unsubscribe = subscribe(onEvent, "sources", (next) => {
    ++generation;
    accept(next);
    show();
  });
  const stop = () => {
    unsubscribe();
    workingHours.stop();
    calendars.stop();
  };

  container.replaceChildren(
    h(
      "section",
      { class: "sources", "aria-labelledby": "sources-title" },
      h("h2", { id: "sources-title" }, "What the desktop sees"),
      ...sources.map((source) => rows[source].group),
      messages,
      workingHours.element,
      calendars.element,
    ),
  );
  show();
  void refresh();
  return { refresh, stop };
}
