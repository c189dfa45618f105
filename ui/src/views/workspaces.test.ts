import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { byTestId, deferred, fakeApp, settle } from "../test/fake-app";
import {
  CHECKING_LABEL,
  connectedMessage,
  disconnectQuestion,
  mountWorkspaces,
  renderWorkspaceList,
  type WorkspaceListActions,
} from "./workspaces";

const acme: WorkspaceView = {
  id: 1,
  team: "Acme",
  user: "ada",
  connected: true,
  disconnect_reason: null,
  missing_scopes: [],
  policy: { sharing: "default", blocked: null },
  effective_policy: "default",
};

const initech: WorkspaceView = {
  id: 2,
  team: "Initech",
  user: "peter",
  connected: false,
  disconnect_reason: "token revoked",
  missing_scopes: [],
  policy: { sharing: "trusted", blocked: null },
  effective_policy: "trusted",
};

const TOKEN = "xoxp-1111-2222-3333-abcdef";

const rowTexts = (root: ParentNode) =>
  [...root.querySelectorAll('[data-testid="workspace-row"]')].map((tr) =>
    [...tr.querySelectorAll("th, td")].map((cell) => cell.textContent),
  );

describe("connectedMessage", () => {
  it("names the team and the user", () => {
    expect(connectedMessage(acme)).toBe("Connected to Acme as ada.");
  });

  it("says presence is left alone when presence scopes are missing", () => {
    expect(connectedMessage({ ...acme, missing_scopes: ["users:write", "users:read"] })).toBe(
      "Connected to Acme as ada. Presence (away/active) is left alone: the token lacks users:write, users:read.",
    );
  });
});

describe("renderWorkspaceList", () => {
  const noActions: WorkspaceListActions = { disconnect: vi.fn(), retry: vi.fn() };

  it("lists team, user and status, with Disconnect for connected workspaces only", () => {
    const disconnect = vi.fn();
    const list = renderWorkspaceList(
      { workspaces: [acme, initech, { ...initech, id: 3, team: "Globex", disconnect_reason: null }], loadError: null },
      { ...noActions, disconnect },
    );
    const headings = [...list.querySelectorAll("thead th")].map((th) => th.textContent);
    expect(headings).toEqual(["Workspace", "User", "Status", "Actions"]);
    expect(rowTexts(list)).toEqual([
      ["Acme", "ada", "Connected", "Disconnect"],
      ["Initech", "peter", "Disconnected — token revoked", ""],
      ["Globex", "peter", "Disconnected", ""],
    ]);
    const buttons = list.querySelectorAll<HTMLButtonElement>('[data-testid="workspace-disconnect"]');
    expect(buttons).toHaveLength(1);
    expect(buttons[0]?.getAttribute("aria-label")).toBe("Disconnect Acme");
    expect(buttons[0]?.type).toBe("button");
    buttons[0]?.click();
    expect(disconnect).toHaveBeenCalledWith(acme);
  });

  it("says when no workspace is connected", () => {
    const list = renderWorkspaceList({ workspaces: [], loadError: null }, noActions);
    expect(byTestId(list, "workspace-row")).toBeNull();
    expect(list.textContent).toContain("No workspace connected yet.");
  });

  it("shows a failed load in an alert with Try again", () => {
    const retry = vi.fn();
    const list = renderWorkspaceList({ workspaces: null, loadError: "services not started" }, { ...noActions, retry });
    const alert = list.querySelector("[role=alert]");
    expect(alert?.textContent).toContain("Could not load the workspaces: services not started");
    [...list.querySelectorAll("button")].find((button) => button.textContent === "Try again")?.click();
    expect(retry).toHaveBeenCalledOnce();
  });

  it("never turns text from the core into markup", () => {
    const evil = '<img src=x onerror="alert(1)">';
    const list = renderWorkspaceList(
      { workspaces: [{ ...initech, team: evil, user: evil, disconnect_reason: evil }], loadError: null },
      noActions,
    );
    expect(list.querySelector("img")).toBeNull();
    expect(rowTexts(list)[0]?.[0]).toBe(evil);
  });
});

describe("mountWorkspaces", () => {
  let root: HTMLElement;
  let current: WorkspaceView[];
  const workspaces = () => current;

  const input = () => byTestId(root, "workspace-token") as HTMLInputElement;
  const connect = () => byTestId(root, "workspace-connect") as HTMLButtonElement;
  const type = (text: string) => {
    input().value = text;
    input().dispatchEvent(new Event("input", { bubbles: true }));
  };

  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
    current = [];
  });

  afterEach(() => {
    root.remove();
    vi.restoreAllMocks();
  });

  it("shows the guide and a secret-safe, labelled token field, then loads the list", async () => {
    const app = fakeApp({ workspaces });
    mountWorkspaces(root, app.call);
    expect(root.querySelector("#workspaces-title")?.textContent).toBe("Slack workspaces");
    const steps = [...root.querySelectorAll("ol li")].map((li) => li.textContent);
    expect(steps).toEqual([
      "Create a Slack app for your workspace, with the user token scopes users.profile:write, users.profile:read, " +
        "users:write and users:read.",
      "Install it to your workspace.",
      "Copy the User OAuth Token (it starts with xoxp-) from OAuth & Permissions and paste it here.",
    ]);
    expect(root.textContent).toContain(
      "The token is checked with Slack, then kept only in your desktop's keyring; Caret Desktop never writes it to " +
        "a file.",
    );

    const field = input();
    expect(field.type).toBe("password");
    expect(field.getAttribute("autocomplete")).toBe("off");
    expect(field.getAttribute("spellcheck")).toBe("false");
    expect(field.labels?.[0]?.textContent).toBe("User OAuth Token");
    expect(field.getAttribute("aria-describedby")).toBe("workspace-token-note");
    expect(connect().type).toBe("submit");
    expect(connect().form).not.toBeNull();

    expect(root.textContent).toContain("Loading…");
    await settle();
    expect(app.calls).toEqual([["workspaces", {}]]);
    expect(root.textContent).toContain("No workspace connected yet.");
    expect(root.textContent).not.toContain("Loading…");
  });

  it("passes every list it loads on", async () => {
    current = [acme, initech];
    const loaded = vi.fn();
    mountWorkspaces(root, fakeApp({ workspaces }).call, loaded);
    await settle();
    expect(loaded).toHaveBeenCalledWith([acme, initech]);
  });

  it("lists the workspaces it loads", async () => {
    current = [acme, initech];
    mountWorkspaces(root, fakeApp({ workspaces }).call);
    await settle();
    expect(rowTexts(root)).toEqual([
      ["Acme", "ada", "Connected", "Disconnect"],
      ["Initech", "peter", "Disconnected — token revoked", ""],
    ]);
    expect(root.textContent).not.toContain("No workspace connected yet.");
  });

  it("keeps Connect disabled while the field is empty or blank", async () => {
    const app = fakeApp({ workspaces });
    mountWorkspaces(root, app.call);
    await settle();
    expect(connect().disabled).toBe(true);
    type("   ");
    expect(connect().disabled).toBe(true);
    connect().closest("form")?.requestSubmit();
    type(TOKEN);
    expect(connect().disabled).toBe(false);
    type("");
    expect(connect().disabled).toBe(true);
    connect().click();
    await settle();
    expect(app.names()).toEqual(["workspaces"]);
  });

  it("connects: checking with Slack, then the field is cleared, the result said and the list refreshed", async () => {
    const answer = deferred<WorkspaceView>();
    const connectWorkspace = vi.fn((): Promise<WorkspaceView> => answer.promise);
    const app = fakeApp({ workspaces, connect_workspace: connectWorkspace });
    mountWorkspaces(root, app.call);
    await settle();

    type(`  ${TOKEN}\n`);
    connect().click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["connect_workspace", { token: TOKEN }]);
    expect(connect().disabled).toBe(true);
    expect(connect().textContent).toBe(CHECKING_LABEL);
    expect(input().readOnly).toBe(true);
    expect(connect().closest("form")?.getAttribute("aria-busy")).toBe("true");

    // A second press (or Enter) while waiting sends nothing more.
    connect().closest("form")?.requestSubmit();
    await settle();
    expect(connectWorkspace).toHaveBeenCalledOnce();

    current = [acme];
    answer.resolve(acme);
    await settle();
    expect(input().value).toBe("");
    expect(input().readOnly).toBe(false);
    expect(connect().textContent).toBe("Connect");
    expect(connect().disabled).toBe(true);
    const message = byTestId(root, "workspace-message");
    expect(message?.textContent).toBe("Connected to Acme as ada.");
    expect(message?.closest("[role=status]")).not.toBeNull();
    expect(root.querySelector("[role=alert]")?.textContent).toBe("");
    expect(app.names()).toEqual(["workspaces", "connect_workspace", "workspaces"]);
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Connected", "Disconnect"]]);
    // The button that had the focus was disabled while waiting: the focus goes back to the field.
    expect(document.activeElement).toBe(input());
  });

  it("says presence is left alone when the token lacks presence scopes", async () => {
    const partial = { ...acme, missing_scopes: ["users:write", "users:read"] };
    const app = fakeApp({ workspaces, connect_workspace: () => partial });
    mountWorkspaces(root, app.call);
    await settle();
    type(TOKEN);
    connect().click();
    await settle();
    expect(byTestId(root, "workspace-message")?.textContent).toBe(
      "Connected to Acme as ada. Presence (away/active) is left alone: the token lacks users:write, users:read.",
    );
    expect(input().value).toBe("");
  });

  it("shows a refused token in an alert and clears the field anyway", async () => {
    const app = fakeApp({
      workspaces,
      connect_workspace: () => {
        // The shell rejects with a plain {code, message}, not an Error.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "refused", message: "that is not a Slack User OAuth Token: it starts with xoxp-" };
      },
    });
    mountWorkspaces(root, app.call);
    await settle();
    type("xoxb-bot-token");
    input().focus();
    connect().closest("form")?.requestSubmit();
    await settle();

    const message = byTestId(root, "workspace-message");
    expect(message?.closest("[role=alert]")).not.toBeNull();
    expect(message?.textContent).toContain("that is not a Slack User OAuth Token: it starts with xoxp-");
    expect(message?.textContent).toContain("the token was cleared from the field");
    expect(root.querySelector("[role=status]")?.textContent).toBe("");
    expect(input().value).toBe("");
    expect(input().readOnly).toBe(false);
    expect(connect().textContent).toBe("Connect");
    expect(connect().disabled).toBe(true);
    expect(document.activeElement).toBe(input());
    expect(app.calls).toEqual([
      ["workspaces", {}],
      ["connect_workspace", { token: "xoxb-bot-token" }],
      ["workspaces", {}],
    ]);

    // Trying again clears the old message.
    type(TOKEN);
    connect().click();
    expect(byTestId(root, "workspace-message")).toBeNull();
    await settle();
    expect(byTestId(root, "workspace-message")?.closest("[role=alert]")).not.toBeNull();
  });

  it("disconnects only once the person confirms, then refreshes", async () => {
    current = [acme];
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    const app = fakeApp({
      workspaces,
      disconnect_workspace: ({ workspaceId }) => {
        const after = { ...acme, connected: false, disconnect_reason: "disconnected by you" };
        current = current.map((w) => (w.id === workspaceId ? after : w));
        return after;
      },
    });
    mountWorkspaces(root, app.call);
    await settle();

    byTestId(root, "workspace-disconnect")?.click();
    await settle();
    expect(confirm).toHaveBeenCalledOnce();
    expect(confirm.mock.calls[0]?.[0]).toBe(
      "Disconnect Acme? Caret Desktop stops updating your Slack status there and deletes the token from the keyring.",
    );
    expect(confirm.mock.calls[0]?.[0]).toBe(disconnectQuestion(acme));
    expect(app.names()).toEqual(["workspaces"]);
    expect(byTestId(root, "workspace-disconnect")).not.toBeNull();

    byTestId(root, "workspace-disconnect")?.click();
    await settle();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(app.calls.slice(1)).toEqual([
      ["disconnect_workspace", { workspaceId: 1 }],
      ["workspaces", {}],
    ]);
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Disconnected — disconnected by you", ""]]);
    expect(byTestId(root, "workspace-disconnect")).toBeNull();
    expect(byTestId(root, "workspace-message")?.textContent).toBe("Disconnected from Acme.");
    expect(document.activeElement).toBe(root.querySelector("#workspace-list-title"));
  });

  it("shows a failed disconnect in an alert", async () => {
    current = [acme];
    vi.spyOn(window, "confirm").mockReturnValue(true);
    const app = fakeApp({
      workspaces,
      disconnect_workspace: () => {
        throw new Error("the keyring is locked");
      },
    });
    mountWorkspaces(root, app.call);
    await settle();
    byTestId(root, "workspace-disconnect")?.click();
    await settle();
    const message = byTestId(root, "workspace-message");
    expect(message?.closest("[role=alert]")).not.toBeNull();
    expect(message?.textContent).toBe("Could not disconnect Acme: the keyring is locked");
    expect(app.names()).toEqual(["workspaces", "disconnect_workspace", "workspaces"]);
    expect(byTestId(root, "workspace-disconnect")).not.toBeNull();
  });

  it("shows why the list could not load, and loads it again on Try again", async () => {
    let fail = true;
    const app = fakeApp({
      workspaces: () => {
        if (fail) throw new Error("services not started");
        return [acme];
      },
    });
    mountWorkspaces(root, app.call);
    await settle();
    expect(root.querySelector(".workspace-list [role=alert]")?.textContent).toContain("services not started");
    // The form still works without the list.
    expect(input()).not.toBeNull();

    fail = false;
    [...root.querySelectorAll("button")].find((button) => button.textContent === "Try again")?.click();
    await settle();
    expect(app.names()).toEqual(["workspaces", "workspaces"]);
    expect(root.querySelector(".workspace-list [role=alert]")).toBeNull();
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Connected", "Disconnect"]]);
  });
});
