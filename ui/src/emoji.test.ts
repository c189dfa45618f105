import { describe, expect, it } from "vitest";
import { EMOJI_GLYPHS } from "./bindings/emoji";
import { emojiLook, renderEmoji } from "./emoji";

describe("emojiLook", () => {
  it("shows the glyph of a standard short name", () => {
    expect(emojiLook(":telephone_receiver:")).toEqual({
      kind: "glyph",
      glyph: "📞",
      code: ":telephone_receiver:",
      name: "telephone receiver",
    });
  });

  it("shows a custom emoji, a skin tone or anything else as its code, and nothing for no emoji", () => {
    expect(emojiLook(":acme-logo:")).toEqual({ kind: "code", code: ":acme-logo:" });
    expect(emojiLook(":wave::skin-tone-2:")).toEqual({ kind: "code", code: ":wave::skin-tone-2:" });
    expect(emojiLook("car")).toEqual({ kind: "code", code: "car" });
    expect(emojiLook("")).toEqual({ kind: "none" });
    expect(emojiLook("  ")).toEqual({ kind: "none" });
  });

  it("knows every look the app has built in", () => {
    for (const name of ["no_entry", "car", "calendar", "walking", "sleeping", "no_bell", "crescent_moon", "coffee"]) {
      expect(EMOJI_GLYPHS.has(name), name).toBe(true);
    }
  });
});

describe("renderEmoji", () => {
  it("draws the glyph with the code in its tooltip and its name for screen readers", () => {
    const element = renderEmoji(":telephone_receiver:");
    expect(element?.textContent).toBe("📞");
    expect(element?.title).toBe(":telephone_receiver:");
    expect(element?.getAttribute("role")).toBe("img");
    expect(element?.getAttribute("aria-label")).toBe("telephone receiver");
  });

  it("draws an unknown code as text, which is also what is read out", () => {
    const custom = renderEmoji(":acme-logo:");
    expect(custom?.tagName).toBe("CODE");
    expect(custom?.textContent).toBe(":acme-logo:");
    expect(custom?.title).toBe(":acme-logo:");
    expect(custom?.hasAttribute("role")).toBe(false);
    expect(renderEmoji(":wave::skin-tone-2:")?.textContent).toBe(":wave::skin-tone-2:");
    expect(renderEmoji("")).toBeNull();
  });

  it("hides a decorative emoji from assistive technology, keeping its tooltip", () => {
    const element = renderEmoji(":car:", { decorative: true });
    expect(element?.getAttribute("aria-hidden")).toBe("true");
    expect(element?.hasAttribute("aria-label")).toBe(false);
    expect(element?.title).toBe(":car:");
  });

  it("never turns a code into markup", () => {
    const element = renderEmoji('<img src=x onerror="alert(1)">');
    expect(element?.querySelector("img")).toBeNull();
    expect(element?.textContent).toBe('<img src=x onerror="alert(1)">');
  });
});
