//! Every way a Slack call fails, as a type, and what the caller should do about each.

use std::time::Duration;

/// The Web API methods we call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlackMethod {
    AuthTest,
    UsersProfileGet,
    UsersProfileSet,
    UsersSetPresence,
    UsersGetPresence,
    OAuthV2Access,
    AuthRevoke,
    ChatPostMessage,
    DndInfo,
    DndSetSnooze,
    DndEndSnooze,
}

impl SlackMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SlackMethod::AuthTest => "auth.test",
            SlackMethod::UsersProfileGet => "users.profile.get",
            SlackMethod::UsersProfileSet => "users.profile.set",
            SlackMethod::UsersSetPresence => "users.setPresence",
            SlackMethod::UsersGetPresence => "users.getPresence",
            SlackMethod::OAuthV2Access => "oauth.v2.access",
            SlackMethod::AuthRevoke => "auth.revoke",
            SlackMethod::ChatPostMessage => "chat.postMessage",
            SlackMethod::DndInfo => "dnd.info",
            SlackMethod::DndSetSnooze => "dnd.setSnooze",
            SlackMethod::DndEndSnooze => "dnd.endSnooze",
        }
    }
}

impl std::fmt::Display for SlackMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why Slack no longer accepts the token. Each means the workspace must be reconnected by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    NotAuthed,
    InvalidAuth,
    TokenRevoked,
    TokenExpired,
    AccountInactive,
}

impl AuthFailure {
    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::NotAuthed => "not_authed",
            AuthFailure::InvalidAuth => "invalid_auth",
            AuthFailure::TokenRevoked => "token_revoked",
            AuthFailure::TokenExpired => "token_expired",
            AuthFailure::AccountInactive => "account_inactive",
        }
    }

    pub fn from_code(code: &str) -> Option<AuthFailure> {
        Some(match code {
            "not_authed" => AuthFailure::NotAuthed,
            "invalid_auth" => AuthFailure::InvalidAuth,
            "token_revoked" => AuthFailure::TokenRevoked,
            "token_expired" => AuthFailure::TokenExpired,
            "account_inactive" => AuthFailure::AccountInactive,
            _ => return None,
        })
    }

    /// What to tell the user.
    pub fn explanation(self) -> &'static str {
        match self {
            AuthFailure::NotAuthed | AuthFailure::InvalidAuth => "Slack does not accept the token",
            AuthFailure::TokenRevoked => {
                "the token was revoked (the app was removed or the token regenerated)"
            }
            AuthFailure::TokenExpired => "the token expired",
            AuthFailure::AccountInactive => "the Slack account is deactivated",
        }
    }
}

/// A failed call. Never holds the token: messages are safe to log and to put in the sync log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("{method}: rate limited by Slack, retry after {} s", retry_after.as_secs())]
    RateLimited {
        method: SlackMethod,
        retry_after: Duration,
    },
    #[error("{method}: {} ({})", reason.explanation(), reason.code())]
    Auth {
        method: SlackMethod,
        reason: AuthFailure,
    },
    #[error("{method}: the token lacks the scope {needed}; add it to the Slack app and reinstall (granted: {})", provided.join(", "))]
    MissingScope {
        method: SlackMethod,
        needed: String,
        provided: Vec<String>,
    },
    /// Slack refused what we sent: a bug in our mapping (`too_long`, an emoji error, a malformed profile).
    #[error("{method}: Slack refused what we sent ({code}); this is a bug in Caret Desktop's status mapping")]
    Refused { method: SlackMethod, code: String },
    #[error("{method}: Slack answered HTTP {status}")]
    Server { method: SlackMethod, status: u16 },
    #[error("{method}: no answer from Slack in time")]
    Timeout { method: SlackMethod },
    #[error("{method}: cannot reach Slack: {message}")]
    Network { method: SlackMethod, message: String },
    /// Any other `ok: false`.
    #[error("{method}: Slack answered {code}")]
    Api { method: SlackMethod, code: String },
    #[error("{method}: Slack's answer could not be read: {message}")]
    InvalidResponse { method: SlackMethod, message: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

pub type Result<T> = std::result::Result<T, SlackError>;

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (5xx, timeout, network): try again with backoff.
    Retry,
    /// Slack said when: wait exactly this long, then try again.
    RetryAfter(Duration),
    /// The token is dead: mark the workspace disconnected, stop retrying, tell the user.
    Disconnect,
    /// The user must change the Slack app (a missing scope): stop retrying, tell the user what to add.
    NeedsUser,
    /// We sent something Slack refuses: a bug on our side. Log it as such; retrying the same thing is useless.
    Bug,
    /// Anything else Slack refused: do not retry the same request.
    Permanent,
}

/// Codes Slack documents as transient server trouble, answered with HTTP 200 and `ok: false`
/// (`snooze_failed`, `snooze_end_failed`: "there was a problem setting the user's Do Not Disturb status").
const TRANSIENT_CODES: [&str; 6] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "snooze_failed",
    "snooze_end_failed",
];

/// Codes that mean our request was wrong: the mapping or the client has a bug.
const BUG_CODES: [&str; 11] = [
    "too_long",
    "missing_duration",
    "invalid_emoji_not_allowed",
    "profile_status_set_failed_not_valid_emoji",
    "profile_status_set_failed_not_emoji_syntax",
    "must_clear_both_status_text_and_status_emoji",
    "invalid_profile",
    "invalid_presence",
    "invalid_json",
    "json_not_object",
    "invalid_arg_name",
];

impl SlackError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SlackError::RateLimited { retry_after, .. } => ErrorClass::RetryAfter(*retry_after),
            SlackError::Auth { .. } => ErrorClass::Disconnect,
            SlackError::MissingScope { .. } => ErrorClass::NeedsUser,
            SlackError::Refused { .. } => ErrorClass::Bug,
            // An unreadable answer (a captive portal's HTML page, a proxy's error) is trouble on the way, not a
            // verdict from Slack: try again later.
            SlackError::Server { .. }
            | SlackError::Timeout { .. }
            | SlackError::Network { .. }
            | SlackError::InvalidResponse { .. } => ErrorClass::Retry,
            SlackError::Api { code, .. } if TRANSIENT_CODES.contains(&code.as_str()) => ErrorClass::Retry,
            SlackError::Api { .. } | SlackError::Setup(_) => ErrorClass::Permanent,
        }
    }

    /// A short stable code for the sync log and the UI.
    pub fn code(&self) -> String {
        match self {
            SlackError::RateLimited { .. } => "ratelimited".into(),
            SlackError::Auth { reason, .. } => reason.code().into(),
            SlackError::MissingScope { .. } => "missing_scope".into(),
            SlackError::Refused { code, .. } | SlackError::Api { code, .. } => code.clone(),
            SlackError::Server { status, .. } => format!("http_{status}"),
            SlackError::Timeout { .. } => "timeout".into(),
            SlackError::Network { .. } => "network".into(),
            SlackError::InvalidResponse { .. } => "invalid_response".into(),
            SlackError::Setup(_) => "setup".into(),
        }
    }

    /// Turns an `ok: false` answer into the matching error.
    pub(crate) fn from_api(
        method: SlackMethod,
        code: &str,
        needed: Option<String>,
        provided: Option<String>,
    ) -> Self {
        if let Some(reason) = AuthFailure::from_code(code) {
            return SlackError::Auth { method, reason };
        }
        if code == "missing_scope" {
            let provided = crate::client::scope_list(&provided.unwrap_or_default());
            return SlackError::MissingScope {
                method,
                needed: needed.unwrap_or_else(|| "unknown".into()),
                provided,
            };
        }
        if code == "ratelimited" || code == "rate_limited" {
            // Without HTTP 429 and its header Slack gave no time; a minute is what its limits are counted in.
            return SlackError::RateLimited {
                method,
                retry_after: Duration::from_secs(60),
            };
        }
        if BUG_CODES.contains(&code) {
            return SlackError::Refused {
                method,
                code: code.to_owned(),
            };
        }
        SlackError::Api {
            method,
            code: code.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: SlackMethod = SlackMethod::UsersProfileSet;

    #[test]
    fn auth_failures_disconnect_the_workspace() {
        for code in [
            "not_authed",
            "invalid_auth",
            "token_revoked",
            "token_expired",
            "account_inactive",
        ] {
            let error = SlackError::from_api(M, code, None, None);
            assert_eq!(error.class(), ErrorClass::Disconnect, "{code}");
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn missing_scope_names_the_scope_to_add() {
        let error = SlackError::from_api(
            M,
            "missing_scope",
            Some("users.profile:write".into()),
            Some("users:read, identify".into()),
        );
        assert_eq!(
            error,
            SlackError::MissingScope {
                method: M,
                needed: "users.profile:write".into(),
                provided: vec!["users:read".into(), "identify".into()]
            }
        );
        assert_eq!(error.class(), ErrorClass::NeedsUser);
        assert!(
            error.to_string().contains("lacks the scope users.profile:write"),
            "{error}"
        );
    }

    #[test]
    fn mapping_errors_are_bugs_not_retries() {
        for code in [
            "too_long",
            "profile_status_set_failed_not_valid_emoji",
            "must_clear_both_status_text_and_status_emoji",
        ] {
            let error = SlackError::from_api(M, code, None, None);
            assert_eq!(error.class(), ErrorClass::Bug, "{code}");
            assert!(error.to_string().contains("bug"), "{error}");
        }
    }

    #[test]
    fn transient_trouble_is_retried() {
        for error in [
            SlackError::Server {
                method: M,
                status: 503,
            },
            SlackError::Timeout { method: M },
            SlackError::Network {
                method: M,
                message: "connection refused".into(),
            },
            SlackError::from_api(M, "service_unavailable", None, None),
            SlackError::from_api(M, "internal_error", None, None),
            SlackError::InvalidResponse {
                method: M,
                message: "expected value at line 1".into(),
            },
        ] {
            assert_eq!(error.class(), ErrorClass::Retry, "{error}");
        }
    }

    #[test]
    fn rate_limits_wait_for_what_slack_said() {
        let error = SlackError::RateLimited {
            method: M,
            retry_after: Duration::from_secs(7),
        };
        assert_eq!(error.class(), ErrorClass::RetryAfter(Duration::from_secs(7)));
        assert_eq!(
            SlackError::from_api(M, "ratelimited", None, None).class(),
            ErrorClass::RetryAfter(Duration::from_secs(60))
        );
    }

    #[test]
    fn other_refusals_are_permanent() {
        assert_eq!(
            SlackError::from_api(M, "not_allowed_token_type", None, None).class(),
            ErrorClass::Permanent
        );
    }
}
