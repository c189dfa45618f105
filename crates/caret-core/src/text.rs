//! Slack's text rules, kept in one place.
//!
//! Slack documents `status_text` as "no more than 100 characters" without saying which characters. We count
//! UTF-16 code units, the length Slack's own JavaScript clients see: that count is never smaller than the count
//! of Unicode scalar values or of graphemes, so a text within our limit is within Slack's under any reading, and
//! a `too_long` error from Slack is always a bug here.

use unicode_segmentation::UnicodeSegmentation;

/// Slack's limit for `status_text`.
pub const STATUS_TEXT_LIMIT: usize = 100;

/// Appended where text had to be cut.
pub const ELLIPSIS: &str = "…";

/// The length Slack's limit is checked against (see the module docs).
pub fn slack_length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Makes untrusted free text (an event title, a device name: anything a phone sends) fit to show anywhere as
/// one line: control characters and line breaks become spaces, runs of white space collapse to one, the ends
/// are trimmed, and invisible format characters are dropped ([`is_invisible_format`]: bidi overrides and
/// isolates that would make "Team call" read backwards in Slack or a notification, zero-width spaces, a
/// byte-order mark, tag characters outside a flag). The joiners emoji and some scripts need are kept.
pub fn sanitize_free_text(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut pending_space = false;
    // Tag characters are invisible: they are kept only where they belong, in a flag sequence right after
    // U+1F3F4 (England, Scotland, Wales), never as hidden text elsewhere.
    let mut in_flag = false;
    for character in text.chars() {
        let tag = ('\u{E0020}'..='\u{E007F}').contains(&character);
        let keep_tag = tag && in_flag;
        in_flag = character == '\u{1F3F4}' || (keep_tag && character != '\u{E007F}');
        if is_invisible_format(character) || (tag && !keep_tag) {
            continue;
        }
        if character.is_whitespace() || character.is_control() {
            pending_space = true;
            continue;
        }
        if pending_space && !cleaned.is_empty() {
            cleaned.push(' ');
        }
        pending_space = false;
        cleaned.push(character);
    }
    cleaned
}

/// Unicode's format characters (general category Cf, Unicode 15.1) that text from outside may not carry: the
/// bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F, U+061C),
/// zero-width and invisible characters (U+200B, U+2060–U+2064, U+FEFF, the soft hyphen), the Arabic, Syriac
/// and other prepended marks, interlinear annotation, shorthand and musical format controls, and the language
/// tag. Kept: the zero-width non-joiner and joiner (U+200C, U+200D: Persian and Indic words, emoji sequences)
/// and the tag characters U+E0020–U+E007F (the flags of England, Scotland and Wales).
pub fn is_invisible_format(character: char) -> bool {
    matches!(
        character,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
    )
}

/// Cuts `text` so that it fits in `budget` UTF-16 units, on a grapheme boundary, ending with "…" when cut.
/// A text that fits is returned unchanged.
pub fn truncate_to(text: &str, budget: usize) -> String {
    if slack_length(text) <= budget {
        return text.to_owned();
    }
    let ellipsis_length = slack_length(ELLIPSIS);
    if budget < ellipsis_length {
        return String::new();
    }
    let room = budget - ellipsis_length;
    let mut kept = String::new();
    let mut kept_length = 0;
    for grapheme in text.graphemes(true) {
        let grapheme_length = slack_length(grapheme);
        if kept_length + grapheme_length > room {
            break;
        }
        kept.push_str(grapheme);
        kept_length += grapheme_length;
    }
    // "Lunch with …" reads better than "Lunch with  …" or a dangling separator.
    let trimmed = kept.trim_end_matches(|c: char| c.is_whitespace() || c == '·' || c == '-' || c == ',');
    let mut result = trimmed.to_owned();
    result.push_str(ELLIPSIS);
    result
}

/// Whether `emoji` is a Slack emoji code (`:name:`). Slack names are lowercase letters, digits and `-_+'`.
/// The empty string is allowed: it lets Slack pick its default emoji.
pub fn is_valid_emoji_code(emoji: &str) -> bool {
    if emoji.is_empty() {
        return true;
    }
    let Some(name) = emoji.strip_prefix(':').and_then(|rest| rest.strip_suffix(':')) else {
        return false;
    };
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_+'".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_length_counts_utf16_units() {
        assert_eq!(slack_length("abc"), 3);
        assert_eq!(slack_length("é"), 1);
        assert_eq!(slack_length("日本"), 2);
        assert_eq!(slack_length("😀"), 2);
        // man, ZWJ, woman, ZWJ, girl: one grapheme, five scalars, eight UTF-16 units.
        assert_eq!(slack_length("👨\u{200d}👩\u{200d}👧"), 8);
    }

    #[test]
    fn sanitize_turns_line_breaks_and_controls_into_single_spaces() {
        assert_eq!(
            sanitize_free_text("  Board\nmeeting\t\u{7}Q3  "),
            "Board meeting Q3"
        );
        assert_eq!(sanitize_free_text("\n\n"), "");
        assert_eq!(
            sanitize_free_text("a\u{200d}b"),
            "a\u{200d}b",
            "the joiner emoji need stays"
        );
    }

    /// Issue 14 sent an event title with NUL, ESC, CR/LF, DEL and U+202E: every one of them goes, and so does
    /// every bidi embedding, override, isolate and mark, and the invisible characters.
    #[test]
    fn sanitize_drops_controls_bidi_controls_and_invisible_characters() {
        assert_eq!(
            sanitize_free_text("Team\u{0}call\u{1b}[31m\r\nnow\u{7f} \u{202e}llac maeT"),
            "Team call [31m now llac maeT"
        );
        for bidi in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert_eq!(
                sanitize_free_text(&format!("a{bidi}b")),
                "ab",
                "U+{:04X}",
                u32::from(bidi)
            );
        }
        // Tag characters spell hidden ASCII outside a flag.
        assert_eq!(
            sanitize_free_text("Lunch\u{E0068}\u{E0069}\u{E007F} now"),
            "Lunch now"
        );
        for invisible in [
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2064}',
            '\u{E0001}',
        ] {
            assert_eq!(
                sanitize_free_text(&format!("a{invisible}b")),
                "ab",
                "U+{:04X}",
                u32::from(invisible)
            );
        }
        // What real text needs stays: emoji sequences (ZWJ, variation selectors, skin tones, tag flags), the
        // non-joiner of Persian, right-to-left scripts themselves.
        for kept in [
            "👩\u{200D}💻",
            "❤\u{FE0F}",
            "👍🏽",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "می\u{200C}خواهم",
            "שלום עולם",
        ] {
            assert_eq!(sanitize_free_text(kept), kept);
        }
    }

    #[test]
    fn truncate_leaves_text_that_fits_alone() {
        let exactly = "x".repeat(100);
        assert_eq!(truncate_to(&exactly, 100), exactly);
    }

    #[test]
    fn truncate_cuts_one_over_the_limit_and_adds_an_ellipsis() {
        let over = "x".repeat(101);
        let cut = truncate_to(&over, 100);
        assert_eq!(slack_length(&cut), 100);
        assert!(cut.ends_with(ELLIPSIS));
        assert_eq!(cut.chars().filter(|c| *c == 'x').count(), 99);
    }

    #[test]
    fn truncate_never_splits_an_emoji_sequence() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let text = family.repeat(20); // 160 units
        let cut = truncate_to(&text, 100);
        assert!(slack_length(&cut) <= 100);
        let body = cut.strip_suffix(ELLIPSIS).unwrap();
        assert_eq!(
            body,
            family.repeat(12),
            "12 whole families (96 units) + ellipsis fit; a 13th would not"
        );
    }

    #[test]
    fn truncate_never_splits_a_combining_accent_from_its_letter() {
        let text = "e\u{301}".repeat(60); // 120 units, 60 graphemes
        let cut = truncate_to(&text, 100);
        let body = cut.strip_suffix(ELLIPSIS).unwrap();
        assert_eq!(body, "e\u{301}".repeat(49));
    }

    #[test]
    fn truncate_drops_a_dangling_separator_before_the_ellipsis() {
        // 97 + " ·" fills the 99 units before the ellipsis: the separator must not dangle.
        let text = format!("{} · more words here", "y".repeat(97));
        let cut = truncate_to(&text, 100);
        assert_eq!(cut, format!("{}…", "y".repeat(97)));
    }

    #[test]
    fn emoji_codes_are_validated() {
        for good in [
            "",
            ":calendar:",
            ":+1:",
            ":man-woman-girl:",
            ":no_entry:",
            ":e-mail:",
        ] {
            assert!(is_valid_emoji_code(good), "{good:?}");
        }
        for bad in [
            "calendar",
            "::",
            ":Calendar:",
            "😀",
            ":a b:",
            ":calendar",
            "calendar:",
        ] {
            assert!(!is_valid_emoji_code(bad), "{bad:?}");
        }
    }
}
