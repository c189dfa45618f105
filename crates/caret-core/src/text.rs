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

/// Makes untrusted free text (an event title from a phone) fit for a one-line status: control characters and
/// line breaks become spaces, runs of white space collapse to one, and the ends are trimmed.
pub fn sanitize_free_text(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut pending_space = false;
    for character in text.chars() {
        // Format characters (zero-width joiners, variation selectors) are part of emoji: keep them.
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
            "format characters stay"
        );
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
