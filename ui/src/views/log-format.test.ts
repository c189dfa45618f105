import { describe, expect, it } from "vitest";
import { logEntry } from "../test/fixtures";
import {
  NO_FILTERS,
  formatFullTime,
  formatLatency,
  formatLogTime,
  isFiltered,
  logFilter,
  momentParts,
  outcomeValue,
  parseOutcomeValue,
  prettySent,
  rowsText,
  workspaceLabel,
} from "./log-format";

describe("logFilter", () => {
  it("always sends every field", () => {
    expect(logFilter(NO_FILTERS)).toEqual({
      workspace_id: null,
      outcome: null,
      problems_only: false,
      text: null,
      before_id: null,
      after_id: null,
      limit: null,
    });
  });

  it("carries the filters and the page", () => {
    expect(
      logFilter(
        { workspaceId: 3, outcome: { kind: "is", outcome: "ratelimited" }, text: "  call " },
        { after_id: 9, limit: 50 },
      ),
    ).toEqual({
      workspace_id: 3,
      outcome: "ratelimited",
      problems_only: false,
      text: "call",
      before_id: null,
      after_id: 9,
      limit: 50,
    });
    expect(logFilter({ ...NO_FILTERS, outcome: { kind: "problems" } }, { before_id: 4 })).toMatchObject({
      outcome: null,
      problems_only: true,
      before_id: 4,
    });
  });

  it("knows when the list is narrowed", () => {
    expect(isFiltered(NO_FILTERS)).toBe(false);
    expect(isFiltered({ ...NO_FILTERS, text: "   " })).toBe(false);
    expect(isFiltered({ ...NO_FILTERS, workspaceId: 1 })).toBe(true);
  });

  it("turns the outcome filter into a select value and back", () => {
    for (const filter of [{ kind: "all" }, { kind: "problems" }, { kind: "is", outcome: "ok" }] as const) {
      expect(parseOutcomeValue(outcomeValue(filter))).toEqual(filter);
    }
  });
});

describe("formatting", () => {
  const at = new Date(2025, 2, 1, 9, 5, 7, 45).getTime();

  it("writes the time alone today and with the date on other days, in the clock chosen", () => {
    expect(formatLogTime(at, new Date(2025, 2, 1, 23, 0).getTime(), "h24")).toBe("09:05:07");
    expect(formatLogTime(at, new Date(2025, 2, 2, 0, 1).getTime(), "h24")).toBe("2025-03-01 09:05:07");
    expect(formatLogTime(at, new Date(2025, 2, 1, 23, 0).getTime(), "h12")).toBe("9:05:07 AM");
    expect(formatLogTime(at, new Date(2025, 2, 2, 0, 1).getTime(), "h12")).toBe("2025-03-01 9:05:07 AM");
    expect(formatLogTime(Number.NaN, at, "h24")).toBe("unknown");
  });

  it("writes the full time to the millisecond, with UTC", () => {
    expect(formatFullTime(at, "h24")).toBe(`2025-03-01 09:05:07.045 (UTC ${new Date(at).toISOString()})`);
    expect(formatFullTime(at, "h12")).toBe(`2025-03-01 9:05:07.045 AM (UTC ${new Date(at).toISOString()})`);
    expect(formatFullTime(Number.NaN, "h12")).toBe("unknown");
  });

  it("splits a moment into date and time, local and UTC, so that a line breaks only between them", () => {
    const iso = new Date(at).toISOString();
    expect(momentParts(at, "h24")).toEqual({
      local: ["2025-03-01", "09:05:07.045"],
      utc: [iso.slice(0, 10), iso.slice(11, 23)],
      iso,
    });
    // Only the local time follows the clock: UTC stays as ISO 8601 writes it, to compare with other logs.
    expect(momentParts(at, "h12")).toEqual({
      local: ["2025-03-01", "9:05:07.045 AM"],
      utc: [iso.slice(0, 10), iso.slice(11, 23)],
      iso,
    });
    expect(momentParts(Date.UTC(2025, 11, 31, 23, 59, 59, 999), "h12")?.utc).toEqual(["2025-12-31", "23:59:59.999"]);
    expect(momentParts(Number.NaN, "h24")).toBeNull();
  });

  it("pretty-prints JSON and leaves anything else as it is", () => {
    expect(prettySent('{"a":1,"b":[true]}')).toBe('{\n  "a": 1,\n  "b": [\n    true\n  ]\n}');
    expect(prettySent("users.setPresence away")).toBe("users.setPresence away");
  });

  it("writes latency, counts and workspaces", () => {
    expect(formatLatency(120)).toBe("120 ms");
    expect(formatLatency(null)).toBe("—");
    expect(rowsText(1)).toBe("1 row");
    expect(rowsText(12)).toBe("12 rows");
    expect(workspaceLabel(logEntry(1))).toBe("Acme");
    expect(workspaceLabel(logEntry(1, { workspace: null }))).toBe("workspace 1");
    expect(workspaceLabel(logEntry(1, { workspace: null, workspace_id: null }))).toBe("—");
  });
});
