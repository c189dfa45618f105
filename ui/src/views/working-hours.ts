// The working-hours part of "What the desktop sees": whether Caret Desktop follows the person's working week, the
// week itself, and what the source says now. The week is a form the person saves as a whole (`set_working_hours`);
// it is drawn once and refilled from the saved week only while it holds no unsaved change, so an event (the
// source waking at the end of the day, a microphone going into use) never takes away what is being typed.
//
// Time inputs cannot hold 24:00, so an end typed 00:00 always means midnight at the close of the day (1440 minutes):
// 17:00–00:00 ends at midnight, and 00:00–00:00 is the whole day, as `caret-desktop hours` writes "00:00-24:00". An
// end before the start is a night shift that ends the next day. A start equal to its end (09:00–09:00) is refused
// here, naming the day, as the app would refuse it.
import type { DayHours } from "../bindings/DayHours";
import type { SourcesView } from "../bindings/SourcesView";
import type { WorkingHours } from "../bindings/WorkingHours";
import type { WorkingHoursView } from "../bindings/WorkingHoursView";
import { weekMomentText, type ClockChoice, type TimeFormat } from "../clock";
import { focusLost, h } from "../dom";
import { describeError, type Call } from "../ipc";

/** The working-hours part of "What the desktop sees". */
export interface WorkingHoursPart {
  element: HTMLElement;
  /**
   * Says what the source says now from `view` (null until the first one), and refills the form from the week
   * saved unless the person changed it since the last save or refill.
   */
  show: (view: SourcesView | null) => void;
  /** Stops following the clock choice. */
  stop: () => void;
}

/** The days of the week in the app's order (Monday first); `key` makes each row's ids and test ids. */
export const WEEK = [
  { key: "mon", name: "Monday" },
  { key: "tue", name: "Tuesday" },
  { key: "wed", name: "Wednesday" },
  { key: "thu", name: "Thursday" },
  { key: "fri", name: "Friday" },
  { key: "sat", name: "Saturday" },
  { key: "sun", name: "Sunday" },
] as const;

type Week = WorkingHours["days"];

const MINUTES_PER_DAY = 24 * 60;
/** What a day's inputs hold until the app says otherwise, and for a day off never given hours (the app's default). */
const OFFICE_START = "09:00";
const OFFICE_END = "17:00";

const SAVE_LABEL = "Save working hours";
const SAVING_LABEL = "Saving…";

const pad = (value: number) => String(value).padStart(2, "0");

/** Minutes after midnight as a time input holds them: 540 is "09:00", and 1440 (midnight at the close) "00:00". */
export function timeText(minutes: number): string {
  const inDay = minutes % MINUTES_PER_DAY;
  return `${pad(Math.floor(inDay / 60))}:${pad(inDay % 60)}`;
}

/** A time input's value ("09:00", or "09:00:00" where seconds show) in minutes after midnight; null if unreadable. */
export function typedMinutes(value: string): number | null {
  const match = /^(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?$/.exec(value.trim());
  if (match === null) return null;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  return hours < 24 && minutes < 60 ? hours * 60 + minutes : null;
}

/** A day's typed hours, or what is wrong with them (the input to fix and why, the day named). */
export type TypedDay = { hours: DayHours } | { wrong: "start" | "end"; problem: string };

/** Reads a working day's start and end as typed, with the midnight rule at the top of this file. */
export function typedDay(day: string, start: string, end: string): TypedDay {
  const from = typedMinutes(start);
  if (from === null) return { wrong: "start", problem: `Give ${day} a start time, or make it a day off.` };
  const to = typedMinutes(end);
  if (to === null) return { wrong: "end", problem: `Give ${day} an end time, or make it a day off.` };
  if (to === 0) return { hours: { start: from, end: MINUTES_PER_DAY } };
  if (from === to) {
    return {
      wrong: "end",
      problem:
        `${day} starts and ends at ${start}: change its end (one before its start ends the next day), or ` +
        "make it a day off.",
    };
  }
  return { hours: { start: from, end: to } };
}

/** What a day's row says beside its hours: when they end somewhere a person might not expect. */
export function dayNote(hours: DayHours): string {
  if (hours.start === 0 && hours.end === MINUTES_PER_DAY) return "all day";
  if (hours.end === MINUTES_PER_DAY) return "ends at midnight";
  if (hours.end < hours.start) return "ends the next day";
  return "";
}

/** A moment the app sent (RFC 3339), written for the coming week: "17:00" today, "Tue 09:00" on another day. */
function moment(iso: string, clock: TimeFormat, nowMs: number): string {
  const atMs = Date.parse(iso);
  return Number.isNaN(atMs) ? iso : weekMomentText(atMs, nowMs, clock);
}

/** What the working-hours source says now, in the words of its status line. */
export function hoursNowText(view: WorkingHoursView, clock: TimeFormat, nowMs: number = Date.now()): string {
  switch (view.state) {
    case "off":
      return "Off.";
    case "at_work":
      return view.until === null ? "At work around the clock." : `At work until ${moment(view.until, clock, nowMs)}.`;
    case "off_work": {
      const until =
        view.back_at === null ? " (no working day in the week)" : ` until ${moment(view.back_at, clock, nowMs)}`;
      const status = view.off_status ? ", “Off for the day” shown (Trusted and VIP)" : "";
      return `Off work${until}: away in Slack${status}.`;
    }
  }
}

/** One day's row: whether it is worked, and its hours. */
interface DayRow {
  name: string;
  works: HTMLInputElement;
  start: HTMLInputElement;
  end: HTMLInputElement;
  note: HTMLElement;
  row: HTMLTableRowElement;
}

/** A label read out but not shown: the table's column headers say it to the eye. */
const hiddenLabel = (id: string, text: string) => h("label", { for: id, class: "visually-hidden" }, text);

function dayRow(key: string, name: string): DayRow {
  const id = `working-hours-${key}`;
  const works = h("input", { type: "checkbox", id: `${id}-works`, "data-testid": `${id}-works` });
  const time = (part: "start" | "end", value: string) =>
    h("input", {
      type: "time",
      id: `${id}-${part}`,
      value,
      required: "",
      "aria-describedby": `${id}-note`,
      "data-testid": `${id}-${part}`,
    });
  const start = time("start", OFFICE_START);
  const end = time("end", OFFICE_END);
  const note = h("span", { class: "working-hours-note", id: `${id}-note`, "data-testid": `${id}-note` });
  const row = h(
    "tr",
    { "data-testid": "working-hours-day" },
    h("th", { scope: "row" }, name),
    h("td", {}, works, hiddenLabel(works.id, `${name} works`)),
    h("td", {}, start, hiddenLabel(start.id, `${name} starts`)),
    h("td", {}, end, hiddenLabel(end.id, `${name} ends`)),
    h("td", {}, note),
  );
  return { name, works, start, end, note, row };
}

/** A checkbox with its label and a one-line hint it is described by. */
function explainedCheck(id: string, label: string, hint: string): [HTMLInputElement, HTMLElement] {
  const box = h("input", { type: "checkbox", id, "aria-describedby": `${id}-hint`, "data-testid": id });
  const group = h(
    "div",
    { class: "form-group" },
    h("div", { class: "check" }, box, h("label", { for: id }, label)),
    h("p", { class: "note", id: `${id}-hint`, "data-testid": `${id}-hint` }, hint),
  );
  return [box, group];
}

/**
 * The working-hours part: the two choices, the week as a table, Save, and what the source says now. `answered`
 * takes the view a save answers with (the newest, to show everywhere); `clock` says how times are written.
 */
export function createWorkingHours(
  call: Call,
  answered: (view: SourcesView) => void,
  clock: ClockChoice,
): WorkingHoursPart {
  let view: SourcesView | null = null;
  /**
   * The form holds a change the app has not saved: it is not refilled from the week the app sends until it is
   * saved. A change typed while a save waits counts too (the answer holds the week sent, not that change).
   */
  let dirty = false;
  let saving = false;

  const [on, onGroup] = explainedCheck(
    "working-hours-on",
    "Working hours: away in Slack outside them",
    "Outside these hours, in this computer's time zone, Slack shows you away in every workspace but Blocked " +
      "ones, unless a status you chose yourself speaks. The week is kept while this is off.",
  );
  const [offStatus, offStatusGroup] = explainedCheck(
    "working-hours-off-status",
    "Show “Off for the day” until the next start (Trusted and VIP)",
    "Only where nothing else sets a status: a call at 9 pm stays a call. Default shows only that you are away.",
  );
  const rows = WEEK.map(({ key, name }) => dayRow(key, name));
  const save = h("button", { type: "submit", class: "primary", "data-testid": "working-hours-save" }, SAVE_LABEL);
  const fieldset = h(
    "fieldset",
    { class: "working-hours-fields" },
    h("legend", { class: "visually-hidden" }, "Your working hours"),
    onGroup,
    offStatusGroup,
    h(
      "table",
      { class: "working-hours-week", "data-testid": "working-hours-week" },
      h("caption", {}, "Your week"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Day", "Works", "Starts", "Ends"].map((label) => h("th", { scope: "col" }, label)),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Note")),
        ),
      ),
      h("tbody", {}, ...rows.map((row) => row.row)),
    ),
    h("div", { class: "working-hours-actions" }, save),
  );
  const form = h("form", { class: "working-hours-form", novalidate: "" }, fieldset);
  // Read out when the source's state changes: the end of the day, the start of the next.
  const status = h("p", {
    class: "sources-status",
    "aria-live": "polite",
    "data-testid": "working-hours-status",
  });
  const saved = h("div", { role: "status", class: "form-messages", "data-testid": "working-hours-saved" });
  const alert = h("div", { role: "alert", class: "form-messages", "data-testid": "working-hours-alert" });

  const say = (kind: "ok" | "error" | null, message = "") => {
    saved.replaceChildren(kind === "ok" ? h("p", {}, message) : "");
    alert.replaceChildren(kind === "error" ? h("p", { class: "alert" }, message) : "");
  };

  /** A day's note and its inputs as its "works" box says (a day off has no hours to edit). */
  const syncDay = (day: DayRow) => {
    day.start.disabled = !day.works.checked;
    day.end.disabled = !day.works.checked;
    const typed = typedDay(day.name, day.start.value, day.end.value);
    day.note.textContent = day.works.checked && "hours" in typed ? dayNote(typed.hours) : "";
  };

  const syncControls = () => {
    // Nothing to edit before the app said what the week is.
    fieldset.disabled = view === null;
    save.disabled = saving || view === null;
    save.textContent = saving ? SAVING_LABEL : SAVE_LABEL;
    form.setAttribute("aria-busy", String(saving));
  };

  /** Puts the week saved in the form; a day off keeps the hours it showed, ready for when it is worked again. */
  const fill = (week: WorkingHours) => {
    on.checked = week.on;
    offStatus.checked = week.off_status;
    rows.forEach((day, index) => {
      const hours = week.days[index] ?? null;
      day.works.checked = hours !== null;
      if (hours !== null) {
        day.start.value = timeText(hours.start);
        day.end.value = timeText(hours.end);
      }
      for (const input of [day.start, day.end]) input.removeAttribute("aria-invalid");
      syncDay(day);
    });
  };

  const drawStatus = () => {
    status.textContent = view === null ? "" : hoursNowText(view.working_hours, clock.current());
  };

  const show = (next: SourcesView | null) => {
    view = next;
    drawStatus();
    // While a save waits, the form shows the week sent, whatever an older event says.
    if (next !== null && !dirty && !saving) fill(next.working_week);
    syncControls();
  };

  /** The week as typed; or, when a day's hours cannot be saved, that input marked, focused and explained. */
  const typedWeek = (): WorkingHours | null => {
    const days: (DayHours | null)[] = [];
    for (const day of rows) {
      for (const input of [day.start, day.end]) input.removeAttribute("aria-invalid");
      if (!day.works.checked) {
        days.push(null);
        continue;
      }
      const typed = typedDay(day.name, day.start.value, day.end.value);
      if ("problem" in typed) {
        const input = typed.wrong === "start" ? day.start : day.end;
        input.setAttribute("aria-invalid", "true");
        say("error", typed.problem);
        input.focus();
        return null;
      }
      days.push(typed.hours);
    }
    return { on: on.checked, days: days as Week, off_status: offStatus.checked };
  };

  const submit = async (): Promise<void> => {
    if (saving || view === null) return;
    say(null);
    const hours = typedWeek();
    if (hours === null) return;
    saving = true;
    dirty = false;
    syncControls();
    try {
      const next = await call("set_working_hours", { hours });
      saving = false;
      answered(next);
      say("ok", "Saved.");
    } catch (error) {
      // The week typed is still not saved: it stays as it is, and no event refills it.
      dirty = true;
      say("error", `Could not save the working hours: ${describeError(error)}`);
    } finally {
      saving = false;
      syncControls();
    }
    // Disabling Save while waiting took the focus away from it.
    if (focusLost()) save.focus();
  };

  form.addEventListener("input", (event) => {
    dirty = true;
    const target = event.target;
    if (target instanceof HTMLInputElement) target.removeAttribute("aria-invalid");
    const day = rows.find((row) => row.row.contains(target as Node));
    if (day !== undefined) syncDay(day);
  });
  // A checkbox says it changed with "change" in every browser, "input" only in some.
  form.addEventListener("change", (event) => {
    dirty = true;
    const day = rows.find((row) => row.row.contains(event.target as Node));
    if (day !== undefined) syncDay(day);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });
  const stop = clock.watch(drawStatus);

  const element = h(
    "section",
    { class: "working-hours", "aria-labelledby": "working-hours-title", "data-testid": "working-hours" },
    h("h3", { id: "working-hours-title" }, "Working hours"),
    status,
    form,
    saved,
    alert,
  );
  rows.forEach(syncDay);
  show(null);
  return { element, show, stop };
}
