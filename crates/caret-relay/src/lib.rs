//! The relay between phones and the desktop, and the phone's side of it.
//!
//! # Layout
//! - [`protocol`]: protocol v1: every message a phone and the desktop exchange, the error codes, and
//!   [`protocol::parse_phone_frame`], the one parser every byte from a phone goes through (size limit first,
//!   then JSON, then types, states and events checked). `docs/relay-protocol.md` is its written form.
//! - [`identity`]: the relay's TLS identity: its SHA-256 fingerprint (what phones pin) and, with the server,
//!   the self-signed certificate made at first run and kept, and the rustls server configuration.
//! - [`pairing`]: device tokens (256 bits, kept only as SHA-256, checked in constant time) and the pairing
//!   window (a one-time secret, two minutes, single use, closed after five wrong attempts).
//! - [`pake`]: the typed short code, bound to the certificate by SPAKE2 and key confirmation.
//! - [`session`]: per-connection rules that need memory: sequence numbers (stale, out of order, snapshots after
//!   a reconnect) and a per-device rate limit.
//! - [`client`]: the phone's side (pairing by link or code, the WebSocket, the HTTPS report), used by
//!   caret-phone and the tests.
//! - [`advertise`]: mDNS: discovering desktops, and with the server, announcing this one.
//! - With the `server` feature (on by default; caret-phone turns it off): the running relay ([`Relay`]: the
//!   TLS listener, routes, the hub of devices and connections, the LAN listeners) and [`network`] (which
//!   network this is, and its changes).

pub mod advertise;
pub mod client;
pub mod error;
#[cfg(feature = "server")]
mod hub;
pub mod identity;
#[cfg(feature = "server")]
mod lan;
#[cfg(feature = "server")]
pub mod network;
pub mod pairing;
pub mod pake;
pub mod protocol;
#[cfg(feature = "server")]
mod routes;
#[cfg(feature = "server")]
mod server;
pub mod session;

pub use error::{ProtocolError, RelayError, Result};
#[cfg(feature = "server")]
pub use hub::{DEFAULT_PORT, PairingMethod, PhoneFeed, RelayConfig, RelayEvent};
pub use identity::Fingerprint;
#[cfg(feature = "server")]
pub use identity::RelayIdentity;
#[cfg(feature = "server")]
pub use server::{PairingOffer, Relay, SHUTDOWN_DEADLINE};
