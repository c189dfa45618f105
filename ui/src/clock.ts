// How the windows write a time of day: the way the person chose in Settings (Preferences.clock, 24-hour until
// they choose 12-hour), never the locale's. The formatting is pure (the style is an argument, the time is local
// to the computer); `clockChoice` and `followClock` are how a window knows the choice and hears it change.
// A workspace's own time format is another thing: it covers only the times in its Slack status (written in Rust).
import type { TimeFormat } from "./bindings/TimeFormat";
import { subscribe, type Call, type OnEvent } from "./ipc";

export type { TimeFormat };

/** The style until the app says otherwise (the Rust default). */
export const DEFAULT_CLOCK: TimeFormat = "h24";

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

/** How much of the time to write: minutes (the default), seconds, or milliseconds too. */
export type Precision = "minutes" | "seconds" | "milliseconds";

/**
 * A local time of day: h24 "09:05", "15:42:07", "15:42:07.045"; h12 "9:05 AM", "3:42:07 PM", "12:00 AM" at
 * midnight and "12:00 PM" at noon.
 */
export function timeOfDay(date: Date, clock: TimeFormat, precision: Precision = "minutes"): string {
  const hours = date.getHours();
  let time = `${clock === "h12" ? String(hours % 12 === 0 ? 12 : hours % 12) : pad(hours)}:${pad(date.getMinutes())}`;
  if (precision !== "minutes") time += `:${pad(date.getSeconds())}`;
  if (precision === "milliseconds") time += `.${pad(date.getMilliseconds(), 3)}`;
  return clock === "h12" ? `${time} ${hours < 12 ? "AM" : "PM"}` : time;
}

/** A local date as the windows write dates: "2025-03-01". */
export function localDate(date: Date): string {
  return `${String(date.getFullYear())}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Whether two moments are on the same local day. */
export function isSameDay(atMs: number, nowMs: number): boolean {
  const date = new Date(atMs);
  return !Number.isNaN(date.getTime()) && localDate(date) === localDate(new Date(nowMs));
}

/** "2025-03-01 15:42" (or "2025-03-01 3:42 PM"); "unknown" when the moment cannot be read. */
export function dateTime(atMs: number, clock: TimeFormat, precision: Precision = "minutes"): string {
  const date = new Date(atMs);
  if (Number.isNaN(date.getTime())) return "unknown";
  return `${localDate(date)} ${timeOfDay(date, clock, precision)}`;
}

/** The time alone on the same day as `nowMs`, with its date on another day (see {@link dateTime}). */
export function momentText(atMs: number, nowMs: number, clock: TimeFormat, precision: Precision = "minutes"): string {
  const date = new Date(atMs);
  if (Number.isNaN(date.getTime())) return "unknown";
  return isSameDay(atMs, nowMs) ? timeOfDay(date, clock, precision) : dateTime(atMs, clock, precision);
}

/** Weekday abbreviations in `Date.getDay()` order (Sunday first): English, as every other word in the windows. */
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

/** How many local calendar days `atMs` is after `nowMs` (negative before): rounded, so a DST day still counts 1. */
function daysAhead(atMs: number, nowMs: number): number {
  const midnight = (ms: number) => {
    const date = new Date(ms);
    return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  };
  return Math.round((midnight(atMs) - midnight(nowMs)) / 86_400_000);
}

/**
 * A moment in the coming week: the time alone today, with its weekday in the next six days ("Tue 09:00"), and
 * with its date otherwise (see {@link dateTime}), where a weekday alone could be read as today's or last week's.
 */
export function weekMomentText(atMs: number, nowMs: number, clock: TimeFormat): string {
  const date = new Date(atMs);
  if (Number.isNaN(date.getTime())) return "unknown";
  const days = daysAhead(atMs, nowMs);
  if (days === 0) return timeOfDay(date, clock);
  if (days > 0 && days < 7) return `${WEEKDAYS[date.getDay()] ?? ""} ${timeOfDay(date, clock)}`;
  return dateTime(atMs, clock);
}

/** The time of day of an ISO date ("until 15:42"), or the text as it came when it is not a date. */
export function clockTime(iso: string, clock: TimeFormat): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeOfDay(date, clock);
}

/** The choice a window writes its times with, and who hears it change. */
export interface ClockChoice {
  /** The style now. */
  current: () => TimeFormat;
  /** Takes a style the app reported; the listeners hear it if it changed. */
  set: (clock: TimeFormat) => void;
  /** Calls `listener` after each change; returns the function that stops it. */
  watch: (listener: (clock: TimeFormat) => void) => () => void;
}

export function clockChoice(initial: TimeFormat = DEFAULT_CLOCK): ClockChoice {
  let clock = initial;
  const listeners = new Set<(clock: TimeFormat) => void>();
  return {
    current: () => clock,
    set: (next) => {
      if (next === clock) return;
      clock = next;
      for (const listener of [...listeners]) listener(next);
    },
    watch: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/**
 * Keeps `choice` following the person's preference: each `preferences` event the app sends when it changes and,
 * given `call`, the preferences asked for once now (an event that comes first wins over that answer, which may
 * be older). A failed ask leaves the style as it is. Returns the function that stops listening.
 */
export function followClock(choice: ClockChoice, onEvent: OnEvent, call?: Call): () => void {
  let heard = false;
  let stopped = false;
  const stop = subscribe(onEvent, "preferences", (preferences) => {
    heard = true;
    choice.set(preferences.clock);
  });
  call?.("preferences", {}).then(
    (view) => {
      if (!heard && !stopped) choice.set(view.preferences.clock);
    },
    () => {
      // The times stay as they are written now; the next event brings the choice.
    },
  );
  return () => {
    stopped = true;
    stop();
  };
}
