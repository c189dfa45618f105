//! The relay between phones and the desktop (issue 4, being built).
//!
//! # Layout
//! - [`protocol`]: protocol v1: every message a phone and the desktop exchange, the error codes, and
//!   [`protocol::parse_phone_frame`], the one parser every byte from a phone goes through (size limit first,
//!   then JSON, then types, states and events checked). `docs/relay-protocol.md` is its written form.
//! - [`identity`]: the relay's TLS identity: a self-signed certificate made at first run and kept, its
//!   SHA-256 fingerprint (what phones pin), and the rustls server configuration.
//! - [`pairing`]: device tokens (256 bits, kept only as SHA-256, checked in constant time) and the pairing
//!   window (a one-time secret, two minutes, single use, closed after five wrong attempts).
//! - [`session`]: per-connection rules that need memory: sequence numbers (stale, out of order, snapshots after
//!   a reconnect) and a per-device rate limit.
//!
//! Still to come: the TLS listener, the PAKE-bound typed short code, mDNS, the phone web page and the CLI phone.

pub mod advertise;
pub mod client;
pub mod error;
mod hub;
pub mod identity;
mod lan;
pub mod network;
pub mod pairing;
pub mod pake;
pub mod protocol;
mod routes;
mod server;
pub mod session;

pub use error::{ProtocolError, RelayError, Result};
pub use hub::{DEFAULT_PORT, PairingMethod, PhoneFeed, RelayConfig, RelayEvent};
pub use identity::{Fingerprint, RelayIdentity};
pub use server::{PairingOffer, Relay, SHUTDOWN_DEADLINE};
