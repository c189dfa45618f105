import type { Policy } from "../bindings/Policy";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import type { PreviewRow } from "../bindings/PreviewRow";
import type { SettingsPreview } from "../bindings/SettingsPreview";
import { h } from "../dom";
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
  return h(
    "span",
    { class: "preview-status" },
    row.status.emoji !== "" && h("code", { class: "emoji" }, row.status.emoji),
    row.status.emoji !== "" && " ",
    h("span", { class: "preview-text" }, row.status.text),
  );
}

function presence(row: PreviewRow): HTMLElement | string {
  return row.presence === "away" ? h("span", { class: "badge badge-away" }, "away") : "";
}

function singleTable(column: PolicyPreview): HTMLElement {
  const heading = (label: string) => h("th", { scope: "col" }, label);
  return h(
    "table",
    { class: "preview-table", "data-testid": "preview-table", "data-policy": column.policy },
    h("caption", {}, `Under ${policyName(column.policy)}`),
    h(
      "thead",
      {},
      h("tr", {}, heading("When you are"), heading("Slack shows"), heading("It goes away"), heading("Presence")),
    ),
    h(
      "tbody",
      {},
      ...column.rows.map((row) =>
        h(
          "tr",
          { "data-testid": "preview-row", "data-state": row.state },
          h("th", { scope: "row" }, row.label),
          h("td", {}, statusCell(row)),
          h("td", { class: "preview-expires" }, row.status?.expires ?? "—"),
          h("td", {}, presence(row)),
        ),
      ),
    ),
  );
}

function compareTable(columns: PolicyPreview[], current: Policy): HTMLElement {
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
          { "data-testid": "preview-row", "data-state": state.state },
          h("th", { scope: "row" }, state.label),
          ...columns.map((column) => {
            const row = column.rows.find((candidate) => candidate.state === state.state);
            if (row === undefined) return h("td", {}, "—");
            return h(
              "td",
              { class: column.policy === current ? "current" : "" },
              statusCell(row),
              row.status !== null && h("span", { class: "preview-expires" }, row.status.expires),
              row.presence === "away" && h("span", { class: "preview-presence" }, presence(row)),
            );
          }),
        ),
      ),
    ),
  );
}

/** The preview's body: the example note, the settings' problem, and the table. */
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
  return h(
    "div",
    { class: "preview-body" },
    problems,
    h("p", { class: "note", "data-testid": "preview-example" }, `Example event: ${preview.example_event}.`),
    state.compare || column === undefined ? compareTable(preview.policies, state.policy) : singleTable(column),
  );
}
