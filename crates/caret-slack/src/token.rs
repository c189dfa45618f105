//! The user token. It leaves this type only to become an `Authorization` header.

use std::fmt;

/// A Slack user token (`xoxp-…`, or a rotating `xoxe.xoxp-…`). `Debug` and `Display` show only its kind,
/// so a token cannot reach a log line, an error message or the sync log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SlackToken(String);

impl SlackToken {
    /// Accepts what Slack issues as a user token; refuses anything else (a bot token `xoxb-` cannot set a
    /// status, and a pasted URL or blank line is a mistake the user should hear about).
    pub fn parse(raw: &str) -> Option<SlackToken> {
        let token = raw.trim();
        let user_token = token.starts_with("xoxp-") || token.starts_with("xoxe.xoxp-");
        let plausible =
            token.len() >= 12 && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic());
        (user_token && plausible).then(|| SlackToken(token.to_owned()))
    }

    /// For the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// For writing to the OS keyring, the one place a token is kept.
    pub fn expose_for_storage(&self) -> &str {
        &self.0
    }

    /// The token's kind, safe to show: "xoxp" or "xoxe.xoxp".
    pub fn kind(&self) -> &'static str {
        if self.0.starts_with("xoxe.") {
            "xoxe.xoxp"
        } else {
            "xoxp"
        }
    }
}

impl fmt::Debug for SlackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlackToken({}-…redacted)", self.kind())
    }
}

impl fmt::Display for SlackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-…", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tokens_are_accepted_and_others_refused() {
        assert!(SlackToken::parse("xoxp-1234-5678-abcdef").is_some());
        assert!(SlackToken::parse("  xoxe.xoxp-1-abcdefghij \n").is_some());
        for bad in [
            "",
            "xoxb-1234-5678-abcdef",
            "xoxp-",
            "https://slack.com",
            "xoxp-12 34-5678",
            "xoxp-ünïcode-1234",
        ] {
            assert!(SlackToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_never_shows_itself() {
        let secret = "xoxp-1234-5678-supersecret";
        let token = SlackToken::parse(secret).unwrap();
        assert!(!format!("{token:?}").contains("supersecret"));
        assert!(!format!("{token}").contains("supersecret"));
        assert_eq!(format!("{token:?}"), "SlackToken(xoxp-…redacted)");
        assert_eq!(token.expose(), secret);
    }
}
