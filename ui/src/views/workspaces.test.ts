import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import { clockChoice } from "../clock";
import { allByTestId, byTestId, deferred, fakeApp, settle, type Handlers } from "../test/fake-app";
import { acme, globex, initech, presenceless, slackAppSetup } from "../test/fixtures";
import {
  CHECKING_LABEL,
  connectedMessage,
  disconnectedMessage,
  disconnectQuestion,
  missingScopeLines,
  mountWorkspaces,
  renderWorkspaceList,
  type WorkspaceListActions,
  renewalNote,
} from "./workspaces";

const TOKEN = "xoxp-1111-2222-3333-abcdef";

const rowTexts = (root: ParentNode) =>
  [...root.querySelectorAll('[data-testid="workspace-row"]')].map((tr) =>
    [...tr.querySelectorAll("th, td")].map((cell) => cell.textContent),
  );

const FIX = presenceless.scope_fix ?? "";

describe("missingScopeLines", () => {
  it("is empty when nothing is missing", () => {
    expect(missingScopeLines(acme)).toEqual([]);
  });

  it("says presence is left alone, then gives the app's fix as it words it", () => {
    expect(missingScopeLines(presenceless)).toEqual([
      "Presence (away/active) is left alone: the token lacks users:write, users:read.",
      `To fix it: ${FIX}.`,
    ]);
  });

  it("shows the app's words for each missing scope, then its fix", () => {
    const lacking = {
      ...acme,
      missing_scopes: ["users:read", "chat:write"],
      scope_problems: [
        "Presence (away/active) is left alone: the token lacks users:read.",
        "Security notices cannot be sent: the token lacks chat:write.",
      ],
      scope_fix: "add them in Slack, then connect again.",
    };
    expect(missingScopeLines(lacking)).toEqual([
      "Presence (away/active) is left alone: the token lacks users:read.",
      "Security notices cannot be sent: the token lacks chat:write.",
      "To fix it: add them in Slack, then connect again.",
    ]);
  });

  it("lists the problems even without a fix", () => {
    const problem = "Security notices cannot be sent: the token lacks chat:write.";
    expect(
      missingScopeLines({ ...acme, missing_scopes: ["chat:write"], scope_problems: [problem] }),
    ).toEqual([problem]);
  });

  it("says nothing when nothing is missing", () => {
    expect(missingScopeLines(acme)).toEqual([]);
  });
});

describe("disconnectedMessage", () => {
  const workspace = { ...acme, connected: false };

  it("says Slack revoked the token", () => {
    expect(disconnectedMessage({ workspace, revoke: { kind: "revoked" } })).toEqual([
      ["Disconnected from Acme. Slack revoked its token, and it was deleted from the keyring."],
      false,
    ]);
  });

  it("says the token was deleted when Slack had nothing to revoke", () => {
    for (const kind of ["already_dead", "no_token"] as const) {
      expect(disconnectedMessage({ workspace, revoke: { kind } })).toEqual([
        ["Disconnected from Acme. Its token was deleted from the keyring."],
        false,
      ]);
    }
  });

  it("says why Slack did not revoke it, and how to be sure", () => {
    expect(
      disconnectedMessage({ workspace, revoke: { kind: "not_revoked", reason: "cannot reach slack.com" } }),
    ).toEqual([
      [
        "Disconnected from Acme. Its token was deleted from the keyring, but Slack did not revoke it: cannot reach " +
          "slack.com.",
        "To be sure it no longer works, remove the app in Slack (Settings → Manage apps).",
      ],
      true,
    ]);
  });
});

describe("connectedMessage", () => {
  it("names the team and the user", () => {
    expect(connectedMessage(acme)).toBe("Connected to Acme as ada.");
  });

  it("says presence is left alone when presence scopes are missing", () => {
    expect(connectedMessage({ ...presenceless, team: "Acme", user: "ada", scope_fix: null })).toBe(
      "Connected to Acme as ada. Presence (away/active) is left alone: the token lacks users:write, users:read.",
    );
  });

  it("says how to add the missing scopes when the app says how", () => {
    expect(connectedMessage(presenceless)).toBe(
      "Connected to Umbrella as alice. Presence (away/active) is left alone: the token lacks users:write, " +
        `users:read. To fix it: ${FIX}.`,
    );
  });
});

describe("renderWorkspaceList", () => {
  const noActions: WorkspaceListActions = { disconnect: vi.fn(), retry: vi.fn(), setNotices: vi.fn() };

  it("lists team, user and status, with Disconnect for connected workspaces only", () => {
    const disconnect = vi.fn();
    const list = renderWorkspaceList(
      { workspaces: [acme, initech, { ...initech, id: 4, team: "Globex", disconnect_reason: null }], loadError: null },
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

  it("has a line under each connected workspace with its security notices box, explained", () => {
    const list = renderWorkspaceList(
      { workspaces: [acme, initech, { ...globex, security_notices: true }], loadError: null },
      noActions,
    );
    const more = allByTestId(list, "workspace-more");
    // Not under Initech: it is disconnected.
    expect(more).toHaveLength(2);
    expect(more[0]?.previousElementSibling?.querySelector("th")?.textContent).toBe("Acme");
    expect(more[1]?.previousElementSibling?.querySelector("th")?.textContent).toBe("Globex");
    const cell = more[0]?.querySelector("td");
    expect(cell?.getAttribute("colspan")).toBe("4");
    // Read with its workspace's name.
    expect(list.querySelector(`#${cell?.getAttribute("headers") ?? "none"}`)?.textContent).toBe("Acme");
    const boxes = allByTestId(list, "workspace-notices") as HTMLInputElement[];
    expect(boxes.map((box) => box.checked)).toEqual([false, true]);
    expect(boxes.map((box) => box.disabled)).toEqual([false, false]);
    expect(boxes[0]?.type).toBe("checkbox");
    const label = list.querySelector(`label[for="${boxes[0]?.id ?? ""}"]`);
    expect(label?.firstChild?.textContent).toBe("Security notices by DM");
    expect(label?.textContent).toBe("Security notices by DM in Acme");
    const hint = list.querySelector(`#${boxes[0]?.getAttribute("aria-describedby") ?? "none"}`);
    expect(hint?.textContent).toBe(
      "A direct message to yourself when a phone pairs or this workspace's policy becomes less private.",
    );
    expect(byTestId(list, "scope-warning")).toBeNull();
  });

  it("passes the box's new value on", () => {
    const setNotices = vi.fn();
    const list = renderWorkspaceList({ workspaces: [acme], loadError: null }, { ...noActions, setNotices });
    // A box changes on click only in a document.
    document.body.append(list);
    (byTestId(list, "workspace-notices") as HTMLInputElement).click();
    expect(setNotices).toHaveBeenCalledExactlyOnceWith(acme, true);
    list.remove();
  });

  it("shows the value asked for, disabled, while the switch is on its way", () => {
    const list = renderWorkspaceList(
      { workspaces: [acme, globex], loadError: null, pendingNotices: new Map([[acme.id, true]]) },
      noActions,
    );
    const boxes = allByTestId(list, "workspace-notices") as HTMLInputElement[];
    expect(boxes.map((box) => [box.checked, box.disabled])).toEqual([
      [true, true],
      [false, false],
    ]);
  });

  it("warns about missing scopes in the workspace's row, with the app's fix", () => {
    const list = renderWorkspaceList({ workspaces: [acme, presenceless], loadError: null }, noActions);
    const warnings = allByTestId(list, "scope-warning");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.closest("tr")?.previousElementSibling?.querySelector("th")?.textContent).toBe("Umbrella");
    expect([...(warnings[0]?.querySelectorAll("p") ?? [])].map((p) => p.textContent)).toEqual([
      "Missing permissions",
      "Presence (away/active) is left alone: the token lacks users:write, users:read.",
      `To fix it: ${FIX}.`,
    ]);
  });

  it("says a token renews itself", () => {
    const expiresAt = Date.now() / 1000 + 12 * 3600;
    const list = renderWorkspaceList(
      {
        workspaces: [
          { ...acme, token_rotates: true, token_expires_at: expiresAt },
          globex,
          { ...initech, token_rotates: true, token_expires_at: expiresAt },
        ],
        loadError: null,
      },
      noActions,
    );
    expect(rowTexts(list).map((row) => row[2])).toEqual([
      "Connected Renews itself",
      "Connected",
      "Disconnected — token revoked",
    ]);
    const badge = byTestId(list, "token-rotates");
    expect(badge?.getAttribute("title")).toBe(renewalNote(expiresAt, "h24"));
    const twelve = renderWorkspaceList(
      { workspaces: [{ ...acme, token_rotates: true, token_expires_at: expiresAt }], loadError: null, clock: "h12" },
      noActions,
    );
    expect(byTestId(twelve, "token-rotates")?.getAttribute("title")).toBe(renewalNote(expiresAt, "h12"));
  });

  it("says when the token expires as Slack gave it, not an assumed 12 hours (issue 15, 6), in the clock chosen", () => {
    const now = new Date(2026, 11, 5, 9, 0);
    const inTwoHours = now.getTime() / 1000 + 2 * 3600;
    expect(renewalNote(inTwoHours, "h24", now)).toBe(
      "Slack's token for this workspace expires at 11:00; Caret Desktop renews it before then.",
    );
    expect(renewalNote(inTwoHours, "h12", now)).toBe(
      "Slack's token for this workspace expires at 11:00 AM; Caret Desktop renews it before then.",
    );
    const tomorrow = now.getTime() / 1000 + 20 * 3600;
    const day = new Date(tomorrow * 1000).toLocaleDateString([], { weekday: "short" });
    expect(renewalNote(tomorrow, "h24", now)).toBe(
      `Slack's token for this workspace expires at ${day} 05:00; Caret Desktop renews it before then.`,
    );
    expect(renewalNote(tomorrow, "h12", now)).toBe(
      `Slack's token for this workspace expires at ${day} 5:00 AM; Caret Desktop renews it before then.`,
    );
    expect(renewalNote(null, "h12", now)).toContain("renews it before then");
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
  /** The app with the workspace list and the guide's setup answered, and `handlers` for the rest. */
  const appWith = (handlers: Partial<Handlers> = {}) =>
    fakeApp({ workspaces, slack_app_setup: () => slackAppSetup, ...handlers });
  /** The section's own message regions (the guide has live regions of its own). */
  const region = (role: "status" | "alert") => root.querySelector(`.workspaces > [role=${role}]`);

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
    const app = appWith();
    mountWorkspaces(root, app.call);
    expect(root.querySelector("#workspaces-title")?.textContent).toBe("Slack workspaces");
    // The guide comes first, the paste form in its last step (its own tests are in slack-guide.test.ts).
    const guide = byTestId(root, "slack-guide");
    expect(guide?.querySelector("summary")?.textContent).toBe("Connect a Slack workspace");
    const steps = allByTestId(root, "guide-step");
    expect(steps).toHaveLength(3);
    expect(steps[2]?.contains(input())).toBe(true);
    expect(steps[2]?.textContent).toContain("Or paste the User OAuth Token (it starts with xoxp-)");
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
    expect(app.calls).toEqual([
      ["slack_app_setup", {}],
      ["workspaces", {}],
    ]);
    expect(root.textContent).toContain("No workspace connected yet.");
    expect(root.textContent).not.toContain("Loading…");
  });

  it("writes when a token expires in the window's clock, again when the choice changes", async () => {
    const expiresAt = new Date(2026, 11, 5, 15, 30).getTime() / 1000;
    current = [{ ...acme, token_rotates: true, token_expires_at: expiresAt }];
    const clock = clockChoice("h12");
    mountWorkspaces(root, appWith().call, () => undefined, () => Promise.resolve(), clock);
    await settle();
    const title = () => byTestId(root, "token-rotates")?.getAttribute("title") ?? "";
    expect(title()).toContain("3:30 PM");
    clock.set("h24");
    expect(title()).toContain("15:30");
  });

  it("passes every list it loads on", async () => {
    current = [acme, initech];
    const loaded = vi.fn();
    mountWorkspaces(root, appWith().call, loaded);
    await settle();
    expect(loaded).toHaveBeenCalledWith([acme, initech]);
  });

  it("lists the workspaces it loads", async () => {
    current = [acme, initech];
    mountWorkspaces(root, appWith().call);
    await settle();
    expect(rowTexts(root)).toEqual([
      ["Acme", "ada", "Connected", "Disconnect"],
      ["Initech", "peter", "Disconnected — token revoked", ""],
    ]);
    expect(root.textContent).not.toContain("No workspace connected yet.");
  });

  it("keeps Connect disabled while the field is empty or blank", async () => {
    const app = appWith();
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
    expect(app.names()).toEqual(["slack_app_setup", "workspaces"]);
  });

  it("connects: checking with Slack, then the field is cleared, the result said and the list refreshed", async () => {
    const answer = deferred<WorkspaceView>();
    const connectWorkspace = vi.fn((): Promise<WorkspaceView> => answer.promise);
    const app = appWith({ connect_workspace: connectWorkspace });
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
    expect(message?.parentElement).toBe(region("status"));
    expect(region("alert")?.textContent).toBe("");
    expect(app.names()).toEqual(["slack_app_setup", "workspaces", "connect_workspace", "workspaces"]);
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Connected", "Disconnect"]]);
    // The button that had the focus was disabled while waiting: the focus goes back to the field.
    expect(document.activeElement).toBe(input());
  });

  it("says presence is left alone when the token lacks presence scopes", async () => {
    const partial = { ...presenceless, team: "Acme", user: "ada", scope_fix: null };
    const app = appWith({ connect_workspace: () => partial });
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
    const app = appWith({
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
    expect(message?.parentElement).toBe(region("alert"));
    expect(region("status")?.textContent).toBe("");
    expect(input().value).toBe("");
    expect(input().readOnly).toBe(false);
    expect(connect().textContent).toBe("Connect");
    expect(connect().disabled).toBe(true);
    expect(document.activeElement).toBe(input());
    expect(app.calls).toEqual([
      ["slack_app_setup", {}],
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
    const app = appWith({
      disconnect_workspace: ({ workspaceId }) => {
        const after = { ...acme, connected: false, disconnect_reason: "disconnected by you" };
        current = current.map((w) => (w.id === workspaceId ? after : w));
        return { workspace: after, revoke: { kind: "revoked" } };
      },
    });
    mountWorkspaces(root, app.call);
    await settle();

    byTestId(root, "workspace-disconnect")?.click();
    await settle();
    expect(confirm).toHaveBeenCalledOnce();
    expect(confirm.mock.calls[0]?.[0]).toBe(
      "Disconnect Acme? Caret Desktop stops updating your Slack status there, asks Slack to revoke the token and " +
        "deletes it from the keyring.",
    );
    expect(confirm.mock.calls[0]?.[0]).toBe(disconnectQuestion(acme));
    expect(app.names()).toEqual(["slack_app_setup", "workspaces"]);
    expect(byTestId(root, "workspace-disconnect")).not.toBeNull();

    byTestId(root, "workspace-disconnect")?.click();
    await settle();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(app.calls.slice(2)).toEqual([
      ["disconnect_workspace", { workspaceId: 1 }],
      ["workspaces", {}],
    ]);
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Disconnected — disconnected by you", ""]]);
    expect(byTestId(root, "workspace-disconnect")).toBeNull();
    const message = byTestId(root, "workspace-message");
    expect(message?.textContent).toBe(
      "Disconnected from Acme. Slack revoked its token, and it was deleted from the keyring.",
    );
    expect(message?.parentElement).toBe(region("status"));
    expect(document.activeElement).toBe(root.querySelector("#workspace-list-title"));
  });

  it("shows a failed disconnect in an alert", async () => {
    current = [acme];
    vi.spyOn(window, "confirm").mockReturnValue(true);
    const app = appWith({
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
    expect(app.names()).toEqual(["slack_app_setup", "workspaces", "disconnect_workspace", "workspaces"]);
    expect(byTestId(root, "workspace-disconnect")).not.toBeNull();
  });

  it("shows why the list could not load, and loads it again on Try again", async () => {
    let fail = true;
    const app = appWith({
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
    expect(app.names()).toEqual(["slack_app_setup", "workspaces", "workspaces"]);
    expect(root.querySelector(".workspace-list [role=alert]")).toBeNull();
    expect(rowTexts(root)).toEqual([["Acme", "ada", "Connected", "Disconnect"]]);
  });

  it("says what Slack did with the token when disconnecting", async () => {
    vi.spyOn(window, "confirm").mockReturnValue(true);
    const after = { ...acme, connected: false, disconnect_reason: "disconnected by you" };
    for (const [revoke, lines, role] of [
      [{ kind: "already_dead" }, ["Disconnected from Acme. Its token was deleted from the keyring."], "status"],
      [{ kind: "no_token" }, ["Disconnected from Acme. Its token was deleted from the keyring."], "status"],
      [
        { kind: "not_revoked", reason: "Slack answered 500" },
        [
          "Disconnected from Acme. Its token was deleted from the keyring, but Slack did not revoke it: Slack " +
            "answered 500.",
          "To be sure it no longer works, remove the app in Slack (Settings → Manage apps).",
        ],
        "alert",
      ],
    ] as const) {
      current = [acme];
      const app = appWith({
        disconnect_workspace: () => {
          current = [after];
          return { workspace: after, revoke };
        },
      });
      mountWorkspaces(root, app.call);
      await settle();
      byTestId(root, "workspace-disconnect")?.click();
      await settle();
      const message = byTestId(root, "workspace-message");
      expect([...(message?.querySelectorAll("p") ?? [])].map((p) => p.textContent)).toEqual(lines);
      expect(message?.parentElement).toBe(region(role));
    }
  });

  it("switches security notices and shows what the app answered", async () => {
    current = [acme, globex];
    const answer = deferred<WorkspaceView>();
    const loaded = vi.fn();
    const app = appWith({ set_security_notices: () => answer.promise });
    mountWorkspaces(root, app.call, loaded);
    await settle();
    const box = () => allByTestId(root, "workspace-notices")[0] as HTMLInputElement;
    box().focus();
    box().click();
    await settle();
    expect(app.calls.at(-1)).toEqual(["set_security_notices", { workspaceId: 1, on: true }]);
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(true);

    answer.resolve({ ...acme, security_notices: true });
    await settle();
    expect(box().checked).toBe(true);
    expect(box().disabled).toBe(false);
    expect(document.activeElement).toBe(box());
    expect(byTestId(root, "workspace-message")?.textContent).toBe("Security notices by DM are on for Acme.");
    expect(byTestId(root, "workspace-message")?.parentElement).toBe(region("status"));
    expect(loaded).toHaveBeenLastCalledWith([{ ...acme, security_notices: true }, globex]);
    // Only the answer was needed: the list was not asked again.
    expect(app.names().filter((name) => name === "workspaces")).toHaveLength(1);
  });

  it("shows the box as the app left it, even when that is not what was asked", async () => {
    current = [acme];
    const app = appWith({ set_security_notices: () => acme });
    mountWorkspaces(root, app.call);
    await settle();
    (byTestId(root, "workspace-notices") as HTMLInputElement).click();
    await settle();
    expect((byTestId(root, "workspace-notices") as HTMLInputElement).checked).toBe(false);
    expect(byTestId(root, "workspace-message")?.textContent).toBe("Security notices by DM are off for Acme.");
  });

  it("says when notices are on but cannot be sent, with the app's fix, in the row too", async () => {
    current = [acme];
    const fix = "add chat:write under OAuth & Permissions → User Token Scopes in your Slack app, then connect again";
    const app = appWith({
      set_security_notices: ({ on }) => ({
        ...acme,
        security_notices: on,
        missing_scopes: ["chat:write"],
        scope_problems: ["Security notices cannot be sent: the token lacks chat:write."],
        scope_fix: fix,
      }),
    });
    mountWorkspaces(root, app.call);
    await settle();
    (byTestId(root, "workspace-notices") as HTMLInputElement).click();
    await settle();
    const message = byTestId(root, "workspace-message");
    expect([...(message?.querySelectorAll("p") ?? [])].map((p) => p.textContent)).toEqual([
      "Security notices by DM are on for Acme.",
      "Security notices cannot be sent: the token lacks chat:write.",
      `To fix it: ${fix}.`,
    ]);
    expect(message?.parentElement).toBe(region("alert"));
    expect(byTestId(root, "scope-warning")?.textContent).toContain(
      `Security notices cannot be sent: the token lacks chat:write.To fix it: ${fix}.`,
    );
  });

  it("puts the box back and says why when the switch fails", async () => {
    current = [acme];
    const app = appWith({
      set_security_notices: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "app", message: "the database is locked" };
      },
    });
    mountWorkspaces(root, app.call);
    await settle();
    (byTestId(root, "workspace-notices") as HTMLInputElement).click();
    await settle();
    const box = byTestId(root, "workspace-notices") as HTMLInputElement;
    expect(box.checked).toBe(false);
    expect(box.disabled).toBe(false);
    expect(byTestId(root, "workspace-message")?.textContent).toBe(
      "Could not turn security notices on for Acme: the database is locked",
    );
    expect(byTestId(root, "workspace-message")?.parentElement).toBe(region("alert"));
  });
});
