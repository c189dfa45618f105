import type { Policy } from "../bindings/Policy";
import type { PolicyChoice } from "../bindings/PolicyChoice";
import type { PolicySetting } from "../bindings/PolicySetting";
import type { SettingsPreview } from "../bindings/SettingsPreview";
import type { Snapshot } from "../bindings/Snapshot";
import type { TemplateCatalog } from "../bindings/TemplateCatalog";
import type { WorkspaceSettings } from "../bindings/WorkspaceSettings";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { clockChoice, type ClockChoice, type TimeFormat } from "../clock";
import { h } from "../dom";
import { describeError, isCommandError, subscribe, type Call, type OnEvent } from "../ipc";
import { settingsKey } from "../templates";
import { createPolicyControl, effectiveOf, expectedPolicy, isApplied } from "./policy";
import { renderPreview } from "./preview";
import { createSettingsForm } from "./workspace-form";

/** How long the preview waits after a keystroke (or a change of state the app reports) before asking again. */
export const PREVIEW_DEBOUNCE_MS = 150;
/** How long the save bar stays in view with "Saved." before going back to the end of the form. */
export const SAVED_SHOWN_MS = 3000;

/** The running "Workspace settings" section. */
export interface WorkspaceSettingsPanel {
  /** The workspaces as last listed (connected or not): called by the Slack workspaces section. */
  setWorkspaces: (workspaces: WorkspaceView[]) => void;
  /** Stops listening and drops timers (the window is going away). */
  stop: () => void;
}

export interface WorkspaceSettingsOptions {
  /** Called when a snapshot shows workspaces connected or disconnected elsewhere (the list needs a refresh). */
  onStale?: () => void;
  /** How the window writes times (the end of a block), as the person chose; 24-hour if not given. */
  clock?: ClockChoice;
}

/** The editor of one workspace's settings. */
interface Editor {
  workspaceId: number;
  element: HTMLElement;
  setPolicy: (policy: PolicySetting, effective: Policy) => void;
  setClock: (clock: TimeFormat) => void;
  hasChanges: () => boolean;
  /**
   * What speaks now may have changed (a phone reported, a microphone started, the screen locked): asks for the
   * preview again, with the settings as edited, once the events pause. Nothing before the settings are loaded
   * (loading asks for the first preview).
   */
  refreshPreview: () => void;
  destroy: () => void;
}

/** A workspace as the selector names it. */
function workspaceName(workspace: WorkspaceView): string {
  return `${workspace.team} (${workspace.user})`;
}

/** The settings to send: the form as edited, with the policy the workspace has now (saving keeps it anyway). */
function withPolicy(settings: WorkspaceSettings, policy: PolicySetting): WorkspaceSettings {
  return { ...settings, policy };
}

/** What an editor needs from the section around it. */
interface EditorContext {
  call: Call;
  /** The template catalog, asked for once per section (again only after a failure). */
  catalog: () => Promise<TemplateCatalog>;
  refreshPolicies: () => Promise<void>;
  /** How times are written when the editor opens. */
  clock: TimeFormat;
}

function createEditor(workspace: WorkspaceView, { call, catalog, refreshPolicies, clock }: EditorContext): Editor {
  const prefix = `ws-${String(workspace.id)}`;
  let policy = workspace.policy;
  let effective = workspace.effective_policy;
  let confirmed: [PolicySetting, Policy] = [policy, effective];
  let baseline: WorkspaceSettings | null = null;
  let draft: WorkspaceSettings | null = null;
  let valid = true;
  let preview: SettingsPreview | null = null;
  let previewError: string | null = null;
  let compare = false;
  let previewTimer: number | undefined;
  let previewRequested = 0;
  let saving = false;
  let destroyed = false;
  let policyBusy = false;
  let queuedChoice: PolicyChoice | null = null;
  // Read through functions after an await, where a closure may have changed them.
  const isDestroyed = () => destroyed;
  const isPolicyBusy = () => policyBusy;

  const policyControl = createPolicyControl(prefix, (choice) => {
    void choosePolicy(choice);
  });
  policyControl.setClock(clock);
  policyControl.update(policy, effective);

  // Preview
  const compareBox = h("input", { type: "checkbox", id: `${prefix}-compare`, "data-testid": "preview-compare" });
  const previewBody = h("div", { "aria-live": "off" });
  const previewSection = h(
    "section",
    { class: "preview-panel", "aria-labelledby": `${prefix}-preview-title` },
    h(
      "div",
      { class: "preview-heading" },
      h("h3", { id: `${prefix}-preview-title` }, "What Slack will show"),
      h("div", { class: "check" }, compareBox, h("label", { for: `${prefix}-compare` }, "Compare all policies")),
    ),
    h(
      "p",
      { class: "note" },
      "For each state your phone can report, with the settings below as you edit them (not yet saved).",
    ),
    previewBody,
  );
  const drawPreview = () => {
    previewBody.replaceChildren(renderPreview({ preview, policy: effective, compare, error: previewError }));
  };
  compareBox.addEventListener("change", () => {
    compare = compareBox.checked;
    drawPreview();
  });

  const requestPreview = async (): Promise<void> => {
    if (draft === null) return;
    const request = ++previewRequested;
    try {
      const answer = await call("preview_settings", { settings: withPolicy(draft, policy) });
      if (destroyed || request !== previewRequested) return;
      preview = answer;
      previewError = null;
    } catch (error) {
      if (destroyed || request !== previewRequested) return;
      previewError = describeError(error);
    }
    drawPreview();
  };
  const schedulePreview = () => {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(() => void requestPreview(), PREVIEW_DEBOUNCE_MS);
  };

  // Form and saving
  const formHolder = h("div", {}, h("p", { class: "empty" }, "Loading the settings…"));
  const save = h(
    "button",
    { type: "submit", class: "primary", "data-testid": "settings-save", disabled: "" },
    "Save",
  );
  const discard = h("button", { type: "button", "data-testid": "settings-discard", disabled: "" }, "Discard changes");
  const dirtyNote = h("span", { class: "dirty-note", "data-testid": "settings-dirty" });
  const savedMessage = h("div", { role: "status", class: "form-messages" });
  const saveError = h("div", { role: "alert", class: "form-messages" });
  // What saving said is in the bar, beside Save, wherever the bar is.
  const bar = h(
    "div",
    { class: "save-bar", "data-testid": "settings-save-bar" },
    save,
    discard,
    dirtyNote,
    savedMessage,
    saveError,
  );
  const form = h(
    "form",
    { class: "workspace-settings-form", "aria-labelledby": `${prefix}-form-title`, novalidate: "" },
    h("h3", { id: `${prefix}-form-title` }, "Status settings"),
    formHolder,
    bar,
  );
  /** "Saved." was just said: the bar stays in view a moment (SAVED_SHOWN_MS) to say it. */
  let savedShown = false;
  let savedTimer: number | undefined;
  const forgetSaved = () => {
    window.clearTimeout(savedTimer);
    savedShown = false;
  };

  const hasChanges = () =>
    draft !== null && baseline !== null && (!valid || settingsKey(draft) !== settingsKey(baseline));
  const syncSaveBar = () => {
    const changed = hasChanges();
    save.disabled = saving || draft === null || !changed;
    discard.disabled = saving || !changed;
    save.textContent = saving ? "Saving…" : "Save";
    dirtyNote.textContent = changed ? "Unsaved changes" : "";
    form.setAttribute("aria-busy", String(saving));
    // The bar floats at the bottom of the window only while there is something to save (or just saved); at
    // rest it ends the form and covers nothing.
    const floating = changed || saving || savedShown;
    if (floating === bar.classList.contains("floating")) return;
    bar.classList.toggle("floating", floating);
    // It now covers the bottom of the window (which the page reserves for it, see styles.css): the field being
    // edited must not stay under it.
    const focused = document.activeElement;
    if (floating && focused instanceof HTMLElement && form.contains(focused) && !bar.contains(focused)) {
      if (typeof focused.scrollIntoView === "function") focused.scrollIntoView({ block: "nearest" });
    }
  };

  let settingsForm: ReturnType<typeof createSettingsForm> | null = null;
  const load = async (): Promise<void> => {
    formHolder.replaceChildren(h("p", { class: "empty" }, "Loading the settings…"));
    try {
      const [templates, loaded] = await Promise.all([
        catalog(),
        call("workspace_settings", { workspaceId: workspace.id }),
      ]);
      if (destroyed) return;
      baseline = loaded;
      draft = loaded;
      valid = true;
      settingsForm = createSettingsForm(prefix, templates, loaded, (settings, isValid) => {
        draft = settings;
        valid = isValid;
        savedMessage.replaceChildren();
        forgetSaved();
        syncSaveBar();
        schedulePreview();
      });
      formHolder.replaceChildren(settingsForm.element);
      syncSaveBar();
      void requestPreview();
    } catch (error) {
      if (destroyed) return;
      const retry = h("button", { type: "button" }, "Try again");
      retry.addEventListener("click", () => void load());
      formHolder.replaceChildren(
        h(
          "div",
          { class: "alert", role: "alert" },
          h("p", {}, `Could not load the settings of ${workspace.team}: ${describeError(error)}`),
          h("div", { class: "actions" }, retry),
        ),
      );
      previewError = "the settings are not loaded";
      drawPreview();
    }
  };

  const submit = async (): Promise<void> => {
    if (saving || draft === null) return;
    savedMessage.replaceChildren();
    saveError.replaceChildren();
    forgetSaved();
    if (!valid) {
      saveError.append(h("p", { class: "alert" }, "Not saved: correct the field marked above first."));
      return;
    }
    saving = true;
    syncSaveBar();
    const sent = draft;
    try {
      const after = await call("save_workspace_settings", {
        workspaceId: workspace.id,
        settings: withPolicy(sent, policy),
      });
      if (destroyed) return;
      baseline = sent;
      setPolicy(after.policy, after.effective_policy);
      savedMessage.append(h("p", { class: "message", "data-testid": "settings-message" }, "Saved."));
      savedShown = true;
      savedTimer = window.setTimeout(() => {
        savedShown = false;
        syncSaveBar();
      }, SAVED_SHOWN_MS);
    } catch (error) {
      if (destroyed) return;
      const reason = describeError(error);
      const text =
        isCommandError(error) && error.code === "invalid_settings"
          ? `Not saved: ${reason}`
          : `Could not save: ${reason}`;
      saveError.append(h("p", { class: "alert", "data-testid": "settings-message" }, text));
    } finally {
      saving = false;
      if (!destroyed) syncSaveBar();
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });
  discard.addEventListener("click", () => {
    if (baseline === null || settingsForm === null) return;
    draft = baseline;
    valid = true;
    settingsForm.set(baseline);
    savedMessage.replaceChildren();
    saveError.replaceChildren();
    forgetSaved();
    syncSaveBar();
    void requestPreview();
    save.focus();
  });

  // Policy
  /** Shows a policy without taking it as the truth (an expected one, before the app confirms it). */
  const showPolicy = (shown: PolicySetting, shownEffective: Policy) => {
    policy = shown;
    effective = shownEffective;
    policyControl.update(policy, effective);
    drawPreview();
  };
  /** The policy as the app reports it. */
  const setPolicy = (next: PolicySetting, nextEffective: Policy) => {
    confirmed = [next, nextEffective];
    showPolicy(next, nextEffective);
  };

  const choosePolicy = async (choice: PolicyChoice): Promise<void> => {
    const now = Date.now();
    const expected = expectedPolicy(policy, choice, now);
    showPolicy(expected, effectiveOf(expected, now));
    policyControl.setError(null);
    // One change at a time; the last one asked for while waiting wins.
    queuedChoice = choice;
    if (policyBusy) return;
    policyBusy = true;
    let last: PolicyChoice | null = null;
    let failure: string | null = null;
    while (queuedChoice !== null && !destroyed) {
      last = queuedChoice;
      queuedChoice = null;
      try {
        await call("perform", { action: { type: "set_policy", workspace: workspace.id, choice: last } });
        failure = null;
      } catch (error) {
        failure = describeError(error);
      }
    }
    policyBusy = false;
    if (destroyed || last === null) return;
    // The app carries actions out without answering: the list says what really happened.
    try {
      await refreshPolicies();
    } catch {
      if (failure !== null && !isDestroyed()) showPolicy(...confirmed);
    }
    // Gone, or another change started meanwhile: that one reports for itself.
    if (isDestroyed() || isPolicyBusy()) return;
    if (failure !== null) {
      policyControl.setError(`Could not change the policy of ${workspace.team}: ${failure}`);
    } else if (!isApplied(policy, last)) {
      policyControl.setError(`The policy of ${workspace.team} did not change. The sync log may say why.`);
    }
  };

  // The policy beside its preview (one column when the window is narrow), then the form: choosing a policy
  // and seeing what Slack will show happen in one view.
  const element = h(
    "div",
    { class: "workspace-editor", "data-workspace": String(workspace.id) },
    h("div", { class: "editor-columns" }, policyControl.element, previewSection),
    form,
  );
  drawPreview();
  void load();

  return {
    workspaceId: workspace.id,
    element,
    setPolicy,
    setClock: policyControl.setClock,
    hasChanges,
    refreshPreview: () => {
      if (destroyed || draft === null) return;
      schedulePreview();
    },
    destroy: () => {
      destroyed = true;
      window.clearTimeout(previewTimer);
      window.clearTimeout(savedTimer);
    },
  };
}

/**
 * The "Workspace settings" section of the Settings window: for the chosen connected workspace, its policy
 * (applied at once), a live preview of what Slack shows, and the form of its status settings. It follows
 * `snapshot` events so a policy changed from the tray shows here too, `snapshot` and `sources` events so the
 * preview's "Now" line follows what speaks now, and `options.clock` for how to write the end of a block.
 */
export function mountWorkspaceSettings(
  container: HTMLElement,
  call: Call,
  onEvent: OnEvent,
  options: WorkspaceSettingsOptions = {},
): WorkspaceSettingsPanel {
  let workspaces: WorkspaceView[] | null = null;
  let editor: Editor | null = null;
  let stopped = false;
  /** A snapshot that came before the first list. */
  let early: Snapshot | null = null;
  const clock = options.clock ?? clockChoice();

  const chooser = h("div", { class: "workspace-chooser" });
  const body = h("div", {}, h("p", { class: "empty" }, "Loading the workspaces…"));
  const select = h("select", { id: "workspace-settings-select", "data-testid": "workspace-settings-select" });

  /** The template catalog: the same for every workspace, so asked for once; a failure is asked again on retry. */
  let catalogLoad: Promise<TemplateCatalog> | null = null;
  const catalog = (): Promise<TemplateCatalog> => {
    catalogLoad ??= call("template_catalog", {}).catch((error: unknown) => {
      catalogLoad = null;
      throw error;
    });
    return catalogLoad;
  };
  // Asked for at once, alongside the workspaces; an editor that opens shows a failure (and can try again).
  catalog().catch(() => undefined);

  const connected = () => (workspaces ?? []).filter((workspace) => workspace.connected);

  const open = (workspace: WorkspaceView | null) => {
    editor?.destroy();
    editor =
      workspace === null
        ? null
        : createEditor(workspace, { call, catalog, refreshPolicies, clock: clock.current() });
    body.replaceChildren(
      editor?.element ??
        h(
          "p",
          { class: "empty", "data-testid": "workspace-settings-empty" },
          "Connect a workspace above to choose what it shows.",
        ),
    );
  };

  const drawChooser = () => {
    const list = connected();
    if (list.length <= 1) {
      const only = list[0];
      chooser.replaceChildren(
        only === undefined ? "" : h("p", { class: "lede" }, `For ${only.team}, signed in as ${only.user}.`),
      );
      return;
    }
    select.replaceChildren(
      ...list.map((workspace) => h("option", { value: String(workspace.id) }, workspaceName(workspace))),
    );
    if (editor !== null) select.value = String(editor.workspaceId);
    chooser.replaceChildren(h("label", { for: "workspace-settings-select" }, "Workspace"), select);
  };

  select.addEventListener("change", () => {
    const chosen = connected().find((workspace) => String(workspace.id) === select.value);
    if (chosen === undefined || chosen.id === editor?.workspaceId) return;
    if (editor?.hasChanges()) {
      const current = connected().find((workspace) => workspace.id === editor?.workspaceId);
      const name = current?.team ?? "this workspace";
      if (!window.confirm(`Discard the unsaved changes to ${name}?`)) {
        select.value = String(editor.workspaceId);
        return;
      }
    }
    open(chosen);
  });

  const setWorkspaces = (next: WorkspaceView[]) => {
    if (stopped) return;
    workspaces = next;
    if (early !== null) {
      const snapshot = early;
      early = null;
      applySnapshot(snapshot, next);
    }
    const list = connected();
    const current = list.find((workspace) => workspace.id === editor?.workspaceId);
    if (current === undefined) open(list[0] ?? null);
    else editor?.setPolicy(current.policy, current.effective_policy);
    drawChooser();
  };

  /** Asks for the workspaces again, for their policies (after a policy change, which has no answer). */
  async function refreshPolicies(): Promise<void> {
    const next = await call("workspaces", {});
    setWorkspaces(next);
  }

  /**
   * Takes the policies a snapshot reports, and says whether it shows the list is out of date: a workspace
   * connected that the list does not have as connected, or the other way round. Each snapshot asks at most once.
   */
  const applySnapshot = (snapshot: Snapshot, list: WorkspaceView[]) => {
    const lines = new Map(snapshot.workspaces.map((line) => [line.id, line]));
    const listed = new Map(list.map((workspace) => [workspace.id, workspace]));
    const stale =
      snapshot.workspaces.some((line) => line.connected && listed.get(line.id)?.connected !== true) ||
      list.some((workspace) => workspace.connected && lines.get(workspace.id)?.connected === false);
    workspaces = list.map((workspace) => {
      const line = lines.get(workspace.id);
      if (line === undefined) return workspace;
      return { ...workspace, policy: line.policy, effective_policy: line.effective_policy };
    });
    const current = workspaces.find((workspace) => workspace.id === editor?.workspaceId);
    if (current !== undefined) editor?.setPolicy(current.policy, current.effective_policy);
    if (stale) options.onStale?.();
  };

  const onSnapshot = (snapshot: Snapshot) => {
    if (workspaces === null) {
      // Compared with the list once it arrives (a workspace may have been added in between).
      early = snapshot;
      return;
    }
    applySnapshot(snapshot, workspaces);
    // What speaks now may have changed too (a phone reported, the state moved on).
    editor?.refreshPreview();
  };
  const unlisten = subscribe(onEvent, "snapshot", onSnapshot);
  // A microphone, the screen lock or the working day changed: the preview's "Now" may have too.
  const stopSources = subscribe(onEvent, "sources", () => {
    editor?.refreshPreview();
  });
  const stopClock = clock.watch((next) => {
    editor?.setClock(next);
  });

  container.replaceChildren(
    h(
      "section",
      { class: "workspace-settings", "aria-labelledby": "workspace-settings-title" },
      h(
        "div",
        { class: "workspace-settings-heading" },
        h("h2", { id: "workspace-settings-title" }, "Workspace settings"),
        chooser,
      ),
      body,
    ),
  );

  return {
    setWorkspaces,
    stop: () => {
      stopped = true;
      unlisten();
      stopSources();
      stopClock();
      editor?.destroy();
    },
  };
}
