import { describe, expect, it } from "vitest";
import type { AppInfo } from "../bindings/AppInfo";
import { placeWorkspaceSettings, renderError, renderSettings } from "./settings";

const info: AppInfo = {
  version: "0.1.0",
  headless: false,
  config_dir: "/home/ada/.config/caret-desktop",
  data_dir: "/home/ada/.local/share/caret-desktop",
  slack_api_url: "https://slack.com/api",
  state_line: "No phone paired yet",
};

describe("renderSettings", () => {
  it("shows the state line and every fact about the installation", () => {
    const view = renderSettings(info);
    expect(view.querySelector('[data-testid="state-line"]')?.textContent).toBe("No phone paired yet");
    const facts: Record<string, string> = Object.fromEntries(
      [...view.querySelectorAll(".row")].map((row): [string, string] => [
        row.querySelector("dt")?.textContent ?? "",
        row.querySelector("dd")?.textContent ?? "",
      ]),
    );
    expect(facts).toEqual({
      Version: "0.1.0",
      Mode: "Tray",
      "Settings folder": info.config_dir,
      "Data folder": info.data_dir,
      "Slack API": "https://slack.com/api",
    });
  });

  it("never turns text from the core into markup", () => {
    const view = renderSettings({ ...info, state_line: '<img src=x onerror="alert(1)">' });
    expect(view.querySelector("img")).toBeNull();
    expect(view.querySelector('[data-testid="state-line"]')?.textContent).toContain("<img");
  });

  it("puts the workspaces panel between the state line and the facts about the installation", () => {
    const panel = document.createElement("div");
    const view = renderSettings(info, panel);
    expect([...view.children].map((child) => child.tagName)).toEqual(["HEADER", "DIV", "SECTION"]);
    expect(view.children[1]).toBe(panel);
    expect(view.children[2]?.getAttribute("aria-labelledby")).toBe("about-title");
  });

  it("keeps the panels in the order given, before the facts", () => {
    const panels = ["workspaces", "workspace-settings", "preferences"].map((name) => {
      const panel = document.createElement("div");
      panel.dataset.name = name;
      return panel;
    });
    const view = renderSettings(info, ...panels);
    expect([...view.children].map((child) => (child as HTMLElement).dataset.name ?? child.tagName)).toEqual([
      "HEADER",
      "workspaces",
      "workspace-settings",
      "preferences",
      "SECTION",
    ]);
  });

  it("puts a connected workspace's policy and preview first, so they are in view as the window opens (issue 15, 8)", () => {
    const panel = (name: string) => {
      const element = document.createElement("div");
      element.dataset.name = name;
      element.append(document.createElement("input"));
      return element;
    };
    const [workspaceSettings, workspaces, preferences] = ["workspace-settings", "workspaces", "preferences"].map(panel);
    if (!workspaceSettings || !workspaces || !preferences) throw new Error("three panels");
    const view = renderSettings(info, workspaceSettings, workspaces, preferences);
    document.body.append(view);
    const order = () => [...view.children].map((child) => (child as HTMLElement).dataset.name ?? child.tagName);
    const connected = ["HEADER", "workspace-settings", "workspaces", "preferences", "SECTION"];
    const connecting = ["HEADER", "workspaces", "workspace-settings", "preferences", "SECTION"];

    placeWorkspaceSettings(workspaces, workspaceSettings, true);
    expect(order()).toEqual(connected);
    // No workspace connected: connecting comes first.
    placeWorkspaceSettings(workspaces, workspaceSettings, false);
    expect(order()).toEqual(connecting);
    placeWorkspaceSettings(workspaces, workspaceSettings, false);
    expect(order()).toEqual(connecting);
    // The first one connected (the token field still focused): its settings go first, the focus stays.
    const field = workspaces.querySelector("input");
    field?.focus();
    placeWorkspaceSettings(workspaces, workspaceSettings, true);
    expect(order()).toEqual(connected);
    expect(document.activeElement).toBe(field);
    view.remove();
  });

  it("labels each section for assistive technology", () => {
    const view = renderSettings(info);
    expect(view.getAttribute("aria-labelledby")).toBe("settings-title");
    expect(view.querySelector("#settings-title")?.textContent).toBe("Caret Desktop");
  });
});

describe("renderError", () => {
  it("is an alert that says what went wrong", () => {
    const view = renderError("app_info failed");
    expect(view.getAttribute("role")).toBe("alert");
    expect(view.textContent).toContain("app_info failed");
  });
});
