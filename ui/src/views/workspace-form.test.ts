import { describe, expect, it, vi } from "vitest";
import type { TemplateCatalog } from "../bindings/TemplateCatalog";
import type { WorkspaceSettings } from "../bindings/WorkspaceSettings";
import { allByTestId, inputByTestId, typeInto } from "../test/fake-app";
import { catalog, settings } from "../test/fixtures";
import { createSettingsForm, parseLease } from "./workspace-form";

const templateRow = (root: HTMLElement, state: string) => {
  const row = allByTestId(root, "template-row").find((candidate) => candidate.dataset.state === state);
  if (row === undefined) throw new Error(`no template row for ${state}`);
  const input = (id: string) => inputByTestId(row, id);
  return {
    row,
    text: input("template-text"),
    emoji: input("template-emoji"),
    detailed: input("template-detailed"),
    dnd: input("template-dnd"),
    reset: row.querySelector<HTMLButtonElement>('[data-testid="template-reset"]'),
    glyph: () => row.querySelector('[data-testid="template-glyph"]'),
    badge: row.querySelector(".badge")?.textContent,
  };
};

function mount(initial: WorkspaceSettings = settings, templates: TemplateCatalog = catalog) {
  const changed = vi.fn<(settings: WorkspaceSettings, valid: boolean) => void>();
  const form = createSettingsForm("ws-1", templates, initial, changed);
  document.body.append(form.element);
  const last = () => changed.mock.calls.at(-1);
  return { form, changed, last, root: form.element };
}

describe("parseLease", () => {
  it("takes whole minutes from 5 to 720", () => {
    expect(parseLease("30")).toBe(30);
    expect(parseLease(" 5 ")).toBe(5);
    expect(parseLease("720")).toBe(720);
    expect(parseLease("4")).toBeNull();
    expect(parseLease("721")).toBeNull();
    expect(parseLease("7.5")).toBeNull();
    expect(parseLease("")).toBeNull();
  });
});

describe("createSettingsForm", () => {
  it("shows the built-in look of a state the user has not changed", () => {
    const { root } = mount();
    const meeting = templateRow(root, "event");
    expect(meeting.text.value).toBe("In a meeting");
    expect(meeting.emoji.value).toBe(":calendar:");
    expect(meeting.detailed.value).toBe("{title} (until {end})");
    expect(meeting.badge).toBe("Built-in");
    expect(meeting.reset?.disabled).toBe(true);
    expect(meeting.text.getAttribute("aria-label")).toBe("At an event: text");
    expect(templateRow(root, "in_vehicle").text.value).toBe("Driving");
    expect(allByTestId(root, "template-row").some((row) => row.dataset.state === "available")).toBe(false);
    root.remove();
  });

  it("has a row for each state of the catalog, in its order, named by its label", () => {
    const { root } = mount(settings, {
      states: [
        {
          state: "sleeping",
          label: "Asleep",
          builtin: { text: "Zzz", emoji: ":zzz:", detailed_text: null },
          builtin_dnd: "snooze",
        },
        {
          state: "busy",
          label: "Occupied",
          builtin: { text: "Busy", emoji: "", detailed_text: null },
          builtin_dnd: "off",
        },
      ],
      detail_placeholders: ["{title}"],
    });
    const rows = allByTestId(root, "template-row");
    expect(rows.map((row) => row.dataset.state)).toEqual(["sleeping", "busy"]);
    expect(rows.map((row) => row.querySelector("th")?.firstChild?.textContent)).toEqual(["Asleep", "Occupied"]);
    const sleeping = templateRow(root, "sleeping");
    expect(sleeping.text.value).toBe("Zzz");
    expect(sleeping.emoji.getAttribute("aria-label")).toBe("Asleep: emoji code");
    expect(sleeping.reset?.getAttribute("aria-label")).toBe("Reset Asleep to the built-in look");
    const note = document.getElementById(sleeping.detailed.getAttribute("aria-describedby") ?? "");
    expect(note?.textContent).toContain("The VIP text shows under VIP instead and may use {title};");
    root.remove();
  });

  it("names the placeholders the catalog allows", () => {
    const { root } = mount();
    const detailed = templateRow(root, "event").detailed;
    const note = document.getElementById(detailed.getAttribute("aria-describedby") ?? "");
    expect(note?.textContent).toContain("may use {title}, {start} and {end}; leave it empty to show the text.");
    root.remove();
  });

  it("shows the user's own look, and Reset removes it", () => {
    const own = { text: "On the phone", emoji: ":phone:", detailed_text: null };
    const { root, last } = mount({ ...settings, templates: { in_call: own } });
    const call = templateRow(root, "in_call");
    expect(call.text.value).toBe("On the phone");
    expect(call.badge).toBe("Custom");
    call.reset?.click();
    expect(last()?.[0].templates).toEqual({});
    const after = templateRow(root, "in_call");
    expect(after.text.value).toBe("In a call");
    expect(after.badge).toBe("Built-in");
    expect(after.reset?.disabled).toBe(true);
    expect(document.activeElement).toBe(after.text);
    root.remove();
  });

  it("keeps the emoji field a code and shows its picture beside it as it is typed", () => {
    const { root, last } = mount();
    const call = templateRow(root, "in_call");
    expect(call.emoji.value).toBe(":telephone_receiver:");
    expect(call.glyph()?.textContent).toBe("📞");
    expect(call.glyph()?.querySelector("[title]")?.getAttribute("title")).toBe(":telephone_receiver:");
    typeInto(call.emoji, ":car:");
    expect(call.glyph()?.textContent).toBe("🚗");
    expect(last()?.[0].templates.in_call?.emoji).toBe(":car:");
    // A custom emoji (or a skin tone) has no picture here: the field already shows its code.
    typeInto(call.emoji, ":acme-logo:");
    expect(call.glyph()?.textContent).toBe("");
    typeInto(call.emoji, ":wave::skin-tone-2:");
    expect(call.glyph()?.textContent).toBe("");
    typeInto(call.emoji, "");
    expect(call.glyph()?.textContent).toBe("");
    // Reset brings the built-in picture back.
    call.reset?.click();
    expect(templateRow(root, "in_call").glyph()?.textContent).toBe("📞");
    root.remove();
  });

  it("turns an edit into an override with all three fields", () => {
    const { root, last } = mount();
    const call = templateRow(root, "in_call");
    typeInto(call.text, "On the phone");
    expect(last()).toEqual([
      {
        ...settings,
        templates: { in_call: { text: "On the phone", emoji: ":telephone_receiver:", detailed_text: null } },
      },
      true,
    ]);
    typeInto(call.detailed, "Call about {title}");
    expect(last()?.[0].templates.in_call?.detailed_text).toBe("Call about {title}");
    expect(templateRow(root, "in_call").badge).toBe("Custom");
    // Typing the built-in back removes the override.
    typeInto(call.text, "In a call");
    typeInto(call.detailed, "");
    expect(last()?.[0].templates).toEqual({});
    root.remove();
  });

  it("checks Pause notifications where the built-in rule pauses them, and names the state", () => {
    const { root } = mount();
    expect(templateRow(root, "in_vehicle").dnd.checked).toBe(true);
    expect(templateRow(root, "sleeping").dnd.checked).toBe(true);
    expect(templateRow(root, "in_call").dnd.checked).toBe(false);
    expect(templateRow(root, "busy").dnd.checked).toBe(false);
    // One box per state, found by id; its label is a visible click target naming the state.
    const car = document.getElementById("ws-1-in_vehicle-dnd") as HTMLInputElement | null;
    expect(car).toBe(templateRow(root, "in_vehicle").dnd);
    expect(car?.className).toBe("template-dnd");
    expect(car?.labels?.[0]?.textContent).toBe("In a vehicle: Pause notifications (Do Not Disturb)");
    expect([...root.querySelectorAll("thead th")].map((th) => th.textContent)).toContain("Do Not Disturb");
    const note = document.getElementById(car?.getAttribute("aria-describedby") ?? "");
    expect(note?.textContent).toContain("Under Default only Busy's choice counts (every state is shown as Busy)");
    expect(note?.textContent).toContain("A snooze you start yourself in Slack is left alone.");
    root.remove();
  });

  it("checks Pause notifications as the user's changed rules say", () => {
    const { root } = mount({ ...settings, dnd: { in_vehicle: "off", in_call: "snooze" } });
    expect(templateRow(root, "in_vehicle").dnd.checked).toBe(false);
    expect(templateRow(root, "in_call").dnd.checked).toBe(true);
    expect(templateRow(root, "sleeping").dnd.checked).toBe(true);
    expect(templateRow(root, "busy").dnd.checked).toBe(false);
    root.remove();
  });

  it("keeps a Do Not Disturb rule only where it differs from the built-in", () => {
    const { root, last } = mount();
    templateRow(root, "in_call").dnd.click();
    expect(last()).toEqual([{ ...settings, dnd: { in_call: "snooze" } }, true]);
    templateRow(root, "in_vehicle").dnd.click();
    expect(last()?.[0].dnd).toEqual({ in_call: "snooze", in_vehicle: "off" });
    // Back to the built-in: the key goes.
    templateRow(root, "in_call").dnd.click();
    expect(last()?.[0].dnd).toEqual({ in_vehicle: "off" });
    templateRow(root, "in_vehicle").dnd.click();
    expect(last()).toEqual([settings, true]);
    // Removed, not left as an undefined key (which toEqual would not see).
    expect(Object.keys(last()?.[0].dnd ?? {})).toEqual([]);
    root.remove();
  });

  it("leaves the Do Not Disturb rule alone when the look is reset", () => {
    const own = { text: "On the phone", emoji: ":phone:", detailed_text: null };
    const { root, last } = mount({ ...settings, templates: { in_call: own }, dnd: { in_call: "snooze" } });
    templateRow(root, "in_call").reset?.click();
    expect(last()?.[0].templates).toEqual({});
    expect(last()?.[0].dnd).toEqual({ in_call: "snooze" });
    expect(templateRow(root, "in_call").dnd.checked).toBe(true);
    root.remove();
  });

  it("edits the phone number sharing", () => {
    const { root, last } = mount();
    const share = inputByTestId(root, "phone-share");
    const number = inputByTestId(root, "phone-number");
    expect(share.labels?.[0]?.textContent).toBe("Show my phone number in the status");
    expect(number.labels?.[0]?.textContent).toBe("Number");
    share.click();
    expect(last()?.[0].phone).toEqual({ share: true, number: null });
    expect(number.required).toBe(true);
    typeInto(number, " +1 555 0100 ");
    expect(last()?.[0].phone).toEqual({ share: true, number: "+1 555 0100" });
    root.remove();
  });

  it("checks the lease and explains it", () => {
    const { root, last } = mount();
    const lease = inputByTestId(root, "lease-minutes");
    expect(lease.value).toBe("30");
    expect(lease.min).toBe("5");
    expect(lease.max).toBe("720");
    expect(lease.labels?.[0]?.textContent).toBe("Keep a status from the phone for (minutes)");
    const described = (lease.getAttribute("aria-describedby") ?? "")
      .split(" ")
      .map((id) => document.getElementById(id));
    expect(described[0]?.textContent).toContain("if this desktop stops");
    typeInto(lease, "900");
    expect(last()).toEqual([settings, false]);
    expect(lease.getAttribute("aria-invalid")).toBe("true");
    expect(described[1]?.textContent).toBe("Enter a whole number of minutes from 5 to 720.");
    typeInto(lease, "45");
    expect(last()).toEqual([{ ...settings, lease: 45 }, true]);
    expect(described[1]?.textContent).toBe("");
    root.remove();
  });

  it("switches the time format, which is said to be the Slack status text's", () => {
    const { root, last } = mount();
    const group = root.querySelector('[data-testid="time-format"]');
    expect(group?.querySelector("legend")?.textContent).toBe("Times in the Slack status text");
    expect(document.getElementById(group?.getAttribute("aria-describedby") ?? "")?.textContent).toContain(
      "own windows follow Times under Preferences",
    );
    expect(inputByTestId(root, "time-24").checked).toBe(true);
    inputByTestId(root, "time-12").click();
    expect(last()?.[0].time_format).toBe("h12");
    root.remove();
  });

  it("turns always override on, saying what it replaces", () => {
    const { root, last } = mount();
    const override = inputByTestId(root, "always-override");
    expect(override.checked).toBe(false);
    expect(override.labels?.[0]?.textContent).toBe("Replace it (always override)");
    expect(document.getElementById(override.getAttribute("aria-describedby") ?? "")?.textContent).toContain(
      "left alone until it is gone",
    );
    override.click();
    expect(last()).toEqual([{ ...settings, always_override: true }, true]);
    root.remove();
  });

  it("puts settings back in every field", () => {
    const { root, form } = mount();
    typeInto(inputByTestId(root, "lease-minutes"), "2");
    templateRow(root, "in_call").dnd.click();
    form.set({
      ...settings,
      lease: 60,
      phone: { share: true, number: "+44 20 7946 0000" },
      dnd: { sleeping: "off" },
      always_override: true,
    });
    expect(templateRow(root, "in_call").dnd.checked).toBe(false);
    expect(templateRow(root, "sleeping").dnd.checked).toBe(false);
    expect(templateRow(root, "in_vehicle").dnd.checked).toBe(true);
    expect(inputByTestId(root, "always-override").checked).toBe(true);
    expect(inputByTestId(root, "lease-minutes").value).toBe("60");
    expect(inputByTestId(root, "lease-minutes").getAttribute("aria-invalid")).toBe("false");
    expect(inputByTestId(root, "phone-share").checked).toBe(true);
    expect(inputByTestId(root, "phone-number").value).toBe("+44 20 7946 0000");
    root.remove();
  });
});
