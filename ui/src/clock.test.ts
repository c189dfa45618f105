import { describe, expect, it } from "vitest";
import { clockChoice, clockTime, dateTime, followClock, momentText, timeOfDay, weekMomentText } from "./clock";
import { preferences } from "./test/fixtures";
import { fakeApp, fakeEvents, settle } from "./test/fake-app";

const at = (hours: number, minutes: number, seconds = 0, ms = 0) => new Date(2025, 2, 1, hours, minutes, seconds, ms);

describe("timeOfDay", () => {
  it("writes 24-hour times with zero-padded hours", () => {
    expect(timeOfDay(at(9, 5), "h24")).toBe("09:05");
    expect(timeOfDay(at(15, 42), "h24")).toBe("15:42");
    expect(timeOfDay(at(0, 0), "h24")).toBe("00:00");
    expect(timeOfDay(at(15, 42, 7), "h24", "seconds")).toBe("15:42:07");
    expect(timeOfDay(at(9, 5, 7, 45), "h24", "milliseconds")).toBe("09:05:07.045");
  });

  it("writes 12-hour times with AM and PM, midnight and noon as 12", () => {
    expect(timeOfDay(at(15, 42), "h12")).toBe("3:42 PM");
    expect(timeOfDay(at(9, 5), "h12")).toBe("9:05 AM");
    expect(timeOfDay(at(0, 0), "h12")).toBe("12:00 AM");
    expect(timeOfDay(at(12, 0), "h12")).toBe("12:00 PM");
    expect(timeOfDay(at(23, 59), "h12")).toBe("11:59 PM");
    expect(timeOfDay(at(15, 42, 7), "h12", "seconds")).toBe("3:42:07 PM");
    expect(timeOfDay(at(0, 5, 7, 45), "h12", "milliseconds")).toBe("12:05:07.045 AM");
  });
});

describe("dates with times", () => {
  const moment = at(15, 42, 7).getTime();

  it("keeps the date as it is and writes the time in the chosen style", () => {
    expect(dateTime(moment, "h24")).toBe("2025-03-01 15:42");
    expect(dateTime(moment, "h12", "seconds")).toBe("2025-03-01 3:42:07 PM");
    expect(dateTime(Number.NaN, "h24")).toBe("unknown");
  });

  it("writes the time alone today and with its date on another day", () => {
    expect(momentText(moment, at(23, 0).getTime(), "h12")).toBe("3:42 PM");
    expect(momentText(moment, new Date(2025, 2, 2, 0, 1).getTime(), "h24", "seconds")).toBe("2025-03-01 15:42:07");
    expect(momentText(Number.NaN, moment, "h24")).toBe("unknown");
  });

  it("writes a moment in the coming week with its weekday, today's alone, and a week away with its date", () => {
    // Saturday 1 March 2025, 15:42.
    const now = moment;
    expect(weekMomentText(at(17, 0).getTime(), now, "h24")).toBe("17:00");
    expect(weekMomentText(new Date(2025, 2, 3, 9, 0).getTime(), now, "h24")).toBe("Mon 09:00");
    expect(weekMomentText(new Date(2025, 2, 2, 0, 30).getTime(), now, "h12")).toBe("Sun 12:30 AM");
    expect(weekMomentText(new Date(2025, 2, 7, 23, 0).getTime(), now, "h24")).toBe("Fri 23:00");
    // Seven days on, "Sat" would read as today: the date says which.
    expect(weekMomentText(new Date(2025, 2, 8, 9, 0).getTime(), now, "h24")).toBe("2025-03-08 09:00");
    expect(weekMomentText(new Date(2025, 1, 28, 9, 0).getTime(), now, "h24")).toBe("2025-02-28 09:00");
    expect(weekMomentText(Number.NaN, now, "h24")).toBe("unknown");
  });

  it("writes the time of an ISO date, or the text as it came", () => {
    const iso = at(15, 30).toISOString();
    expect(clockTime(iso, "h24")).toBe("15:30");
    expect(clockTime(iso, "h12")).toBe("3:30 PM");
    expect(clockTime("soon", "h12")).toBe("soon");
  });
});

describe("following the choice", () => {
  it("tells its listeners when the style changes, and only then", () => {
    const choice = clockChoice();
    const heard: string[] = [];
    const stop = choice.watch((clock) => heard.push(clock));
    expect(choice.current()).toBe("h24");
    choice.set("h24");
    choice.set("h12");
    expect(heard).toEqual(["h12"]);
    stop();
    choice.set("h24");
    expect(heard).toEqual(["h12"]);
    expect(choice.current()).toBe("h24");
  });

  it("asks for the preferences once, then follows the preferences event", async () => {
    const app = fakeApp({ preferences: () => ({ ...preferences, preferences: { ...preferences.preferences, clock: "h12" } }) });
    const events = fakeEvents();
    const choice = clockChoice();
    const stop = followClock(choice, events.onEvent, app.call);
    await settle();
    expect(app.names()).toEqual(["preferences"]);
    expect(choice.current()).toBe("h12");
    events.emit("preferences", { ...preferences.preferences, clock: "h24" });
    expect(choice.current()).toBe("h24");
    stop();
    expect(events.listeners("preferences")).toBe(0);
  });

  it("keeps an event that came before the answer, which may be older", async () => {
    const app = fakeApp({ preferences: () => preferences });
    const events = fakeEvents();
    const choice = clockChoice();
    followClock(choice, events.onEvent, app.call);
    events.emit("preferences", { ...preferences.preferences, clock: "h12" });
    await settle();
    expect(choice.current()).toBe("h12");
  });

  it("stays as it is when the preferences cannot be read", async () => {
    const choice = clockChoice("h12");
    followClock(choice, fakeEvents().onEvent, fakeApp().call);
    await settle();
    expect(choice.current()).toBe("h12");
  });
});
