import type { KnownNetwork } from "../bindings/KnownNetwork";
import type { PhoneReach } from "../bindings/PhoneReach";
import type { ReachView } from "../bindings/ReachView";
import { button, focusKey, focusLost, focusedKey, h } from "../dom";
import { describeError, type Call } from "../ipc";

/** The running "Phones can reach this computer" section. */
export interface PhoneReachPanel {
  refresh: () => Promise<void>;
  /** Stops asking again when the window comes back to the front. */
  stop: () => void;
}

interface ReachOption {
  choice: PhoneReach;
  label: string;
  hint: string;
  recommended: boolean;
}

const OPTIONS: readonly ReachOption[] = [
  {
    choice: "known_networks",
    label: "On networks where you paired a phone",
    hint:
      "And anywhere while a pairing window is open. Elsewhere (a café's Wi-Fi) phones cannot reach it and " +
      "nothing is announced.",
    recommended: true,
  },
  {
    choice: "any_network",
    label: "On any network",
    hint: "The relay listens on every network this computer joins.",
    recommended: false,
  },
  {
    choice: "this_computer",
    label: "From this computer only",
    hint: "Phones need a tunnel (adb reverse, SSH).",
    recommended: false,
  },
];

/** "This network: …", or that it has no name the app can keep. */
export function networkText(view: ReachView): string {
  if (view.network === null) return "This network cannot be recognised.";
  return view.network_known
    ? `This network: ${view.network} (you paired a phone here).`
    : `This network: ${view.network}.`;
}

/** Whether a phone on this network can connect at this moment. */
export function reachNowText(view: ReachView): string {
  return view.open_to_lan
    ? "Right now phones on this network can reach this computer."
    : "Right now phones on this network cannot reach this computer.";
}

/** "paired 3 Mar 2025", in the person's own calendar. */
export function pairedText(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "paired on an unknown date";
  return `paired ${date.toLocaleDateString(undefined, { dateStyle: "medium" })}`;
}

/**
 * Settings' "Phones can reach this computer": where the relay opens to the LAN (the choice), what that means on
 * the network the computer is on now, and the networks made known by pairing a phone there, each of which can be
 * forgotten. The radios are drawn once and updated in place, so keyboard focus stays on them across refreshes.
 */
export function mountPhoneReach(container: HTMLElement, call: Call): PhoneReachPanel {
  let view: ReachView | null = null;
  /** The choice sent and not yet answered: the radio the person picked stays picked while waiting. */
  let pending: PhoneReach | null = null;
  let busy = false;
  /** Only the answer to the latest call is shown: an older refresh must not undo a newer change. */
  let latest = 0;
  /** The message shown is about loading (a later load clears it; it leaves a failed change's message alone). */
  let loadFailed = false;

  const radios = new Map<PhoneReach, HTMLInputElement>();
  const options = OPTIONS.map((option) => {
    const id = `reach-${option.choice}`;
    const radio = h("input", {
      type: "radio",
      id,
      name: "phone-reach",
      value: option.choice,
      "aria-describedby": `${id}-hint`,
      "data-testid": id,
    });
    radio.addEventListener("change", () => {
      if (radio.checked) void choose(option.choice);
    });
    radios.set(option.choice, radio);
    return h(
      "div",
      { class: "reach-option" },
      radio,
      h(
        "label",
        { for: id },
        h(
          "span",
          { class: "reach-label" },
          option.label,
          option.recommended && " ",
          option.recommended && h("span", { class: "badge" }, "Recommended"),
        ),
        h("span", { class: "reach-hint", id: `${id}-hint` }, option.hint),
      ),
    );
  });
  const forcedNote = h(
    "p",
    { class: "note", id: "reach-forced", hidden: "", "data-testid": "reach-forced" },
    h("code", {}, "CARET_RELAY_LOOPBACK=1"),
    " keeps the relay on this computer, whatever is chosen here. Start Caret Desktop without it to choose.",
  );
  const choices = h(
    "fieldset",
    { class: "reach-choices" },
    h("legend", {}, h("h2", { id: "reach-title" }, "Phones can reach this computer")),
    h("div", { class: "reach-options" }, ...options),
    forcedNote,
  );
  const network = h("p", { "data-testid": "reach-network" });
  const now = h("p", { "data-testid": "reach-now" });
  const explanation = h("p", { class: "note", "data-testid": "reach-explanation" });
  // Read out when a change of choice (or of network) changes what phones can do.
  const status = h("div", { class: "reach-status", "aria-live": "polite" }, network, now, explanation);
  const known = h("div", { class: "known-networks", "data-testid": "known-networks" });
  const messages = h("div", { role: "alert", class: "form-messages" });

  const say = (message: string | null) => {
    messages.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  const networkItem = (entry: KnownNetwork) =>
    h(
      "li",
      { "data-testid": "known-network" },
      h("span", { class: "known-network-label" }, entry.label),
      h("span", { class: "known-network-paired" }, pairedText(entry.paired_at_ms)),
      button("Forget", `forget:${entry.id}`, () => void forget(entry.id), {
        class: "small",
        "aria-label": `Forget ${entry.label}`,
      }),
    );

  const forgetAll = () =>
    h(
      "div",
      { class: "actions" },
      button("Forget all", "forget-all", () => void forget(null), { class: "danger" }),
    );

  const showKnown = (networks: KnownNetwork[]) => {
    const target = focusedKey(known);
    const heading = h("h3", { id: "known-networks-title", tabindex: "-1", "data-focus": "known" }, "Known networks");
    if (networks.length === 0) {
      known.replaceChildren(
        heading,
        h("p", { class: "empty" }, "No known networks yet: pairing a phone makes the network it is on known."),
      );
    } else {
      known.replaceChildren(
        heading,
        h("ul", { "aria-labelledby": "known-networks-title" }, ...networks.map(networkItem)),
        // With a single network, its own Forget says it all.
        ...(networks.length > 1 ? [forgetAll()] : []),
      );
    }
    if (target !== null) focusKey(known, target);
  };

  const show = () => {
    const chosen = pending ?? view?.choice ?? null;
    for (const [choice, radio] of radios) radio.checked = choice === chosen;
    choices.disabled = busy || view === null || view.forced_local;
    const forced = view?.forced_local === true;
    forcedNote.hidden = !forced;
    // A hidden note would still be read as the group's description: it is linked only while it shows.
    if (forced) choices.setAttribute("aria-describedby", forcedNote.id);
    else choices.removeAttribute("aria-describedby");
    if (view === null) return;
    network.textContent = networkText(view);
    now.textContent = reachNowText(view);
    now.className = view.open_to_lan ? "ok" : "";
    explanation.textContent = view.explanation;
    for (const forgetButton of known.querySelectorAll("button")) forgetButton.disabled = busy;
    if (!busy) showKnown(view.known_networks);
  };

  /** Runs one call that answers the whole view; `failure` words its error. */
  const ask = async (request: () => Promise<ReachView>, failure: string, isLoad: boolean): Promise<void> => {
    const mine = ++latest;
    try {
      const next = await request();
      if (mine !== latest) return;
      view = next;
      if (!isLoad || loadFailed) say(null);
      loadFailed = false;
    } catch (error) {
      if (mine !== latest) return;
      say(`${failure}: ${describeError(error)}`);
      loadFailed = isLoad;
    }
  };

  const refresh = async (): Promise<void> => {
    if (busy) return;
    await ask(() => call("reach", {}), "Could not load where phones can reach this computer", true);
    show();
  };

  /** Runs a change with the controls disabled meanwhile (their focus may be lost: the caller puts it back). */
  const change = async (work: () => Promise<ReachView>, failure: string): Promise<void> => {
    busy = true;
    say(null);
    show();
    try {
      await ask(work, failure, false);
    } finally {
      busy = false;
      pending = null;
    }
    show();
  };

  const choose = async (choice: PhoneReach): Promise<void> => {
    if (busy || view === null || choice === view.choice) return;
    pending = choice;
    // A failure leaves `view` as it was, so the radio of the previous choice is checked again.
    await change(() => call("set_phone_reach", { choice }), "Could not change where phones can reach this computer");
    // The focus belongs on the checked radio, also when the change failed and another radio kept it.
    const active = document.activeElement;
    if (focusLost() || (active instanceof HTMLInputElement && choices.contains(active))) {
      radios.get(view.choice)?.focus();
    }
  };

  const forget = async (id: string | null): Promise<void> => {
    if (busy) return;
    const pressed = focusedKey(known);
    await change(
      () => call("forget_networks", { id }),
      id === null ? "Could not forget the networks" : "Could not forget the network",
    );
    // Disabling the button took the focus away: back to it if it is still there (the call failed), else to the
    // list's heading (it went away with its network).
    if (focusLost() && pressed !== null) focusKey(known, pressed);
    if (focusLost()) focusKey(known, "known");
  };

  // The computer may have moved to another network while the window was behind others.
  const onFocus = () => void refresh();
  window.addEventListener("focus", onFocus);

  container.replaceChildren(
    h("section", { class: "phone-reach", "aria-labelledby": "reach-title" }, choices, status, known, messages),
  );
  show();
  void refresh();
  return {
    refresh,
    stop: () => {
      window.removeEventListener("focus", onFocus);
    },
  };
}
