//! The one error type of this crate: every way user-supplied settings can be invalid.

use crate::state::StateKind;

/// Why a setting was refused. Messages are written for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("emoji {0:?} is not a Slack emoji code like :calendar: (lowercase letters, digits, - _ + ')")]
    InvalidEmoji(String),
    #[error(
        "phone number {0:?} is not valid: use digits, spaces and + - ( ) . only, with 3 to 20 digits and at most 32 characters"
    )]
    InvalidPhoneNumber(String),
    #[error("phone number sharing is on but no phone number is set")]
    PhoneNumberMissing,
    #[error("lease of {0} minutes is out of range: choose between 5 and 720 minutes")]
    LeaseOutOfRange(u32),
    #[error(
        "the plain text for {kind:?} uses the placeholder {placeholder}, which would reveal details under the Trusted policy; put it in the detailed (VIP) text instead"
    )]
    DetailPlaceholderInPlainText {
        kind: StateKind,
        placeholder: &'static str,
    },
    #[error("the text for {kind:?} is {length} characters long; Slack allows at most 100")]
    TemplateTooLong { kind: StateKind, length: usize },
    #[error("the text for {kind:?} may not be empty: it is what Slack shows")]
    TemplateEmpty { kind: StateKind },
    #[error(
        "the text for {kind:?} has an unknown placeholder {found:?}; known ones are {{title}}, {{start}}, {{end}}"
    )]
    UnknownPlaceholder { kind: StateKind, found: String },
    #[error("an event must end after it starts")]
    EventEndsBeforeStart,
    #[error(
        "working hours from minute {start} to minute {end} are not a day's: start between 00:00 and 23:59, end between 00:01 and 24:00, and not at the start"
    )]
    InvalidWorkingHours { start: u16, end: u16 },
    #[error(
        "{kind:?} never shows a status, so it cannot pause notifications; choose Do Not Disturb for a state that shows one"
    )]
    DndWithoutStatus { kind: StateKind },
}

pub type Result<T> = std::result::Result<T, CoreError>;
