import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OAuthStart } from "../bindings/OAuthStart";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import {
  byTestId,
  buttonNamed,
  fakeApp,
  fakeSignIn,
  inputByTestId,
  settle,
  SIGN_IN_CANCELLED,
  typeInto,
  type Handlers,
} from "../test/fake-app";
import { acme, initech, oauthStart, presenceless, slackAppSetup } from "../test/fixtures";
import { CANCELLED_TEXT, OPENING_TEXT, WAITING_TEXT, createSlackGuide, expiryWords, linkWords } from "./slack-guide";
import { mountWorkspaces } from "./workspaces";

const CLIENT_ID = "1234567890.1234567890";

describe("expiryWords", () => {
  it("says minutes for long links and seconds for short ones", () => {
    expect(expiryWords(600)).toBe("10 minutes");
    expect(expiryWords(150)).toBe("3 minutes");
    expect(expiryWords(90)).toBe("90 seconds");
    expect(expiryWords(1)).toBe("1 second");
  });
});

describe("linkWords", () => {
  it("says to open the link by hand when the browser could not be opened", () => {
    expect(linkWords({ ...oauthStart, browser_problem: "xdg-open is not installed" })).toBe(
      "Your browser could not be opened (xdg-open is not installed): open this link in your browser yourself.",
    );
  });

  it("offers the link in case no page opened", () => {
    expect(linkWords(oauthStart)).toBe(
      "Allow Caret Desktop on the page that opened. If no page opened, open this link in your browser:",
    );
    expect(linkWords({ ...oauthStart, browser_problem: "  " })).toBe(linkWords(oauthStart));
  });
});

describe("the Connect a Slack workspace guide", () => {
  let root: HTMLElement;
  let current: WorkspaceView[];

  const guide = () => byTestId(root, "slack-guide") as HTMLDetailsElement;
  const clientId = () => inputByTestId(root, "signin-client-id");
  const signInButton = () => byTestId(root, "signin-start") as HTMLButtonElement;
  const waiting = () => byTestId(root, "signin-waiting") as HTMLElement;
  const signInStatus = () => byTestId(root, "signin-status")?.textContent;
  const clientError = () => byTestId(root, "signin-client-error")?.textContent;
  const message = () => byTestId(root, "workspace-message");
  const region = (role: "status" | "alert") => root.querySelector(`.workspaces > [role=${role}]`);
  const rowTeams = () => [...root.querySelectorAll('[data-testid="workspace-row"] th')].map((th) => th.textContent);

  /** Mounts the whole section, as the Settings window does, with the list and the setup answered. */
  function mount(handlers: Partial<Handlers> = {}, copy = vi.fn(() => Promise.resolve())) {
    const app = fakeApp({ workspaces: () => current, slack_app_setup: () => slackAppSetup, ...handlers });
    mountWorkspaces(root, app.call, () => undefined, copy);
    return { app, copy };
  }

  /** A sign-in whose `begin_sign_in` answers `start`, or throws what `start` throws. */
  const signInWith = (start: (clientId: string) => OAuthStart = () => oauthStart) => fakeSignIn(start);

  /** Mounts the section with `handlers`, types the Client ID and starts signing in, as a person does. */
  async function startSignIn(handlers: Partial<Handlers>) {
    const mounted = mount(handlers);
    await settle();
    typeInto(clientId(), CLIENT_ID);
    signInButton().click();
    await settle();
    return mounted;
  }

  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
    current = [];
  });

  afterEach(() => {
    root.remove();
    vi.restoreAllMocks();
  });

  it("has three short numbered steps, the last with both ways to connect", async () => {
    mount();
    await settle();
    const steps = [...root.querySelectorAll<HTMLElement>('[data-testid="guide-step"]')];
    expect(steps.map((step) => step.querySelector("p")?.textContent)).toEqual([
      "Create the Slack app from Caret Desktop's manifest.",
      "Install it to your workspace: “Install to Workspace” on the app's OAuth & Permissions page.",
      "Then connect it, either way:",
    ]);
    expect(steps[0]?.parentElement?.tagName).toBe("OL");
    const ways = steps[2]?.querySelector("ol");
    expect(ways?.getAttribute("type")).toBe("A");
    expect([...(ways?.children ?? [])].map((way) => way.querySelector("strong")?.textContent)).toEqual([
      "Sign in with Slack",
      "Or paste the User OAuth Token",
    ]);
    expect(ways?.children[0]?.contains(clientId())).toBe(true);
    expect(ways?.children[1]?.contains(inputByTestId(root, "workspace-token"))).toBe(true);
  });

  it("opens Slack's create-app page and your apps page from its buttons", async () => {
    const { app } = mount({ open_slack_page: () => null });
    await settle();
    const create = buttonNamed(root, "Create the app in Slack");
    const apps = buttonNamed(root, "Open your Slack apps");
    expect(create?.type).toBe("button");
    create?.click();
    await settle();
    apps?.click();
    await settle();
    expect(app.argsOf("open_slack_page")).toEqual([{ page: "create_app" }, { page: "your_apps" }]);
    expect(root.querySelector("[data-testid=guide-step] [role=alert]")?.textContent).toBe("");
  });

  it("says what to do when the browser cannot open Slack, and shows the manifest", async () => {
    mount({
      open_slack_page: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { code: "app", message: "no browser found" };
      },
    });
    await settle();
    const manifest = byTestId(root, "manifest") as HTMLDetailsElement;
    expect(manifest.open).toBe(false);
    buttonNamed(root, "Create the app in Slack")?.click();
    await settle();
    const [createStep, appsStep] = [...root.querySelectorAll('[data-testid="guide-step"]')];
    expect(createStep?.querySelector("[role=alert]")?.textContent).toBe(
      "Could not open Slack in your browser: no browser found. Open api.slack.com/apps, choose Create New App → " +
        "From a manifest, and paste the manifest below.",
    );
    expect(manifest.open).toBe(true);
    buttonNamed(root, "Open your Slack apps")?.click();
    await settle();
    expect(appsStep?.querySelector("[role=alert]")?.textContent).toBe(
      "Could not open Slack in your browser: no browser found. Open api.slack.com/apps in your browser yourself.",
    );
  });

  it("shows the manifest read-only, as JSON or YAML, with what to do with it", async () => {
    mount();
    await settle();
    const manifest = byTestId(root, "manifest") as HTMLDetailsElement;
    expect(manifest.querySelector("summary")?.textContent).toBe("Show the manifest");
    const text = byTestId(root, "manifest-text") as HTMLTextAreaElement;
    expect(text.readOnly).toBe(true);
    expect(text.value).toBe(slackAppSetup.manifest_json);
    expect(text.getAttribute("aria-label")).toBe("Caret Desktop's Slack app manifest");
    expect(document.getElementById(text.getAttribute("aria-describedby") ?? "")?.textContent).toBe(
      "If Slack does not fill it in, choose “From a manifest” and paste this:",
    );
    expect(inputByTestId(root, "manifest-json").checked).toBe(true);
    inputByTestId(root, "manifest-yaml").click();
    expect(text.value).toBe(slackAppSetup.manifest_yaml);
    inputByTestId(root, "manifest-json").click();
    expect(text.value).toBe(slackAppSetup.manifest_json);
  });

  it("copies the manifest shown", async () => {
    const { copy } = mount();
    await settle();
    inputByTestId(root, "manifest-yaml").click();
    byTestId(root, "manifest-copy")?.click();
    await settle();
    expect(copy).toHaveBeenCalledExactlyOnceWith(slackAppSetup.manifest_yaml);
    expect(byTestId(root, "manifest-copy-result")?.textContent).toBe("Copied.");
    expect(byTestId(root, "manifest-copy-result")?.getAttribute("role")).toBe("status");
  });

  it("selects the manifest when the clipboard refuses", async () => {
    mount({}, vi.fn(() => Promise.reject(new Error("clipboard denied"))));
    await settle();
    (byTestId(root, "manifest") as HTMLDetailsElement).open = true;
    byTestId(root, "manifest-copy")?.click();
    await settle();
    const text = byTestId(root, "manifest-text") as HTMLTextAreaElement;
    expect(document.activeElement).toBe(text);
    expect([text.selectionStart, text.selectionEnd]).toEqual([0, slackAppSetup.manifest_json.length]);
    expect(byTestId(root, "manifest-copy-result")?.textContent).toBe(
      "Copying is not available here: the manifest is selected, press Ctrl+C.",
    );
  });

  it("says when the manifest cannot be loaded, and Copy stays off", async () => {
    mount({
      slack_app_setup: () => {
        throw new Error("services not started");
      },
    });
    await settle();
    expect(byTestId(root, "manifest-problem")?.textContent).toBe("Could not load the manifest: services not started");
    expect((byTestId(root, "manifest-copy") as HTMLButtonElement).disabled).toBe(true);
    expect((byTestId(root, "manifest-text") as HTMLTextAreaElement).value).toBe("");
  });

  it("fills in the Client ID of the last sign-in, labelled, with where to find it", async () => {
    mount({ slack_app_setup: () => ({ ...slackAppSetup, client_id: CLIENT_ID }) });
    expect(signInButton().disabled).toBe(true);
    await settle();
    expect(clientId().value).toBe(CLIENT_ID);
    expect(clientId().labels?.[0]?.textContent).toBe("Client ID");
    const hint = document.getElementById(clientId().getAttribute("aria-describedby")?.split(" ")[0] ?? "");
    expect(hint?.textContent).toBe("In your Slack app, under Basic Information → App Credentials.");
    expect(signInButton().disabled).toBe(false);
    expect(signInButton().type).toBe("submit");
    expect(signInButton().form?.getAttribute("aria-label")).toBe("Sign in with Slack");
  });

  it("keeps a Client ID already typed when the last one arrives", async () => {
    mount({ slack_app_setup: () => ({ ...slackAppSetup, client_id: CLIENT_ID }) });
    typeInto(clientId(), "999.888");
    await settle();
    expect(clientId().value).toBe("999.888");
  });

  it("signs in: waits for the browser with the link, then says who is connected and lists it", async () => {
    const signIn = signInWith();
    const { app, copy } = mount(signIn.handlers);
    await settle();
    typeInto(clientId(), `  ${CLIENT_ID} `);
    signInButton().click();
    expect(signInButton().disabled).toBe(true);
    expect(signInStatus()).toBe(OPENING_TEXT);
    await settle();

    expect(app.argsOf("begin_sign_in")).toEqual([{ clientId: CLIENT_ID }]);
    expect(app.names().slice(-2)).toEqual(["begin_sign_in", "finish_sign_in"]);
    expect(signInStatus()).toBe(WAITING_TEXT);
    expect(byTestId(root, "signin-status")?.getAttribute("role")).toBe("status");
    expect(waiting().hidden).toBe(false);
    expect(inputByTestId(root, "signin-link").value).toBe(oauthStart.authorize_url);
    expect(inputByTestId(root, "signin-link").readOnly).toBe(true);
    expect(byTestId(root, "signin-link-words")?.textContent).toBe(linkWords(oauthStart));
    expect(byTestId(root, "signin-expiry")?.textContent).toBe("The link works for 10 minutes.");
    expect(signInButton().disabled).toBe(true);
    expect(clientId().readOnly).toBe(true);
    expect(signInButton().form?.getAttribute("aria-busy")).toBe("true");
    // The keyboard can cancel at once.
    expect(document.activeElement).toBe(buttonNamed(root, "Cancel"));

    // A second press (or Enter) while waiting starts nothing.
    signInButton().form?.requestSubmit();
    await settle();
    expect(app.argsOf("begin_sign_in")).toHaveLength(1);

    byTestId(root, "signin-link-copy")?.click();
    await settle();
    expect(copy).toHaveBeenCalledExactlyOnceWith(oauthStart.authorize_url);
    expect(byTestId(root, "signin-link-copy-result")?.textContent).toBe("Copied.");

    current = [acme];
    signIn.connect(acme);
    await settle();
    expect(message()?.textContent).toBe("Connected to Acme as ada.");
    expect(message()?.parentElement).toBe(region("status"));
    expect(app.names().slice(-2)).toEqual(["finish_sign_in", "workspaces"]);
    expect(rowTeams()).toEqual(["Acme"]);
    expect(waiting().hidden).toBe(true);
    expect(signInStatus()).toBe("");
    expect(signInButton().disabled).toBe(false);
    expect(clientId().readOnly).toBe(false);
    expect(document.activeElement).toBe(signInButton());
  });

  it("says what a signed-in workspace lacks", async () => {
    const signIn = signInWith();
    await startSignIn(signIn.handlers);
    signIn.connect(presenceless);
    await settle();
    expect(message()?.textContent).toBe(
      "Connected to Umbrella as alice. Presence (away/active) is left alone: the token lacks users:write, " +
        `users:read. To fix it: ${presenceless.scope_fix ?? ""}.`,
    );
  });

  it("says to open the link by hand when the browser could not be opened", async () => {
    const signIn = signInWith(() => ({ ...oauthStart, browser_problem: "no browser found", expires_in_secs: 90 }));
    await startSignIn(signIn.handlers);
    expect(byTestId(root, "signin-link-words")?.textContent).toBe(
      "Your browser could not be opened (no browser found): open this link in your browser yourself.",
    );
    expect(byTestId(root, "signin-expiry")?.textContent).toBe("The link works for 90 seconds.");
    expect(inputByTestId(root, "signin-link").value).toBe(oauthStart.authorize_url);
  });

  it("shows why the sign-in failed, and the form is ready again", async () => {
    const signIn = signInWith();
    const { app } = await startSignIn(signIn.handlers);
    signIn.fail({ code: "app", message: "Sign in with Slack: you declined on Slack's page" });
    await settle();
    expect(message()?.textContent).toBe("Sign in with Slack: you declined on Slack's page");
    expect(message()?.parentElement).toBe(region("alert"));
    expect(region("status")?.textContent).toBe("");
    expect(waiting().hidden).toBe(true);
    expect(signInButton().disabled).toBe(false);
    expect(clientId().value).toBe(CLIENT_ID);
    expect(clientError()).toBe("");
    expect(app.names().filter((name) => name === "workspaces")).toHaveLength(1);

    // Trying again clears the old message.
    signInButton().click();
    await settle();
    expect(message()).toBeNull();
    expect(app.argsOf("begin_sign_in")).toHaveLength(2);
  });

  it("cancels: the flow ends, its 'cancelled' answer is not shown as an error, the form is back", async () => {
    const signIn = signInWith();
    const { app } = await startSignIn(signIn.handlers);
    buttonNamed(root, "Cancel")?.click();
    await settle();
    expect(app.names().slice(-1)).toEqual(["cancel_sign_in"]);
    // Exactly the sign-in this form started, as it waited for it: not one another window started since.
    expect(app.argsOf("finish_sign_in")).toEqual([{ flowId: 1 }]);
    expect(app.argsOf("cancel_sign_in")).toEqual([{ flowId: 1 }]);
    expect(signIn.inProgress()).toBe(false);
    expect(message()?.textContent).toBe(CANCELLED_TEXT);
    expect(message()?.parentElement).toBe(region("status"));
    expect(region("alert")?.textContent).toBe("");
    expect(waiting().hidden).toBe(true);
    expect(signInStatus()).toBe("");
    expect(signInButton().disabled).toBe(false);
    expect(clientId().readOnly).toBe(false);
    expect(signInButton().form?.getAttribute("aria-busy")).toBe("false");
    expect(document.activeElement).toBe(signInButton());
    expect(app.names().filter((name) => name === "workspaces")).toHaveLength(1);
  });

  it("keeps Cancel from being pressed twice, and says when the cancel itself failed", async () => {
    const signIn = signInWith();
    const cancel = vi.fn((): boolean => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw { code: "app", message: "services not started" };
    });
    await startSignIn({ ...signIn.handlers, cancel_sign_in: cancel });
    const cancelButton = buttonNamed(root, "Cancel");
    cancelButton?.click();
    cancelButton?.click();
    await settle();
    expect(cancel).toHaveBeenCalledOnce();
    expect(message()?.textContent).toBe("Could not cancel the sign-in: services not started");
    expect(message()?.parentElement).toBe(region("alert"));
    expect(signInButton().disabled).toBe(false);
  });

  it("shows a refused Client ID by the field, and starts nothing", async () => {
    const refusal = {
      code: "app",
      message:
        'Sign in with Slack: "12345" is not a Slack app\'s Client ID: it is two numbers joined by a dot, shown under ' +
        "Basic Information → App Credentials in your Slack app",
    };
    const signIn = signInWith(() => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw refusal;
    });
    const { app } = mount(signIn.handlers);
    await settle();
    typeInto(clientId(), "12345");
    clientId().form?.requestSubmit();
    await settle();
    expect(clientError()).toBe(refusal.message);
    expect(clientId().getAttribute("aria-invalid")).toBe("true");
    expect(clientId().getAttribute("aria-describedby")?.split(" ")).toContain("signin-client-error");
    expect(document.activeElement).toBe(clientId());
    expect(app.names()).not.toContain("finish_sign_in");
    expect(waiting().hidden).toBe(true);
    expect(signInButton().disabled).toBe(false);
    expect(message()).toBeNull();

    // Editing the field takes the error away.
    typeInto(clientId(), CLIENT_ID);
    expect(clientError()).toBe("");
    expect(clientId().getAttribute("aria-invalid")).toBe("false");
  });

  it("shows a busy port by the field", async () => {
    const signIn = signInWith(() => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw { code: "app", message: "Sign in with Slack: cannot listen on localhost:47824 for Slack's answer" };
    });
    await startSignIn(signIn.handlers);
    expect(clientError()).toBe("Sign in with Slack: cannot listen on localhost:47824 for Slack's answer");
  });

  it("still reports a workspace connected while the sign-in was being cancelled", async () => {
    const signIn = signInWith();
    let connectFirst: () => void = () => undefined;
    const { app } = mount({
      ...signIn.handlers,
      cancel_sign_in: () => {
        connectFirst();
        return false;
      },
    });
    await settle();
    typeInto(clientId(), CLIENT_ID);
    signInButton().click();
    await settle();
    connectFirst = () => {
      current = [acme];
      signIn.connect(acme);
    };
    buttonNamed(root, "Cancel")?.click();
    await settle();
    expect(message()?.textContent).toBe("Connected to Acme as ada.");
    expect(app.names()).toContain("cancel_sign_in");
    expect(rowTeams()).toEqual(["Acme"]);
    expect(waiting().hidden).toBe(true);
  });

  it("is open while no workspace is connected", async () => {
    current = [initech];
    mount();
    await settle();
    expect(guide().open).toBe(true);
  });

  it("starts closed when a workspace is connected, and opens from its summary", async () => {
    current = [acme];
    mount();
    expect(guide().open).toBe(true);
    await settle();
    expect(guide().open).toBe(false);
    const summary = byTestId(root, "slack-guide-summary");
    expect(summary?.tagName).toBe("SUMMARY");
    summary?.click();
    expect(guide().open).toBe(true);
  });

  it("opens itself again when no workspace is left connected, and leaves a choice of the person alone", () => {
    const app = fakeApp({ slack_app_setup: () => slackAppSetup });
    const opened = createSlackGuide(app.call, vi.fn(), document.createElement("form"), {
      signedIn: vi.fn(),
      say: vi.fn(),
    });
    root.append(opened.element);
    opened.setWorkspaces([acme]);
    expect(opened.element.open).toBe(false);
    // Only the first list closes it.
    opened.element.open = true;
    opened.setWorkspaces([acme]);
    expect(opened.element.open).toBe(true);
    opened.element.open = false;
    opened.setWorkspaces([initech]);
    expect(opened.element.open).toBe(true);
    // The person closed it: it stays so.
    byTestId(root, "slack-guide-summary")?.click();
    expect(opened.element.open).toBe(false);
    opened.setWorkspaces([]);
    expect(opened.element.open).toBe(false);
  });

  it("does not close under a person using it", async () => {
    current = [acme];
    mount({ slack_app_setup: () => slackAppSetup });
    clientId().focus();
    await settle();
    expect(guide().open).toBe(true);
  });

  it("shows the app's message when the sign-in was ended elsewhere (by a newer one)", async () => {
    const signIn = signInWith();
    await startSignIn(signIn.handlers);
    // The CLI started its own sign-in, which ends this one.
    signIn.fail(SIGN_IN_CANCELLED);
    await settle();
    expect(message()?.textContent).toBe(SIGN_IN_CANCELLED.message);
    expect(waiting().hidden).toBe(true);
    expect(signInButton().disabled).toBe(false);
  });
});
