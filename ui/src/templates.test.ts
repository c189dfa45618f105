import { describe, expect, it } from "vitest";
import { settingsKey, templateOf, withTemplate } from "./templates";
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

  it("compares settings whatever the order of their keys", () => {
    const a = { ...settings, templates: { busy: entry("busy").builtin, walking: entry("walking").builtin } };
    const b = { ...settings, templates: { walking: entry("walking").builtin, busy: entry("busy").builtin } };
    expect(settingsKey(a)).toBe(settingsKey(b));
    expect(settingsKey(a)).not.toBe(settingsKey({ ...a, lease: 31 }));
  });
});
