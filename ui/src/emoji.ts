// How a status emoji is shown to a person. Slack takes a short name (`:telephone_receiver:`); a person expects the
// picture (📞). The glyphs of the standard names the app uses come from Rust (bindings/emoji.ts, the same table as
// `caret_core::emoji`); anything else (a workspace's custom emoji, a skin tone, a name the table lacks) is shown as
// its code, which is what Slack would be sent anyway.
import { EMOJI_GLYPHS } from "./bindings/emoji";

/** One code as it is shown: the glyph of a standard name, or the code itself. */
export type EmojiLook =
  | { kind: "glyph"; glyph: string; code: string; name: string }
  | { kind: "code"; code: string }
  | { kind: "none" };

/**
 * What to show for `code`: the glyph of a standard short name (`:car:` → 🚗), the code itself for anything the
 * table does not know (`:acme-logo:`, `:wave::skin-tone-2:`, text that is not a code), nothing for "" (a state
 * without a status).
 */
export function emojiLook(code: string): EmojiLook {
  const trimmed = code.trim();
  if (trimmed === "") return { kind: "none" };
  // One short name between colons: a skin tone (`:wave::skin-tone-2:`) has two, and falls back to the code.
  const short = /^:([^:\s]+):$/.exec(trimmed)?.[1];
  const glyph = short === undefined ? undefined : EMOJI_GLYPHS.get(short);
  if (short === undefined || glyph === undefined) return { kind: "code", code: trimmed };
  return { kind: "glyph", glyph, code: trimmed, name: short.replaceAll("_", " ") };
}

export interface EmojiOptions {
  /** The emoji only decorates something named beside it (a picker row's label): hidden from assistive technology. */
  decorative?: boolean;
}

/**
 * The element that shows `code` (see {@link emojiLook}): the glyph, with the code in its tooltip and its name
 * (`telephone receiver`) as what a screen reader says; or the code as text; or null for "".
 */
export function renderEmoji(code: string, options: EmojiOptions = {}): HTMLElement | null {
  const look = emojiLook(code);
  if (look.kind === "none") return null;
  const element = document.createElement(look.kind === "glyph" ? "span" : "code");
  element.className = look.kind === "glyph" ? "emoji emoji-glyph" : "emoji emoji-code";
  element.title = look.code;
  element.dataset.emoji = look.code;
  element.textContent = look.kind === "glyph" ? look.glyph : look.code;
  if (options.decorative === true) {
    element.setAttribute("aria-hidden", "true");
  } else if (look.kind === "glyph") {
    element.setAttribute("role", "img");
    element.setAttribute("aria-label", look.name);
  }
  return element;
}
