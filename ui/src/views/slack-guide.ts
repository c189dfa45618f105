import type { OAuthStart } from "../bindings/OAuthStart";
import type { SlackAppSetup } from "../bindings/SlackAppSetup";
import type { SlackPage } from "../bindings/SlackPage";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import type { Copy } from "../clipboard";
import { focusLost, h } from "../dom";
import { describeError, type Call } from "../ipc";

/** What the guide tells the section around it. */
export interface GuideHooks {
  /** "Sign in with Slack" connected this workspace. */
  signedIn: (workspace: WorkspaceView) => void;
  /**
   * Puts a message in the section's messages (how a sign-in ended once the browser was open), or clears them
   * with `null`.
   */
  say: (kind: "ok" | "error" | null, ...lines: string[]) => void;
}

/** The "Connect a Slack workspace" guide. */
export interface SlackGuide {
  element: HTMLDetailsElement;
  /**
   * Hears every list of workspaces: the guide opens itself while none is connected, and starts closed when the
   * first list has one (unless the person already opened or closed it, or is using it).
   */
  setWorkspaces: (workspaces: readonly WorkspaceView[]) => void;
}

/** What the guide says while the browser is at Slack. */
export const WAITING_TEXT = "Waiting for Slack in your browser…";
/** What it says while the app starts listening and opens the browser. */
export const OPENING_TEXT = "Opening Slack in your browser…";
/** What the section says when the person cancelled a sign-in. */
export const CANCELLED_TEXT = "Sign-in cancelled.";

/** How long the link works, in words ("10 minutes", "45 seconds"). */
export function expiryWords(seconds: number): string {
  if (seconds >= 120) return `${String(Math.round(seconds / 60))} minutes`;
  return seconds === 1 ? "1 second" : `${String(seconds)} seconds`;
}

/** What to do with the authorize link: the browser may have opened it, or could not be opened at all. */
export function linkWords(start: OAuthStart): string {
  const problem = start.browser_problem?.trim();
  if (problem) return `Your browser could not be opened (${problem}): open this link in your browser yourself.`;
  return "Allow Caret Desktop on the page that opened. If no page opened, open this link in your browser:";
}

/**
 * A Copy button for a read-only field, and the line saying how it went. When the clipboard refuses, the text is
 * selected in the field so Ctrl+C copies it.
 */
function copyControl(
  copy: Copy,
  field: HTMLInputElement | HTMLTextAreaElement,
  what: string,
  testId: string,
): [HTMLButtonElement, HTMLElement] {
  const result = h("span", { role: "status", class: "copy-result", "data-testid": `${testId}-result` });
  const copyButton = h("button", { type: "button", "data-testid": testId }, "Copy");
  copyButton.addEventListener("click", () => {
    result.textContent = "";
    copy(field.value).then(
      () => {
        result.textContent = "Copied.";
      },
      () => {
        field.focus();
        field.select();
        result.textContent = `Copying is not available here: the ${what} is selected, press Ctrl+C.`;
      },
    );
  });
  return [copyButton, result];
}

/**
 * The guide to connecting a workspace, in three steps: create the Slack app from Caret Desktop's manifest
 * (Slack's page opened prefilled, the manifest shown to paste by hand), install it, then either sign in with
 * Slack (the app's Client ID; the browser does the rest) or paste the token in `pasteForm`, which the section
 * owns. Asks for `slack_app_setup` right away, for the manifest and the Client ID used last.
 *
 * One sign-in runs at a time: `begin_sign_in` opens the browser, `finish_sign_in` waits for it to come back.
 * Cancel ends it at once; whatever the cancelled flow answers later is then not shown, unless it connected.
 */
export function createSlackGuide(call: Call, copy: Copy, pasteForm: Node, hooks: GuideHooks): SlackGuide {
  let setup: SlackAppSetup | null = null;
  let phase: "idle" | "starting" | "waiting" = "idle";
  let cancelling = false;
  /** Counts sign-ins (and cancels), so the answer of one that was cancelled is recognised. */
  let run = 0;
  /** The last sign-in that connected a workspace. */
  let connectedRun = 0;
  /** The person opened or closed the guide themselves: it no longer opens or closes on its own. */
  let touched = false;
  let listed = false;

  // Step 1: create the app.
  const createProblem = h("p", { class: "field-error", role: "alert" });
  const format = (value: "json" | "yaml", label: string) => {
    const radio = h("input", {
      type: "radio",
      id: `manifest-${value}`,
      name: "manifest-format",
      value,
      "data-testid": `manifest-${value}`,
    });
    return [radio, h("div", { class: "check" }, radio, h("label", { for: `manifest-${value}` }, label))] as const;
  };
  const [json, jsonRow] = format("json", "JSON");
  const [yaml, yamlRow] = format("yaml", "YAML");
  json.checked = true;
  const manifestText = h("textarea", {
    id: "manifest-text",
    class: "manifest",
    readonly: "",
    rows: "10",
    spellcheck: "false",
    "aria-label": "Caret Desktop's Slack app manifest",
    "aria-describedby": "manifest-note",
    "data-testid": "manifest-text",
  });
  const [copyManifest, manifestCopied] = copyControl(copy, manifestText, "manifest", "manifest-copy");
  const manifestProblem = h("p", { class: "field-error", "data-testid": "manifest-problem" });
  const manifest = h(
    "details",
    { class: "manifest-details", "data-testid": "manifest" },
    h("summary", {}, "Show the manifest"),
    h(
      "p",
      { class: "note", id: "manifest-note" },
      "If Slack does not fill it in, choose “From a manifest” and paste this:",
    ),
    h("fieldset", { class: "manifest-format" }, h("legend", { class: "visually-hidden" }, "Format"), jsonRow, yamlRow),
    manifestText,
    h("div", { class: "inline" }, copyManifest, manifestCopied),
    manifestProblem,
  );

  const openPage = async (page: SlackPage, problem: HTMLElement, instead: string): Promise<void> => {
    problem.textContent = "";
    try {
      await call("open_slack_page", { page });
    } catch (error) {
      problem.textContent = `Could not open Slack in your browser: ${describeError(error)}. ${instead}`;
      if (page === "create_app") manifest.open = true;
    }
  };
  const createButton = h(
    "button",
    { type: "button", class: "primary", "data-testid": "guide-create-app" },
    "Create the app in Slack",
  );
  createButton.addEventListener(
    "click",
    () =>
      void openPage(
        "create_app",
        createProblem,
        "Open api.slack.com/apps, choose Create New App → From a manifest, and paste the manifest below.",
      ),
  );

  // Step 2: install it.
  const appsProblem = h("p", { class: "field-error", role: "alert" });
  const appsButton = h("button", { type: "button", "data-testid": "guide-your-apps" }, "Open your Slack apps");
  appsButton.addEventListener(
    "click",
    () => void openPage("your_apps", appsProblem, "Open api.slack.com/apps in your browser yourself."),
  );

  // Step 3A: sign in with Slack.
  const clientField = h("input", {
    id: "signin-client-id",
    name: "client-id",
    type: "text",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    placeholder: "1234567890.1234567890",
    "aria-describedby": "signin-client-note signin-client-error",
    "data-testid": "signin-client-id",
  });
  const signInButton = h(
    "button",
    { type: "submit", class: "primary", "data-testid": "signin-start", disabled: "" },
    "Sign in with Slack",
  );
  const clientError = h("p", { class: "field-error", id: "signin-client-error", "data-testid": "signin-client-error" });
  // In the page from the start, so what is put in it later is read out.
  const signInStatus = h("p", { role: "status", class: "signin-status", "data-testid": "signin-status" });
  const signInForm = h(
    "form",
    { class: "workspace-form signin-form", "aria-label": "Sign in with Slack" },
    h("label", { for: "signin-client-id" }, "Client ID"),
    h("div", { class: "workspace-form-row" }, clientField, signInButton),
    h(
      "p",
      { class: "note", id: "signin-client-note" },
      "In your Slack app, under Basic Information → App Credentials.",
    ),
    clientError,
  );
  const linkText = h("p", { "data-testid": "signin-link-words" });
  const linkField = h("input", {
    type: "text",
    readonly: "",
    class: "command",
    "aria-label": "Slack's sign-in link",
    "data-testid": "signin-link",
  });
  const [copyLink, linkCopied] = copyControl(copy, linkField, "link", "signin-link-copy");
  const expiry = h("p", { class: "note", "data-testid": "signin-expiry" });
  const cancelButton = h("button", { type: "button", "data-testid": "signin-cancel" }, "Cancel");
  const waiting = h(
    "div",
    { class: "signin-waiting", hidden: "", "data-testid": "signin-waiting" },
    linkText,
    h("div", { class: "inline" }, linkField, copyLink, linkCopied),
    expiry,
    h("div", { class: "actions" }, cancelButton),
  );

  const sync = (): void => {
    const idle = phase === "idle";
    clientField.readOnly = !idle;
    signInButton.disabled = !idle || clientField.value.trim() === "";
    signInForm.setAttribute("aria-busy", String(!idle));
    cancelButton.disabled = cancelling;
    waiting.hidden = phase !== "waiting";
    signInStatus.textContent = phase === "starting" ? OPENING_TEXT : phase === "waiting" ? WAITING_TEXT : "";
  };

  const showClientError = (message: string | null): void => {
    clientError.textContent = message ?? "";
    clientField.setAttribute("aria-invalid", String(message !== null));
  };

  /** Back to the form, with the focus on its button if the focus was on something now gone or disabled. */
  const backToIdle = (): void => {
    const focusWasInside = waiting.contains(document.activeElement);
    phase = "idle";
    sync();
    if (focusWasInside || focusLost()) signInButton.focus();
  };

  /** The sign-in this form started and waits for (finishing or cancelling exactly it). */
  let flowId: number | null = null;

  const signIn = async (): Promise<void> => {
    const clientId = clientField.value.trim();
    if (phase !== "idle" || clientId === "") return;
    const mine = ++run;
    phase = "starting";
    showClientError(null);
    hooks.say(null);
    sync();
    let start: OAuthStart;
    try {
      start = await call("begin_sign_in", { clientId });
    } catch (error) {
      phase = "idle";
      showClientError(describeError(error));
      sync();
      clientField.focus();
      return;
    }
    phase = "waiting";
    flowId = start.flow_id;
    linkText.textContent = linkWords(start);
    linkField.value = start.authorize_url;
    linkCopied.textContent = "";
    expiry.textContent = `The link works for ${expiryWords(start.expires_in_secs)}.`;
    sync();
    if (focusLost() || document.activeElement === signInButton) cancelButton.focus();
    try {
      const workspace = await call("finish_sign_in", { flowId: start.flow_id });
      // Even a sign-in being cancelled that got through connected a workspace: say so.
      connectedRun = mine;
      hooks.signedIn(workspace);
      if (mine === run) backToIdle();
    } catch (error) {
      if (mine !== run) return;
      hooks.say("error", describeError(error));
      backToIdle();
    }
  };

  const cancel = async (): Promise<void> => {
    if (phase !== "waiting" || cancelling) return;
    // From now on, what the cancelled sign-in answers ("cancelled") is not news, unless it connected.
    const cancelled = run++;
    cancelling = true;
    sync();
    try {
      if (flowId !== null) await call("cancel_sign_in", { flowId });
      if (connectedRun !== cancelled) hooks.say("ok", CANCELLED_TEXT);
    } catch (error) {
      hooks.say("error", `Could not cancel the sign-in: ${describeError(error)}`);
    }
    cancelling = false;
    backToIdle();
  };

  clientField.addEventListener("input", () => {
    showClientError(null);
    sync();
  });
  signInForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void signIn();
  });
  cancelButton.addEventListener("click", () => void cancel());

  const showManifest = (): void => {
    manifestText.value = setup === null ? "" : yaml.checked ? setup.manifest_yaml : setup.manifest_json;
    copyManifest.disabled = setup === null;
  };
  for (const radio of [json, yaml]) radio.addEventListener("change", showManifest);

  const summary = h("summary", { "data-testid": "slack-guide-summary" }, "Connect a Slack workspace");
  // A click is how a summary toggles, by mouse or by keyboard (Enter or Space).
  summary.addEventListener("click", () => {
    touched = true;
  });
  const code = (text: string) => h("code", {}, text);
  const element = h(
    "details",
    { class: "guide", open: "", "data-testid": "slack-guide" },
    summary,
    h(
      "ol",
      { class: "guide-steps" },
      h(
        "li",
        { "data-testid": "guide-step" },
        h("p", {}, "Create the Slack app from Caret Desktop's manifest."),
        h("div", { class: "actions" }, createButton),
        createProblem,
        manifest,
      ),
      h(
        "li",
        { "data-testid": "guide-step" },
        h("p", {}, "Install it to your workspace: “Install to Workspace” on the app's OAuth & Permissions page."),
        h("div", { class: "actions" }, appsButton),
        appsProblem,
      ),
      h(
        "li",
        { "data-testid": "guide-step" },
        h("p", {}, "Then connect it, either way:"),
        h(
          "ol",
          { class: "guide-ways", type: "A" },
          h(
            "li",
            {},
            h("p", {}, h("strong", {}, "Sign in with Slack"), ": your browser opens Slack, where you allow the app."),
            signInForm,
            signInStatus,
            waiting,
          ),
          h(
            "li",
            {},
            h(
              "p",
              {},
              h("strong", {}, "Or paste the User OAuth Token"),
              " (it starts with ",
              code("xoxp-"),
              ") from the app's OAuth & Permissions page.",
            ),
            pasteForm,
          ),
        ),
      ),
    ),
  );

  const setWorkspaces = (workspaces: readonly WorkspaceView[]): void => {
    const first = !listed;
    listed = true;
    if (touched) return;
    if (!workspaces.some((workspace) => workspace.connected)) element.open = true;
    else if (first && phase === "idle" && !element.contains(document.activeElement)) element.open = false;
  };

  const load = async (): Promise<void> => {
    try {
      setup = await call("slack_app_setup", {});
      manifestProblem.textContent = "";
      if (clientField.value === "" && setup.client_id !== null) clientField.value = setup.client_id;
    } catch (error) {
      manifestProblem.textContent = `Could not load the manifest: ${describeError(error)}`;
    }
    showManifest();
    sync();
  };

  showManifest();
  sync();
  void load();
  return { element, setWorkspaces };
}
