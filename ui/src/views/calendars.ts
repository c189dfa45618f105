import type { CalendarPlace } from "../bindings/CalendarPlace";
import type { CalendarRow } from "../bindings/CalendarRow";
import type { CalendarsView } from "../bindings/CalendarsView";
import type { EventDetails } from "../bindings/EventDetails";
import type { NewCalendar } from "../bindings/NewCalendar";
import type { SourcesView } from "../bindings/SourcesView";
import { momentText, type ClockChoice, type TimeFormat } from "../clock";
import { button, focusedKey, focusKey, focusLost, h } from "../dom";
import { describeError, type Call } from "../ipc";

/** The calendars part of "What the desktop sees". */
export interface CalendarsPart {
  element: HTMLElement;
  /** Draws the list and the event now from `view` (null until the first one); the add form is left as typed. */
  show: (view: CalendarsView | null) => void;
  /** Stops following the clock choice. */
  stop: () => void;
}

const ADD_LABEL = "Add calendar";
const READING_LABEL = "Reading the calendar…";

/** A moment the app sent (an ISO date), written as the clock says: the time alone today, with its date otherwise. */
function moment(iso: string, clock: TimeFormat, nowMs: number): string {
  const atMs = Date.parse(iso);
  return Number.isNaN(atMs) ? iso : momentText(atMs, nowMs, clock);
}

/** Where a calendar is: the host of a web address (never the secret address), or the file's path. */
export function placeText(place: CalendarPlace): string {
  return place.kind === "web" ? place.host : place.path;
}

/** `text` ending as a sentence does: with a full stop unless it already has one. */
const sentence = (text: string) => (/[.!?…]$/.test(text) ? text : `${text}.`);

const plural = (count: number, one: string, many: string) => `${String(count)} ${count === 1 ? one : many}`;

/** What a calendar's row says of it now, and whether that is a problem. */
export function calendarState(
  row: CalendarRow,
  clock: TimeFormat,
  nowMs: number = Date.now(),
): [text: string, problem: boolean] {
  const readAt = row.read_at === null ? null : moment(row.read_at, clock, nowMs);
  let text: string;
  if (row.problem !== null) {
    // The watcher keeps the last good events: they still count until the calendar can be read again.
    text = `Not read: ${row.problem}` + (readAt === null ? "" : `; the events read at ${readAt} still count`);
  } else if (readAt !== null) {
    const events = row.events_today === 0 ? "No events" : plural(row.events_today, "event", "events");
    text = `${events} in the next 24 hours, read at ${readAt}`;
  } else {
    text = "Not read yet";
  }
  if (row.unreadable_parts > 0) text += ` (${plural(row.unreadable_parts, "part", "parts")} could not be read)`;
  return [sentence(text), row.problem !== null];
}

/** The event the calendars say the person is at now: "Now: Standup, until 10:15". */
export function nowText(event: EventDetails, clock: TimeFormat, nowMs: number = Date.now()): string {
  return `Now: ${event.title}, until ${moment(event.end, clock, nowMs)}`;
}

/** The addresses typed in "Your address in this calendar", split on commas and spaces. */
export function ownAddresses(typed: string): string[] {
  return typed.split(/[\s,;]+/).filter((address) => address !== "");
}

/** One calendar's row: its name, where it is, what it counts, and how it was last read. */
/** What Remove asks first: a web calendar's address leaves the keyring, and only the person has it again. */
export function removeQuestion(row: CalendarRow): string {
  const { name, place } = row.calendar;
  return place.kind === "web"
    ? `Remove the calendar “${name}”? Its secret address is deleted from the keyring: to add it again, paste it again.`
    : `Remove the calendar “${name}”? The file itself stays where it is.`;
}

function calendarRow(row: CalendarRow, clock: TimeFormat, removing: boolean, remove: () => void): HTMLElement {
  const { calendar } = row;
  const [text, problem] = calendarState(row, clock);
  const remover = button("Remove", `calendar-remove:${calendar.id}`, remove, {
    class: "small danger",
    "aria-label": `Remove ${calendar.name}`,
    "data-testid": "calendar-remove",
  });
  remover.disabled = removing;
  return h(
    "li",
    { class: "calendar-row", "data-testid": "calendar-row", "data-id": calendar.id },
    h(
      "div",
      { class: "calendar-about" },
      h("span", { class: "calendar-title", "data-testid": "calendar-row-name" }, calendar.name),
      " ",
      h("span", { class: "calendar-place", "data-testid": "calendar-place" }, placeText(calendar.place)),
      calendar.include_all_day && h("span", { class: "calendar-all-day-note" }, " · all-day events count"),
      h(
        "p",
        {
          class: problem ? "sources-status problem" : "sources-status",
          "data-testid": problem ? "calendar-problem" : "calendar-state",
        },
        text,
      ),
    ),
    remover,
  );
}

/** The add form's fields, built once so what the person types survives every redraw. */
interface AddForm {
  form: HTMLFormElement;
  name: HTMLInputElement;
  address: HTMLInputElement;
  allDay: HTMLInputElement;
  me: HTMLInputElement;
  add: HTMLButtonElement;
}

function field(id: string, label: string, input: HTMLInputElement, note?: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: id }, label), input, note);
}

function text(id: string, attributes: Record<string, string> = {}): HTMLInputElement {
  return h("input", {
    type: "text",
    id,
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    "data-testid": id,
    ...attributes,
  });
}

function addForm(): AddForm {
  const name = text("calendar-name", { maxlength: "100", placeholder: "Work", required: "" });
  // A secret: never shown, never kept by the browser, cleared once sent.
  const address = text("calendar-address", { type: "password", required: "" });
  const allDay = h("input", { type: "checkbox", id: "calendar-all-day", "data-testid": "calendar-all-day" });
  const me = text("calendar-me", { placeholder: "you@example.com", "aria-describedby": "calendar-me-note" });
  const add = h("button", { type: "submit", class: "primary", "data-testid": "calendar-add" }, ADD_LABEL);
  const form = h(
    "form",
    { class: "calendar-form", "aria-labelledby": "calendar-form-title", novalidate: "" },
    h("h4", { id: "calendar-form-title" }, "Add a calendar"),
    field("calendar-name", "Name", name),
    field("calendar-address", "Secret address (iCal) or .ics file path", address),
    h("div", { class: "check" }, allDay, h("label", { for: "calendar-all-day" }, "All-day events count")),
    field(
      "calendar-me",
      "Your address in this calendar",
      me,
      h("p", { class: "note", id: "calendar-me-note" }, "Optional: events you declined there do not count."),
    ),
    h("div", { class: "calendar-form-actions" }, add),
  );
  return { form, name, address, allDay, me, add };
}

/**
 * The person's calendars: an explanation, the event they are at now, a row per calendar with its Remove button,
 * and the form that adds one. `answered` takes the view an add or a remove answers with (the newest, to show
 * everywhere); `clock` says how times are written.
 */
export function createCalendars(call: Call, answered: (view: SourcesView) => void, clock: ClockChoice): CalendarsPart {
  let view: CalendarsView | null = null;
  let adding = false;
  /** The calendars whose removal was asked and not yet answered, by id: their buttons stay disabled. */
  const removing = new Set<string>();
  const fields = addForm();
  const now = h("p", { class: "calendar-now", "aria-live": "polite", "data-testid": "calendar-now", hidden: "" });
  const list = h("div", { class: "calendar-list" });
  const status = h("div", { role: "status", class: "form-messages", "data-testid": "calendar-status" });
  const alert = h("div", { role: "alert", class: "form-messages", "data-testid": "calendar-alert" });
  const heading = h("h3", { id: "calendars-title", tabindex: "-1" }, "Calendars");

  const say = (kind: "ok" | "error" | null, message = "") => {
    status.replaceChildren(kind === "ok" ? h("p", {}, message) : "");
    alert.replaceChildren(kind === "error" ? h("p", { class: "alert" }, message) : "");
  };

  const show = (next: CalendarsView | null) => {
    view = next;
    const event = next?.now ?? null;
    now.textContent = event === null ? "" : nowText(event, clock.current());
    now.hidden = event === null;
    const focused = focusedKey(list);
    if (next === null) {
      list.replaceChildren();
    } else if (next.calendars.length === 0) {
      list.replaceChildren(h("p", { class: "note", "data-testid": "calendar-none" }, "No calendars yet."));
    } else {
      list.replaceChildren(
        h(
          "ul",
          { class: "calendar-rows", "aria-labelledby": "calendars-title" },
          ...next.calendars.map((row) =>
            calendarRow(row, clock.current(), removing.has(row.calendar.id), () => void remove(row)),
          ),
        ),
      );
    }
    // Redrawn: the focus goes back to the same calendar's button.
    if (focused !== null) focusKey(list, focused);
  };

  const remove = async (row: CalendarRow): Promise<void> => {
    const { id, name } = row.calendar;
    if (removing.has(id)) return;
    if (!window.confirm(removeQuestion(row))) return;
    removing.add(id);
    say(null);
    show(view);
    try {
      answered(await call("remove_calendar", { name }));
      say("ok", `Removed ${name}.`);
    } catch (error) {
      say("error", `Could not remove ${name}: ${describeError(error)}`);
    } finally {
      removing.delete(id);
    }
    show(view);
    // Its button is gone, or was disabled while waiting.
    if (focusLost()) focusKey(list, `calendar-remove:${id}`);
    if (focusLost()) heading.focus();
  };

  const syncForm = () => {
    for (const input of [fields.name, fields.address, fields.me]) input.readOnly = adding;
    fields.allDay.disabled = adding;
    fields.add.disabled = adding;
    fields.add.textContent = adding ? READING_LABEL : ADD_LABEL;
    fields.form.setAttribute("aria-busy", String(adding));
  };

  /** Marks the first empty required field and says what it needs; true when none is empty. */
  const filled = (): boolean => {
    const missing: [HTMLInputElement, string][] = [
      [fields.name, "Give the calendar a name."],
      [fields.address, "Paste the calendar's secret address (iCal), or type the path of an .ics file."],
    ];
    const empty = missing.find(([input]) => input.value.trim() === "");
    for (const [input] of missing) input.setAttribute("aria-invalid", String(input === empty?.[0]));
    if (empty === undefined) return true;
    say("error", empty[1]);
    empty[0].focus();
    return false;
  };

  const submit = async (): Promise<void> => {
    if (adding) return;
    say(null);
    if (!filled()) return;
    const calendar: NewCalendar = {
      name: fields.name.value.trim(),
      address: fields.address.value.trim(),
      include_all_day: fields.allDay.checked,
      own_addresses: ownAddresses(fields.me.value),
    };
    adding = true;
    syncForm();
    say("ok", READING_LABEL);
    try {
      answered(await call("add_calendar", { calendar }));
      say("ok", `Added ${calendar.name}.`);
      fields.form.reset();
    } catch (error) {
      say(
        "error",
        `${sentence(`Could not add ${calendar.name}: ${describeError(error)}`)} For safety the address was ` +
          "cleared: paste it again to retry.",
      );
    } finally {
      // The secret does not stay in the page, whatever the answer.
      fields.address.value = "";
      adding = false;
      syncForm();
    }
    if (focusLost()) (fields.name.value === "" ? fields.name : fields.address).focus();
  };

  for (const input of [fields.name, fields.address]) {
    // Marked empty on a refused submit: no longer once something is typed.
    input.addEventListener("input", () => {
      if (input.value.trim() !== "") input.removeAttribute("aria-invalid");
    });
  }
  fields.form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });
  const stop = clock.watch(() => {
    show(view);
  });

  const element = h(
    "section",
    { class: "calendars", "aria-labelledby": "calendars-title", "data-testid": "calendars" },
    heading,
    h(
      "p",
      { class: "note", "data-testid": "calendars-hint" },
      "An event in one of these calendars makes you “at an event” in Slack; its title is shared only with " +
        "workspaces under VIP. The address is kept in your desktop's keyring, never in a file, and nothing but " +
        "the resulting status leaves this machine.",
    ),
    now,
    list,
    status,
    alert,
    fields.form,
  );
  syncForm();
  show(null);
  return { element, show, stop };
}
