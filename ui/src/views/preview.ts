import type { Policy } from "../bindings/Policy";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import type { PreviewNow } from "../bindings/PreviewNow";
import type { PreviewRow } from "../bindings/PreviewRow";
import type { SettingsPreview } from "../bindings/SettingsPreview";
import type { StateKind } from "../bindings/StateKind";
import { h } from "../dom";
import { renderEmoji } from "../emoji";
import { policyName } from "./policy";

/** What the preview shows at one moment. */
export interface PreviewState {
  /** The Rust answer for the settings as edited; null until the first one. */
  preview: SettingsPreview | null;
  /** The policy in force in the workspace: its column is the one shown, or highlighted when comparing. */
  policy: Policy;
  /** Every policy side by side. */
  compare: boolean;
  /** Why the preview could not be computed (the last good one, if any, stays). */
  error: string | null;
}

function statusCell(row: PreviewRow): HTMLElement {
  if (row.status === null) return h("span", { class: "preview-none" }, "No status");
  const emoji = renderEmoji(row.status.emoji);
  return h(
    "span",
    { class: "preview-status" },
    emoji,
    emoji !== null && " ",
    h("span", { class: "preview-text" }, row.status.text),
  );
}

/**
 * What others see beside the name besides the status: away, and notifications paused (a Do Not Disturb snooze,
 * "DND", said whole in its tooltip), each a badge, a space apart; nothing while neither.
 */
function presence(row: PreviewRow): (HTMLElement | string)[] {
  const badges: HTMLElement[] = [];
  if (row.presence === "away") badges.push(h("span", { class: "badge badge-away" }, "away"));
  if (row.snooze) {
    // Short, so that a row with both badges stays one line and the whole preview stays in view.
    const meaning = "Slack notifications paused (Do Not Disturb)";
    badges.push(
      h("span", { class: "badge badge-dnd", "data-testid": "preview-dnd", title: meaning, "aria-label": meaning }, "DND"),
    );
  }
  return badges.flatMap((badge, index) => (index === 0 ? [badge] : [" ", badge]));
}

/**
 * When the statuses go away, if most say the same (a status from the phone is renewed as long as the phone says
 * so): said once above the table instead of on every row, so that every state fits in view. Null when no two
 * rows share it.
 */
export function commonExpiry(rows: readonly PreviewRow[]): string | null {
  const counts = new Map<string, number>();
  for (const row of rows) {
    if (row.status !== null) counts.set(row.status.expires, (counts.get(row.status.expires) ?? 0) + 1);
  }
  let common: string | null = null;
  let most = 1;
  for (const [expires, count] of counts) {
    if (count > most) [common, most] = [expires, count];
  }
  return common;
}

/** When a row's status goes away, unless it is the `common` one said above the table. */
function expiresNote(row: PreviewRow, common: string | null): HTMLElement | null {
  if (row.status === null || row.status.expires === common) return null;
  return h(
    "span",
    { class: "preview-expires" },
    h("span", { class: "visually-hidden" }, "It goes away: "),
    row.status.expires,
  );
}

/** The header of a state's row, marked when it is the state speaking now. */
function rowHeader(label: string, isNow: boolean): HTMLElement {
  return h("th", { scope: "row" }, label, isNow && h("span", { class: "now-mark" }, " (now)"));
}

/**
 * What speaks now and where it comes from ("Now: In a call (microphone)"), and what a locked screen and the end of
 * the working day do under `policy`, the policy in force: both make the presence away (said once when both are
 * true), and Trusted and VIP may show a status of the desk's too (see `deskStatus`).
 */
export function nowLine(now: PreviewNow, policy: Policy): string {
  const away = [now.screen_locked && "screen locked", now.off_hours !== null && "off work"].filter(
    (part) => part !== false,
  );
  let aside = "";
  if (away.length > 0) {
    const why = away.join(", ");
    aside = policy === "blocked" ? ` · ${why} (Blocked shares nothing)` : ` · ${why}: away in Slack`;
    const status = deskStatus(now, policy);
    if (status !== null) aside += `, “${status}” where nothing else is shown`;
  }
  if (now.state === null) {
    return `Now: nothing known (no phone, nothing chosen, no source sees anything)${aside}.`;
  }
  return `Now: ${now.said}${aside}`;
}

/**
 * The status the desk itself may show under `policy`, as the app decides it: only Trusted and VIP show one, and
 * never over a status something else sets. Off work says more than a locked screen, so "Off for the day" (when
 * asked for) goes first, and "Away from the desk" shows only without it. The app sends `away_status` only while
 * the screen is locked; checking the lock too keeps the line from saying it otherwise.
 */
function deskStatus(now: PreviewNow, policy: Policy): string | null {
  if (policy !== "trusted" && policy !== "vip") return null;
  if (now.off_hours?.show_status === true) return "Off for the day";
  if (now.screen_locked && now.away_status) return "Away from the desk";
  return null;
}

function singleTable(column: PolicyPreview, common: string | null, now: StateKind | null): HTMLElement {
  const heading = (label: string) => h("th", { scope: "col" }, label);
  return h(
    "table",
    { class: "preview-table", "data-testid": "preview-table", "data-policy": column.policy },
    h("caption", {}, `Under ${policyName(column.policy)}`),
    h("thead", {}, h("tr", {}, heading("When you are"), heading("Slack shows"), heading("Presence"))),
    h(
      "tbody",
      {},
      ...column.rows.map((row) =>
        h(
          "tr",
          { "data-testid": "preview-row", "data-state": row.state, class: row.state === now ? "now" : "" },
          rowHeader(row.label, row.state === now),
          h("td", {}, statusCell(row), expiresNote(row, common)),
          h("td", {}, ...presence(row)),
        ),
      ),
    ),
  );
}

function compareTable(
  columns: PolicyPreview[],
  current: Policy,
  common: string | null,
  now: StateKind | null,
): HTMLElement {
  const states = columns[0]?.rows ?? [];
  return h(
    "table",
    { class: "preview-table preview-compare", "data-testid": "preview-table", "data-policy": "all" },
    h("caption", {}, "Every policy side by side"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "When you are"),
        ...columns.map((column) =>
          h(
            "th",
            { scope: "col", class: column.policy === current ? "current" : "" },
            policyName(column.policy),
            column.policy === current && h("span", { class: "current-mark" }, " (now)"),
          ),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      ...states.map((state) =>
        h(
          "tr",
          { "data-testid": "preview-row", "data-state": state.state, class: state.state === now ? "now" : "" },
          rowHeader(state.label, state.state === now),
          ...columns.map((column) => {
            const row = column.rows.find((candidate) => candidate.state === state.state);
            if (row === undefined) return h("td", {}, "—");
            return h(
              "td",
              { class: column.policy === current ? "current" : "" },
              statusCell(row),
              expiresNote(row, common),
              (row.presence === "away" || row.snooze) && h("span", { class: "preview-presence" }, ...presence(row)),
            );
          }),
        ),
      ),
    ),
  );
}

/** The preview's body: the settings' problem, what speaks now, the example note, and the table (its row marked). */
export function renderPreview(state: PreviewState): HTMLElement {
  const { preview } = state;
  const problems = h(
    "div",
    { role: "alert", class: "preview-messages" },
    state.error !== null &&
      h("p", { class: "alert", "data-testid": "preview-error" }, `The preview could not be updated: ${state.error}`),
    preview !== null &&
      preview.problem !== null &&
      h(
        "p",
        { class: "alert", "data-testid": "preview-problem" },
        `These settings cannot be saved yet: ${preview.problem}`,
      ),
  );
  if (preview === null) {
    const loading = state.error === null && h("p", { class: "empty" }, "Loading…");
    return h("div", { class: "preview-body" }, problems, loading);
  }
  const column = preview.policies.find((candidate) => candidate.policy === state.policy);
  const compare = state.compare || column === undefined;
  const common = commonExpiry(compare ? preview.policies.flatMap((policy) => policy.rows) : column.rows);
  const now = preview.now?.state ?? null;
  return h(
    "div",
    { class: "preview-body" },
    problems,
    preview.now !== null &&
      h("p", { class: "note", "data-testid": "preview-now" }, nowLine(preview.now, state.policy)),
    h("p", { class: "note", "data-testid": "preview-example" }, `Example event: ${preview.example_event}.`),
    common !== null && h("p", { class: "note", "data-testid": "preview-expires" }, `It goes away: ${common}.`),
    compare ? compareTable(preview.policies, state.policy, common, now) : singleTable(column, common, now),
  );
}
