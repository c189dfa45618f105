//! The catalog of Caret states, as the Caret service defines them (seed 000): what the phone knows about its
//! owner right now.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::sources::{DesktopSource, StateSource};

/// The kind of a state, without its details: the key for per-state templates and presence rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StateKind {
    Available,
    Busy,
    InCall,
    InVehicle,
    Silent,
    Event,
    Walking,
    Running,
    Biking,
    Sleeping,
    /// The phone is gone (no heartbeat): nothing is known, so nothing is claimed.
    Offline,
}

impl StateKind {
    /// Every kind, in the order menus and tables list them.
    pub const ALL: [StateKind; 11] = [
        StateKind::Available,
        StateKind::Busy,
        StateKind::InCall,
        StateKind::InVehicle,
        StateKind::Silent,
        StateKind::Event,
        StateKind::Walking,
        StateKind::Running,
        StateKind::Biking,
        StateKind::Sleeping,
        StateKind::Offline,
    ];

    /// The name a person reads in the tray and the UI (not what Slack shows: that is the template).
    pub fn label(self) -> &'static str {
        match self {
            StateKind::Available => "Available",
            StateKind::Busy => "Busy",
            StateKind::InCall => "In a call",
            StateKind::InVehicle => "In a vehicle",
            StateKind::Silent => "Silent",
            StateKind::Event => "At an event",
            StateKind::Walking => "Walking",
            StateKind::Running => "Running",
            StateKind::Biking => "Biking",
            StateKind::Sleeping => "Sleeping",
            StateKind::Offline => "Phone offline",
        }
    }

    /// The wire name (`in_call`), as used by the relay protocol and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Available => "available",
            StateKind::Busy => "busy",
            StateKind::InCall => "in_call",
            StateKind::InVehicle => "in_vehicle",
            StateKind::Silent => "silent",
            StateKind::Event => "event",
            StateKind::Walking => "walking",
            StateKind::Running => "running",
            StateKind::Biking => "biking",
            StateKind::Sleeping => "sleeping",
            StateKind::Offline => "offline",
        }
    }

    /// Parses a wire name; `None` for anything not in the catalog.
    pub fn parse(name: &str) -> Option<StateKind> {
        StateKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// An event the owner is at, with its title (a detail only the VIP policy shares).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EventDetails {
    /// As typed on the phone or taken from its calendar: untrusted free text, made one clean line whichever
    /// way it arrives (built with [`EventDetails::new`] or read from JSON).
    #[serde(default, deserialize_with = "clean_title")]
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn clean_title<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<String, D::Error> {
    let raw = String::deserialize(deserializer)?;
    Ok(crate::text::sanitize_free_text(&raw))
}

impl EventDetails {
    /// Builds an event, refusing one that ends before it starts. The title is made one clean line here
    /// ([`crate::text::sanitize_free_text`]), so that it reaches no destination (Slack, the tray, a
    /// notification, another phone) with control, bidi or invisible characters.
    pub fn new(title: impl Into<String>, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if end < start {
            return Err(CoreError::EventEndsBeforeStart);
        }
        Ok(EventDetails {
            title: crate::text::sanitize_free_text(&title.into()),
            start,
            end,
        })
    }
}

/// A Caret state with its details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum CaretState {
    Available,
    Busy,
    InCall,
    InVehicle,
    Silent,
    Event(EventDetails),
    Walking,
    Running,
    Biking,
    Sleeping,
    Offline,
}

impl CaretState {
    pub fn kind(&self) -> StateKind {
        match self {
            CaretState::Available => StateKind::Available,
            CaretState::Busy => StateKind::Busy,
            CaretState::InCall => StateKind::InCall,
            CaretState::InVehicle => StateKind::InVehicle,
            CaretState::Silent => StateKind::Silent,
            CaretState::Event(_) => StateKind::Event,
            CaretState::Walking => StateKind::Walking,
            CaretState::Running => StateKind::Running,
            CaretState::Biking => StateKind::Biking,
            CaretState::Sleeping => StateKind::Sleeping,
            CaretState::Offline => StateKind::Offline,
        }
    }

    /// The state of a kind that carries no details. `None` for `Event`, which needs its details.
    pub fn without_details(kind: StateKind) -> Option<CaretState> {
        Some(match kind {
            StateKind::Available => CaretState::Available,
            StateKind::Busy => CaretState::Busy,
            StateKind::InCall => CaretState::InCall,
            StateKind::InVehicle => CaretState::InVehicle,
            StateKind::Silent => CaretState::Silent,
            StateKind::Event => return None,
            StateKind::Walking => CaretState::Walking,
            StateKind::Running => CaretState::Running,
            StateKind::Biking => CaretState::Biking,
            StateKind::Sleeping => CaretState::Sleeping,
            StateKind::Offline => CaretState::Offline,
        })
    }
}

/// Where a status came from. It decides how the status expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Origin {
    /// Reported by the phone: lasts while the phone keeps saying so, hence a renewed lease.
    Phone,
    /// Chosen by the user (tray, shortcut, CLI, UI) for a duration; `until: None` means until cleared.
    Manual { until: Option<DateTime<Utc>> },
    /// Seen by the desktop itself: lasts while the source keeps seeing it, hence a renewed lease, as for the
    /// phone.
    Desktop { source: DesktopSource },
}

/// A state together with its origin: the input of [`crate::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StatusInput {
    pub state: CaretState,
    pub origin: Origin,
}

impl StatusInput {
    pub fn from_phone(state: CaretState) -> Self {
        StatusInput {
            state,
            origin: Origin::Phone,
        }
    }

    pub fn manual(state: CaretState, until: Option<DateTime<Utc>>) -> Self {
        StatusInput {
            state,
            origin: Origin::Manual { until },
        }
    }

    pub fn from_desktop(state: CaretState, source: DesktopSource) -> Self {
        StatusInput {
            state,
            origin: Origin::Desktop { source },
        }
    }

    /// Where this input came from, as the tray and the sync log name it.
    pub fn source(&self) -> StateSource {
        match self.origin {
            Origin::Phone => StateSource::Phone,
            Origin::Manual { .. } => StateSource::Manual,
            Origin::Desktop { source } => StateSource::from(source),
        }
    }
}

/// A status the user set by hand, which wins over the phone while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ManualStatus {
    pub state: CaretState,
    /// `None`: until the user clears it.
    pub until: Option<DateTime<Utc>>,
}

impl ManualStatus {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_wire_name() {
        for kind in StateKind::ALL {
            assert_eq!(StateKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(StateKind::parse("driving"), None);
        assert_eq!(StateKind::parse(""), None);
    }

    #[test]
    fn every_kind_but_event_has_a_detail_free_state_of_that_kind() {
        for kind in StateKind::ALL {
            match CaretState::without_details(kind) {
                Some(state) => assert_eq!(state.kind(), kind),
                None => assert_eq!(kind, StateKind::Event),
            }
        }
    }

    #[test]
    fn event_state_serialises_flat_with_its_kind_tag() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let end = DateTime::from_timestamp(1_700_003_600, 0).unwrap();
        let state = CaretState::Event(EventDetails::new("Standup", start, end).unwrap());
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["kind"], "event");
        assert_eq!(json["title"], "Standup");
        let back: CaretState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn an_event_title_is_one_clean_line_however_it_arrives() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let end = DateTime::from_timestamp(1_700_003_600, 0).unwrap();
        let hostile = "Pay\u{0}roll\u{1b}\r\n\u{7f}\u{202e}lanif";
        let built = EventDetails::new(hostile, start, end).unwrap();
        assert_eq!(built.title, "Pay roll lanif");
        let json = serde_json::json!({"kind": "event", "title": hostile, "start": start, "end": end});
        let CaretState::Event(read) = serde_json::from_value(json).unwrap() else {
            panic!("an event")
        };
        assert_eq!(read.title, "Pay roll lanif");
    }

    #[test]
    fn event_that_ends_before_it_starts_is_refused() {
        let start = DateTime::from_timestamp(1_700_003_600, 0).unwrap();
        let end = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            EventDetails::new("x", start, end),
            Err(CoreError::EventEndsBeforeStart)
        );
    }

    #[test]
    fn manual_status_is_active_until_its_end_and_forever_without_one() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let later = DateTime::from_timestamp(1_700_000_001, 0).unwrap();
        let manual = |until| ManualStatus {
            state: CaretState::Busy,
            until,
        };
        assert!(manual(None).is_active(now));
        assert!(manual(Some(later)).is_active(now));
        assert!(!manual(Some(now)).is_active(now), "a status ending now has ended");
    }
}
