import type { StateTemplate } from "../bindings/StateTemplate";
import type { TemplateCatalog } from "../bindings/TemplateCatalog";
import type { TemplateState } from "../bindings/TemplateState";
import type { TimeFormat } from "../bindings/TimeFormat";
import type { WorkspaceSettings } from "../bindings/WorkspaceSettings";
import { h } from "../dom";
import { emojiLook, renderEmoji } from "../emoji";
import { dndOf, templateOf, withDnd, withTemplate } from "../templates";

/** The lease bounds (LeaseMinutes::MIN and MAX in crates/caret-core). */
export const LEASE_MIN = 5;
export const LEASE_MAX = 720;

/** The lease typed in the field, or null when it is not a whole number of minutes in range. */
export function parseLease(raw: string): number | null {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) return null;
  const minutes = Number(text);
  return minutes >= LEASE_MIN && minutes <= LEASE_MAX ? minutes : null;
}

/** The form of one workspace's settings. */
export interface SettingsForm {
  element: HTMLElement;
  /** Puts `settings` in every field (after loading, or to discard changes). */
  set: (settings: WorkspaceSettings) => void;
}

/**
 * Called with the settings as edited after every change. `valid` is false while a field holds something that
 * cannot be sent at all (the settings then keep the last good value of that field).
 */
export type FormChange = (settings: WorkspaceSettings, valid: boolean) => void;

interface TemplateRow {
  entry: TemplateState;
  row: HTMLElement;
  text: HTMLInputElement;
  emoji: HTMLInputElement;
  /** The glyph of the code typed, beside the field. */
  glyph: HTMLElement;
  detailed: HTMLInputElement;
  /** Checked: the state pauses Slack's notifications (Do Not Disturb) while it lasts. */
  dnd: HTMLInputElement;
  badge: HTMLElement;
  reset: HTMLButtonElement;
}

/** "a", "a and b", "a, b and c". */
function inWords(items: readonly string[]): string {
  const last = items.at(-1) ?? "";
  return items.length <= 1 ? last : `${items.slice(0, -1).join(", ")} and ${last}`;
}

function field(attributes: Record<string, string>): HTMLInputElement {
  return h("input", { autocomplete: "off", spellcheck: "false", ...attributes });
}

/**
 * Builds the fields once (so typing never loses focus) and reports every change through `changed`: the phone
 * number, how each state looks and whether it pauses notifications, the lease, the time format and whether a
 * status set elsewhere is replaced. The policy is not here: it applies at once.
 * `catalog` (the app's `template_catalog`) names the states the user can change, their built-in look and
 * Do Not Disturb rule, and the placeholders a VIP text may use.
 */
export function createSettingsForm(
  prefix: string,
  catalog: TemplateCatalog,
  initial: WorkspaceSettings,
  changed: FormChange,
): SettingsForm {
  let settings = initial;
  let leaseValid = true;
  const id = (name: string) => `${prefix}-${name}`;

  // Phone number
  const share = h("input", { type: "checkbox", id: id("phone-share"), "data-testid": "phone-share" });
  const number = field({
    type: "tel",
    id: id("phone-number"),
    inputmode: "tel",
    maxlength: "32",
    placeholder: "+1 555 0100",
    "aria-describedby": id("phone-note"),
    "data-testid": "phone-number",
  });
  const phone = h(
    "fieldset",
    { class: "form-group" },
    h("legend", {}, "Phone number"),
    h("div", { class: "check" }, share, h("label", { for: id("phone-share") }, "Show my phone number in the status")),
    h(
      "div",
      { class: "field" },
      h("label", { for: id("phone-number") }, "Number"),
      number,
      h(
        "p",
        { class: "note", id: id("phone-note") },
        "Added after the status text in this workspace, whatever the policy. Digits, spaces and + - ( ) . only.",
      ),
    ),
  );

  // Templates
  const rows: TemplateRow[] = catalog.states.map((entry) => {
    const label = (what: string) => `${entry.label}: ${what}`;
    const emoji = field({
      type: "text",
      class: "template-emoji",
      "aria-label": label("emoji code"),
      placeholder: ":emoji:",
      "data-testid": "template-emoji",
    });
    const text = field({
      type: "text",
      class: "template-text",
      "aria-label": label("text"),
      "data-testid": "template-text",
    });
    const detailed = field({
      type: "text",
      class: "template-detailed",
      "aria-label": label("VIP text"),
      "aria-describedby": id("templates-note"),
      placeholder: "Same as the text",
      "data-testid": "template-detailed",
    });
    const dndId = id(`${entry.state}-dnd`);
    const dnd = h("input", {
      type: "checkbox",
      id: dndId,
      class: "template-dnd",
      "aria-describedby": id("dnd-note"),
      "data-testid": "template-dnd",
    });
    // The column says "Do Not Disturb" and each row "Pause notifications"; the label names the state and the
    // feature for a screen reader, and stays a click target for the box.
    const dndLabel = h(
      "label",
      { for: dndId },
      h("span", { class: "visually-hidden" }, `${entry.label}: `),
      "Pause notifications",
      h("span", { class: "visually-hidden" }, " (Do Not Disturb)"),
    );
    // What the code looks like, as it is typed: the field keeps the code Slack is sent.
    const glyph = h("span", { class: "template-glyph", "data-testid": "template-glyph" });
    const badge = h("span", { class: "badge" });
    const reset = h(
      "button",
      {
        type: "button",
        class: "small",
        "aria-label": `Reset ${entry.label} to the built-in look`,
        "data-testid": "template-reset",
      },
      "Reset",
    );
    const row = h(
      "tr",
      { "data-testid": "template-row", "data-state": entry.state },
      h("th", { scope: "row" }, entry.label, " ", badge),
      h("td", {}, h("div", { class: "template-emoji-cell" }, emoji, glyph)),
      h("td", {}, text),
      h("td", {}, detailed),
      h("td", {}, h("div", { class: "check" }, dnd, dndLabel)),
      h("td", {}, reset),
    );
    return { entry, row, text, emoji, glyph, detailed, dnd, badge, reset };
  });
  const placeholders = inWords(catalog.detail_placeholders);
  const templates = h(
    "fieldset",
    { class: "form-group" },
    h("legend", {}, "How each state looks"),
    h(
      "p",
      { class: "note", id: id("templates-note") },
      "The text shows under Trusted (Busy's under Default too). The VIP text shows under VIP instead" +
        (placeholders === "" ? "" : ` and may use ${placeholders}`) +
        "; leave it empty to show the text. An emoji is a code like :car: (its picture shows beside it when it " +
        "is a standard one), or empty for Slack's default.",
    ),
    h(
      "p",
      { class: "note", id: id("dnd-note") },
      "Pause notifications snoozes your Slack notifications (Do Not Disturb) while the state lasts. Under " +
        "Default only Busy's choice counts (every state is shown as Busy); Blocked never pauses them. A snooze " +
        "you start yourself in Slack is left alone.",
    ),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "templates-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "State"),
            h("th", { scope: "col" }, "Emoji"),
            h("th", { scope: "col" }, "Text"),
            h("th", { scope: "col" }, "VIP text"),
            h("th", { scope: "col" }, "Do Not Disturb"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Reset")),
          ),
        ),
        h("tbody", {}, ...rows.map((row) => row.row)),
      ),
    ),
  );

  // Lease
  const lease = field({
    type: "number",
    id: id("lease"),
    min: String(LEASE_MIN),
    max: String(LEASE_MAX),
    step: "1",
    inputmode: "numeric",
    required: "",
    "aria-describedby": `${id("lease-note")} ${id("lease-error")}`,
    "data-testid": "lease-minutes",
  });
  const leaseError = h("p", { class: "field-error", id: id("lease-error") });
  const leaseGroup = h(
    "div",
    { class: "form-group field" },
    h("label", { for: id("lease") }, "Keep a status from the phone for (minutes)"),
    lease,
    h(
      "p",
      { class: "note", id: id("lease-note") },
      `How long a status your phone reported stays in Slack if this desktop stops (shut down, asleep, offline) ` +
        `and can no longer renew or clear it. While the desktop runs, it is renewed as long as the phone says so. ` +
        `From ${String(LEASE_MIN)} to ${String(LEASE_MAX)} minutes.`,
    ),
    leaseError,
  );

  // Time format
  const timeRadio = (format: TimeFormat, label: string) => {
    const radio = h("input", {
      type: "radio",
      id: id(`time-${format}`),
      name: id("time-format"),
      value: format,
      "data-testid": format === "h24" ? "time-24" : "time-12",
    });
    return [radio, h("div", { class: "check" }, radio, h("label", { for: id(`time-${format}`) }, label))] as const;
  };
  const [h24, h24Row] = timeRadio("h24", "24-hour (15:30)");
  const [h12, h12Row] = timeRadio("h12", "12-hour (3:30 PM)");
  // Only the status text: the windows write times as Preferences → Times says.
  const time = h(
    "fieldset",
    { class: "form-group", "aria-describedby": id("time-note"), "data-testid": "time-format" },
    h("legend", {}, "Times in the Slack status text"),
    h24Row,
    h12Row,
    h(
      "p",
      { class: "note", id: id("time-note") },
      "How this workspace's status writes a time, such as when an event ends (“until 3:30 PM”). Caret " +
        "Desktop's own windows follow Times under Preferences.",
    ),
  );

  // A status set outside Caret Desktop
  const override = h("input", { type: "checkbox", id: id("always-override"), "data-testid": "always-override" });
  const foreign = h(
    "fieldset",
    { class: "form-group" },
    h("legend", {}, "A status set outside Caret Desktop"),
    h(
      "div",
      { class: "check" },
      override,
      h("label", { for: id("always-override") }, "Replace it (always override)"),
    ),
    h(
      "p",
      { class: "note", id: id("override-note") },
      "Off: a status you or another app set in Slack is left alone until it is gone, then Caret Desktop's " +
        "comes back. On: Caret Desktop's status replaces it.",
    ),
  );
  override.setAttribute("aria-describedby", id("override-note"));

  const emit = () => {
    changed(settings, leaseValid);
  };

  const showTemplate = (row: TemplateRow) => {
    const template = templateOf(settings, row.entry);
    row.text.value = template.text;
    row.emoji.value = template.emoji;
    row.detailed.value = template.detailed_text ?? "";
    showGlyph(row);
    showCustom(row);
  };

  const showDnd = (row: TemplateRow) => {
    row.dnd.checked = dndOf(settings, row.entry) === "snooze";
  };

  /** The picture of a standard code; nothing beside a custom one, which the field already shows as it is. */
  const showGlyph = (row: TemplateRow) => {
    const look = emojiLook(row.emoji.value);
    row.glyph.replaceChildren(look.kind === "glyph" ? (renderEmoji(look.code) ?? "") : "");
  };

  const showCustom = (row: TemplateRow) => {
    const custom = settings.templates[row.entry.state] !== undefined;
    row.badge.textContent = custom ? "Custom" : "Built-in";
    row.badge.className = custom ? "badge badge-custom" : "badge";
    row.reset.disabled = !custom;
  };

  const showLeaseError = () => {
    lease.setAttribute("aria-invalid", String(!leaseValid));
    leaseError.textContent = leaseValid
      ? ""
      : `Enter a whole number of minutes from ${String(LEASE_MIN)} to ${String(LEASE_MAX)}.`;
  };

  for (const row of rows) {
    const edit = () => {
      const next: StateTemplate = {
        text: row.text.value,
        emoji: row.emoji.value.trim(),
        detailed_text: row.detailed.value.trim() === "" ? null : row.detailed.value,
      };
      settings = withTemplate(settings, row.entry, next);
      showGlyph(row);
      showCustom(row);
      emit();
    };
    for (const input of [row.text, row.emoji, row.detailed]) input.addEventListener("input", edit);
    // Apart from the look: Reset gives back the built-in look and leaves this as chosen.
    row.dnd.addEventListener("change", () => {
      settings = withDnd(settings, row.entry, row.dnd.checked ? "snooze" : "off");
      emit();
    });
    row.reset.addEventListener("click", () => {
      settings = withTemplate(settings, row.entry, null);
      showTemplate(row);
      // The button just disabled itself: keep the focus in the row.
      row.text.focus();
      emit();
    });
  }

  const readPhone = () => {
    const typed = number.value.trim();
    settings = { ...settings, phone: { share: share.checked, number: typed === "" ? null : typed } };
    number.required = share.checked;
    emit();
  };
  share.addEventListener("change", readPhone);
  number.addEventListener("input", readPhone);

  lease.addEventListener("input", () => {
    const minutes = parseLease(lease.value);
    leaseValid = minutes !== null;
    if (minutes !== null) settings = { ...settings, lease: minutes };
    showLeaseError();
    emit();
  });

  override.addEventListener("change", () => {
    settings = { ...settings, always_override: override.checked };
    emit();
  });

  for (const radio of [h24, h12]) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      settings = { ...settings, time_format: radio === h12 ? "h12" : "h24" };
      emit();
    });
  }

  const set = (next: WorkspaceSettings) => {
    settings = next;
    share.checked = next.phone.share;
    number.value = next.phone.number ?? "";
    number.required = next.phone.share;
    for (const row of rows) {
      showTemplate(row);
      showDnd(row);
    }
    lease.value = String(next.lease);
    leaseValid = true;
    showLeaseError();
    h24.checked = next.time_format === "h24";
    h12.checked = next.time_format === "h12";
    override.checked = next.always_override;
  };
  set(initial);

  return { element: h("div", { class: "settings-form" }, phone, templates, leaseGroup, time, foreign), set };
}
