//! The relay's error type: every way a phone's input is refused, each with a stable code that goes back to
//! the phone (see `docs/relay-protocol.md`).

use serde::Serialize;
use ts_rs::TS;

/// Refusals of a phone's message. None of them ends the connection by itself except where noted in the
/// protocol document; none of them affects another device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame of {size} bytes is over the {limit}-byte limit")]
    FrameTooLarge { size: usize, limit: usize },
    #[error("frame is not valid JSON: {0}")]
    MalformedJson(String),
    /// A WebSocket text message that is not UTF-8. Same code as [`ProtocolError::MalformedJson`], but RFC 6455
    /// (§8.1) requires failing the connection, so it closes it (close code 1007).
    #[error("a text message was not valid UTF-8: the connection is closed (RFC 6455)")]
    TextNotUtf8,
    #[error("frame is not a JSON object with a string \"type\"")]
    MissingType,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("message {message_type:?} is missing or has an invalid field: {detail}")]
    InvalidField { message_type: String, detail: String },
    #[error("unknown state {0:?}")]
    UnknownState(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("protocol version {0} is not supported (this desktop speaks 1)")]
    UnsupportedVersion(u32),
    #[error("sequence number {seq} is not after the last one accepted ({last})")]
    StaleSequence { seq: u64, last: u64 },
    #[error("too many messages: wait {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// Unknown device, wrong token or revoked device: one answer for all, so a guesser learns nothing.
    #[error("not a paired device, or its pairing was revoked")]
    Unauthorized,
    #[error("pairing is not open: start it on the desktop (tray, Settings or CLI)")]
    PairingClosed,
    #[error("the pairing code has expired: start pairing again on the desktop")]
    PairingExpired,
    #[error("wrong pairing code; {attempts_left} attempt(s) left")]
    WrongPairingSecret { attempts_left: u8 },
    #[error("too many wrong pairing codes: pairing closed; start it again on the desktop")]
    PairingLockedOut,
    #[error("the first message on a connection must be \"hello\"")]
    HelloRequired,
    #[error("nothing received in time: the connection is closed")]
    Timeout,
    /// No `confirm` in time after the phone's `pake`: a failed pairing attempt like a wrong code (an
    /// abandoned exchange is a guess too), but the phone is told what went wrong. The fifth failed attempt
    /// is [`ProtocolError::PairingLockedOut`] instead, whatever its cause.
    #[error(
        "the pairing step was not answered in time; this counted as a failed attempt: {attempts_left} attempt(s) left"
    )]
    PairingTimeout { attempts_left: u8 },
    #[error("too many refused messages in a row: the connection is closed")]
    TooManyErrors,
    #[error("this device connected again: the older connection is closed")]
    Replaced,
    #[error("the desktop relay is shutting down")]
    ShuttingDown,
    /// The desktop failed (its database, its random generator); the phone's input was fine.
    #[error("the desktop could not finish this; try again, and see the desktop's log if it persists")]
    Internal,
}

impl ProtocolError {
    /// The stable code sent to the phone.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::FrameTooLarge { .. } => "frame_too_large",
            ProtocolError::MalformedJson(_) | ProtocolError::TextNotUtf8 => "malformed_json",
            ProtocolError::MissingType => "missing_type",
            ProtocolError::UnknownType(_) => "unknown_type",
            ProtocolError::InvalidField { .. } => "invalid_field",
            ProtocolError::UnknownState(_) => "unknown_state",
            ProtocolError::InvalidEvent(_) => "invalid_event",
            ProtocolError::UnsupportedVersion(_) => "unsupported_version",
            ProtocolError::StaleSequence { .. } => "stale_seq",
            ProtocolError::RateLimited { .. } => "rate_limited",
            ProtocolError::Unauthorized => "unauthorized",
            ProtocolError::PairingClosed => "pairing_closed",
            ProtocolError::PairingExpired => "pairing_expired",
            ProtocolError::WrongPairingSecret { .. } => "wrong_pairing_code",
            ProtocolError::PairingLockedOut => "pairing_locked_out",
            ProtocolError::HelloRequired => "hello_required",
            ProtocolError::Timeout | ProtocolError::PairingTimeout { .. } => "timeout",
            ProtocolError::TooManyErrors => "too_many_errors",
            ProtocolError::Replaced => "replaced",
            ProtocolError::ShuttingDown => "shutting_down",
            ProtocolError::Internal => "internal_error",
        }
    }

    /// Whether the connection ends after this refusal (the rest leave it open: one bad message from a phone
    /// should not cost it its connection).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            ProtocolError::UnsupportedVersion(_)
                | ProtocolError::TextNotUtf8
                | ProtocolError::Unauthorized
                | ProtocolError::PairingClosed
                | ProtocolError::PairingExpired
                | ProtocolError::WrongPairingSecret { .. }
                | ProtocolError::PairingLockedOut
                | ProtocolError::HelloRequired
                | ProtocolError::Timeout
                | ProtocolError::PairingTimeout { .. }
                | ProtocolError::TooManyErrors
                | ProtocolError::Replaced
                | ProtocolError::ShuttingDown
                | ProtocolError::Internal
        )
    }

    /// The HTTP status for this refusal on the HTTPS endpoints.
    pub fn http_status(&self) -> u16 {
        match self {
            ProtocolError::FrameTooLarge { .. } => 413,
            ProtocolError::RateLimited { .. } => 429,
            ProtocolError::Unauthorized => 401,
            ProtocolError::PairingClosed
            | ProtocolError::PairingExpired
            | ProtocolError::WrongPairingSecret { .. }
            | ProtocolError::PairingLockedOut => 403,
            ProtocolError::Timeout | ProtocolError::PairingTimeout { .. } => 408,
            ProtocolError::ShuttingDown => 503,
            ProtocolError::Internal => 500,
            _ => 400,
        }
    }

    /// The message the desktop sends back for this refusal.
    pub fn to_message(&self, seq: Option<u64>) -> ErrorMessage {
        ErrorMessage {
            code: self.code().to_owned(),
            message: self.to_string(),
            seq,
        }
    }
}

/// `{"type": "error", …}` as sent to the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ErrorMessage {
    pub code: String,
    pub message: String,
    /// The refused message's sequence number, when it had one.
    #[ts(type = "number | null")]
    pub seq: Option<u64>,
}

pub type Result<T> = std::result::Result<T, ProtocolError>;

/// The crate's error for everything that is not a phone's message being refused (those are
/// [`ProtocolError`]s, which travel back to the phone).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("relay certificate {path}: {source}")]
    IdentityFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "relay certificate {path} is unreadable ({reason}); delete it to make a new one (phones must pair again)"
    )]
    IdentityCorrupt {
        path: std::path::PathBuf,
        reason: String,
    },
    #[cfg(feature = "server")]
    #[error("cannot make the relay certificate: {source}")]
    CertificateGeneration { source: rcgen::Error },
    #[error("TLS setup: {source}")]
    Tls { step: TlsStep, source: rustls::Error },
    /// The OS gave no random bytes for a device token or a pairing secret; `ring` says nothing more (its
    /// error is deliberately empty), so neither does this.
    #[error("TLS setup: the system random generator failed")]
    RandomGenerator,
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[cfg(feature = "server")]
    #[error(transparent)]
    Store(#[from] caret_store::StoreError),
    /// mDNS failed, announcing the relay or looking for desktops (`discover`).
    #[error("cannot announce the relay on the LAN (mDNS): {source}")]
    Advertise { step: MdnsStep, source: mdns_sd::Error },
}

/// Which part of the TLS server's configuration rustls refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsStep {
    /// Choosing the protocol versions (TLS 1.3 only) with the crypto provider.
    ProtocolVersions,
    /// Taking the relay's certificate and its key.
    Certificate,
}

/// What the mDNS daemon was asked to do when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdnsStep {
    StartDaemon,
    /// Leaving out the loopback interfaces, whose addresses no phone can reach.
    SkipLoopback,
    DescribeService,
    Register,
    Browse,
}
