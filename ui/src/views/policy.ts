import type { Policy } from "../bindings/Policy";
import type { PolicyChoice } from "../bindings/PolicyChoice";
import type { PolicySetting } from "../bindings/PolicySetting";
import { clockTime, DEFAULT_CLOCK, type TimeFormat } from "../clock";
import { h } from "../dom";

/** How long "Blocked for 1 hour" blocks. */
export const BLOCK_MINUTES = 60;

/** One radio of the policy group. */
export type PolicyOption = "default" | "trusted" | "vip" | "block-hour" | "block";

interface OptionSpec {
  option: PolicyOption;
  label: string;
  description: string;
  choice: PolicyChoice;
}

const BLOCK_HOUR_DESCRIPTION = "Shows nothing for an hour, then goes back to the policy above.";

const OPTIONS: readonly OptionSpec[] = [
  {
    option: "default",
    label: "Default",
    description: "Shows “Busy” whenever you are not available; never says what you are doing.",
    choice: { kind: "default" },
  },
  {
    option: "trusted",
    label: "Trusted",
    description: "Names what you are doing (“Driving”, “In a call”), without event titles.",
    choice: { kind: "trusted" },
  },
  {
    option: "vip",
    label: "VIP",
    description: "Also shows the details of the VIP texts, such as an event's title and when it ends.",
    choice: { kind: "vip" },
  },
  {
    option: "block-hour",
    label: "Blocked for 1 hour",
    description: BLOCK_HOUR_DESCRIPTION,
    choice: { kind: "block_for", minutes: BLOCK_MINUTES },
  },
  {
    option: "block",
    label: "Blocked until resumed",
    description: "Shows nothing until you resume sharing.",
    choice: { kind: "block_until_resumed" },
  },
];

/** The display name of a policy in force. */
export function policyName(policy: Policy): string {
  switch (policy) {
    case "default":
      return "Default";
    case "trusted":
      return "Trusted";
    case "vip":
      return "VIP";
    case "blocked":
      return "Blocked";
  }
}

/** The radio that stands for a workspace's policy. */
export function selectedOption(policy: PolicySetting, effective: Policy): PolicyOption {
  if (effective === "blocked" && policy.blocked !== null) {
    return policy.blocked.until === null ? "block" : "block-hour";
  }
  return policy.sharing;
}

/** What a policy looks like once `choice` is applied, to show it before the app confirms. */
export function expectedPolicy(current: PolicySetting, choice: PolicyChoice, now: number): PolicySetting {
  switch (choice.kind) {
    case "default":
    case "trusted":
    case "vip":
      return { sharing: choice.kind, blocked: null };
    case "block_for":
      return { ...current, blocked: { until: new Date(now + choice.minutes * 60_000).toISOString() } };
    case "block_until_resumed":
      return { ...current, blocked: { until: null } };
    case "resume":
      return { ...current, blocked: null };
  }
}

/** Whether `policy` is what `choice` asked for (the app carries policy changes out without answering). */
export function isApplied(policy: PolicySetting, choice: PolicyChoice): boolean {
  switch (choice.kind) {
    case "default":
    case "trusted":
    case "vip":
      return policy.sharing === choice.kind && policy.blocked === null;
    case "block_for":
      return policy.blocked !== null && policy.blocked.until !== null;
    case "block_until_resumed":
      return policy.blocked !== null && policy.blocked.until === null;
    case "resume":
      return policy.blocked === null;
  }
}

/** The policy in force with `policy` as set, now. */
export function effectiveOf(policy: PolicySetting, now: number): Policy {
  const blocked = policy.blocked;
  if (blocked !== null && (blocked.until === null || Date.parse(blocked.until) > now)) return "blocked";
  return policy.sharing;
}

/** The policy radios of one workspace, drawn once and updated in place so that keyboard focus stays. */
export interface PolicyControl {
  element: HTMLElement;
  update: (policy: PolicySetting, effective: Policy) => void;
  /** Shows why the last change failed, or nothing. */
  setError: (message: string | null) => void;
  /** Writes the end of a block ("until 15:42") in this clock from now on. */
  setClock: (clock: TimeFormat) => void;
}

/**
 * The policy of one workspace: Default / Trusted / VIP, the two blocks, and "Resume sharing" while blocked.
 * `choose` is called with the change as soon as the person makes it.
 */
export function createPolicyControl(idPrefix: string, choose: (choice: PolicyChoice) => void): PolicyControl {
  const radios = new Map<PolicyOption, HTMLInputElement>();
  const descriptions = new Map<PolicyOption, HTMLElement>();
  const options = OPTIONS.map((spec) => {
    const id = `${idPrefix}-policy-${spec.option}`;
    const description = h("span", { class: "policy-description", id: `${id}-description` }, spec.description);
    const radio = h("input", {
      type: "radio",
      id,
      name: `${idPrefix}-policy`,
      value: spec.option,
      "aria-describedby": `${id}-description`,
      "data-testid": `policy-${spec.option}`,
    });
    radio.addEventListener("change", () => {
      if (radio.checked) choose(spec.choice);
    });
    radios.set(spec.option, radio);
    descriptions.set(spec.option, description);
    return h(
      "div",
      { class: `policy-option${spec.option.startsWith("block") ? " policy-option-block" : ""}` },
      radio,
      h("label", { for: id }, h("span", { class: "policy-label" }, spec.label), description),
    );
  });
  const blockedLine = h("p", { class: "policy-blocked-line" });
  const resume = h(
    "button",
    { type: "button", class: "primary", "data-testid": "policy-resume", "data-focus": "policy-resume" },
    "Resume sharing",
  );
  resume.addEventListener("click", () => {
    choose({ kind: "resume" });
  });
  const blocked = h("div", { class: "policy-blocked", hidden: "" }, blockedLine, resume);
  const error = h("div", { role: "alert", class: "policy-messages" });
  const element = h(
    "fieldset",
    { class: "policy" },
    h("legend", {}, "What this workspace may see"),
    h("p", { class: "note" }, "A change applies at once, as from the tray menu."),
    h("div", { class: "policy-options" }, ...options),
    h("div", { role: "status" }, blocked),
    error,
  );

  let clock = DEFAULT_CLOCK;
  let shown: [PolicySetting, Policy] | null = null;

  const update = (policy: PolicySetting, effective: Policy): void => {
    shown = [policy, effective];
    const selected = selectedOption(policy, effective);
    for (const [option, radio] of radios) radio.checked = option === selected;
    const hour = descriptions.get("block-hour");
    const until = policy.blocked?.until ?? null;
    if (hour) {
      hour.textContent =
        selected === "block-hour" && until !== null
          ? `Shows nothing until ${clockTime(until, clock)}, then goes back to the policy above.`
          : BLOCK_HOUR_DESCRIPTION;
    }
    const isBlocked = effective === "blocked";
    blocked.hidden = !isBlocked;
    blockedLine.textContent = !isBlocked
      ? ""
      : until === null
        ? `Sharing is blocked until you resume it; then ${policyName(policy.sharing)} applies again.`
        : `Sharing is blocked until ${clockTime(until, clock)}; then ${policyName(policy.sharing)} applies again.`;
  };

  const setError = (message: string | null): void => {
    error.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  const setClock = (next: TimeFormat): void => {
    clock = next;
    if (shown !== null) update(...shown);
  };

  return { element, update, setError, setClock };
}
