import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import type { CalendarRow } from "../bindings/CalendarRow";
import type { CalendarsView } from "../bindings/CalendarsView";
import type { NewCalendar } from "../bindings/NewCalendar";
import type { SourcesView } from "../bindings/SourcesView";
import { clockChoice, type ClockChoice } from "../clock";
import {
  allByTestId,
  buttonNamed,
  byTestId,
  deferred,
  fakeApp,
  fakeEvents,
  inputByTestId,
  settle,
  typeInto,
  type Handlers,
} from "../test/fake-app";
import { officeWeek } from "../test/fixtures";
import { calendarState, nowText, ownAddresses, placeText, removeQuestion } from "./calendars";
import { mountSources, type SourcesPanel } from "./sources";

/** Today at `hours`:`minutes`, local time, as the app sends moments. */
const at = (hours: number, minutes: number) => new Date(2025, 2, 1, hours, minutes).toISOString();
const NOW = new Date(2025, 2, 1, 12, 0);
const SECRET = "https://calendar.google.com/calendar/ical/ana%40example.com/private-s3cr3t/basic.ics";

const work: CalendarRow = {
  calendar: {
    id: "a1",
    name: "Work",
    place: { kind: "web", host: "calendar.google.com" },
    include_all_day: false,
    own_addresses: ["ana@example.com"],
  },
  read_at: at(11, 5),
  problem: null,
  events_today: 3,
  unreadable_parts: 0,
};
const home: CalendarRow = {
  calendar: {
    id: "b2",
    name: "Home",
    place: { kind: "file", path: "/home/ana/home.ics" },
    include_all_day: true,
    own_addresses: [],
  },
  read_at: null,
  problem: null,
  events_today: 0,
  unreadable_parts: 0,
};
const failing: CalendarRow = {
  ...work,
  calendar: { ...work.calendar, id: "c3", name: "Team", place: { kind: "web", host: "outlook.office365.com" } },
  read_at: at(10, 0),
  problem: "the calendar's server failed (HTTP 503)",
};
const standup = { title: "Standup", start: at(11, 45), end: at(12, 30) };

const sourcesWith = (calendar: CalendarsView): SourcesView => ({
  microphone: { state: "off" },
  screen_lock: { state: "off" },
  screen_lock_status: false,
  calendar,
  working_hours: { state: "off" },
  working_week: officeWeek,
});

describe("calendarState", () => {
  it("says how the calendar was last read", () => {
    expect(calendarState(work, "h24", NOW.getTime())).toEqual(["3 events in the next 24 hours, read at 11:05.", false]);
    expect(calendarState({ ...work, events_today: 1 }, "h12", NOW.getTime())).toEqual([
      "1 event in the next 24 hours, read at 11:05 AM.",
      false,
    ]);
    expect(calendarState({ ...work, events_today: 0 }, "h24", NOW.getTime())[0]).toBe(
      "No events in the next 24 hours, read at 11:05.",
    );
    expect(calendarState(home, "h24", NOW.getTime())).toEqual(["Not read yet.", false]);
  });

  it("says what went wrong, and that the last good events still count", () => {
    expect(calendarState(failing, "h24", NOW.getTime())).toEqual([
      "Not read: the calendar's server failed (HTTP 503); the events read at 10:00 still count.",
      true,
    ]);
    expect(calendarState({ ...failing, read_at: null }, "h24", NOW.getTime())).toEqual([
      "Not read: the calendar's server failed (HTTP 503).",
      true,
    ]);
  });

  it("counts the parts that could not be read", () => {
    expect(calendarState({ ...work, unreadable_parts: 2 }, "h24", NOW.getTime())[0]).toBe(
      "3 events in the next 24 hours, read at 11:05 (2 parts could not be read).",
    );
    expect(calendarState({ ...home, unreadable_parts: 1 }, "h24", NOW.getTime())[0]).toBe(
      "Not read yet (1 part could not be read).",
    );
  });

  it("writes the date of a read on another day", () => {
    const yesterday = new Date(2025, 1, 28, 23, 50).toISOString();
    expect(calendarState({ ...work, read_at: yesterday }, "h24", NOW.getTime())[0]).toBe(
      "3 events in the next 24 hours, read at 2025-02-28 23:50.",
    );
  });
});

describe("nowText, placeText and ownAddresses", () => {
  it("writes the event now with its end in the clock chosen", () => {
    expect(nowText(standup, "h24", NOW.getTime())).toBe("Now: Standup, until 12:30");
    expect(nowText(standup, "h12", NOW.getTime())).toBe("Now: Standup, until 12:30 PM");
  });

  it("shows a web calendar's host and a file's path", () => {
    expect(placeText(work.calendar.place)).toBe("calendar.google.com");
    expect(placeText(home.calendar.place)).toBe("/home/ana/home.ics");
  });

  it("splits the person's addresses on commas and spaces", () => {
    expect(ownAddresses(" ana@example.com, ana@work.example  me@x.example,")).toEqual([
      "ana@example.com",
      "ana@work.example",
      "me@x.example",
    ]);
    expect(ownAddresses("   ")).toEqual([]);
  });
});

describe("the calendars in mountSources", () => {
  let root: HTMLElement;
  let current: SourcesView;
  let panel: SourcesPanel | null;
  let events: ReturnType<typeof fakeEvents>;
  let clock: ClockChoice;

  const added: CalendarRow = { ...work, calendar: { ...work.calendar, id: "d4", name: "Club" } };
  const handlers: Partial<Handlers> = {
    sources: () => current,
    add_calendar: ({ calendar }) => {
      current = sourcesWith({
        ...current.calendar,
        calendars: [...current.calendar.calendars, { ...added, calendar: { ...added.calendar, name: calendar.name } }],
      });
      return current;
    },
    remove_calendar: ({ name }) => {
      const calendars = current.calendar.calendars.filter((row) => row.calendar.name !== name);
      current = sourcesWith({ ...current.calendar, calendars });
      return current;
    },
  };

  const mount = (app = fakeApp(handlers)) => {
    panel?.stop();
    panel = mountSources(root, app.call, events.onEvent, clock);
    return app;
  };
  const rows = () => allByTestId(root, "calendar-row");
  const rowNamed = (name: string) =>
    rows().find((row) => byTestId(row, "calendar-row-name")?.textContent === name) ?? null;
  const alert = () => byTestId(root, "calendar-alert")?.textContent;
  const status = () => byTestId(root, "calendar-status")?.textContent;
  const name = () => inputByTestId(root, "calendar-name");
  const address = () => inputByTestId(root, "calendar-address");
  const allDay = () => inputByTestId(root, "calendar-all-day");
  const me = () => inputByTestId(root, "calendar-me");
  const addButton = () => byTestId(root, "calendar-add") as HTMLButtonElement;
  const removeOf = (row: HTMLElement | null) => byTestId(row ?? root, "calendar-remove") as HTMLButtonElement;
  const fill = (calendar: Partial<NewCalendar> & { me?: string }) => {
    typeInto(name(), calendar.name ?? "");
    typeInto(address(), calendar.address ?? "");
    if (calendar.include_all_day === true) allDay().click();
    typeInto(me(), calendar.me ?? "");
  };

  let confirmation: MockInstance<(message?: string) => boolean>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
    root = document.createElement("div");
    document.body.append(root);
    current = sourcesWith({ calendars: [work, home, failing], now: null });
    events = fakeEvents();
    clock = clockChoice();
    panel = null;
    confirmation = vi.spyOn(window, "confirm").mockReturnValue(true);
  });

  afterEach(() => {
    panel?.stop();
    root.remove();
    vi.useRealTimers();
    confirmation.mockRestore();
  });

  it("is a titled part after the sources, explained in one line", async () => {
    mount();
    await settle();
    const part = byTestId(root, "calendars");
    expect(part?.getAttribute("aria-labelledby")).toBe("calendars-title");
    expect(root.querySelector("#calendars-title")?.textContent).toBe("Calendars");
    const order = byTestId(root, "sources-screen-lock")?.compareDocumentPosition(part as Node) ?? 0;
    expect(order & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(byTestId(root, "calendars-hint")?.textContent).toBe(
      "An event in one of these calendars makes you “at an event” in Slack; its title is shared only with " +
        "workspaces under VIP. The address is kept in your desktop's keyring, never in a file, and nothing but " +
        "the resulting status leaves this machine.",
    );
  });

  it("draws a row per calendar: name, where it is, and its state", async () => {
    mount();
    await settle();
    expect(rows().map((row) => byTestId(row, "calendar-row-name")?.textContent)).toEqual(["Work", "Home", "Team"]);
    const [web, file, broken] = rows();
    expect(byTestId(web ?? root, "calendar-place")?.textContent).toBe("calendar.google.com");
    expect(byTestId(web ?? root, "calendar-state")?.textContent).toBe("3 events in the next 24 hours, read at 11:05.");
    expect(web?.textContent).not.toContain("all-day");
    expect(byTestId(file ?? root, "calendar-place")?.textContent).toBe("/home/ana/home.ics");
    expect(byTestId(file ?? root, "calendar-state")?.textContent).toBe("Not read yet.");
    expect(file?.textContent).toContain("all-day events count");
    const problem = byTestId(broken ?? root, "calendar-problem");
    expect(problem?.textContent).toBe(
      "Not read: the calendar's server failed (HTTP 503); the events read at 10:00 still count.",
    );
    expect(problem?.classList.contains("problem")).toBe(true);
    expect(byTestId(broken ?? root, "calendar-state")).toBeNull();
  });

  it("says when parts of a calendar could not be read", async () => {
    current = sourcesWith({ calendars: [{ ...work, unreadable_parts: 4 }], now: null });
    mount();
    await settle();
    expect(byTestId(root, "calendar-state")?.textContent).toBe(
      "3 events in the next 24 hours, read at 11:05 (4 parts could not be read).",
    );
  });

  it("says when there is no calendar, and never shows a secret or markup from the core", async () => {
    current = sourcesWith({ calendars: [], now: null });
    mount();
    await settle();
    expect(rows()).toEqual([]);
    expect(byTestId(root, "calendar-none")?.textContent).toBe("No calendars yet.");
    events.emit(
      "sources",
      sourcesWith({
        calendars: [{ ...work, problem: '<img src=x onerror="alert(1)">' }],
        now: { ...standup, title: "<img src=y>" },
      }),
    );
    expect(root.querySelector("img")).toBeNull();
    expect(byTestId(root, "calendar-now")?.textContent).toBe("Now: <img src=y>, until 12:30");
  });

  it("shows the event now, in the clock chosen, and hides the line without one", async () => {
    mount();
    await settle();
    const line = () => byTestId(root, "calendar-now");
    expect(line()?.hidden).toBe(true);
    expect(line()?.textContent).toBe("");
    events.emit("sources", sourcesWith({ calendars: [work], now: standup }));
    expect(line()?.hidden).toBe(false);
    expect(line()?.textContent).toBe("Now: Standup, until 12:30");
    expect(line()?.getAttribute("aria-live")).toBe("polite");
    clock.set("h12");
    expect(line()?.textContent).toBe("Now: Standup, until 12:30 PM");
    expect(byTestId(root, "calendar-state")?.textContent).toBe("3 events in the next 24 hours, read at 11:05 AM.");
    events.emit("sources", sourcesWith({ calendars: [work], now: null }));
    expect(line()?.hidden).toBe(true);
  });

  it("labels every control", async () => {
    mount();
    await settle();
    expect(name().labels?.[0]?.textContent).toBe("Name");
    expect(address().labels?.[0]?.textContent).toBe("Secret address (iCal) or .ics file path");
    expect(address().type).toBe("password");
    expect(address().getAttribute("autocomplete")).toBe("off");
    expect(allDay().labels?.[0]?.textContent).toBe("All-day events count");
    expect(me().labels?.[0]?.textContent).toBe("Your address in this calendar");
    expect(root.querySelector(`#${me().getAttribute("aria-describedby") ?? "none"}`)?.textContent).toBe(
      "Optional: events you declined there do not count.",
    );
    expect(addButton().textContent).toBe("Add calendar");
    expect(addButton().type).toBe("submit");
    expect(allByTestId(root, "calendar-remove").map((button) => button.getAttribute("aria-label"))).toEqual([
      "Remove Work",
      "Remove Home",
      "Remove Team",
    ]);
  });

  it("adds a calendar with its addresses split, then clears the form and shows it", async () => {
    const app = mount();
    await settle();
    fill({ name: " Club ", address: SECRET, include_all_day: true, me: "ana@example.com, ana@work.example" });
    addButton().click();
    await settle();
    expect(app.argsOf("add_calendar")).toEqual([
      {
        calendar: {
          name: "Club",
          address: SECRET,
          include_all_day: true,
          own_addresses: ["ana@example.com", "ana@work.example"],
        },
      },
    ]);
    expect(address().value).toBe("");
    expect(name().value).toBe("");
    expect(me().value).toBe("");
    expect(allDay().checked).toBe(false);
    expect(rowNamed("Club")).not.toBeNull();
    expect(status()).toBe("Added Club.");
    expect(alert()).toBe("");
    expect(root.innerHTML).not.toContain("s3cr3t");
  });

  it("disables the button and says it is reading the calendar while waiting", async () => {
    const answer = deferred<SourcesView>();
    const app = mount(fakeApp({ ...handlers, add_calendar: () => answer.promise }));
    await settle();
    fill({ name: "Club", address: SECRET });
    addButton().click();
    await settle();
    expect(addButton().disabled).toBe(true);
    expect(addButton().textContent).toBe("Reading the calendar…");
    expect(status()).toBe("Reading the calendar…");
    expect(name().readOnly).toBe(true);
    expect(address().readOnly).toBe(true);
    // A second press while waiting sends nothing more.
    root.querySelector("form")?.requestSubmit();
    await settle();
    expect(app.argsOf("add_calendar").length).toBe(1);
    answer.resolve(sourcesWith({ calendars: [work, added], now: null }));
    await settle();
    expect(addButton().disabled).toBe(false);
    expect(addButton().textContent).toBe("Add calendar");
    expect(name().readOnly).toBe(false);
    expect(rows().length).toBe(2);
  });

  it("says why adding failed, keeping the name and clearing the address", async () => {
    mount(
      fakeApp({
        ...handlers,
        add_calendar: () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "refused", message: 'there is already a calendar named "Work"' };
        },
      }),
    );
    await settle();
    fill({ name: "Work", address: SECRET, me: "ana@example.com" });
    addButton().click();
    await settle();
    expect(alert()).toBe(
      'Could not add Work: there is already a calendar named "Work". For safety the address was cleared: paste ' +
        "it again to retry.",
    );
    expect(byTestId(root, "calendar-alert")?.getAttribute("role")).toBe("alert");
    expect(name().value).toBe("Work");
    expect(me().value).toBe("ana@example.com");
    expect(address().value).toBe("");
    expect(addButton().disabled).toBe(false);
    expect(status()).toBe("");
    expect(root.innerHTML).not.toContain("s3cr3t");
  });

  it("refuses an empty name or address without calling the app", async () => {
    const app = mount();
    await settle();
    typeInto(address(), SECRET);
    addButton().click();
    await settle();
    expect(alert()).toBe("Give the calendar a name.");
    expect(name().getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(name());
    typeInto(name(), "Club");
    typeInto(address(), "   ");
    addButton().click();
    await settle();
    expect(alert()).toBe("Paste the calendar's secret address (iCal), or type the path of an .ics file.");
    expect(name().getAttribute("aria-invalid")).toBe("false");
    expect(address().getAttribute("aria-invalid")).toBe("true");
    expect(app.names()).toEqual(["sources"]);
    typeInto(address(), SECRET);
    expect(address().hasAttribute("aria-invalid")).toBe(false);
  });

  it("removes a calendar by name only once the person confirms, and shows what is left", async () => {
    const app = mount();
    await settle();
    confirmation.mockReturnValueOnce(false);
    removeOf(rowNamed("Home")).click();
    await settle();
    expect(app.argsOf("remove_calendar")).toEqual([]);
    removeOf(rowNamed("Home")).click();
    await settle();
    expect(confirmation).toHaveBeenCalledTimes(2);
    expect(confirmation.mock.calls[0]?.[0]).toBe(removeQuestion(home));
    expect(removeQuestion(work)).toContain("deleted from the keyring");
    expect(app.argsOf("remove_calendar")).toEqual([{ name: "Home" }]);
    expect(rows().map((row) => byTestId(row, "calendar-row-name")?.textContent)).toEqual(["Work", "Team"]);
    expect(status()).toBe("Removed Home.");
  });

  it("disables the Remove button while waiting, and says why removing failed", async () => {
    const answer = deferred<SourcesView>();
    mount(fakeApp({ ...handlers, remove_calendar: () => answer.promise }));
    await settle();
    removeOf(rowNamed("Work")).click();
    await settle();
    expect(removeOf(rowNamed("Work")).disabled).toBe(true);
    expect(removeOf(rowNamed("Home")).disabled).toBe(false);
    // An event meanwhile redraws the row, still disabled.
    events.emit("sources", current);
    expect(removeOf(rowNamed("Work")).disabled).toBe(true);
    answer.reject({ code: "app", message: "the keyring is locked" });
    await settle();
    expect(alert()).toBe("Could not remove Work: the keyring is locked");
    expect(removeOf(rowNamed("Work")).disabled).toBe(false);
    expect(rows().length).toBe(3);
  });

  it("redraws the list on a sources event, leaving the form as typed and the focus where it was", async () => {
    mount();
    await settle();
    fill({ name: "Club", address: SECRET, include_all_day: true, me: "ana@example.com" });
    address().focus();
    const form = root.querySelector("form");
    events.emit(
      "sources",
      sourcesWith({ calendars: [{ ...work, problem: "the calendar's server failed (HTTP 503)" }], now: standup }),
    );
    expect(rows().length).toBe(1);
    expect(byTestId(root, "calendar-problem")?.textContent).toBe(
      "Not read: the calendar's server failed (HTTP 503); the events read at 11:05 still count.",
    );
    expect(byTestId(root, "calendar-now")?.textContent).toBe("Now: Standup, until 12:30");
    expect(root.querySelector("form")).toBe(form);
    expect(name().value).toBe("Club");
    expect(address().value).toBe(SECRET);
    expect(allDay().checked).toBe(true);
    expect(me().value).toBe("ana@example.com");
    expect(document.activeElement).toBe(address());
  });

  it("keeps the focus on a Remove button across a redraw", async () => {
    mount();
    await settle();
    removeOf(rowNamed("Team")).focus();
    events.emit("sources", current);
    expect(document.activeElement).toBe(removeOf(rowNamed("Team")));
    expect(buttonNamed(root, "Add calendar")).toBe(addButton());
  });
});
