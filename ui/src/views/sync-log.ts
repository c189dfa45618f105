import type { ExportFormat } from "../bindings/ExportFormat";
import type { LogEntry } from "../bindings/LogEntry";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { clockChoice, followClock, isSameDay, type TimeFormat } from "../clock";
import { h } from "../dom";
import { describeError, subscribe, type Call, type OnEvent } from "../ipc";
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
  type LogFilters,
} from "./log-format";

/** Rows asked for at a time. */
export const PAGE_SIZE = 200;
/** The most rows kept in the window; the oldest go first when new ones arrive. */
export const MAX_ROWS = 2000;
/** How long the search waits after a keystroke. */
export const TEXT_DEBOUNCE_MS = 250;
/** Rows PageUp and PageDown move by. */
const PAGE_STEP = 10;

/** How many rows a page holds and the window keeps (smaller in tests). */
export interface SyncLogLimits {
  pageSize?: number;
  maxRows?: number;
}

/** The running Sync log window. */
export interface SyncLogWindow {
  /** Loads the newest rows again, with the current filters. */
  reload: () => Promise<void>;
  /** Stops following the log (the window is going away). */
  stop: () => void;
}

/** The list's columns, each with the class that sizes it (see `.log-table` in styles.css). */
const COLUMNS = [
  ["Time", "log-col-time"],
  ["Kind", "log-col-kind"],
  ["Source", "log-col-source"],
  ["Workspace", "log-col-workspace"],
  ["State", "log-col-state"],
  ["Policy", "log-col-policy"],
  ["Method", "log-col-method"],
  ["Outcome", "log-col-outcome"],
  ["Latency", "log-col-latency"],
] as const;

const dash = (value: string | null) => (value === null || value === "" ? "—" : value);

/** A problem (decided in Rust: a call that failed, or a row with an error) is marked; a call that went well
 * is ticked; an input's or a note's outcome is a plain description. */
function outcomeBadge(entry: LogEntry): HTMLElement {
  const [kind, mark] = entry.problem ? ["outcome-problem", "⚠ "] : entry.kind === "call" ? ["outcome-ok", "✓ "] : ["outcome-info", ""];
  return h(
    "span",
    { class: `outcome ${kind}` },
    mark ? h("span", { "aria-hidden": "true" }, mark) : null,
    entry.outcome,
  );
}

function isoAttribute(atMs: number): Record<string, string> {
  const date = new Date(atMs);
  return Number.isNaN(date.getTime()) ? {} : { datetime: date.toISOString() };
}

/**
 * A cell of the list. Columns have set widths, so a value too long for its column ends with an ellipsis: the
 * title holds all of it.
 */
function cell(content: Node | string, title: string, attributes: Record<string, string> = {}): HTMLTableCellElement {
  return h("td", { title, ...attributes }, content);
}

function textCell(text: string): HTMLTableCellElement {
  return cell(text, text);
}

function renderRow(
  entry: LogEntry,
  now: number,
  clock: TimeFormat,
  select: (id: number) => void,
): HTMLTableRowElement {
  const latency = formatLatency(entry.latency_ms);
  const row = h(
    "tr",
    {
      id: `log-row-${String(entry.id)}`,
      "data-testid": "log-row",
      "data-id": String(entry.id),
      "aria-selected": "false",
      class: entry.problem ? "problem" : "",
    },
    cell(
      h("time", isoAttribute(entry.at_ms), formatLogTime(entry.at_ms, now, clock)),
      formatFullTime(entry.at_ms, clock),
      { class: "log-time" },
    ),
    textCell(entry.kind),
    textCell(entry.source),
    textCell(workspaceLabel(entry)),
    textCell(dash(entry.state)),
    textCell(dash(entry.policy)),
    textCell(dash(entry.method)),
    cell(outcomeBadge(entry), entry.outcome),
    cell(latency, latency, { class: "log-latency" }),
  );
  row.addEventListener("click", () => {
    select(entry.id);
  });
  return row;
}

/**
 * When a row was logged, local then UTC, each on its own line (the panel is wide enough for either), each a date and
 * a time that never break inside: a narrower panel would wrap a line between its date and its time only.
 */
function renderMoment(atMs: number, clock: TimeFormat): Node | string {
  const parts = momentParts(atMs, clock);
  if (parts === null) return "unknown";
  const piece = (text: string) => h("span", { class: "nowrap" }, text);
  return h(
    "span",
    { class: "moment", "data-testid": "log-moment" },
    h("time", { datetime: parts.iso }, piece(parts.local[0]), " ", piece(parts.local[1])),
    h("span", { class: "moment-utc" }, piece(`UTC ${parts.utc[0]}`), " ", piece(parts.utc[1])),
  );
}

/** Everything about one row, for the details panel, its times written in the `clock` chosen. */
export function renderDetails(entry: LogEntry | null, clock: TimeFormat): HTMLElement[] {
  if (entry === null) {
    return [
      h("h2", { id: "log-details-title" }, "Details"),
      h("p", { class: "empty" }, "Select a row to see everything about it (click it, or use ↑ and ↓ in the list)."),
    ];
  }
  // Short values go two to a line (`half`), the others across the panel.
  const item = (term: string, value: Node | string, half = false) =>
    h("div", { class: half ? "row row-half" : "row" }, h("dt", {}, term), h("dd", {}, value));
  const workspace =
    entry.workspace_id === null ? workspaceLabel(entry) : `${workspaceLabel(entry)} (id ${String(entry.workspace_id)})`;
  return [
    h("h2", { id: "log-details-title" }, `Row ${String(entry.id)}`),
    h(
      "dl",
      {},
      item("Time", renderMoment(entry.at_ms, clock)),
      item("Kind", entry.kind, true),
      item("Source", entry.source, true),
      item("Workspace", workspace),
      item("State", dash(entry.state), true),
      item("Policy", dash(entry.policy), true),
      item("Method", dash(entry.method)),
      item("Outcome", outcomeBadge(entry)),
      item("Latency", formatLatency(entry.latency_ms), true),
      item("Retries", String(entry.retries), true),
      item("Error", dash(entry.error)),
      item(
        "Sent",
        entry.sent === null ? "—" : h("pre", { class: "sent", "data-testid": "log-sent" }, prettySent(entry.sent)),
      ),
    ),
  ];
}

/**
 * The Sync log window: every input, Slack call and note the app logged, newest first, with filters, live
 * updates from `sync-log` events, paging back, a details panel and exports. Its times follow the person's
 * choice of clock (asked once with `preferences`, then each `preferences` event).
 */
export function mountSyncLog(
  root: HTMLElement,
  call: Call,
  onEvent: OnEvent,
  limits: SyncLogLimits = {},
): SyncLogWindow {
  const pageSize = limits.pageSize ?? PAGE_SIZE;
  const maxRows = limits.maxRows ?? MAX_ROWS;
  let filters: LogFilters = NO_FILTERS;
  let rows: LogEntry[] = [];
  let selectedId: number | null = null;
  let loaded = false;
  let hasOlder = false;
  /** The person tried to go past the last row (↓ on it, or Load older) and there is nothing older. */
  let atOldest = false;
  let loadingOlder = false;
  let stopped = false;
  /** Bumped on every new filter: answers for older filters are dropped. */
  let generation = 0;
  let following = false;
  let followAgain = false;
  let textTimer: number | undefined;
  let workspaces: WorkspaceView[] = [];
  const outcomes = new Set<string>(["ok"]);
  let drawnOutcomes = "";
  let drawnWorkspaces = "";
  const clock = clockChoice();
  // Read through functions after an await, where an event may have changed them.
  const isStopped = () => stopped;
  const mustFollowAgain = () => followAgain;

  // Filters
  const text = h("input", {
    type: "search",
    id: "log-filter-text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "State, method, error, what was sent…",
    "data-testid": "log-filter-text",
  });
  const workspaceSelect = h("select", { id: "log-filter-workspace", "data-testid": "log-filter-workspace" });
  const outcomeSelect = h("select", { id: "log-filter-outcome", "data-testid": "log-filter-outcome" });
  const filterBar = h(
    "div",
    { class: "log-filters", role: "search", "aria-label": "Filter the log" },
    h("div", { class: "field" }, h("label", { for: "log-filter-workspace" }, "Workspace"), workspaceSelect),
    h("div", { class: "field" }, h("label", { for: "log-filter-outcome" }, "Outcome"), outcomeSelect),
    h("div", { class: "field field-grow" }, h("label", { for: "log-filter-text" }, "Search"), text),
  );

  // Exports
  const exportResult = h("div", { role: "status", class: "export-result", "data-testid": "log-export-result" });
  const exportError = h("div", { role: "alert" });
  const exportButton = (format: ExportFormat, label: string) => {
    const button = h("button", { type: "button", "data-testid": `log-export-${format}` }, label);
    button.addEventListener("click", () => void exportLog(format, button));
    return button;
  };
  const exports = h(
    "div",
    { class: "log-exports" },
    exportButton("jsonl", "Export JSON lines"),
    exportButton("csv", "Export CSV"),
  );

  // List
  const tbody = h("tbody", {});
  const table = h(
    "table",
    {
      class: "log-table",
      role: "grid",
      "aria-readonly": "true",
      "aria-labelledby": "log-title",
      "aria-describedby": "log-keys",
      tabindex: "0",
      "data-testid": "log-table",
    },
    h("colgroup", {}, ...COLUMNS.map(([, sized]) => h("col", { class: sized }))),
    h("thead", {}, h("tr", {}, ...COLUMNS.map(([column]) => h("th", { scope: "col", title: column }, column)))),
    tbody,
  );
  const scroller = h("div", { class: "log-scroll" }, table);
  const empty = h("p", { class: "empty", "data-testid": "log-empty", hidden: "" });
  const summary = h("p", { class: "note log-summary" });
  const loadError = h("div", { role: "alert" });
  const older = h("button", { type: "button", "data-testid": "log-load-older" }, "Load older");
  const olderNote = h("span", { class: "note", role: "status", "data-testid": "log-older-note" });
  const details = h("section", {
    class: "log-details",
    "aria-labelledby": "log-details-title",
    tabindex: "-1",
    "data-testid": "log-details",
  });

  const selected = () => rows.find((entry) => entry.id === selectedId) ?? null;

  const drawSelection = () => {
    for (const row of tbody.rows) {
      const isSelected = row.dataset.id === String(selectedId);
      row.setAttribute("aria-selected", String(isSelected));
      row.classList.toggle("selected", isSelected);
    }
    const entry = selected();
    if (entry === null) table.removeAttribute("aria-activedescendant");
    else table.setAttribute("aria-activedescendant", `log-row-${String(entry.id)}`);
    details.replaceChildren(...renderDetails(entry, clock.current()));
  };

  const drawControls = () => {
    const full = rows.length >= maxRows;
    older.hidden = !loaded || !hasOlder;
    older.disabled = loadingOlder || full;
    older.textContent = loadingOlder ? "Loading…" : "Load older";
    olderNote.textContent = !loaded
      ? ""
      : full && hasOlder
        ? `The window keeps ${String(maxRows)} rows: narrow the filters or export to see older ones.`
        : atOldest && !hasOlder && rows.length > 0
          ? "That is the oldest row."
          : "";
    summary.textContent = !loaded ? "Loading…" : rows.length > 0 ? `${rowsText(rows.length)}, newest first.` : "";
  };

  // Drawn rows by id, reused on every redraw: new rows arrive all the time and the others do not change (until
  // the day or the clock changes, which changes how their time is written).
  let drawnRows = new Map<number, HTMLTableRowElement>();
  let drawnDay = "";

  const drawRows = () => {
    const now = Date.now();
    const writing = clock.current();
    const day = `${new Date(now).toDateString()} ${writing}`;
    if (day !== drawnDay) {
      drawnRows = new Map();
      drawnDay = day;
    }
    const next = new Map<number, HTMLTableRowElement>();
    for (const entry of rows) next.set(entry.id, drawnRows.get(entry.id) ?? renderRow(entry, now, writing, select));
    drawnRows = next;
    const before = scroller.scrollHeight;
    const top = scroller.scrollTop;
    tbody.replaceChildren(...next.values());
    // A row from another day writes its date too: the Time column makes room for it.
    table.classList.toggle("log-table-dated", rows.some((entry) => !isSameDay(entry.at_ms, now)));
    table.classList.toggle("log-table-h12", writing === "h12");
    // Rows added above stay out of the way of the row being read.
    if (top > 0) scroller.scrollTop = top + (scroller.scrollHeight - before);
    table.hidden = rows.length === 0;
    empty.hidden = !loaded || rows.length > 0;
    empty.textContent = isFiltered(filters)
      ? "No rows match these filters."
      : "Nothing logged yet. Each phone input, Slack call and note appears here as it happens.";
    drawOutcomes();
    drawWorkspaces();
    drawControls();
    drawSelection();
  };

  const drawOutcomes = () => {
    for (const entry of rows) outcomes.add(entry.outcome);
    if (filters.outcome.kind === "is") outcomes.add(filters.outcome.outcome);
    const sorted = [...outcomes].sort((a, b) => (a === "ok" ? -1 : b === "ok" ? 1 : a.localeCompare(b)));
    const key = JSON.stringify(sorted);
    if (key !== drawnOutcomes) {
      drawnOutcomes = key;
      outcomeSelect.replaceChildren(
        h("option", { value: "all" }, "All"),
        h("option", { value: "problems" }, "Problems only"),
        h(
          "optgroup",
          { label: "Exactly" },
          ...sorted.map((outcome) => h("option", { value: `is:${outcome}` }, outcome)),
        ),
      );
    }
    outcomeSelect.value = outcomeValue(filters.outcome);
  };

  const drawWorkspaces = () => {
    const names = new Map<number, string>();
    for (const workspace of workspaces) {
      names.set(workspace.id, workspace.connected ? workspace.team : `${workspace.team} (disconnected)`);
    }
    for (const entry of rows) {
      if (entry.workspace_id !== null && !names.has(entry.workspace_id)) {
        names.set(entry.workspace_id, workspaceLabel(entry));
      }
    }
    if (filters.workspaceId !== null && !names.has(filters.workspaceId)) {
      names.set(filters.workspaceId, `workspace ${String(filters.workspaceId)}`);
    }
    const sorted = [...names].sort(([, a], [, b]) => a.localeCompare(b));
    const key = JSON.stringify(sorted);
    if (key !== drawnWorkspaces) {
      drawnWorkspaces = key;
      workspaceSelect.replaceChildren(
        h("option", { value: "" }, "All"),
        ...sorted.map(([id, name]) => h("option", { value: String(id) }, name)),
      );
    }
    workspaceSelect.value = filters.workspaceId === null ? "" : String(filters.workspaceId);
  };

  const select = (id: number) => {
    selectedId = id;
    atOldest = false;
    drawControls();
    drawSelection();
    table.focus();
  };

  const moveSelection = (to: (index: number) => number) => {
    if (rows.length === 0) return;
    const index = rows.findIndex((entry) => entry.id === selectedId);
    const wanted = index === -1 ? 0 : to(index);
    // Down from the last row: there is nothing further (unless Load older finds some).
    atOldest = index === rows.length - 1 && wanted > index;
    drawControls();
    const next = Math.min(rows.length - 1, Math.max(0, wanted));
    const entry = rows[next];
    if (entry === undefined) return;
    selectedId = entry.id;
    drawSelection();
    const row = tbody.rows[next];
    if (row && typeof row.scrollIntoView === "function") row.scrollIntoView({ block: "nearest" });
  };

  table.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves: Record<string, (index: number) => number> = {
      ArrowDown: (index) => index + 1,
      ArrowUp: (index) => index - 1,
      PageDown: (index) => index + PAGE_STEP,
      PageUp: (index) => index - PAGE_STEP,
      Home: () => 0,
      End: () => rows.length - 1,
    };
    const move = moves[event.key];
    if (move !== undefined) {
      event.preventDefault();
      moveSelection(move);
    } else if (event.key === "Enter" && selected() !== null) {
      event.preventDefault();
      details.focus();
    }
  });

  // Escape in the details goes back to the list, where the keyboard left it.
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      table.focus();
    }
  });

  const showLoadError = (message: string | null) => {
    loadError.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  /** The newest rows for the current filters, replacing the list. */
  const reload = async (): Promise<void> => {
    const request = ++generation;
    try {
      const page = await call("sync_log", { filter: logFilter(filters, { limit: pageSize }) });
      if (stopped || request !== generation) return;
      rows = page;
      hasOlder = page.length === pageSize;
      atOldest = false;
      loaded = true;
      showLoadError(null);
      drawRows();
    } catch (error) {
      if (stopped || request !== generation) return;
      showLoadError(`Could not load the log: ${describeError(error)}`);
    }
    if (followAgain) void follow();
  };

  /** Rows newer than the newest shown, put on top. */
  const follow = async (): Promise<void> => {
    if (!loaded) {
      // The first page is on its way and will be the newest.
      followAgain = true;
      return;
    }
    if (following) {
      followAgain = true;
      return;
    }
    following = true;
    followAgain = false;
    const request = generation;
    const newest = rows[0]?.id;
    try {
      const limit = maxRows;
      const fresh = await call("sync_log", {
        filter: logFilter(filters, newest === undefined ? { limit } : { after_id: newest, limit }),
      });
      if (isStopped() || request !== generation) return;
      if (fresh.length >= limit) {
        // More arrived than the window keeps: these are the newest, and older ones can be paged back to.
        rows = fresh;
        hasOlder = true;
      } else if (fresh.length > 0) {
        const known = new Set(rows.map((entry) => entry.id));
        const added = fresh.filter((entry) => !known.has(entry.id));
        rows = [...added, ...rows];
        if (rows.length > maxRows) {
          rows = rows.slice(0, maxRows);
          hasOlder = true;
        }
      }
      if (fresh.length > 0) drawRows();
    } catch (error) {
      if (isStopped() || request !== generation) return;
      showLoadError(`Could not get the newest rows: ${describeError(error)}`);
    } finally {
      following = false;
    }
    if (mustFollowAgain() && !isStopped()) void follow();
  };

  const loadOlder = async (): Promise<void> => {
    const oldest = rows.at(-1)?.id;
    if (loadingOlder || oldest === undefined || rows.length >= maxRows) return;
    loadingOlder = true;
    drawControls();
    const request = generation;
    try {
      const limit = Math.min(pageSize, maxRows - rows.length);
      const page = await call("sync_log", { filter: logFilter(filters, { before_id: oldest, limit }) });
      if (isStopped() || request !== generation) return;
      const known = new Set(rows.map((entry) => entry.id));
      rows = [...rows, ...page.filter((entry) => !known.has(entry.id))];
      hasOlder = page.length === limit;
      // Asked for older rows and reached the first one logged.
      atOldest = !hasOlder;
      showLoadError(null);
      drawRows();
    } catch (error) {
      if (isStopped() || request !== generation) return;
      showLoadError(`Could not load older rows: ${describeError(error)}`);
    } finally {
      loadingOlder = false;
      if (!isStopped()) drawControls();
    }
    if (document.activeElement === document.body || older.hidden) table.focus();
  };
  older.addEventListener("click", () => void loadOlder());

  const setFilters = (next: LogFilters) => {
    filters = next;
    loaded = false;
    exportResult.replaceChildren();
    drawControls();
    void reload();
  };

  workspaceSelect.addEventListener("change", () => {
    setFilters({ ...filters, workspaceId: workspaceSelect.value === "" ? null : Number(workspaceSelect.value) });
  });
  outcomeSelect.addEventListener("change", () => {
    setFilters({ ...filters, outcome: parseOutcomeValue(outcomeSelect.value) });
  });
  const applyText = () => {
    window.clearTimeout(textTimer);
    if (text.value === filters.text) return;
    setFilters({ ...filters, text: text.value });
  };
  text.addEventListener("input", () => {
    window.clearTimeout(textTimer);
    textTimer = window.setTimeout(applyText, TEXT_DEBOUNCE_MS);
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      applyText();
    }
  });

  async function exportLog(format: ExportFormat, button: HTMLButtonElement): Promise<void> {
    if (button.disabled) return;
    button.disabled = true;
    exportResult.replaceChildren();
    exportError.replaceChildren();
    try {
      const exported = await call("export_sync_log", { filter: logFilter(filters), format });
      if (isStopped()) return;
      exportResult.append(h("p", { class: "message" }, `Saved ${rowsText(exported.rows)} to ${exported.path}`));
    } catch (error) {
      if (isStopped()) return;
      exportError.append(h("p", { class: "alert" }, `Could not export the log: ${describeError(error)}`));
    } finally {
      button.disabled = false;
    }
  }

  // A change of clock writes every time again, in the list and the details.
  const stopClock = followClock(clock, onEvent, call);
  const stopWatch = clock.watch(drawRows);

  const unlisten = subscribe(
    onEvent,
    "sync-log",
    (newest) => {
      if ((rows[0]?.id ?? -1) >= newest) return;
      void follow();
    },
    (error) => {
      showLoadError(`New rows will not appear by themselves: ${describeError(error)}`);
    },
  );

  root.replaceChildren(
    h(
      "section",
      { class: "sync-log", "aria-labelledby": "log-title" },
      h(
        "header",
        { class: "log-header" },
        h("div", {}, h("h1", { id: "log-title" }, "Sync log"), summary),
        exports,
      ),
      filterBar,
      exportResult,
      exportError,
      loadError,
      h(
        "div",
        { class: "log-body" },
        h(
          "div",
          { class: "log-list" },
          scroller,
          empty,
          h("div", { class: "actions log-older" }, older, olderNote),
          h(
            "p",
            { class: "note", id: "log-keys" },
            "↑ and ↓ choose a row, Enter goes to its details and Escape comes back.",
          ),
        ),
        details,
      ),
    ),
  );
  drawRows();
  void reload();
  call("workspaces", {}).then(
    (list) => {
      if (stopped) return;
      workspaces = list;
      drawWorkspaces();
    },
    () => {
      // The filter still lists the workspaces seen in the rows.
    },
  );

  return {
    reload,
    stop: () => {
      stopped = true;
      window.clearTimeout(textTimer);
      unlisten();
      stopClock();
      stopWatch();
    },
  };
}
