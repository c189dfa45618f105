// How the sync log window writes a row's values, and the filters it sends.
import type { LogEntry } from "../bindings/LogEntry";
import type { LogFilter } from "../bindings/LogFilter";
import { dateTime, localDate, momentText, timeOfDay, type TimeFormat } from "../clock";

/** Which outcomes the list shows. */
export type OutcomeFilter = { kind: "all" } | { kind: "problems" } | { kind: "is"; outcome: string };

/** What the person chose in the filter bar. */
export interface LogFilters {
  workspaceId: number | null;
  outcome: OutcomeFilter;
  /** As typed; blank means no text filter. */
  text: string;
}

export const NO_FILTERS: LogFilters = { workspaceId: null, outcome: { kind: "all" }, text: "" };

/** Whether any filter narrows the list. */
export function isFiltered(filters: LogFilters): boolean {
  return filters.workspaceId !== null || filters.outcome.kind !== "all" || filters.text.trim() !== "";
}

/** The LogFilter for these filters and this page (every field present, as the command requires). */
export function logFilter(
  filters: LogFilters,
  page: { before_id?: number; after_id?: number; limit?: number } = {},
): LogFilter {
  const text = filters.text.trim();
  return {
    workspace_id: filters.workspaceId,
    outcome: filters.outcome.kind === "is" ? filters.outcome.outcome : null,
    problems_only: filters.outcome.kind === "problems",
    text: text === "" ? null : text,
    before_id: page.before_id ?? null,
    after_id: page.after_id ?? null,
    limit: page.limit ?? null,
  };
}

/** The value of the outcome select for a filter, and back. */
export function outcomeValue(filter: OutcomeFilter): string {
  return filter.kind === "is" ? `is:${filter.outcome}` : filter.kind;
}

export function parseOutcomeValue(value: string): OutcomeFilter {
  if (value.startsWith("is:")) return { kind: "is", outcome: value.slice(3) };
  return value === "problems" ? { kind: "problems" } : { kind: "all" };
}

/** "14:03:07" today, "2025-02-28 14:03:07" on another day (or "2:03:07 PM"), in local time. */
export function formatLogTime(atMs: number, nowMs: number, clock: TimeFormat): string {
  return momentText(atMs, nowMs, clock, "seconds");
}

/** Every detail of a moment: local date and time to the millisecond, then UTC as ISO 8601. */
export function formatFullTime(atMs: number, clock: TimeFormat): string {
  const date = new Date(atMs);
  if (Number.isNaN(date.getTime())) return "unknown";
  return `${dateTime(atMs, clock, "milliseconds")} (UTC ${date.toISOString()})`;
}

/** A moment to the millisecond as its date and its time of day, kept apart so a line breaks only between them. */
export interface MomentParts {
  local: [date: string, time: string];
  utc: [date: string, time: string];
  /** For `<time datetime>`. */
  iso: string;
}

/**
 * A moment in local time (its time as the person chose) and in UTC (always 24-hour, as in ISO 8601 and the
 * exports: the line to compare with other logs), each as date and time; null when the moment cannot be read.
 */
export function momentParts(atMs: number, clock: TimeFormat): MomentParts | null {
  const date = new Date(atMs);
  if (Number.isNaN(date.getTime())) return null;
  const iso = date.toISOString();
  return {
    local: [localDate(date), timeOfDay(date, clock, "milliseconds")],
    utc: [iso.slice(0, 10), iso.slice(11, 23)],
    iso,
  };
}

export function formatLatency(latencyMs: number | null): string {
  return latencyMs === null ? "—" : `${String(latencyMs)} ms`;
}

/** What was sent, pretty-printed when it is JSON, as it came otherwise. */
export function prettySent(sent: string): string {
  try {
    return JSON.stringify(JSON.parse(sent), null, 2);
  } catch {
    return sent;
  }
}

/** "Acme", or "workspace 3" when only its id is known, or "—". */
export function workspaceLabel(entry: LogEntry): string {
  if (entry.workspace !== null && entry.workspace !== "") return entry.workspace;
  return entry.workspace_id === null ? "—" : `workspace ${String(entry.workspace_id)}`;
}

/** "1 row", "12 rows". */
export function rowsText(count: number): string {
  return count === 1 ? "1 row" : `${String(count)} rows`;
}
