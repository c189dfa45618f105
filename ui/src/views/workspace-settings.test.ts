import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PolicySetting } from "../bindings/PolicySetting";
import type { PreviewNow } from "../bindings/PreviewNow";
import type { SettingsPreview } from "../bindings/SettingsPreview";
import type { SourcesView } from "../bindings/SourcesView";
import type { WorkspaceSettings } from "../bindings/WorkspaceSettings";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { clockChoice } from "../clock";
import {
  allByTestId,
  byTestId,
  deferred,
  fakeApp,
  fakeEvents,
  inputByTestId,
  typeInto,
  type FakeEvents,
  type Handlers,
} from "../test/fake-app";
import { acme, catalog, globex, initech, officeWeek, previewOf, settings, snapshot } from "../test/fixtures";
import {
  PREVIEW_DEBOUNCE_MS,
  SAVED_SHOWN_MS,
  mountWorkspaceSettings,
  type WorkspaceSettingsPanel,
} from "./workspace-settings";

const flush = () => vi.advanceTimersByTimeAsync(0);

/** What the sources event says when a microphone starts being used. */
const micInUse: SourcesView = {
  microphone: { state: "watching", microphone_in_use: true, camera_in_use: false },
  screen_lock: { state: "off" },
  screen_lock_status: false,
  calendar: { calendars: [], now: null },
  working_hours: { state: "off" },
  working_week: officeWeek,
};
const inCallNow: PreviewNow = {
  state: "in_call",
  source: "microphone",
  said: "In a call (microphone)",
  screen_locked: false,
  off_hours: null,
  away_status: false,
};
const nothingNow: PreviewNow = { state: null, source: null, said: "Nothing known now",
  screen_locked: false,
  off_hours: null,
  away_status: false,
};

describe("mountWorkspaceSettings", () => {
  let root: HTMLElement;
  let events: FakeEvents;
  let panel: WorkspaceSettingsPanel | null;
  let listed: WorkspaceView[];
  let stored: Record<number, WorkspaceSettings>;

  const handlers = (): Partial<Handlers> => ({
    workspaces: () => listed,
    template_catalog: () => catalog,
    workspace_settings: ({ workspaceId }) => stored[workspaceId] ?? settings,
    preview_settings: () => previewOf(),
    save_workspace_settings: ({ workspaceId, settings: saved }) => {
      stored[workspaceId] = saved;
      return listed.find((workspace) => workspace.id === workspaceId) ?? acme;
    },
    perform: ({ action }) => {
      if (action.type !== "set_policy") throw new Error("unexpected action");
      const policy: PolicySetting =
        action.choice.kind === "vip"
          ? { sharing: "vip", blocked: null }
          : { sharing: "trusted", blocked: { until: null } };
      listed = listed.map((workspace) =>
        workspace.id === action.workspace
          ? { ...workspace, policy, effective_policy: policy.blocked === null ? "vip" : "blocked" }
          : workspace,
      );
      return null;
    },
  });

  const mount = (overrides: Partial<Handlers> = {}, onStale = vi.fn()) => {
    const app = fakeApp({ ...handlers(), ...overrides });
    panel = mountWorkspaceSettings(root, app.call, events.onEvent, { onStale });
    return { app, onStale };
  };

  const radio = (id: string) => inputByTestId(root, id);
  const shownPolicy = () => byTestId(root, "preview-table")?.dataset.policy;
  const save = () => byTestId(root, "settings-save") as HTMLButtonElement;

  beforeEach(() => {
    vi.useFakeTimers();
    root = document.createElement("div");
    document.body.append(root);
    events = fakeEvents();
    panel = null;
    listed = [acme];
    stored = {};
  });

  afterEach(() => {
    panel?.stop();
    root.remove();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("asks to connect a workspace when none is connected", async () => {
    mount();
    panel?.setWorkspaces([initech]);
    await flush();
    expect(root.querySelector("#workspace-settings-title")?.textContent).toBe("Workspace settings");
    expect(byTestId(root, "workspace-settings-empty")?.textContent).toBe(
      "Connect a workspace above to choose what it shows.",
    );
  });

  it("loads the one connected workspace: its policy, its form and the preview of its policy", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme, initech]);
    await flush();
    expect(root.textContent).toContain("For Acme, signed in as ada.");
    expect(byTestId(root, "workspace-settings-select")).toBeNull();
    expect(app.calls.slice(0, 3)).toEqual([
      ["template_catalog", {}],
      ["workspace_settings", { workspaceId: 1 }],
      ["preview_settings", { settings }],
    ]);
    expect(radio("policy-trusted").checked).toBe(true);
    expect(shownPolicy()).toBe("trusted");
    expect(allByTestId(root, "preview-row").map((row) => row.dataset.state)).toContain("in_call");
    expect(save().disabled).toBe(true);
    expect(byTestId(root, "settings-dirty")?.textContent).toBe("");
  });

  it("writes the end of a block in the window's clock, and again when the choice changes", async () => {
    const clock = clockChoice("h12");
    const app = fakeApp(handlers());
    panel = mountWorkspaceSettings(root, app.call, events.onEvent, { clock });
    const until = new Date(2025, 2, 1, 15, 5).toISOString();
    const blocked: WorkspaceView = { ...acme, policy: { sharing: "trusted", blocked: { until } }, effective_policy: "blocked" };
    panel.setWorkspaces([blocked]);
    await flush();
    expect(root.textContent).toContain("Sharing is blocked until 3:05 PM;");
    clock.set("h24");
    expect(root.textContent).toContain("Sharing is blocked until 15:05;");
    panel.stop();
    panel = null;
    clock.set("h12");
    expect(root.textContent).toContain("Sharing is blocked until 15:05;");
  });

  it("compares all policies on request", async () => {
    mount();
    panel?.setWorkspaces([acme]);
    await flush();
    inputByTestId(root, "preview-compare").click();
    expect(shownPolicy()).toBe("all");
    inputByTestId(root, "preview-compare").click();
    expect(shownPolicy()).toBe("trusted");
  });

  it("previews the settings as edited, once the typing pauses", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    const lease = inputByTestId(root, "lease-minutes");
    typeInto(lease, "4");
    typeInto(lease, "45");
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 10);
    expect(app.argsOf("preview_settings")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(app.argsOf("preview_settings")).toEqual([{ settings }, { settings: { ...settings, lease: 45 } }]);
    expect(byTestId(root, "settings-dirty")?.textContent).toBe("Unsaved changes");
    expect(save().disabled).toBe(false);
  });

  it("shows a preview that failed, keeping the last good one", async () => {
    let fail = false;
    mount({
      preview_settings: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        if (fail) throw { code: "invalid_args", message: "invalid phone number: 12ab" };
        return previewOf();
      },
    });
    panel?.setWorkspaces([acme]);
    await flush();
    fail = true;
    inputByTestId(root, "phone-share").click();
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
    expect(byTestId(root, "preview-error")?.textContent).toBe(
      "The preview could not be updated: invalid phone number: 12ab",
    );
    expect(byTestId(root, "preview-table")).not.toBeNull();
  });

  it("saves the form and says so", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    inputByTestId(root, "time-12").click();
    save().click();
    await flush();
    expect(app.argsOf("save_workspace_settings")).toEqual([
      { workspaceId: 1, settings: { ...settings, time_format: "h12" } },
    ]);
    expect(byTestId(root, "settings-message")?.textContent).toBe("Saved.");
    expect(byTestId(root, "settings-message")?.closest("[role=status]")).not.toBeNull();
    expect(byTestId(root, "settings-dirty")?.textContent).toBe("");
    expect(save().disabled).toBe(true);
  });

  it("saves a Do Not Disturb rule only where it differs from the built-in, and previews it", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    const box = (state: string) => root.querySelector<HTMLInputElement>(`#ws-1-${state}-dnd`);
    expect(box("in_vehicle")?.checked).toBe(true);
    box("in_call")?.click();
    box("in_vehicle")?.click();
    box("in_vehicle")?.click();
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
    expect(app.argsOf("preview_settings").at(-1)).toEqual({ settings: { ...settings, dnd: { in_call: "snooze" } } });
    save().click();
    await flush();
    expect(app.argsOf("save_workspace_settings")).toEqual([
      { workspaceId: 1, settings: { ...settings, dnd: { in_call: "snooze" } } },
    ]);
  });

  it("says why the settings were refused", async () => {
    mount({
      save_workspace_settings: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "invalid_settings", message: "the In a call text is empty" };
      },
    });
    panel?.setWorkspaces([acme]);
    await flush();
    const call = allByTestId(root, "template-row").find((row) => row.dataset.state === "in_call");
    if (call === undefined) throw new Error("no In a call row");
    typeInto(inputByTestId(call, "template-text"), "");
    save().closest("form")?.requestSubmit();
    await flush();
    const message = byTestId(root, "settings-message");
    expect(message?.textContent).toBe("Not saved: the In a call text is empty");
    expect(message?.closest("[role=alert]")).not.toBeNull();
    expect(byTestId(root, "settings-dirty")?.textContent).toBe("Unsaved changes");
  });

  it("does not send a lease out of range", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    typeInto(inputByTestId(root, "lease-minutes"), "1000");
    expect(save().disabled).toBe(false);
    save().click();
    await flush();
    expect(app.names()).not.toContain("save_workspace_settings");
    expect(byTestId(root, "settings-message")).toBeNull();
    expect(root.querySelector(".workspace-settings-form [role=alert]")?.textContent).toBe(
      "Not saved: correct the field marked above first.",
    );
  });

  it("discards the changes", async () => {
    mount();
    panel?.setWorkspaces([acme]);
    await flush();
    typeInto(inputByTestId(root, "lease-minutes"), "90");
    byTestId(root, "settings-discard")?.click();
    expect(inputByTestId(root, "lease-minutes").value).toBe("30");
    expect(byTestId(root, "settings-dirty")?.textContent).toBe("");
  });

  it("floats the save bar only while there is something to save, clear of the field typed in", async () => {
    mount();
    panel?.setWorkspaces([acme]);
    await flush();
    const bar = byTestId(root, "settings-save-bar");
    const floating = () => bar?.classList.contains("floating");
    expect(bar?.parentElement?.lastElementChild).toBe(bar);
    expect(floating()).toBe(false);
    const lease = inputByTestId(root, "lease-minutes");
    const scrolled = vi.fn();
    lease.scrollIntoView = scrolled;
    lease.focus();
    typeInto(lease, "90");
    // Floating, the bar covers the bottom of the window: the field typed in is brought out from under it.
    expect(floating()).toBe(true);
    expect(scrolled).toHaveBeenCalledWith({ block: "nearest" });
    typeInto(lease, "95");
    expect(scrolled).toHaveBeenCalledTimes(1);
    byTestId(root, "settings-discard")?.click();
    expect(floating()).toBe(false);
  });

  it("says Saved. in the bar, keeping it in view a moment before it goes back to the end of the form", async () => {
    mount();
    panel?.setWorkspaces([acme]);
    await flush();
    const bar = byTestId(root, "settings-save-bar");
    inputByTestId(root, "time-12").click();
    save().click();
    await flush();
    expect(bar?.contains(byTestId(root, "settings-message"))).toBe(true);
    expect(bar?.classList.contains("floating")).toBe(true);
    await vi.advanceTimersByTimeAsync(SAVED_SHOWN_MS);
    expect(bar?.classList.contains("floating")).toBe(false);
    expect(byTestId(root, "settings-message")?.textContent).toBe("Saved.");
  });

  it("applies a policy at once, then shows what the app reports", async () => {
    const { app } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    radio("policy-vip").click();
    // Shown before the app answers.
    expect(shownPolicy()).toBe("vip");
    await flush();
    expect(app.argsOf("perform")).toEqual([
      { action: { type: "set_policy", workspace: 1, choice: { kind: "vip" } } },
    ]);
    expect(app.names().at(-1)).toBe("workspaces");
    expect(radio("policy-vip").checked).toBe(true);
    expect(root.querySelector(".policy [role=alert]")?.textContent).toBe("");

    radio("policy-block").click();
    await flush();
    expect(app.argsOf("perform").at(-1)).toEqual({
      action: { type: "set_policy", workspace: 1, choice: { kind: "block_until_resumed" } },
    });
    expect(radio("policy-block").checked).toBe(true);
    expect(shownPolicy()).toBe("blocked");
    expect(byTestId(root, "policy-resume")?.closest<HTMLElement>("[hidden]")).toBeNull();
  });

  it("says when a policy change did not take", async () => {
    mount({ perform: () => null });
    panel?.setWorkspaces([acme]);
    await flush();
    radio("policy-vip").click();
    await flush();
    expect(radio("policy-trusted").checked).toBe(true);
    expect(root.querySelector(".policy [role=alert]")?.textContent).toBe(
      "The policy of Acme did not change. The sync log may say why.",
    );
  });

  it("follows a policy changed from the tray", async () => {
    const { onStale } = mount();
    panel?.setWorkspaces([acme]);
    await flush();
    expect(events.listeners("snapshot")).toBe(1);
    const line = snapshot.workspaces[0];
    if (line === undefined) throw new Error("no line");
    events.emit("snapshot", {
      ...snapshot,
      workspaces: [{ ...line, policy: { sharing: "default", blocked: null }, effective_policy: "default" }],
    });
    expect(radio("policy-default").checked).toBe(true);
    expect(shownPolicy()).toBe("default");
    expect(onStale).not.toHaveBeenCalled();

    // A workspace connected elsewhere: the list is out of date.
    events.emit("snapshot", { ...snapshot, workspaces: [line, { ...line, id: 9, team: "Hooli" }] });
    expect(onStale).toHaveBeenCalledOnce();
    // One disconnected elsewhere too; one the list already has as disconnected is no news.
    events.emit("snapshot", { ...snapshot, workspaces: [{ ...line, connected: false }] });
    expect(onStale).toHaveBeenCalledTimes(2);
    panel?.setWorkspaces([{ ...acme, connected: false }]);
    events.emit("snapshot", { ...snapshot, workspaces: [{ ...line, connected: false }] });
    expect(onStale).toHaveBeenCalledTimes(2);
  });

  it("compares a snapshot that came before the list with the list", async () => {
    const { onStale } = mount();
    await flush();
    events.emit("snapshot", snapshot);
    expect(onStale).not.toHaveBeenCalled();
    // The list was read before Acme was added: it asks again, once.
    panel?.setWorkspaces([]);
    expect(onStale).toHaveBeenCalledOnce();
    panel?.setWorkspaces([acme]);
    await flush();
    expect(onStale).toHaveBeenCalledOnce();
    expect(radio("policy-trusted").checked).toBe(true);
  });

  it("chooses among several workspaces, asking before dropping unsaved changes", async () => {
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    stored = { 2: { ...settings, lease: 120 } };
    const { app } = mount();
    panel?.setWorkspaces([acme, globex]);
    await flush();
    const select = byTestId(root, "workspace-settings-select") as HTMLSelectElement;
    expect([...select.options].map((option) => option.textContent)).toEqual(["Acme (ada)", "Globex (hank)"]);
    expect(select.labels[0]?.textContent).toBe("Workspace");

    typeInto(inputByTestId(root, "lease-minutes"), "60");
    select.value = "2";
    select.dispatchEvent(new Event("change"));
    expect(confirm).toHaveBeenCalledWith("Discard the unsaved changes to Acme?");
    expect(select.value).toBe("1");
    expect(inputByTestId(root, "lease-minutes").value).toBe("60");

    select.value = "2";
    select.dispatchEvent(new Event("change"));
    await flush();
    expect(app.argsOf("workspace_settings").at(-1)).toEqual({ workspaceId: 2 });
    expect(inputByTestId(root, "lease-minutes").value).toBe("120");
    expect(radio("policy-default").checked).toBe(true);
  });

  it("shows why the settings could not load, and tries again", async () => {
    let fail = true;
    mount({
      workspace_settings: () => {
        if (fail) throw new Error("services not started");
        return settings;
      },
    });
    panel?.setWorkspaces([acme]);
    await flush();
    const alert = root.querySelector(".workspace-settings-form [role=alert]");
    expect(alert?.textContent).toContain("Could not load the settings of Acme: services not started");
    fail = false;
    [...root.querySelectorAll("button")].find((button) => button.textContent === "Try again")?.click();
    await flush();
    expect(inputByTestId(root, "lease-minutes").value).toBe("30");
  });

  it("asks for the template catalog once, at mount, and labels the templates from it", async () => {
    stored = { 2: { ...settings, lease: 120 } };
    const { app } = mount({
      template_catalog: () => ({
        ...catalog,
        states: catalog.states.map((entry) => (entry.state === "in_call" ? { ...entry, label: "On a call" } : entry)),
      }),
    });
    expect(app.names()).toEqual(["template_catalog"]);
    panel?.setWorkspaces([acme, globex]);
    await flush();
    const select = byTestId(root, "workspace-settings-select") as HTMLSelectElement;
    select.value = "2";
    select.dispatchEvent(new Event("change"));
    await flush();
    expect(inputByTestId(root, "lease-minutes").value).toBe("120");
    expect(app.argsOf("template_catalog")).toHaveLength(1);
    expect(allByTestId(root, "template-row").map((row) => row.dataset.state)).toEqual(
      catalog.states.map((entry) => entry.state),
    );
    const callRow = allByTestId(root, "template-row").find((row) => row.dataset.state === "in_call");
    expect(callRow?.querySelector("th")?.firstChild?.textContent).toBe("On a call");
  });

  it("shows why the template catalog could not load, and asks again on retry", async () => {
    let fail = true;
    const { app } = mount({
      template_catalog: () => {
        if (fail) throw new Error("no catalog");
        return catalog;
      },
    });
    panel?.setWorkspaces([acme]);
    await flush();
    expect(root.querySelector(".workspace-settings-form [role=alert]")?.textContent).toContain(
      "Could not load the settings of Acme: no catalog",
    );
    expect(byTestId(root, "lease-minutes")).toBeNull();
    fail = false;
    [...root.querySelectorAll("button")].find((button) => button.textContent === "Try again")?.click();
    await flush();
    expect(inputByTestId(root, "lease-minutes").value).toBe("30");
    expect(app.argsOf("template_catalog").length).toBeGreaterThan(1);
  });

  it("stops listening when stopped", async () => {
    mount();
    panel?.setWorkspaces([acme]);
    await flush();
    expect(events.listeners("sources")).toBe(1);
    panel?.stop();
    panel = null;
    expect(events.listeners("snapshot")).toBe(0);
    expect(events.listeners("sources")).toBe(0);
  });

  describe("when what speaks now changes", () => {
    const shownNow = () => byTestId(root, "preview-now")?.textContent;
    const markedRows = () =>
      allByTestId(root, "preview-row")
        .filter((row) => row.classList.contains("now"))
        .map((row) => row.dataset.state);

    it("asks for the preview again on a sources event, with the settings as edited (not yet saved)", async () => {
      let now: PreviewNow | null = nothingNow;
      const { app } = mount({ preview_settings: () => previewOf({ now }) });
      panel?.setWorkspaces([acme]);
      await flush();
      expect(shownNow()).toBe("Now: nothing known (no phone, nothing chosen, no source sees anything).");
      typeInto(inputByTestId(root, "lease-minutes"), "45");
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
      expect(app.argsOf("preview_settings")).toHaveLength(2);

      now = inCallNow;
      events.emit("sources", micInUse);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 10);
      expect(app.argsOf("preview_settings")).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(10);
      expect(app.argsOf("preview_settings")).toEqual([
        { settings },
        { settings: { ...settings, lease: 45 } },
        { settings: { ...settings, lease: 45 } },
      ]);
      expect(shownNow()).toBe("Now: In a call (microphone)");
      expect(markedRows()).toEqual(["in_call"]);
      // The edit is still unsaved: only the preview was asked for.
      expect(app.names()).not.toContain("save_workspace_settings");
      expect(byTestId(root, "settings-dirty")?.textContent).toBe("Unsaved changes");
    });

    it("asks for the preview again on a snapshot event", async () => {
      const { app } = mount();
      panel?.setWorkspaces([acme]);
      await flush();
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
      expect(app.argsOf("preview_settings")).toEqual([{ settings }, { settings }]);
    });

    it("asks once for a burst of events", async () => {
      const { app } = mount();
      panel?.setWorkspaces([acme]);
      await flush();
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 50);
      events.emit("sources", micInUse);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 50);
      events.emit("snapshot", snapshot);
      events.emit("sources", micInUse);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 10);
      expect(app.argsOf("preview_settings")).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS * 4);
      expect(app.argsOf("preview_settings")).toEqual([{ settings }, { settings }]);

      // An edit in the same pause as an event is the same request.
      events.emit("sources", micInUse);
      typeInto(inputByTestId(root, "lease-minutes"), "45");
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS * 4);
      expect(app.argsOf("preview_settings")).toEqual([
        { settings },
        { settings },
        { settings: { ...settings, lease: 45 } },
      ]);
    });

    it("does not ask before the settings are loaded: loading asks for the first preview", async () => {
      const { app } = mount();
      panel?.setWorkspaces([acme]);
      events.emit("sources", micInUse);
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS * 2);
      expect(app.argsOf("preview_settings")).toEqual([{ settings }]);
    });

    it("keeps the newer answer when an older one comes after it", async () => {
      const answers: ReturnType<typeof deferred<SettingsPreview>>[] = [];
      const { app } = mount({
        preview_settings: () => {
          if (app.argsOf("preview_settings").length === 1) return previewOf({ now: nothingNow });
          const answer = deferred<SettingsPreview>();
          answers.push(answer);
          return answer.promise;
        },
      });
      panel?.setWorkspaces([acme]);
      await flush();
      events.emit("sources", micInUse);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS);
      expect(answers).toHaveLength(2);
      const [older, newer] = answers;
      newer?.resolve(previewOf({ now: inCallNow }));
      await flush();
      expect(shownNow()).toBe("Now: In a call (microphone)");
      older?.resolve(previewOf({ now: { ...nothingNow, screen_locked: true } }));
      await flush();
      expect(shownNow()).toBe("Now: In a call (microphone)");
      expect(markedRows()).toEqual(["in_call"]);
    });

    it("asks no more once stopped, even for an event still waiting out the pause", async () => {
      const { app } = mount();
      panel?.setWorkspaces([acme]);
      await flush();
      events.emit("sources", micInUse);
      panel?.stop();
      panel = null;
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS * 2);
      events.emit("sources", micInUse);
      events.emit("snapshot", snapshot);
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS * 2);
      expect(app.argsOf("preview_settings")).toEqual([{ settings }]);
    });
  });
});
