import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LogEntry } from "../bindings/LogEntry";
import type { LogFilter } from "../bindings/LogFilter";
import {
  allByTestId,
  byTestId,
  fakeApp,
  fakeEvents,
  press,
  typeInto,
  type FakeEvents,
  type Handlers,
} from "../test/fake-app";
import { acme, globex, logEntry, preferences } from "../test/fixtures";
import { formatFullTime, formatLogTime } from "./log-format";
import {
  MAX_ROWS,
  PAGE_SIZE,
  TEXT_DEBOUNCE_MS,
  mountSyncLog,
  renderDetails,
  type SyncLogLimits,
  type SyncLogWindow,
} from "./sync-log";

/** What the store answers (see query_log in crates/caret-store/src/log.rs): matching rows, newest first. */
function query(store: LogEntry[], filter: LogFilter): LogEntry[] {
  const text = filter.text?.toLowerCase() ?? null;
  return store
    .filter((entry) => filter.workspace_id === null || entry.workspace_id === filter.workspace_id)
    .filter((entry) => filter.outcome === null || entry.outcome === filter.outcome)
    .filter((entry) => !filter.problems_only || entry.problem)
    .filter((entry) => text === null || JSON.stringify(entry).toLowerCase().includes(text))
    .filter((entry) => filter.before_id === null || entry.id < filter.before_id)
    .filter((entry) => filter.after_id === null || entry.id > filter.after_id)
    .sort((a, b) => b.id - a.id)
    .slice(0, filter.limit ?? 200);
}

const ids = (root: HTMLElement) => allByTestId(root, "log-row").map((row) => Number(row.dataset.id));
const flush = () => vi.advanceTimersByTimeAsync(0);

describe("renderDetails", () => {
  it("shows every field, with what was sent pretty-printed", () => {
    const entry = logEntry(7, { retries: 2, error: "ratelimited", outcome: "ratelimited", latency_ms: 900, problem: true });
    const panel = document.createElement("div");
    panel.append(...renderDetails(entry, "h24"));
    const facts: Record<string, string> = Object.fromEntries(
      [...panel.querySelectorAll(".row")].map((row): [string, string] => [
        row.querySelector("dt")?.textContent ?? "",
        row.querySelector("dd")?.textContent ?? "",
      ]),
    );
    expect(Object.keys(facts)).toEqual([
      "Time",
      "Kind",
      "Source",
      "Workspace",
      "State",
      "Policy",
      "Method",
      "Outcome",
      "Latency",
      "Retries",
      "Error",
      "Sent",
    ]);
    expect(facts.Workspace).toBe("Acme (id 1)");
    expect(facts.Retries).toBe("2");
    expect(facts.Latency).toBe("900 ms");
    expect(facts.Error).toBe("ratelimited");
    expect(panel.querySelector("pre")?.textContent).toBe(
      '{\n  "status_text": "In a call",\n  "status_emoji": ":telephone_receiver:"\n}',
    );
    expect(panel.querySelector("h2")?.textContent).toBe("Row 7");
  });

  it("writes when, local then UTC, each a date and a time that a narrow panel wraps only between", () => {
    const entry = logEntry(7, { at_ms: Date.UTC(2025, 2, 1, 23, 30, 5, 40) });
    const panel = document.createElement("div");
    panel.append(...renderDetails(entry, "h24"));
    const moment = byTestId(panel, "log-moment");
    const local = new Date(entry.at_ms);
    const pad = (value: number) => String(value).padStart(2, "0");
    expect([...(moment?.querySelectorAll(".nowrap") ?? [])].map((piece) => piece.textContent)).toEqual([
      `${String(local.getFullYear())}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}`,
      `${pad(local.getHours())}:${pad(local.getMinutes())}:05.040`,
      "UTC 2025-03-01",
      "23:30:05.040",
    ]);
    expect(moment?.querySelector("time")?.getAttribute("datetime")).toBe("2025-03-01T23:30:05.040Z");
  });

  it("writes the local time in the clock chosen, and UTC as ISO 8601 does", () => {
    const entry = logEntry(7, { at_ms: new Date(2025, 2, 1, 15, 30, 5, 40).getTime() });
    const panel = document.createElement("div");
    panel.append(...renderDetails(entry, "h12"));
    const pieces = [...(byTestId(panel, "log-moment")?.querySelectorAll(".nowrap") ?? [])];
    expect(pieces.map((piece) => piece.textContent)).toEqual([
      "2025-03-01",
      "3:30:05.040 PM",
      `UTC ${new Date(entry.at_ms).toISOString().slice(0, 10)}`,
      new Date(entry.at_ms).toISOString().slice(11, 23),
    ]);
  });

  it("asks to select a row when none is", () => {
    const panel = document.createElement("div");
    panel.append(...renderDetails(null, "h24"));
    expect(panel.textContent).toContain("Select a row");
  });
});

describe("mountSyncLog", () => {
  let root: HTMLElement;
  let events: FakeEvents;
  let store: LogEntry[];
  let log: SyncLogWindow | null;

  const handlers = (): Partial<Handlers> => ({
    sync_log: ({ filter }) => query(store, filter),
    workspaces: () => [acme, globex],
    preferences: () => preferences,
    export_sync_log: ({ filter, format }) => ({
      path: `/home/ada/Downloads/caret-sync-log.${format}`,
      rows: query(store, { ...filter, limit: 10_000 }).length,
    }),
  });

  const mount = (overrides: Partial<Handlers> = {}, limits: SyncLogLimits = {}) => {
    const app = fakeApp({ ...handlers(), ...overrides });
    log = mountSyncLog(root, app.call, events.onEvent, limits);
    return app;
  };

  const table = () => byTestId(root, "log-table") as HTMLTableElement;
  const details = () => byTestId(root, "log-details");
  const selectedIds = () =>
    allByTestId(root, "log-row")
      .filter((row) => row.getAttribute("aria-selected") === "true")
      .map((row) => Number(row.dataset.id));

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2025-03-01T12:00:00Z"));
    root = document.createElement("div");
    document.body.append(root);
    events = fakeEvents();
    store = [1, 2, 3].map((id) => logEntry(id));
    log = null;
  });

  afterEach(() => {
    log?.stop();
    root.remove();
    vi.useRealTimers();
  });

  it("marks an input's outcome as a plain description, neither ticked nor a problem", async () => {
    store.push(logEntry(9, { kind: "input", source: "cli", outcome: "manual status set", method: null }));
    mount();
    await flush();
    const badge = allByTestId(root, "log-row")[0]?.querySelector(".outcome");
    expect(badge?.className).toContain("outcome-info");
    expect(badge?.textContent).toBe("manual status set");
  });

  it("shows the desk's own sources as the app names them, in the row and its details", async () => {
    // The screen lock and the working hours set a status of their own ("Away from the desk", "Off for the day").
    store.push(
      logEntry(5, {
        source: "working hours",
        sent: '{"status_text":"Off for the day","status_emoji":":crescent_moon:"}',
      }),
      logEntry(6, {
        source: "screen lock",
        sent: '{"status_text":"Away from the desk","status_emoji":":coffee:"}',
      }),
    );
    mount();
    await flush();
    const sourceCells = allByTestId(root, "log-row").map((row) => row.querySelectorAll("td")[2]?.textContent);
    expect(sourceCells.slice(0, 2)).toEqual(["screen lock", "working hours"]);
    allByTestId(root, "log-row")[0]?.click();
    expect(details()?.textContent).toContain("screen lock");
    expect(byTestId(root, "log-sent")?.textContent).toContain("Away from the desk");
  });

  it("lists the newest rows first with every column, problems marked", async () => {
    store.push(logEntry(4, { outcome: "ratelimited", latency_ms: null, method: null, problem: true }));
    const app = mount();
    await flush();
    expect(app.argsOf("sync_log")[0]).toEqual({
      filter: {
        workspace_id: null,
        outcome: null,
        problems_only: false,
        text: null,
        before_id: null,
        after_id: null,
        limit: PAGE_SIZE,
      },
    });
    expect([...table().querySelectorAll("thead th")].map((th) => th.textContent)).toEqual([
      "Time",
      "Kind",
      "Source",
      "Workspace",
      "State",
      "Policy",
      "Method",
      "Outcome",
      "Latency",
    ]);
    expect(ids(root)).toEqual([4, 3, 2, 1]);
    const first = allByTestId(root, "log-row")[0];
    expect([...(first?.querySelectorAll("td") ?? [])].slice(1).map((td) => td.textContent)).toEqual([
      "call",
      "phone",
      "Acme",
      "in_call",
      "trusted",
      "—",
      "⚠ ratelimited",
      "—",
    ]);
    expect(first?.querySelector(".outcome-problem")).not.toBeNull();
    expect(allByTestId(root, "log-row")[1]?.querySelector(".outcome-ok")?.textContent).toBe("✓ ok");
    expect(byTestId(root, "log-empty")?.hidden).toBe(true);
    expect(details()?.textContent).toContain("Select a row");
  });

  it("sizes every column and titles every cell with all of its text, for values cut short", async () => {
    // Seconds after the rows: the same day wherever the tests run.
    vi.setSystemTime(Date.parse("2025-03-01T10:00:30Z"));
    store.push(logEntry(4, { workspace: "Initech Engineering and Operations", outcome: "ratelimited", problem: true }));
    mount();
    await flush();
    expect([...table().querySelectorAll("col")].map((col) => col.className)).toEqual([
      "log-col-time",
      "log-col-kind",
      "log-col-source",
      "log-col-workspace",
      "log-col-state",
      "log-col-policy",
      "log-col-method",
      "log-col-outcome",
      "log-col-latency",
    ]);
    const cells = [...(allByTestId(root, "log-row")[0]?.querySelectorAll("td") ?? [])];
    expect(cells.slice(1).map((td) => td.title)).toEqual([
      "call",
      "phone",
      "Initech Engineering and Operations",
      "in_call",
      "trusted",
      "users.profile.set",
      "ratelimited",
      "120 ms",
    ]);
    expect(cells[0]?.title).toBe(formatFullTime(Date.parse("2025-03-01T10:00:04Z"), "h24"));
    // All from today: the Time column holds a time alone.
    expect(table().classList.contains("log-table-dated")).toBe(false);
  });

  it("writes its times in the clock chosen, and again in the list and the details when the choice changes", async () => {
    const twelve = { ...preferences, preferences: { ...preferences.preferences, clock: "h12" as const } };
    const app = mount({ preferences: () => twelve });
    await flush();
    expect(app.names()).toContain("preferences");
    const now = Date.now();
    const shown = () => allByTestId(root, "log-row").map((row) => row.querySelector("time")?.textContent);
    const at = (id: number) => logEntry(id).at_ms;
    expect(shown()).toEqual([3, 2, 1].map((id) => formatLogTime(at(id), now, "h12")));
    expect(shown()[0]).toMatch(/^\d{1,2}:\d{2}:\d{2} [AP]M$/);
    expect(table().classList.contains("log-table-h12")).toBe(true);
    allByTestId(root, "log-row")[0]?.click();
    const local = () => byTestId(root, "log-moment")?.querySelectorAll(".nowrap")[1]?.textContent;
    expect(local()).toMatch(/ [AP]M$/);

    events.emit("preferences", { ...preferences.preferences, clock: "h24" });
    expect(shown()).toEqual([3, 2, 1].map((id) => formatLogTime(at(id), now, "h24")));
    expect(shown()[0]).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    expect(allByTestId(root, "log-row")[0]?.querySelector("td")?.title).toBe(formatFullTime(at(3), "h24"));
    expect(table().classList.contains("log-table-h12")).toBe(false);
    expect(local()).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3}$/);
    // The selection stays.
    expect(selectedIds()).toEqual([3]);
  });

  it("widens the Time column when a row from another day writes its date", async () => {
    store.push(logEntry(4, { at_ms: Date.parse("2025-02-27T10:00:00Z") }));
    mount();
    await flush();
    expect(table().classList.contains("log-table-dated")).toBe(true);
  });

  it("says when there is nothing, and when nothing matches", async () => {
    store = [];
    mount();
    await flush();
    expect(byTestId(root, "log-empty")?.hidden).toBe(false);
    expect(byTestId(root, "log-empty")?.textContent).toContain("Nothing logged yet.");
    typeInto(byTestId(root, "log-filter-text") as HTMLInputElement, "zzz");
    await vi.advanceTimersByTimeAsync(TEXT_DEBOUNCE_MS);
    expect(byTestId(root, "log-empty")?.textContent).toBe("No rows match these filters.");
  });

  it("filters by workspace, outcome and text (debounced)", async () => {
    store.push(logEntry(4, { workspace_id: 2, workspace: "Globex", outcome: "ratelimited", problem: true }));
    store.push(logEntry(5, { outcome: "invalid_auth", error: "token revoked", problem: true }));
    const app = mount();
    await flush();

    const workspace = byTestId(root, "log-filter-workspace") as HTMLSelectElement;
    expect([...workspace.options].map((option) => option.textContent)).toEqual(["All", "Acme", "Globex"]);
    expect(workspace.labels[0]?.textContent).toBe("Workspace");
    workspace.value = "2";
    workspace.dispatchEvent(new Event("change"));
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter.workspace_id).toBe(2);
    expect(ids(root)).toEqual([4]);

    workspace.value = "";
    workspace.dispatchEvent(new Event("change"));
    const outcome = byTestId(root, "log-filter-outcome") as HTMLSelectElement;
    await flush();
    expect([...outcome.options].map((option) => option.textContent)).toEqual([
      "All",
      "Problems only",
      "ok",
      "invalid_auth",
      "ratelimited",
    ]);
    outcome.value = "problems";
    outcome.dispatchEvent(new Event("change"));
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter.problems_only).toBe(true);
    expect(ids(root)).toEqual([5, 4]);
    outcome.value = "is:invalid_auth";
    outcome.dispatchEvent(new Event("change"));
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter).toMatchObject({ outcome: "invalid_auth", problems_only: false });
    expect(ids(root)).toEqual([5]);

    outcome.value = "all";
    outcome.dispatchEvent(new Event("change"));
    await flush();
    const text = byTestId(root, "log-filter-text") as HTMLInputElement;
    const before = app.argsOf("sync_log").length;
    typeInto(text, "tok");
    typeInto(text, "token");
    await vi.advanceTimersByTimeAsync(TEXT_DEBOUNCE_MS - 1);
    expect(app.argsOf("sync_log")).toHaveLength(before);
    await vi.advanceTimersByTimeAsync(1);
    expect(app.argsOf("sync_log")).toHaveLength(before + 1);
    expect(app.argsOf("sync_log").at(-1)?.filter.text).toBe("token");
    expect(ids(root)).toEqual([5]);
  });

  it("puts new rows on top when the app announces them, keeping the selection", async () => {
    const app = mount();
    await flush();
    allByTestId(root, "log-row")[1]?.click();
    expect(selectedIds()).toEqual([2]);
    expect(document.activeElement).toBe(table());

    store.push(logEntry(4), logEntry(5));
    events.emit("sync-log", 5);
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter).toMatchObject({ after_id: 3, limit: MAX_ROWS });
    expect(ids(root)).toEqual([5, 4, 3, 2, 1]);
    expect(selectedIds()).toEqual([2]);
    expect(details()?.querySelector("h2")?.textContent).toBe("Row 2");

    // An announcement of rows already shown asks nothing.
    const calls = app.calls.length;
    events.emit("sync-log", 5);
    await flush();
    expect(app.calls).toHaveLength(calls);
  });

  it("follows with the same filters", async () => {
    const app = mount();
    await flush();
    const outcome = byTestId(root, "log-filter-outcome") as HTMLSelectElement;
    outcome.value = "problems";
    outcome.dispatchEvent(new Event("change"));
    await flush();
    store.push(logEntry(4), logEntry(5, { outcome: "timeout", problem: true }));
    events.emit("sync-log", 5);
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter).toMatchObject({ problems_only: true, after_id: null });
    expect(ids(root)).toEqual([5]);
  });

  it("keeps at most the newest rows in the window", async () => {
    const limits = { pageSize: 5, maxRows: 20 };
    store = Array.from({ length: 30 }, (_, index) => logEntry(index + 1));
    mount({}, limits);
    await flush();
    expect(ids(root)).toEqual([30, 29, 28, 27, 26]);
    const older = byTestId(root, "log-load-older") as HTMLButtonElement;
    for (let page = 0; page < 3; page += 1) {
      older.click();
      await flush();
    }
    expect(ids(root)).toHaveLength(20);
    expect(older.disabled).toBe(true);
    expect(root.textContent).toContain("The window keeps 20 rows");

    store.push(logEntry(31), logEntry(32));
    events.emit("sync-log", 32);
    await flush();
    const shown = ids(root);
    expect(shown).toHaveLength(20);
    expect(shown[0]).toBe(32);
    expect(shown.at(-1)).toBe(13);
  });

  it("starts again from the newest when more arrived than the window keeps", async () => {
    const app = mount({}, { pageSize: 5, maxRows: 20 });
    await flush();
    store.push(...Array.from({ length: 25 }, (_, index) => logEntry(index + 4)));
    events.emit("sync-log", 28);
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter).toMatchObject({ after_id: 3, limit: 20 });
    const shown = ids(root);
    expect(shown).toHaveLength(20);
    expect(shown[0]).toBe(28);
    expect(shown.at(-1)).toBe(9);
    expect((byTestId(root, "log-load-older") as HTMLButtonElement).hidden).toBe(false);
  });

  it("loads older rows page by page", async () => {
    store = Array.from({ length: PAGE_SIZE + 5 }, (_, index) => logEntry(index + 1));
    const app = mount();
    await flush();
    expect(ids(root)).toHaveLength(PAGE_SIZE);
    const older = byTestId(root, "log-load-older") as HTMLButtonElement;
    expect(older.hidden).toBe(false);
    older.click();
    await flush();
    expect(app.argsOf("sync_log").at(-1)?.filter).toMatchObject({ before_id: 6, limit: PAGE_SIZE });
    expect(ids(root)).toHaveLength(PAGE_SIZE + 5);
    expect(ids(root).at(-1)).toBe(1);
    expect(older.hidden).toBe(true);
    expect(root.textContent).toContain("That is the oldest row.");
  });

  it("says That is the oldest row. only once the person tries to go past it", async () => {
    mount();
    await flush();
    const note = () => byTestId(root, "log-older-note");
    expect(note()?.textContent).toBe("");
    table().focus();
    for (let step = 0; step < 3; step += 1) press(table(), "ArrowDown");
    expect(selectedIds()).toEqual([1]);
    expect(note()?.textContent).toBe("");
    press(table(), "ArrowDown");
    expect(selectedIds()).toEqual([1]);
    expect(note()?.textContent).toBe("That is the oldest row.");
    expect(note()?.getAttribute("role")).toBe("status");
    press(table(), "ArrowUp");
    expect(note()?.textContent).toBe("");
    press(table(), "ArrowDown");
    press(table(), "PageDown");
    expect(note()?.textContent).toBe("That is the oldest row.");
    allByTestId(root, "log-row")[0]?.click();
    expect(note()?.textContent).toBe("");
  });

  it("moves the selection with the keyboard and opens the details with Enter", async () => {
    mount();
    await flush();
    table().focus();
    press(table(), "ArrowDown");
    expect(selectedIds()).toEqual([3]);
    expect(table().getAttribute("aria-activedescendant")).toBe("log-row-3");
    press(table(), "ArrowDown");
    press(table(), "ArrowDown");
    press(table(), "ArrowDown");
    expect(selectedIds()).toEqual([1]);
    press(table(), "ArrowUp");
    expect(selectedIds()).toEqual([2]);
    expect(details()?.querySelector("h2")?.textContent).toBe("Row 2");
    press(table(), "Home");
    expect(selectedIds()).toEqual([3]);
    const enter = press(table(), "Enter");
    expect(enter.defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(details());
    press(details() as HTMLElement, "Escape");
    expect(document.activeElement).toBe(table());
  });

  it("exports with the filters and says where the file went", async () => {
    const app = mount();
    await flush();
    byTestId(root, "log-export-csv")?.click();
    await flush();
    expect(app.argsOf("export_sync_log")).toEqual([
      {
        filter: {
          workspace_id: null,
          outcome: null,
          problems_only: false,
          text: null,
          before_id: null,
          after_id: null,
          limit: null,
        },
        format: "csv",
      },
    ]);
    expect(byTestId(root, "log-export-result")?.textContent).toBe(
      "Saved 3 rows to /home/ada/Downloads/caret-sync-log.csv",
    );
    byTestId(root, "log-export-jsonl")?.click();
    await flush();
    expect(app.argsOf("export_sync_log").at(-1)?.format).toBe("jsonl");
  });

  it("shows why an export or a load failed", async () => {
    mount({
      sync_log: () => {
        throw new Error("database is locked");
      },
      export_sync_log: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "export", message: "Downloads is not writable" };
      },
    });
    await flush();
    expect(root.textContent).toContain("Could not load the log: database is locked");
    byTestId(root, "log-export-jsonl")?.click();
    await flush();
    expect(root.textContent).toContain("Could not export the log: Downloads is not writable");
  });

  it("never turns logged text into markup", async () => {
    const evil = '<img src=x onerror="alert(1)">';
    store = [logEntry(1, { workspace: evil, sent: evil, error: evil, state: evil })];
    mount();
    await flush();
    allByTestId(root, "log-row")[0]?.click();
    expect(root.querySelector("img")).toBeNull();
    expect(details()?.textContent).toContain(evil);
  });

  it("stops following when stopped", async () => {
    mount();
    await flush();
    expect(events.listeners("sync-log")).toBe(1);
    log?.stop();
    log = null;
    expect(events.listeners("sync-log")).toBe(0);
  });
});
