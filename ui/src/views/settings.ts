import type { AppInfo } from "../bindings/AppInfo";
import { h } from "../dom";

/**
 * The Settings window: what the app believes now, and where it keeps things. `panels` (the Slack workspaces,
 * each workspace's settings, the preferences and where phones can reach this computer, filled once the window is
 * shown) go between the state line and the facts about the installation, in order.
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

/** Shown when the window cannot reach the app (for example, the page opened outside Caret Desktop). */
export function renderError(message: string): HTMLElement {
  return h(
    "section",
    { class: "error", role: "alert" },
    h("h1", {}, "Caret Desktop could not load this window"),
    h("p", {}, message),
  );
}
