//! The calendar source: which event the person's calendars say they are in now, from iCalendar documents (the
//! private "secret address" Google Calendar, Outlook and Fastmail publish, or a local .ics file).
//!
//! This part reads documents; it knows no network. [`read`] turns one document into the occurrences that
//! overlap a window of time: recurring events expanded with their exceptions in their own time zones
//! (`recurrence`, `zones`), less what the person is not busy with (`ics` says what). [`happening_now`]
//! picks the one event that speaks at an instant and [`next_change`] says when to look again, so that the
//! source wakes when something starts or ends rather than polling.

pub mod fetch;
mod ics;
mod recurrence;
pub mod watcher;
mod zones;

use chrono::{DateTime, Utc};

pub use recurrence::{MAX_OCCURRENCES, STEPS_PER_DOCUMENT};

/// What the person chose about a calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarOptions {
    /// All-day events count (off by default: a day marked "Conference" or "Holiday" is seldom what the person
    /// wants Slack to say every minute of it).
    pub include_all_day: bool,
    /// The person's addresses in this calendar: an event whose attendee with one of these addresses declined
    /// does not count.
    pub own_addresses: Vec<String>,
}

/// One occurrence of an event the person is busy with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// As written in the calendar (untrusted text: the engine cleans it before any status shows it).
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub all_day: bool,
}

/// A document, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// The occurrences overlapping the window, by start.
    pub occurrences: Vec<Occurrence>,
    /// Times whose `TZID` neither the document nor the IANA database knows: read as the machine's own time.
    pub unknown_zones: usize,
    /// Recurrence rules that could not be read (their event counts once, at its start), or that were cut
    /// short (more occurrences than a calendar has any use for).
    pub broken_rules: usize,
    /// Events without a readable start, or longer than a year (or ending before they start), left out.
    pub unreadable_events: usize,
}

/// Reads `document`: the occurrences of the events the person is busy with that overlap `window`. Fails, with
/// a reason that quotes nothing from the document, when it is not an iCalendar document.
pub fn read(
    document: &str,
    window: std::ops::Range<DateTime<Utc>>,
    options: &CalendarOptions,
) -> crate::Result<Reading> {
    ics::read(document, window, options).map_err(|reason| crate::SourceError::CalendarUnreadable { reason })
}

/// The event that speaks at `now` among `occurrences`: of those under way, the one that started last (the
/// meeting someone joined from inside a longer block is the more precise answer), the shorter on a tie.
pub fn happening_now(occurrences: &[Occurrence], now: DateTime<Utc>) -> Option<&Occurrence> {
    occurrences
        .iter()
        .filter(|occurrence| occurrence.start <= now && now < occurrence.end)
        .max_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)))
}

/// The first instant after `now` at which an occurrence starts or ends: what [`happening_now`] says may change
/// then, and not before.
pub fn next_change(occurrences: &[Occurrence], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    occurrences
        .iter()
        .flat_map(|occurrence| [occurrence.start, occurrence.end])
        .filter(|instant| *instant > now)
        .min()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, hour, minute, 0)
            .single()
            .expect("a time")
    }

    fn occurrence(title: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Occurrence {
        Occurrence {
            title: title.to_owned(),
            start,
            end,
            all_day: false,
        }
    }

    #[test]
    fn the_latest_started_event_speaks_then_the_shorter_and_the_end_is_not_part_of_it() {
        let block = occurrence("Offsite", at(9, 0), at(17, 0));
        let standup = occurrence("Standup", at(10, 0), at(10, 15));
        let review = occurrence("Review", at(10, 0), at(11, 0));
        let all = [block.clone(), standup.clone(), review.clone()];
        assert_eq!(happening_now(&all, at(8, 59)), None);
        assert_eq!(happening_now(&all, at(9, 0)), Some(&block));
        assert_eq!(happening_now(&all, at(10, 5)), Some(&standup));
        assert_eq!(happening_now(&all, at(10, 15)), Some(&review));
        assert_eq!(happening_now(&all, at(11, 0)), Some(&block));
        assert_eq!(happening_now(&all, at(17, 0)), None);
    }

    #[test]
    fn the_next_change_is_the_next_start_or_end_after_now() {
        let all = [
            occurrence("Offsite", at(9, 0), at(17, 0)),
            occurrence("Standup", at(10, 0), at(10, 15)),
        ];
        assert_eq!(next_change(&all, at(8, 0)), Some(at(9, 0)));
        assert_eq!(next_change(&all, at(9, 0)), Some(at(10, 0)));
        assert_eq!(next_change(&all, at(10, 0)), Some(at(10, 15)));
        assert_eq!(next_change(&all, at(10, 15)), Some(at(17, 0)));
        assert_eq!(next_change(&all, at(17, 0)), None);
    }
}
