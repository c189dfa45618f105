import type { WorkspaceView } from "../bindings/WorkspaceView";
import { button, focusKey, focusedKey, h } from "../dom";
import { describeError, type Call } from "../ipc";

/** What the list of workspaces shows at one moment. */
export interface WorkspaceListState {
  /** Null until the first answer. */
  workspaces: WorkspaceView[] | null;
  /** Why the last load failed (what is shown may be out of date). */
  loadError: string | null;
}

/** What the list's buttons do. */
export interface WorkspaceListActions {
  disconnect: (workspace: WorkspaceView) => void;
  retry: () => void;
}

/** The running Slack workspaces section. */
export interface WorkspacesPanel {
  /** Asks for the workspaces again and shows them. */
  refresh: () => Promise<void>;
}

/** The Connect button's label while the token is being checked. */
export const CHECKING_LABEL = "Checking with Slack…";
const CONNECT_LABEL = "Connect";

/** What the status line says after a workspace is connected. */
export function connectedMessage(workspace: WorkspaceView): string {
  const connected = `Connected to ${workspace.team} as ${workspace.user}.`;
  if (workspace.missing_scopes.length === 0) return connected;
  return `${connected} Presence (away/active) is left alone: the token lacks ${workspace.missing_scopes.join(", ")}.`;
}

/** The question asked before disconnecting. */
export function disconnectQuestion(workspace: WorkspaceView): string {
  return (
    `Disconnect ${workspace.team}? Caret Desktop stops updating your Slack status there and deletes the token ` +
    "from the keyring."
  );
}

function statusOf(workspace: WorkspaceView): [label: string, kind: string] {
  if (workspace.connected) return ["Connected", "connected"];
  const reason = workspace.disconnect_reason?.trim();
  return [reason ? `Disconnected — ${reason}` : "Disconnected", "disconnected"];
}

function renderGuide(): HTMLElement {
  const code = (text: string) => h("code", {}, text);
  return h(
    "div",
    { class: "guide" },
    h(
      "ol",
      {},
      h(
        "li",
        {},
        "Create a Slack app for your workspace, with the user token scopes ",
        code("users.profile:write"),
        ", ",
        code("users.profile:read"),
        ", ",
        code("users:write"),
        " and ",
        code("users:read"),
        ".",
      ),
      h("li", {}, "Install it to your workspace."),
      h(
        "li",
        {},
        "Copy the User OAuth Token (it starts with ",
        code("xoxp-"),
        ") from OAuth & Permissions and paste it here.",
      ),
    ),
    h(
      "p",
      { id: "workspace-token-note", class: "note" },
      "The token is checked with Slack, then kept only in your desktop's keyring; Caret Desktop never writes it " +
        "to a file.",
    ),
  );
}

/** The workspaces already connected (or once connected), with a Disconnect button for the connected ones. */
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
    return h(
      "tr",
      { "data-testid": "workspace-row" },
      h("th", { scope: "row" }, workspace.team),
      h("td", {}, workspace.user),
      h("td", {}, h("span", { class: `status status-${kind}` }, label)),
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
      h("tbody", {}, ...state.workspaces.map(workspaceRow)),
    ),
  );
}




/** Whether the focus is nowhere in particular (a button that held it was disabled or removed). */
function focusLost(): boolean {
  const active = document.activeElement;
  return active === null || active === document.body;
}

/**
 * Shows the "Slack workspaces" section of the Settings window in `container`: how to get a token, a form to
 * connect with it, and the workspaces with a Disconnect button. Loads the list with `workspaces` right away and
 * again after every connect or disconnect.
 *
 * The pasted token is sent once and then cleared from the field, whatever Slack answered, so the secret does not
 * stay in the page. `loaded` hears every list that arrives (the workspace settings below follow it).
 */
export function mountWorkspaces(
  container: HTMLElement,
  call: Call,
  loaded: (workspaces: WorkspaceView[]) => void = () => undefined,
): WorkspacesPanel {
  let workspaces: WorkspaceView[] | null = null;
  let loadError: string | null = null;
  let connecting = false;
  let disconnecting = false;
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
  };

  const render = (): void => {
    const target = focusNext ?? focusedKey(list);
    focusNext = null;
    list.replaceChildren(renderWorkspaceList({ workspaces, loadError }, actions));
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
      const after = await call("disconnect_workspace", { workspaceId: workspace.id });
      say("ok", `Disconnected from ${after.team}.`);
      // Its button is gone once the list is drawn again.
      focusNext = "workspace-list";
    } catch (error) {
      say("error", `Could not disconnect ${workspace.team}: ${describeError(error)}`);
    } finally {
      disconnecting = false;
    }
    await refresh();
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
      renderGuide(),
      form,
      status,
      alert,
      list,
    ),
  );
  sync();
  render();
  void refresh();
  return { refresh };
}
