import type { AppInfo } from "../bindings/AppInfo";
import { h } from "../dom";

/**
 * The Settings window: what the app believes now, and where it keeps things. `panels` (a workspace's settings and
 * the Slack workspaces, in the order {@link placeWorkspaceSettings} keeps, the preferences, where phones can
 * reach this computer and what the desktop sees, filled once the window is shown) go between the state line
 * and the facts about the installation, in order.
 */
export function renderSettings(info: AppInfo, ...panels: Node[]): HTMLElement {
  const row = (term: string, value: string) => h("div", { class: "row" }, h("dt", {}, term), h("dd", {}, value));
  return h(
    "section",
    { class: "settings", "aria-labelledby": "settings-title" },
    h(
      "header",
      {},
      h("h1", { id: "settings-title" }, "Caret Desktop"),
      h("p", { class: "state", "data-testid": "state-line" }, info.state_line),
    ),
    ...panels,
    h(
      "section",
      { "aria-labelledby": "about-title" },
      h("h2", { id: "about-title" }, "About this installation"),
      h(
        "dl",
        {},
        row("Version", info.version),
        row("Mode", info.headless ? "Headless" : "Tray"),
        row("Settings folder", info.config_dir),
        row("Data folder", info.data_dir),
        row("Slack API", info.slack_api_url),
      ),
    ),
  );
}

/**
 * Puts a connected workspace's settings (its policy and what Slack will show, the point of the window) before the
 * Slack workspaces section, so that they are in view as the window opens; with no workspace connected, connecting
 * comes first. Only `workspaceSettings` moves: the focus in the workspaces section (the token just pasted) stays,
 * and is kept in view.
 */
export function placeWorkspaceSettings(
  workspaces: HTMLElement,
  workspaceSettings: HTMLElement,
  anyConnected: boolean,
): void {
  const parent = workspaces.parentNode;
  if (parent === null) return;
  const first = workspaceSettings.compareDocumentPosition(workspaces) & Node.DOCUMENT_POSITION_FOLLOWING;
  if (anyConnected === (first !== 0)) return;
  parent.insertBefore(workspaceSettings, anyConnected ? workspaces : workspaces.nextSibling);
  const focused = document.activeElement;
  if (focused instanceof HTMLElement && workspaces.contains(focused) && typeof focused.scrollIntoView === "function") {
    focused.scrollIntoView({ block: "nearest" });
  }
}

/** Shown when the window cannot reach the app (for example, the page opened outside Caret Desktop). */
export function renderError(message: string): HTMLElement {
  return h(
    "section",
    { class: "error", role: "alert" },
    h("h1", {}, "Caret Desktop could not load this window"),
    h("p", {}, message),
  );
}
