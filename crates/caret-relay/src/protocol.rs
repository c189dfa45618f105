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

/// What the desktop answers while pairing.
#[derive(Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum PairingReply {
    /// The typed-code path, step 2: the desktop's SPAKE2 message (hex).
    Pake {
        msg: String,
    },
    /// Paired: the credentials, shown to this phone once. `mac` (hex) is present on the typed-code path and
    /// proves the credentials come from the holder of the code.
    Paired {
        device_id: String,
        token: String,
        /// The certificate fingerprint (hex) to pin from now on.
        fingerprint: String,
        heartbeat_secs: u32,
        mac: Option<String>,
    },
    Error(ErrorMessage),
}

impl fmt::Debug for PairingReply {
    /// Never shows the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairingReply::Pake { .. } => f.write_str("Pake"),
            PairingReply::Paired { device_id, .. } => write!(f, "Paired {{ device_id: {device_id:?}, .. }}"),
            PairingReply::Error(error) => write!(f, "Error({error:?})"),
        }
    }
}

impl PairingReply {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","code":"internal"}"#.to_owned())
    }
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
        // Device records keep it as SQLite's signed 64-bit integer.
        .filter(|seq| i64::try_from(*seq).is_ok())
        .ok_or_else(|| field_error(message_type, "\"seq\" must be a whole number below 2^63"))
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
        // Quoted back at most in part: an error message never echoes a whole hostile frame.
        .map_err(|_| {
            let shown: String = text.chars().take(40).collect();
            ProtocolError::InvalidEvent(format!("\"{name}\" is not an RFC 3339 time: {shown:?}"))
        })
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

/// The checks every frame gets before its fields are looked at: size first, then JSON, then an object.
fn parse_object(frame: &[u8]) -> Result<Map<String, Value>> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::FrameTooLarge {
            size: frame.len(),
            limit: MAX_FRAME_BYTES,
        });
    }
    let value: Value =
        serde_json::from_slice(frame).map_err(|error| ProtocolError::MalformedJson(error.to_string()))?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ProtocolError::MissingType),
    }
}

fn type_of(object: &Map<String, Value>) -> Result<&str> {
    object
        .get("type")
        .and_then(Value::as_str)
        .ok_or(ProtocolError::MissingType)
}

fn device_name(message_type: &str, object: &Map<String, Value>) -> Result<Option<String>> {
    Ok(
        bounded_string(message_type, object, "name", MAX_DEVICE_NAME_CHARS)?
            .map(|name| caret_core::text::sanitize_free_text(&name))
            .filter(|name| !name.is_empty()),
    )
}

/// What a phone sends while pairing (`POST /v1/pair` and the `/v1/pair/code` WebSocket). `Debug` hides the
/// secret and the key material.
#[derive(Clone, PartialEq, Eq)]
pub enum PairingMessage {
    /// The QR path: the one-time secret from the QR code.
    Pair { secret: String, name: Option<String> },
    /// The typed-code path, step 1: the phone's SPAKE2 message.
    Pake { message: Vec<u8>, name: Option<String> },
    /// The typed-code path, step 3: the phone's key confirmation.
    Confirm { mac: Vec<u8> },
}

impl fmt::Debug for PairingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairingMessage::Pair { name, .. } => write!(f, "Pair {{ name: {name:?}, .. }}"),
            PairingMessage::Pake { name, .. } => write!(f, "Pake {{ name: {name:?}, .. }}"),
            PairingMessage::Confirm { .. } => f.write_str("Confirm { .. }"),
        }
    }
}

/// Parses a pairing message (same limits as every other frame).
pub fn parse_pairing_frame(frame: &[u8]) -> Result<PairingMessage> {
    let object = parse_object(frame)?;
    let message_type = type_of(&object)?;
    let hex_field = |name: &str, max_bytes: usize| {
        object
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| crate::pake::from_hex(text, max_bytes))
            .ok_or_else(|| field_error(message_type, format!("\"{name}\" must be hex")))
    };
    match message_type {
        "pair" => Ok(PairingMessage::Pair {
            secret: bounded_string("pair", &object, "secret", 64)?
                .ok_or_else(|| field_error("pair", "\"secret\" is required"))?,
            name: device_name("pair", &object)?,
        }),
        "pake" => Ok(PairingMessage::Pake {
            message: hex_field("msg", 64)?,
            name: device_name("pake", &object)?,
        }),
        "confirm" => Ok(PairingMessage::Confirm {
            mac: hex_field("mac", 64)?,
        }),
        other => Err(ProtocolError::UnknownType(other.chars().take(64).collect())),
    }
}

/// The longest an HTTP-posted state lasts without another post: 12 hours.
pub const MAX_HTTP_STATE_SECS: u64 = 12 * 3600;
/// How long an HTTP-posted state lasts when the post does not say.
pub const DEFAULT_HTTP_STATE_SECS: u64 = 3600;

/// The body of `POST /v1/state`: `{"state": …, "for_secs": 3600}`. Automation tools cannot count, so there
/// is no `seq`: posts count in the order they arrive. `for_secs` (60 to 12 h) is how long the state holds
/// without a newer post; then the phone counts as offline and the engine's rules take over.
pub fn parse_http_state(body: &[u8]) -> Result<(CaretState, u64)> {
    let object = parse_object(body)?;
    let state = parse_state(
        object
            .get("state")
            .ok_or_else(|| field_error("state", "\"state\" is required"))?,
    )?;
    let for_secs = match object.get("for_secs") {
        None | Some(Value::Null) => DEFAULT_HTTP_STATE_SECS,
        Some(value) => value
            .as_u64()
            .filter(|secs| (60..=MAX_HTTP_STATE_SECS).contains(secs))
            .ok_or_else(|| field_error("state", "\"for_secs\" must be a whole number from 60 to 43200"))?,
    };
    Ok((state, for_secs))
}

/// Parses one frame from a phone.
pub fn parse_phone_frame(frame: &[u8]) -> Result<PhoneMessage> {
    let object = parse_object(frame)?;
    let message_type = type_of(&object)?;
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
            let name = device_name("hello", &object)?;
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
