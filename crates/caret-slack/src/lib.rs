//! A typed client for the Slack Web API methods Caret Desktop uses, and nothing more.
//!
//! # Layout
//! - [`token`]: [`SlackToken`], a user token that never shows itself in a `Debug`, a log line or an error.
//! - [`error`]: [`SlackError`], every documented failure as a type, and [`ErrorClass`]: what the caller
//!   should do about it (retry, wait, disconnect, report a bug in our mapping, give up).
//! - [`client`]: [`SlackClient`], one method per API method, against a configurable base URL.
//! - [`oauth`]: OAuth v2 for a public client: PKCE pairs, the authorize URL, refresh tokens (token rotation).
//! - [`retry`]: capped exponential backoff with jitter, on tokio time so that tests can pause it.
//!
//! The client makes one attempt per call; what to do with a failure is the caller's decision (the sync
//! engine), informed by [`SlackError::class`].

pub mod client;
pub mod error;
pub mod oauth;
pub mod retry;
pub mod token;

pub use client::{
    AuthInfo, DndInfo, PostedMessage, PresenceInfo, ProfileStatus, SlackClient, StatusFields, WirePresence,
};
pub use error::{AuthFailure, ErrorClass, Result, SlackError, SlackMethod};
pub use oauth::{AuthorizeRequest, Pkce, RefreshToken, TokenGrant};
pub use retry::Backoff;
pub use token::SlackToken;
