import { describe, expect, it } from "vitest";
import { dndOf, settingsKey, templateOf, withDnd, withTemplate } from "./templates";
import { catalogEntry as entry, settings } from "./test/fixtures";

describe("templates", () => {
  it("uses the user's template over the built-in one", () => {
    const call = entry("in_call");
    expect(templateOf(settings, call)).toEqual(call.builtin);
    const mine = { text: "On the phone", emoji: ":phone:", detailed_text: null };
    const changed = withTemplate(settings, call, mine);
    expect(templateOf(changed, call)).toEqual(mine);
    expect(settings.templates).toEqual({});
  });

  it("drops an override equal to the built-in, and on reset", () => {
    const call = entry("in_call");
    const changed = withTemplate(settings, call, { text: "x", emoji: "", detailed_text: null });
    expect(Object.keys(changed.templates)).toEqual(["in_call"]);
    expect(withTemplate(changed, entry("busy"), null).templates).toEqual(changed.templates);
    expect(withTemplate(changed, call, { ...call.builtin }).templates).toEqual({});
    expect(withTemplate(changed, call, null).templates).toEqual({});
  });

  it("uses the user's Do Not Disturb rule over the built-in one", () => {
    expect(dndOf(settings, entry("in_vehicle"))).toBe("snooze");
    expect(dndOf(settings, entry("in_call"))).toBe("off");
    const changed = { ...settings, dnd: { in_vehicle: "off", in_call: "snooze" } as const };
    expect(dndOf(changed, entry("in_vehicle"))).toBe("off");
    expect(dndOf(changed, entry("in_call"))).toBe("snooze");
  });

  it("keeps a Do Not Disturb rule only where it differs from the built-in", () => {
    const call = entry("in_call");
    const changed = withDnd(settings, call, "snooze");
    expect(changed.dnd).toEqual({ in_call: "snooze" });
    expect(settings.dnd).toEqual({});
    const both = withDnd(changed, entry("sleeping"), "off");
    expect(both.dnd).toEqual({ in_call: "snooze", sleeping: "off" });
    expect(withDnd(both, call, "off").dnd).toEqual({ sleeping: "off" });
    expect(withDnd(both, entry("sleeping"), "snooze").dnd).toEqual({ in_call: "snooze" });
    expect(withDnd(settings, entry("in_vehicle"), "snooze").dnd).toEqual({});
  });

  it("compares settings whatever the order of their keys", () => {
    const a = { ...settings, templates: { busy: entry("busy").builtin, walking: entry("walking").builtin } };
    const b = { ...settings, templates: { walking: entry("walking").builtin, busy: entry("busy").builtin } };
    expect(settingsKey(a)).toBe(settingsKey(b));
    expect(settingsKey(a)).not.toBe(settingsKey({ ...a, lease: 31 }));
  });
});
