import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SourcesView } from "../bindings/SourcesView";
import type { WorkingHours } from "../bindings/WorkingHours";
import type { WorkingHoursView } from "../bindings/WorkingHoursView";
import { clockChoice, type ClockChoice } from "../clock";
import {
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
import { mountSources, type SourcesPanel } from "./sources";
import { dayNote, hoursNowText, timeText, typedDay, typedMinutes, WEEK } from "./working-hours";

/** Monday 3 March 2025, noon, local time. */
const NOW = new Date(2025, 2, 3, 12, 0);
/** A local moment as the app sends them (RFC 3339), `day` days after NOW's. */
const at = (day: number, hours: number, minutes = 0) => new Date(2025, 2, 3 + day, hours, minutes).toISOString();

const atWork: WorkingHoursView = { state: "at_work", until: at(0, 17) };
const offWork: WorkingHoursView = { state: "off_work", back_at: at(1, 9), off_status: false };

/** Followed, Monday to Friday 09:00–17:00. */
const followed: WorkingHours = { ...officeWeek, on: true };

const sourcesWith = (working_hours: WorkingHoursView, working_week: WorkingHours): SourcesView => ({
  microphone: { state: "off" },
  screen_lock: { state: "off" },
  screen_lock_status: false,
  calendar: { calendars: [], now: null },
  working_hours,
  working_week,
});

describe("typedMinutes and timeText", () => {
  it("reads a time input's value in minutes after midnight", () => {
    expect(typedMinutes("09:00")).toBe(540);
    expect(typedMinutes("23:59")).toBe(1439);
    expect(typedMinutes("00:00")).toBe(0);
    expect(typedMinutes("17:30:00")).toBe(1050);
    expect(typedMinutes("")).toBeNull();
    expect(typedMinutes("24:00")).toBeNull();
    expect(typedMinutes("9:00")).toBeNull();
  });

  it("writes minutes as a time input holds them, midnight at the close as 00:00", () => {
    expect(timeText(540)).toBe("09:00");
    expect(timeText(0)).toBe("00:00");
    expect(timeText(1439)).toBe("23:59");
    expect(timeText(1440)).toBe("00:00");
  });
});

describe("typedDay", () => {
  it("reads a day's hours, an end before the start being a night shift", () => {
    expect(typedDay("Monday", "09:00", "17:30")).toEqual({ hours: { start: 540, end: 1050 } });
    expect(typedDay("Monday", "22:00", "06:00")).toEqual({ hours: { start: 1320, end: 360 } });
  });

  it("reads an end of 00:00 as midnight at the close of the day, 00:00 to 00:00 as the whole day", () => {
    expect(typedDay("Friday", "17:00", "00:00")).toEqual({ hours: { start: 1020, end: 1440 } });
    expect(typedDay("Friday", "23:59", "00:00")).toEqual({ hours: { start: 1439, end: 1440 } });
    expect(typedDay("Sunday", "00:00", "00:00")).toEqual({ hours: { start: 0, end: 1440 } });
  });

  it("refuses a start equal to its end, and a missing time, naming the day", () => {
    expect(typedDay("Tuesday", "09:00", "09:00")).toEqual({
      wrong: "end",
      problem:
        "Tuesday starts and ends at 09:00: change its end (one before its start ends the next day), or make it " +
        "a day off.",
    });
    expect(typedDay("Wednesday", "", "17:00")).toEqual({
      wrong: "start",
      problem: "Give Wednesday a start time, or make it a day off.",
    });
    expect(typedDay("Wednesday", "09:00", "")).toEqual({
      wrong: "end",
      problem: "Give Wednesday an end time, or make it a day off.",
    });
  });
});

describe("dayNote", () => {
  it("says when a day does not end the same day before midnight", () => {
    expect(dayNote({ start: 540, end: 1020 })).toBe("");
    expect(dayNote({ start: 1320, end: 360 })).toBe("ends the next day");
    expect(dayNote({ start: 1020, end: 1440 })).toBe("ends at midnight");
    expect(dayNote({ start: 0, end: 1440 })).toBe("all day");
  });
});

describe("hoursNowText", () => {
  const now = NOW.getTime();

  it("says whether the source is followed, and until when you are at work", () => {
    expect(hoursNowText({ state: "off" }, "h24", now)).toBe("Off.");
    expect(hoursNowText(atWork, "h24", now)).toBe("At work until 17:00.");
    expect(hoursNowText(atWork, "h12", now)).toBe("At work until 5:00 PM.");
    // A night shift: until tomorrow morning.
    expect(hoursNowText({ state: "at_work", until: at(1, 6) }, "h24", now)).toBe("At work until Tue 06:00.");
    expect(hoursNowText({ state: "at_work", until: null }, "h24", now)).toBe("At work around the clock.");
  });

  it("says off work you are away in Slack until the next start, and “Off for the day” when asked for", () => {
    expect(hoursNowText(offWork, "h24", now)).toBe("Off work until Tue 09:00: away in Slack.");
    expect(hoursNowText({ ...offWork, off_status: true }, "h12", now)).toBe(
      "Off work until Tue 9:00 AM: away in Slack, “Off for the day” shown (Trusted and VIP).",
    );
    expect(hoursNowText({ state: "off_work", back_at: null, off_status: false }, "h24", now)).toBe(
      "Off work (no working day in the week): away in Slack.",
    );
    // A week with only Mondays, seen on Monday evening: next Monday, dated.
    expect(hoursNowText({ ...offWork, back_at: at(7, 9) }, "h24", now)).toBe(
      "Off work until 2025-03-10 09:00: away in Slack.",
    );
  });
});

describe("the working hours in mountSources", () => {
  let root: HTMLElement;
  let current: SourcesView;
  let panel: SourcesPanel | null;
  let events: ReturnType<typeof fakeEvents>;
  let clock: ClockChoice;

  const handlers: Partial<Handlers> = {
    sources: () => current,
    set_working_hours: ({ hours }) => {
      current = sourcesWith(hours.on ? atWork : { state: "off" }, hours);
      return current;
    },
  };

  const mount = (app = fakeApp(handlers)) => {
    panel?.stop();
    panel = mountSources(root, app.call, events.onEvent, clock);
    return app;
  };
  const on = () => inputByTestId(root, "working-hours-on");
  const offStatus = () => inputByTestId(root, "working-hours-off-status");
  const works = (day: string) => inputByTestId(root, `working-hours-${day}-works`);
  const start = (day: string) => inputByTestId(root, `working-hours-${day}-start`);
  const end = (day: string) => inputByTestId(root, `working-hours-${day}-end`);
  const note = (day: string) => byTestId(root, `working-hours-${day}-note`)?.textContent;
  const save = () => byTestId(root, "working-hours-save") as HTMLButtonElement;
  const line = () => byTestId(root, "working-hours-status")?.textContent;
  const alert = () => byTestId(root, "working-hours-alert")?.textContent;
  const saved = () => byTestId(root, "working-hours-saved")?.textContent;
  /** Each day's row as the person sees it: off, or its start and end. */
  const week = () =>
    WEEK.map(({ key }) => (works(key).checked ? `${start(key).value}-${end(key).value}` : "off"));

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
    root = document.createElement("div");
    document.body.append(root);
    current = sourcesWith(atWork, followed);
    events = fakeEvents();
    clock = clockChoice();
    panel = null;
  });

  afterEach(() => {
    panel?.stop();
    root.remove();
    vi.useRealTimers();
  });

  it("is a titled part between the sources and the calendars, each choice explained", async () => {
    mount();
    await settle();
    const part = byTestId(root, "working-hours");
    expect(part?.getAttribute("aria-labelledby")).toBe("working-hours-title");
    expect(root.querySelector("#working-hours-title")?.textContent).toBe("Working hours");
    const after = (first: Node | null, second: Node | null) =>
      ((first?.compareDocumentPosition(second as Node) ?? 0) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
    expect(after(byTestId(root, "sources-screen-lock"), part)).toBe(true);
    expect(after(part, byTestId(root, "calendars"))).toBe(true);
    expect(on().labels?.[0]?.textContent).toBe("Working hours: away in Slack outside them");
    expect(root.querySelector(`#${on().getAttribute("aria-describedby") ?? "none"}`)?.textContent).toBe(
      "Outside these hours, in this computer's time zone, Slack shows you away in every workspace but Blocked " +
        "ones, unless a status you chose yourself speaks. The week is kept while this is off.",
    );
    expect(offStatus().labels?.[0]?.textContent).toBe(
      "Show “Off for the day” until the next start (Trusted and VIP)",
    );
    expect(byTestId(root, "working-hours-off-status-hint")?.textContent).toBe(
      "Only where nothing else sets a status: a call at 9 pm stays a call. Default shows only that you are away.",
    );
    expect(byTestId(root, "working-hours-status")?.getAttribute("aria-live")).toBe("polite");
    expect(byTestId(root, "working-hours-alert")?.getAttribute("role")).toBe("alert");
    expect(save().textContent).toBe("Save working hours");
    expect(save().type).toBe("submit");
  });

  it("labels every day's inputs by the day, and describes its times by its note", async () => {
    mount();
    await settle();
    for (const { key, name } of WEEK) {
      expect(works(key).labels?.[0]?.textContent).toBe(`${name} works`);
      expect(start(key).labels?.[0]?.textContent).toBe(`${name} starts`);
      expect(end(key).labels?.[0]?.textContent).toBe(`${name} ends`);
      expect(start(key).type).toBe("time");
      expect(end(key).getAttribute("aria-describedby")).toBe(`working-hours-${key}-note`);
    }
    const days = [...root.querySelectorAll("[data-testid=working-hours-day] th")].map((cell) => cell.textContent);
    expect(days).toEqual(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]);
  });

  it("draws the week saved: the choices, each day's hours, days off with their times disabled", async () => {
    current = sourcesWith(offWork, {
      on: true,
      off_status: true,
      days: [
        { start: 540, end: 1050 },
        { start: 1320, end: 360 },
        null,
        { start: 480, end: 1440 },
        { start: 0, end: 1440 },
        null,
        null,
      ],
    });
    mount();
    await settle();
    expect(on().checked).toBe(true);
    expect(offStatus().checked).toBe(true);
    expect(week()).toEqual(["09:00-17:30", "22:00-06:00", "off", "08:00-00:00", "00:00-00:00", "off", "off"]);
    expect([note("mon"), note("tue"), note("wed"), note("thu"), note("fri")]).toEqual([
      "",
      "ends the next day",
      "",
      "ends at midnight",
      "all day",
    ]);
    expect(start("wed").disabled).toBe(true);
    expect(end("wed").disabled).toBe(true);
    expect(start("mon").disabled).toBe(false);
    // A day off never given hours shows the usual ones, ready to be worked.
    expect(start("sat").value).toBe("09:00");
    expect(end("sat").value).toBe("17:00");
    expect(line()).toBe("Off work until Tue 09:00: away in Slack.");
  });

  it("is disabled until the app says what the week is", async () => {
    mount(
      fakeApp({
        sources: () => {
          throw new Error("services not started");
        },
      }),
    );
    await settle();
    // Disabled by their fieldset: the inputs' own attribute stays as their day says.
    const disabled = (element: HTMLElement) => element.matches(":disabled");
    expect(disabled(on())).toBe(true);
    expect(disabled(start("mon"))).toBe(true);
    expect(disabled(save())).toBe(true);
    expect(line()).toBe("");
    events.emit("sources", current);
    expect(disabled(on())).toBe(false);
    expect(disabled(start("mon"))).toBe(false);
    expect(disabled(save())).toBe(false);
    expect(line()).toBe("At work until 17:00.");
  });

  it("saves exactly the week typed: a night shift, a day off, an end at midnight, a whole day", async () => {
    const app = mount();
    await settle();
    offStatus().click();
    typeInto(start("tue"), "22:00");
    typeInto(end("tue"), "06:00");
    expect(note("tue")).toBe("ends the next day");
    works("wed").click();
    expect(start("wed").disabled).toBe(true);
    typeInto(end("fri"), "00:00");
    expect(note("fri")).toBe("ends at midnight");
    works("sun").click();
    typeInto(start("sun"), "00:00");
    typeInto(end("sun"), "00:00");
    expect(note("sun")).toBe("all day");
    save().click();
    await settle();
    expect(app.argsOf("set_working_hours")).toEqual([
      {
        hours: {
          on: true,
          off_status: true,
          days: [
            { start: 540, end: 1020 },
            { start: 1320, end: 360 },
            null,
            { start: 540, end: 1020 },
            { start: 540, end: 1440 },
            null,
            { start: 0, end: 1440 },
          ],
        },
      },
    ]);
    expect(saved()).toBe("Saved.");
    expect(alert()).toBe("");
    // The answer is the week saved, drawn as the app keeps it.
    expect(week()).toEqual(["09:00-17:00", "22:00-06:00", "off", "09:00-17:00", "09:00-00:00", "off", "00:00-00:00"]);
  });

  it("saves the choice not to follow the hours, with the week kept", async () => {
    const app = mount();
    await settle();
    on().click();
    save().click();
    await settle();
    expect(app.argsOf("set_working_hours")).toEqual([{ hours: { ...followed, on: false } }]);
    expect(on().checked).toBe(false);
    expect(line()).toBe("Off.");
  });

  it("refuses a day that starts when it ends, naming it, without calling the app", async () => {
    const app = mount();
    await settle();
    typeInto(start("thu"), "10:00");
    typeInto(end("thu"), "10:00");
    save().click();
    await settle();
    expect(alert()).toBe(
      "Thursday starts and ends at 10:00: change its end (one before its start ends the next day), or make it " +
        "a day off.",
    );
    expect(end("thu").getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(end("thu"));
    expect(app.names()).toEqual(["sources"]);
    // Fixed, the mark goes; a day off is not checked at all.
    typeInto(end("thu"), "18:00");
    expect(end("thu").hasAttribute("aria-invalid")).toBe(false);
    typeInto(end("sat"), "09:00");
    typeInto(start("sat"), "09:00");
    save().click();
    await settle();
    expect(app.argsOf("set_working_hours").length).toBe(1);
    expect(alert()).toBe("");
  });

  it("refuses a working day without a time", async () => {
    const app = mount();
    await settle();
    typeInto(start("mon"), "");
    save().click();
    await settle();
    expect(alert()).toBe("Give Monday a start time, or make it a day off.");
    expect(start("mon").getAttribute("aria-invalid")).toBe("true");
    expect(app.names()).toEqual(["sources"]);
  });

  it("disables Save while waiting, keeps the week sent whatever an event says, and the focus after", async () => {
    const answer = deferred<SourcesView>();
    const app = mount(fakeApp({ ...handlers, set_working_hours: () => answer.promise }));
    await settle();
    typeInto(end("mon"), "18:00");
    save().focus();
    save().click();
    await settle();
    expect(save().disabled).toBe(true);
    expect(save().textContent).toBe("Saving…");
    expect(root.querySelector(".working-hours-form")?.getAttribute("aria-busy")).toBe("true");
    // A second press while waiting sends nothing more.
    root.querySelector<HTMLFormElement>(".working-hours-form")?.requestSubmit();
    await settle();
    expect(app.argsOf("set_working_hours").length).toBe(1);
    // An event from before the save does not put the old week back, but says what the source says now.
    events.emit("sources", sourcesWith(offWork, followed));
    expect(end("mon").value).toBe("18:00");
    expect(line()).toBe("Off work until Tue 09:00: away in Slack.");
    const sent = app.argsOf("set_working_hours")[0]?.hours ?? followed;
    answer.resolve(sourcesWith(atWork, sent));
    await settle();
    expect(save().disabled).toBe(false);
    expect(save().textContent).toBe("Save working hours");
    expect(end("mon").value).toBe("18:00");
    expect(line()).toBe("At work until 17:00.");
    expect(document.activeElement).toBe(save());
  });

  it("says why saving failed, keeping the week typed, and an event does not overwrite it after", async () => {
    mount(
      fakeApp({
        ...handlers,
        set_working_hours: () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "refused", message: "Monday's hours are not valid" };
        },
      }),
    );
    await settle();
    typeInto(start("mon"), "07:30");
    save().click();
    await settle();
    expect(alert()).toBe("Could not save the working hours: Monday's hours are not valid");
    expect(saved()).toBe("");
    expect(save().disabled).toBe(false);
    expect(start("mon").value).toBe("07:30");
    events.emit("sources", current);
    expect(start("mon").value).toBe("07:30");
  });

  it("keeps the edits through an event, updating only the status line", async () => {
    mount();
    await settle();
    works("sat").click();
    typeInto(start("sat"), "10:00");
    start("sat").focus();
    const form = root.querySelector("form.working-hours-form");
    events.emit("sources", sourcesWith({ ...offWork, off_status: true }, { ...followed, off_status: true }));
    expect(line()).toBe("Off work until Tue 09:00: away in Slack, “Off for the day” shown (Trusted and VIP).");
    expect(works("sat").checked).toBe(true);
    expect(start("sat").value).toBe("10:00");
    expect(offStatus().checked).toBe(false);
    expect(root.querySelector("form.working-hours-form")).toBe(form);
    expect(document.activeElement).toBe(start("sat"));
  });

  it("follows the week from events while nothing is edited, and again once saved", async () => {
    mount();
    await settle();
    const nineToFive = { start: 540, end: 1020 };
    const mondayOff: WorkingHours["days"] = [null, nineToFive, nineToFive, nineToFive, nineToFive, null, null];
    events.emit("sources", sourcesWith(atWork, { ...followed, days: mondayOff }));
    expect(works("mon").checked).toBe(false);
    typeInto(end("tue"), "16:00");
    save().click();
    await settle();
    events.emit("sources", sourcesWith({ state: "off" }, officeWeek));
    expect(on().checked).toBe(false);
    expect(works("mon").checked).toBe(true);
    expect(end("tue").value).toBe("17:00");
  });

  it("writes the status line's times in the clock chosen", async () => {
    current = sourcesWith(offWork, followed);
    mount();
    await settle();
    expect(line()).toBe("Off work until Tue 09:00: away in Slack.");
    clock.set("h12");
    expect(line()).toBe("Off work until Tue 9:00 AM: away in Slack.");
    events.emit("sources", sourcesWith({ state: "off_work", back_at: null, off_status: false }, followed));
    expect(line()).toBe("Off work (no working day in the week): away in Slack.");
  });

  it("stops following the clock when stopped", async () => {
    mount();
    await settle();
    panel?.stop();
    clock.set("h12");
    expect(line()).toBe("At work until 17:00.");
  });
});
