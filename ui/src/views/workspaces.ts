import type { Disconnected } from "../bindings/Disconnected";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { clipboardCopy, type Copy } from "../clipboard";
import { clockChoice, DEFAULT_CLOCK, timeOfDay, type ClockChoice, type TimeFormat } from "../clock";
import { button, focusKey, focusLost, focusedKey, h } from "../dom";
import { describeError, type Call } from "../ipc";
import { createSlackGuide } from "./slack-guide";

/**
 * What the "Renews itself" badge explains: when Slack's token expires (Slack's own lifetime for it, not an
 * assumed 12 hours; its time in the `clock` chosen, with the day of the week when it is not today), and that
 * Caret Desktop renews it before then.
 */
export function renewalNote(expiresAt: number | null, clock: TimeFormat, now: Date = new Date()): string {
  if (expiresAt === null) return "Slack's token for this workspace expires; Caret Desktop renews it before then.";
  const at = new Date(expiresAt * 1000);
  const time = timeOfDay(at, clock);
  const when = at.toDateString() === now.toDateString() ? time : `${at.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return `Slack's token for this workspace expires at ${when}; Caret Desktop renews it before then.`;
}

/** What the list of workspaces shows at one moment. */
export interface WorkspaceListState {
  /** Null until the first answer. */
  workspaces: WorkspaceView[] | null;
  /** Why the last load failed (what is shown may be out of date). */
  loadError: string | null;
  /** Workspaces whose security notices are being switched, to the value asked for. */
  pendingNotices?: ReadonlyMap<number, boolean>;
  /** How times are written (24-hour if not given). */
  clock?: TimeFormat;
}

/** What the list's buttons do. */
export interface WorkspaceListActions {
  disconnect: (workspace: WorkspaceView) => void;
  retry: () => void;
  setNotices: (workspace: WorkspaceView, on: boolean) => void;
}

/** The running Slack workspaces section. */
export interface WorkspacesPanel {
  /** Asks for the workspaces again and shows them. */
  refresh: () => Promise<void>;
}

/** The Connect button's label while the token is being checked. */
export const CHECKING_LABEL = "Checking with Slack…";
const CONNECT_LABEL = "Connect";

/** `text` ending with one full stop. */
const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

/**
 * What the missing scopes of a workspace mean (`scope_problems`), then how to add them (`scope_fix`): the app's
 * own words, so the UI never decides which scope serves which feature. Empty when nothing is missing.
 */
export function missingScopeLines(workspace: WorkspaceView): string[] {
  const lines = [...workspace.scope_problems];
  const fix = workspace.scope_fix?.trim();
  if (fix) lines.push(sentence(`To fix it: ${fix}`));
  return lines;
}

/** What the status line says after a workspace is connected. */
export function connectedMessage(workspace: WorkspaceView): string {
  return [`Connected to ${workspace.team} as ${workspace.user}.`, ...missingScopeLines(workspace)].join(" ");
}

/** The question asked before disconnecting. */
export function disconnectQuestion(workspace: WorkspaceView): string {
  return (
    `Disconnect ${workspace.team}? Caret Desktop stops updating your Slack status there, asks Slack to revoke ` +
    "the token and deletes it from the keyring."
  );
}

/** What the status line says after a disconnect, and whether the person should do something about it. */
export function disconnectedMessage(disconnected: Disconnected): [lines: string[], problem: boolean] {
  const done = `Disconnected from ${disconnected.workspace.team}.`;
  const revoke = disconnected.revoke;
  switch (revoke.kind) {
    case "revoked":
      return [[`${done} Slack revoked its token, and it was deleted from the keyring.`], false];
    case "already_dead":
    case "no_token":
      return [[`${done} Its token was deleted from the keyring.`], false];
    case "not_revoked":
      return [
        [
          `${done} Its token was deleted from the keyring, but Slack did not revoke it: ${sentence(revoke.reason)}`,
          "To be sure it no longer works, remove the app in Slack (Settings → Manage apps).",
        ],
        true,
      ];
  }
}

function statusOf(workspace: WorkspaceView): [label: string, kind: string] {
  if (workspace.connected) return ["Connected", "connected"];
  const reason = workspace.disconnect_reason?.trim();
  return [reason ? `Disconnected — ${reason}` : "Disconnected", "disconnected"];
}

/**
 * The line under a connected workspace: what its missing scopes mean and how to add them, and its security
 * notices switch.
 */
function renderMore(
  workspace: WorkspaceView,
  pending: boolean | undefined,
  actions: WorkspaceListActions,
  headerId: string,
): HTMLElement {
  const id = `workspace-${String(workspace.id)}-notices`;
  const notices = h("input", {
    type: "checkbox",
    id,
    "aria-describedby": `${id}-note`,
    "data-focus": `notices:${String(workspace.id)}`,
    "data-testid": "workspace-notices",
  });
  notices.checked = pending ?? workspace.security_notices;
  notices.disabled = pending !== undefined;
  notices.addEventListener("change", () => {
    actions.setNotices(workspace, notices.checked);
  });
  const lines = missingScopeLines(workspace);
  return h(
    "tr",
    { class: "workspace-more", "data-testid": "workspace-more" },
    h(
      "td",
      { colspan: "4", headers: headerId },
      lines.length > 0 &&
        h(
          "div",
          { class: "scope-warning", "data-testid": "scope-warning" },
          h("p", { class: "alert-title" }, "Missing permissions"),
          ...lines.map((line) => h("p", {}, line)),
        ),
      h(
        "div",
        { class: "check" },
        notices,
        h(
          "label",
          { for: id },
          "Security notices by DM",
          h("span", { class: "visually-hidden" }, ` in ${workspace.team}`),
        ),
      ),
      h(
        "p",
        { class: "note", id: `${id}-note` },
        "A direct message to yourself when a phone pairs or this workspace's policy becomes less private.",
      ),
    ),
  );
}

/**
 * The workspaces already connected (or once connected). A connected one has a Disconnect button, a "Renews
 * itself" badge when its token rotates, and a second line with its missing scopes and its security notices box.
 */
export function renderWorkspaceList(state: WorkspaceListState, actions: WorkspaceListActions): HTMLElement {
  const heading = h(
    "h3",
    { id: "workspace-list-title", tabindex: "-1", "data-focus": "workspace-list" },
    "Your workspaces",
  );
  const wrap = (...children: (Node | false)[]) => h("div", { class: "workspace-list" }, heading, ...children);
  const problem =
    state.loadError !== null &&
    h(
      "div",
      { class: "alert", role: "alert" },
      h("p", {}, `Could not load the workspaces: ${state.loadError}`),
      h("div", { class: "actions" }, button("Try again", "retry", actions.retry)),
    );
  if (state.workspaces === null) {
    return wrap(problem || h("p", { class: "empty" }, "Loading…"));
  }
  if (state.workspaces.length === 0) {
    return wrap(problem, h("p", { class: "empty" }, "No workspace connected yet."));
  }
  const column = (label: string) => h("th", { scope: "col" }, label);
  const workspaceRow = (workspace: WorkspaceView) => {
    const [label, kind] = statusOf(workspace);
    const headerId = `workspace-${String(workspace.id)}-name`;
    const row = h(
      "tr",
      { "data-testid": "workspace-row" },
      h("th", { scope: "row", id: headerId }, workspace.team),
      h("td", {}, workspace.user),
      h(
        "td",
        {},
        h("span", { class: `status status-${kind}` }, label),
        workspace.connected && workspace.token_rotates && " ",
        workspace.connected &&
          workspace.token_rotates &&
          h(
            "span",
            {
              class: "badge",
              title: renewalNote(workspace.token_expires_at, state.clock ?? DEFAULT_CLOCK),
              "data-testid": "token-rotates",
            },
            "Renews itself",
          ),
      ),
      h(
        "td",
        {},
        workspace.connected &&
          button(
            "Disconnect",
            `disconnect:${String(workspace.id)}`,
            () => {
              actions.disconnect(workspace);
            },
            {
              class: "danger",
              "data-testid": "workspace-disconnect",
              "aria-label": `Disconnect ${workspace.team}`,
            },
          ),
      ),
    );
    if (!workspace.connected) return [row];
    return [row, renderMore(workspace, state.pendingNotices?.get(workspace.id), actions, headerId)];
  };
  return wrap(
    problem,
    h(
      "table",
      { class: "workspaces-table", "aria-labelledby": "workspace-list-title" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          column("Workspace"),
          column("User"),
          column("Status"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h("tbody", {}, ...state.workspaces.flatMap(workspaceRow)),
    ),
  );
}

/**
 * Shows the "Slack workspaces" section of the Settings window in `container`: the guide to connecting one (see
 * slack-guide.ts: create the Slack app, install it, sign in with Slack or paste a token in the form here), and
 * the workspaces with their security notices switch and a Disconnect button. Loads the list with `workspaces`
 * right away and again after every connect or disconnect.
 *
 * The pasted token is sent once and then cleared from the field, whatever Slack answered, so the secret does not
 * stay in the page. `loaded` hears every list that arrives (the workspace settings follow it). `copy` puts
 * the manifest or the sign-in link on the clipboard. Times (when a token expires) follow `clock`.
 */
export function mountWorkspaces(
  container: HTMLElement,
  call: Call,
  loaded: (workspaces: WorkspaceView[]) => void = () => undefined,
  copy: Copy = clipboardCopy,
  clock: ClockChoice = clockChoice(),
): WorkspacesPanel {
  let workspaces: WorkspaceView[] | null = null;
  let loadError: string | null = null;
  let connecting = false;
  let disconnecting = false;
  /** Security notices being switched: workspace id → the value asked for. */
  const pendingNotices = new Map<number, boolean>();
  let requested = 0;
  let applied = 0;
  let focusNext: string | null = null;

  const input = h("input", {
    id: "workspace-token",
    name: "token",
    type: "password",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    "aria-describedby": "workspace-token-note",
    "data-testid": "workspace-token",
  });
  const connect = h(
    "button",
    { type: "submit", class: "primary", "data-testid": "workspace-connect", disabled: "" },
    CONNECT_LABEL,
  );
  const form = h(
    "form",
    { class: "workspace-form", "aria-label": "Connect a workspace" },
    h("label", { for: "workspace-token" }, "User OAuth Token"),
    h("div", { class: "workspace-form-row" }, input, connect),
    h(
      "p",
      { id: "workspace-token-note", class: "note" },
      "The token is checked with Slack, then kept only in your desktop's keyring; Caret Desktop never writes it " +
        "to a file.",
    ),
  );
  // Both regions are in the page from the start, so what is put in them later is read out.
  const status = h("div", { role: "status", class: "workspace-messages" });
  const alert = h("div", { role: "alert", class: "workspace-messages" });
  const list = h("div", {});

  const sync = (): void => {
    connect.disabled = connecting || input.value.trim() === "";
    connect.textContent = connecting ? CHECKING_LABEL : CONNECT_LABEL;
    input.readOnly = connecting;
    form.setAttribute("aria-busy", String(connecting));
  };

  const say = (kind: "ok" | "error" | null, ...lines: string[]): void => {
    status.replaceChildren();
    alert.replaceChildren();
    if (kind === null) return;
    const message = h(
      "div",
      { class: kind === "ok" ? "message" : "alert", "data-testid": "workspace-message" },
      ...lines.map((line) => h("p", {}, line)),
    );
    (kind === "ok" ? status : alert).append(message);
  };

  const actions: WorkspaceListActions = {
    disconnect: (workspace) => void disconnect(workspace),
    retry: () => {
      focusNext = "workspace-list";
      void refresh();
    },
    setNotices: (workspace, on) => void setNotices(workspace, on),
  };

  const guide = createSlackGuide(call, copy, form, {
    signedIn: (workspace) => {
      say("ok", connectedMessage(workspace));
      void refresh();
    },
    say,
  });

  const render = (): void => {
    const target = focusNext ?? focusedKey(list);
    focusNext = null;
    list.replaceChildren(
      renderWorkspaceList({ workspaces, loadError, pendingNotices, clock: clock.current() }, actions),
    );
    if (target !== null) focusKey(list, target);
  };

  const refresh = async (): Promise<void> => {
    const request = ++requested;
    try {
      const next = await call("workspaces", {});
      if (request < applied) return;
      applied = request;
      workspaces = next;
      loadError = null;
      loaded(next);
      guide.setWorkspaces(next);
    } catch (error) {
      if (request < applied) return;
      applied = request;
      loadError = describeError(error);
    }
    render();
  };

  const submit = async (): Promise<void> => {
    const token = input.value.trim();
    if (connecting || token === "") return;
    connecting = true;
    say(null);
    sync();
    try {
      const workspace = await call("connect_workspace", { token });
      say("ok", connectedMessage(workspace));
    } catch (error) {
      say(
        "error",
        `Could not connect: ${describeError(error)}`,
        "For safety the token was cleared from the field: paste it again to retry.",
      );
    } finally {
      input.value = "";
      connecting = false;
      sync();
      if (focusLost()) input.focus();
    }
    await refresh();
  };

  const disconnect = async (workspace: WorkspaceView): Promise<void> => {
    if (disconnecting) return;
    if (!window.confirm(disconnectQuestion(workspace))) return;
    disconnecting = true;
    say(null);
    try {
      const [lines, problem] = disconnectedMessage(
        await call("disconnect_workspace", { workspaceId: workspace.id }),
      );
      say(problem ? "error" : "ok", ...lines);
      // Its button is gone once the list is drawn again.
      focusNext = "workspace-list";
    } catch (error) {
      say("error", `Could not disconnect ${workspace.team}: ${describeError(error)}`);
    } finally {
      disconnecting = false;
    }
    await refresh();
  };

  const setNotices = async (workspace: WorkspaceView, on: boolean): Promise<void> => {
    if (pendingNotices.has(workspace.id)) return;
    const key = `notices:${String(workspace.id)}`;
    pendingNotices.set(workspace.id, on);
    say(null);
    render();
    try {
      const after = await call("set_security_notices", { workspaceId: workspace.id, on });
      if (workspaces !== null) {
        workspaces = workspaces.map((listed) => (listed.id === after.id ? after : listed));
        loaded(workspaces);
      }
      const state = `Security notices by DM are ${after.security_notices ? "on" : "off"} for ${after.team}`;
      if (after.security_notices && after.scope_problems.length > 0) {
        // The app's own words for what the missing scopes stop (the notices among them) and how to fix it.
        say("error", `${state}.`, ...missingScopeLines(after));
      } else {
        say("ok", `${state}.`);
      }
    } catch (error) {
      const turn = on ? "on" : "off";
      say("error", `Could not turn security notices ${turn} for ${workspace.team}: ${describeError(error)}`);
    } finally {
      pendingNotices.delete(workspace.id);
    }
    // The box was disabled while waiting: the focus goes back to it.
    if (focusLost() || focusedKey(list) === key) focusNext = key;
    render();
  };

  input.addEventListener("input", sync);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });

  container.replaceChildren(
    h(
      "section",
      { class: "workspaces", "aria-labelledby": "workspaces-title" },
      h("h2", { id: "workspaces-title" }, "Slack workspaces"),
      guide.element,
      status,
      alert,
      list,
    ),
  );
  clock.watch(render);
  sync();
  render();
  void refresh();
  return { refresh };
}
