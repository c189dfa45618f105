//! The Caret domain, as plain data and pure functions: no I/O, no clock of its own, no Tauri.
//!
//! # Layout
//! - [`emoji`]: the glyphs of the standard emoji codes the app shows (📞 for `:telephone_receiver:`).
//! - [`state`]: the catalog of Caret states a phone (or the user) reports, e.g. `in_call` or an `event`.
//! - [`policy`]: the four privacy policies of a Slack workspace (Default, Trusted, VIP, Blocked) and timed blocks.
//! - [`settings`]: everything a user configures per workspace, with validation.
//! - [`status`]: what we want Slack to show: status text, emoji, expiration, presence and a Do Not Disturb snooze.
//! - [`sources`]: [`choose_input`], which input speaks when several do (the user, the phone, the desktop's
//!   microphone, camera and calendar).
//! - [`mapping`]: [`decide`], the one function that turns (state, settings, now) into that status. The user's
//!   privacy depends on it, so it is table-tested for every state, policy and phone-number option.
//! - [`rate`]: a token bucket with the time passed in, for rate limits (the engine's, the relay's).
//! - [`working_hours`]: the person's working week in local time, and where a moment falls in it.
//! - [`text`]: Slack's 100-character rule, grapheme-safe truncation and sanitising of free text from a phone.
//!
//! Time always comes in as an argument (`now`), so every rule here is testable without waiting.

pub mod emoji;
pub mod error;
pub mod mapping;
pub mod policy;
pub mod rate;
pub mod settings;
pub mod sources;
pub mod state;
pub mod status;
pub mod text;
pub mod working_hours;

pub use error::{CoreError, Result};
pub use mapping::decide;
pub use policy::{Blocked, Policy, PolicySetting, SharingPolicy};
pub use settings::{
    DndRule, LeaseMinutes, PhoneNumber, PhoneSharing, PresenceRule, StateTemplate, TimeFormat,
    WorkspaceSettings,
};
pub use sources::{
    DesktopSignals, DesktopSource, Inputs, OFF_HOURS_EMOJI, OFF_HOURS_TEXT, OffHours, StateSource,
    choose_input, decide_inputs,
};
pub use state::{CaretState, EventDetails, ManualStatus, Origin, StateKind, StatusInput};
pub use status::{Decision, DesiredStatus, Expiration, Presence, SlackStatus, Snooze};
pub use working_hours::{DayHours, HoursNow, WorkingHours};
