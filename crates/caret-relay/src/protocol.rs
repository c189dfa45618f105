//! Protocol v1 between a phone and the desktop. Written out with examples in `docs/relay-protocol.md`.
//!
//! Every frame from a phone goes through [`parse_phone_frame`]: the size limit is checked before anything is
//! parsed, JSON nesting is bounded by serde_json's recursion limit, and every field is checked, so hostile
//! input produces a [`ProtocolError`] with a stable code, never a panic.

use std::fmt;

use caret_core::{CaretState, EventDetails, StateKind};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::error::{ErrorMessage, ProtocolError, Result};

pub const PROTOCOL_VERSION: u32 = 1;
/// The largest frame a phone may send. A state with an event title fits in a few hundred bytes.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;
/// Longer event titles are refused rather than cut: the phone should know.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DEVICE_NAME_CHARS: usize = 64;
const MAX_DEVICE_ID_CHARS: usize = 64;
const MAX_TOKEN_CHARS: usize = 128;

/// A device token as the phone presents it. Never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken(String);

impl PresentedToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedToken(…redacted)")
    }
}

/// What a phone sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneMessage {
    /// First message on a connection: who the phone is, proven by its device token.
    Hello {
        protocol: u32,
        device_id: String,
        token: PresentedToken,
        name: Option<String>,
    },
    /// The state changed. `seq` increases with every state the phone sends.
    State { seq: u64, state: CaretState },
    /// The whole state after (re)connecting. Accepted whatever its `seq` (the phone may have restarted).
    Snapshot { seq: u64, state: CaretState },
    /// Keeps the connection (and the phone's "online") alive.
    Ping,
}

/// One workspace's status as the desktop shows it to the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ShownStatus {
    pub workspace: String,
    pub text: String,
    pub emoji: String,
}

/// What the desktop sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum DesktopMessage {
    /// The answer to a good `hello`.
    Welcome {
        protocol: u32,
        /// Send a `ping` at least this often; after three missed beats the phone counts as offline.
        heartbeat_secs: u32,
        /// The last `seq` the desktop accepted from this device, if any.
        #[ts(type = "number | null")]
        last_seq: Option<u64>,
    },
    /// A `state` or `snapshot` was accepted.
    Ack {
        #[ts(type = "number")]
        seq: u64,
    },
    /// What the desktop now makes of it: the effective state and what each workspace shows.
    Status {
        effective: Option<CaretState>,
        shown: Vec<ShownStatus>,
    },
    Pong,
    Error(ErrorMessage),
}

impl DesktopMessage {
    pub fn to_json(&self) -> String {
        // Our own types always serialise.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","code":"internal"}"#.to_owned())
    }
}

fn field_error(message_type: &str, detail: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidField {
        message_type: message_type.to_owned(),
        detail: detail.into(),
    }
}

fn seq_of(message_type: &str, object: &Map<String, Value>) -> Result<u64> {
    object
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| field_error(message_type, "\"seq\" must be a whole number"))
}

fn bounded_string(
    message_type: &str,
    object: &Map<String, Value>,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() <= max_chars => Ok(Some(text.clone())),
        Some(Value::String(_)) => Err(field_error(
            message_type,
            format!("\"{name}\" is longer than {max_chars} characters"),
        )),
        Some(_) => Err(field_error(message_type, format!("\"{name}\" must be a string"))),
    }
}

fn time_of(object: &Map<String, Value>, name: &str) -> Result<DateTime<Utc>> {
    let text = object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ProtocolError::InvalidEvent(format!("\"{name}\" is required (RFC 3339 time)")))?;
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| ProtocolError::InvalidEvent(format!("\"{name}\" is not an RFC 3339 time: {text:?}")))
}

/// A state: either a wire name (`"in_call"`) or an object (`{"kind": "event", "title": …, "start": …, "end": …}`).
pub fn parse_state(value: &Value) -> Result<CaretState> {
    let (kind_name, object) = match value {
        Value::String(name) => (name.as_str(), None),
        Value::Object(object) => {
            let kind = object
                .get("kind")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error("state", "\"kind\" is required"))?;
            (kind, Some(object))
        }
        _ => {
            return Err(field_error(
                "state",
                "\"state\" must be a state name or an object",
            ));
        }
    };
    let kind = StateKind::parse(kind_name)
        .ok_or_else(|| ProtocolError::UnknownState(kind_name.chars().take(64).collect()))?;
    if let Some(state) = CaretState::without_details(kind) {
        return Ok(state);
    }
    let object = object
        .ok_or_else(|| ProtocolError::InvalidEvent("an event needs an object with start and end".into()))?;
    let title = bounded_string("state", object, "title", MAX_TITLE_CHARS)
        .map_err(|_| {
            ProtocolError::InvalidEvent(format!(
                "the title must be a string of at most {MAX_TITLE_CHARS} characters"
            ))
        })?
        .unwrap_or_default();
    let (start, end) = (time_of(object, "start")?, time_of(object, "end")?);
    EventDetails::new(title, start, end)
        .map(CaretState::Event)
        .map_err(|_| ProtocolError::InvalidEvent("the event ends before it starts".into()))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses one frame from a phone.
pub fn parse_phone_frame(frame: &[u8]) -> Result<PhoneMessage> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::FrameTooLarge {
            size: frame.len(),
            limit: MAX_FRAME_BYTES,
        });
    }
    let value: Value =
        serde_json::from_slice(frame).map_err(|error| ProtocolError::MalformedJson(error.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ProtocolError::MissingType);
    };
    let message_type = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or(ProtocolError::MissingType)?;
    match message_type {
        "hello" => {
            let protocol = object
                .get("protocol")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| field_error("hello", "\"protocol\" must be a whole number"))?;
            if protocol != PROTOCOL_VERSION {
                return Err(ProtocolError::UnsupportedVersion(protocol));
            }
            let device_id = bounded_string("hello", &object, "device_id", MAX_DEVICE_ID_CHARS)?
                .filter(|id| is_identifier(id))
                .ok_or_else(|| field_error("hello", "\"device_id\" must be letters, digits, - or _"))?;
            let token = bounded_string("hello", &object, "token", MAX_TOKEN_CHARS)?
                .filter(|token| is_identifier(token))
                .ok_or_else(|| field_error("hello", "\"token\" is required"))?;
            let name = bounded_string("hello", &object, "name", MAX_DEVICE_NAME_CHARS)?
                .map(|name| caret_core::text::sanitize_free_text(&name))
                .filter(|name| !name.is_empty());
            Ok(PhoneMessage::Hello {
                protocol,
                device_id,
                token: PresentedToken(token),
                name,
            })
        }
        "state" | "snapshot" => {
            let seq = seq_of(message_type, &object)?;
            let state = parse_state(
                object
                    .get("state")
                    .ok_or_else(|| field_error(message_type, "\"state\" is required"))?,
            )?;
            Ok(if message_type == "state" {
                PhoneMessage::State { seq, state }
            } else {
                PhoneMessage::Snapshot { seq, state }
            })
        }
        "ping" => Ok(PhoneMessage::Ping),
        other => Err(ProtocolError::UnknownType(other.chars().take(64).collect())),
    }
}

#[cfg(test)]
mod tests;
