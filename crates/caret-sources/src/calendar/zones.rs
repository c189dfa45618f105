//! Time zones of an iCalendar document: which instant a wall-clock time with a `TZID` means.
//!
//! A calendar names its zones with `TZID` and usually defines each in a `VTIMEZONE`. Google and Fastmail use
//! IANA names ("Europe/Berlin"), which the IANA database (chrono-tz) knows better than any copy in the file,
//! so those are looked up there, including the "/mozilla.org/…/Europe/Berlin" and `X-LIC-LOCATION` spellings.
//! Outlook and Exchange use Windows names ("W. Europe Standard Time") that no database here knows: their
//! `VTIMEZONE` rules (`STANDARD`/`DAYLIGHT` onsets with a yearly `RRULE`) are evaluated as written.
//!
//! RFC 5545 3.3.5 settles the two odd hours of a daylight-saving change: a wall time that does not exist (the
//! spring gap) is read with the offset from before the gap, so it lands as far after the gap's start as it was
//! written; a wall time that happens twice (the autumn overlap) means the first.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Local, NaiveDateTime, Offset as _, TimeZone, Utc};
use icalendar::parser::Component;

use super::ics::value as prop;
use super::recurrence::{self, Until};

/// A zone events can be written in.
#[derive(Debug, Clone)]
pub enum Zone {
    /// `…Z` times.
    Utc,
    /// Times with no zone at all: the same wall time wherever the reader is, so the machine's own.
    Floating,
    /// A zone the IANA database knows.
    Named(chrono_tz::Tz),
    /// A zone only its `VTIMEZONE` defines.
    Defined(Transitions),
}

impl Zone {
    /// The instant `wall` means in this zone.
    pub fn instant(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Self::Utc => wall.and_utc(),
            Self::Floating => from_database(&Local, wall),
            Self::Named(zone) => from_database(zone, wall),
            Self::Defined(transitions) => wall.and_utc() - transitions.offset_for_wall(wall),
        }
    }

    /// The wall time `instant` shows in this zone (for a rule's `UNTIL`, which is written in UTC).
    pub fn wall(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Utc => instant.naive_utc(),
            Self::Floating => instant.with_timezone(&Local).naive_local(),
            Self::Named(zone) => instant.with_timezone(zone).naive_local(),
            Self::Defined(transitions) => instant.naive_utc() + transitions.offset_at(instant),
        }
    }
}

fn from_database<Z: TimeZone>(zone: &Z, wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(earliest) = zone.from_local_datetime(&wall).earliest() {
        return earliest.with_timezone(&Utc);
    }
    // In the spring gap: the offset from before it (no gap is longer than a day).
    let before = (1..=24)
        .find_map(|hours| {
            zone.from_local_datetime(&(wall - Duration::hours(hours)))
                .earliest()
        })
        .map_or_else(|| Utc.fix(), |time| time.offset().fix());
    wall.and_utc() - Duration::seconds(i64::from(before.local_minus_utc()))
}

/// A `VTIMEZONE`'s offsets over time, worked out from its observances once.
#[derive(Debug, Clone)]
pub struct Transitions {
    /// Before the first onset.
    initial: Duration,
    /// Each onset as an instant, the wall time from which it applies (see [`Self::offset_for_wall`]), and the
    /// offset from then on; sorted by instant.
    onsets: Vec<Onset>,
}

#[derive(Debug, Clone, Copy)]
struct Onset {
    instant: DateTime<Utc>,
    /// The onset's instant in the larger of the two offsets around it: wall times before it keep the old offset.
    /// In the spring that puts the gap's wall times on the old offset (RFC 5545: the offset before the gap), in
    /// the autumn it puts the repeated hour on the old one (the first of the two).
    wall_from: NaiveDateTime,
    offset: Duration,
}

impl Transitions {
    fn offset_for_wall(&self, wall: NaiveDateTime) -> Duration {
        let after = self.onsets.partition_point(|onset| onset.wall_from <= wall);
        after
            .checked_sub(1)
            .map_or(self.initial, |last| self.onsets[last].offset)
    }

    fn offset_at(&self, instant: DateTime<Utc>) -> Duration {
        let after = self.onsets.partition_point(|onset| onset.instant <= instant);
        after
            .checked_sub(1)
            .map_or(self.initial, |last| self.onsets[last].offset)
    }

    /// Reads a `VTIMEZONE`'s `STANDARD` and `DAYLIGHT` observances, their onsets worked out until `horizon`.
    /// `None` when it has no usable observance.
    fn from_definition(definition: &Component<'_>, horizon: NaiveDateTime) -> Option<Self> {
        let mut onsets = Vec::new();
        let mut earliest: Option<(NaiveDateTime, Duration)> = None;
        for observance in &definition.components {
            let name = observance.name.as_str();
            if !name.eq_ignore_ascii_case("STANDARD") && !name.eq_ignore_ascii_case("DAYLIGHT") {
                continue;
            }
            let (Some(from), Some(to), Some(start)) = (
                prop(observance, "TZOFFSETFROM").and_then(parse_offset),
                prop(observance, "TZOFFSETTO").and_then(parse_offset),
                prop(observance, "DTSTART")
                    .and_then(|value| super::ics::parse_wall(value).map(|(wall, _)| wall)),
            ) else {
                continue;
            };
            if earliest.is_none_or(|(first, _)| start < first) {
                earliest = Some((start, from));
            }
            // The onset's wall time is in the offset it leaves (TZOFFSETFROM); a rule's UNTIL is in UTC.
            let mut walls = vec![start];
            if let Some(rule) = prop(observance, "RRULE") {
                let until = Until::with(move |instant| (instant + from).naive_utc());
                // Yearly onsets since 1601 (Outlook's start of time) are a few hundred steps.
                let mut steps = 10_000;
                walls = recurrence::walls(
                    rule,
                    start,
                    false,
                    &until,
                    NaiveDateTime::MIN..=horizon,
                    &mut steps,
                )
                .map_or(walls, |made| made.walls);
            }
            for rdate in super::ics::props(observance, "RDATE") {
                walls.extend(
                    rdate
                        .val
                        .as_str()
                        .split(',')
                        .filter_map(|value| super::ics::parse_wall(value).map(|(wall, _)| wall)),
                );
            }
            onsets.extend(walls.into_iter().map(|wall| {
                let instant = (wall - from).and_utc();
                Onset {
                    instant,
                    wall_from: (instant + from.max(to)).naive_utc(),
                    offset: to,
                }
            }));
        }
        let (_, initial) = earliest?;
        onsets.sort_by_key(|onset| onset.instant);
        Some(Self { initial, onsets })
    }
}

/// "+0100", "-0530", "+013045" as a duration east of UTC.
fn parse_offset(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (sign, digits) = match value.as_bytes().first()? {
        b'+' => (1, &value[1..]),
        b'-' => (-1, &value[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| digits.get(range).and_then(|part| part.parse::<i64>().ok());
    let seconds = number(0..2)? * 3600 + number(2..4)? * 60 + number(4..6).unwrap_or(0);
    (seconds < 24 * 3600).then(|| Duration::seconds(sign * seconds))
}

/// An IANA zone for a `TZID` as calendars write it: plain, quoted, or behind a vendor prefix
/// ("/mozilla.org/20050126_1/Europe/Berlin", "/citadel.org/20190914_1/Europe/Berlin").
fn iana(tzid: &str) -> Option<chrono_tz::Tz> {
    let tzid = tzid.trim().trim_matches('"');
    if let Ok(zone) = tzid.parse() {
        return Some(zone);
    }
    // Try the last one, two and three segments: "UTC", "Europe/Berlin", "America/Argentina/Cordoba".
    let segments: Vec<&str> = tzid.split('/').filter(|segment| !segment.is_empty()).collect();
    (1..=segments.len().min(3))
        .rev()
        .find_map(|count| segments[segments.len() - count..].join("/").parse().ok())
}

/// The zones one calendar document defines or names.
#[derive(Debug, Default)]
pub struct Zones {
    by_tzid: HashMap<String, Zone>,
}

impl Zones {
    /// Reads the document's `VTIMEZONE`s; their onsets are worked out until `horizon`.
    pub fn read(components: &[Component<'_>], horizon: NaiveDateTime) -> Self {
        let mut by_tzid = HashMap::new();
        for definition in components
            .iter()
            .filter(|component| component.name.as_str().eq_ignore_ascii_case("VTIMEZONE"))
        {
            let Some(tzid) = prop(definition, "TZID") else {
                continue;
            };
            let zone = iana(tzid)
                .or_else(|| prop(definition, "X-LIC-LOCATION").and_then(iana))
                .map(Zone::Named)
                .or_else(|| Transitions::from_definition(definition, horizon).map(Zone::Defined));
            if let Some(zone) = zone {
                // A TEXT value: "(UTC+01:00) Amsterdam\, Berlin" is the zone events name as
                // TZID="(UTC+01:00) Amsterdam, Berlin".
                let unescaped = icalendar::parser::ParseString::from(tzid.trim()).unescape_text();
                by_tzid.insert(unescaped.as_str().trim_matches('"').to_owned(), zone);
            }
        }
        Self { by_tzid }
    }

    /// The zone a `TZID` parameter names: the document's definition, else the IANA name, else the machine's
    /// own time (a zone nobody defines is most likely the reader's; `None` says it was not known).
    pub fn zone(&self, tzid: &str) -> Option<Zone> {
        let tzid = tzid.trim().trim_matches('"');
        self.by_tzid
            .get(tzid)
            .cloned()
            .or_else(|| iana(tzid).map(Zone::Named))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a wall time")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        wall(text).and_utc()
    }

    /// Outlook's own definition of Central European time.
    const OUTLOOK_BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
        RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

    fn outlook_zones() -> Zones {
        let components = icalendar::parser::read_calendar_simple(OUTLOOK_BERLIN).expect("parses");
        Zones::read(&components, wall("2030-01-01 00:00"))
    }

    #[test]
    fn a_windows_zone_is_read_from_its_rules_across_both_changes_and_their_odd_hours() {
        let zone = outlook_zones().zone("W. Europe Standard Time").expect("defined");
        assert!(matches!(zone, Zone::Defined(_)));
        // Winter and summer of 2026 (changes on 29 March and 25 October).
        assert_eq!(zone.instant(wall("2026-01-15 09:00")), utc("2026-01-15 08:00"));
        assert_eq!(zone.instant(wall("2026-07-15 09:00")), utc("2026-07-15 07:00"));
        assert_eq!(zone.instant(wall("2026-03-29 01:59")), utc("2026-03-29 00:59"));
        assert_eq!(zone.instant(wall("2026-03-29 03:00")), utc("2026-03-29 01:00"));
        // 02:30 on 29 March does not exist: read with the offset from before the gap, it is 03:30 summer time.
        assert_eq!(zone.instant(wall("2026-03-29 02:30")), utc("2026-03-29 01:30"));
        // 02:30 on 25 October happens twice: the first.
        assert_eq!(zone.instant(wall("2026-10-25 02:30")), utc("2026-10-25 00:30"));
        assert_eq!(zone.instant(wall("2026-10-25 03:00")), utc("2026-10-25 02:00"));
        assert_eq!(zone.wall(utc("2026-07-15 07:00")), wall("2026-07-15 09:00"));
        assert_eq!(zone.wall(utc("2026-10-25 00:30")), wall("2026-10-25 02:30"));
        assert_eq!(zone.wall(utc("2026-10-25 01:30")), wall("2026-10-25 02:30"));
    }

    #[test]
    fn iana_names_come_from_the_database_however_they_are_spelled() {
        let zones = Zones::default();
        for tzid in [
            "Europe/Berlin",
            "\"Europe/Berlin\"",
            "/mozilla.org/20050126_1/Europe/Berlin",
            "/citadel.org/20190914_1/Europe/Berlin",
        ] {
            let zone = zones.zone(tzid).unwrap_or_else(|| panic!("{tzid} known"));
            assert!(
                matches!(zone, Zone::Named(chrono_tz::Tz::Europe__Berlin)),
                "{tzid}"
            );
            assert_eq!(
                zone.instant(wall("2026-03-29 02:30")),
                utc("2026-03-29 01:30"),
                "{tzid}: the gap"
            );
            assert_eq!(
                zone.instant(wall("2026-10-25 02:30")),
                utc("2026-10-25 00:30"),
                "{tzid}: the overlap"
            );
        }
        let cordoba = zones
            .zone("/x/America/Argentina/Cordoba")
            .expect("three segments");
        assert!(matches!(
            cordoba,
            Zone::Named(chrono_tz::Tz::America__Argentina__Cordoba)
        ));
        assert!(zones.zone("Not A Zone").is_none());
    }

    #[test]
    fn a_definition_with_an_iana_name_or_location_defers_to_the_database() {
        let text =
            "BEGIN:VTIMEZONE\r\nTZID:Custom Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\nEND:VTIMEZONE\r\n";
        let components = icalendar::parser::read_calendar_simple(text).expect("parses");
        let zones = Zones::read(&components, wall("2030-01-01 00:00"));
        assert!(matches!(
            zones.zone("Custom Berlin"),
            Some(Zone::Named(chrono_tz::Tz::Europe__Berlin))
        ));
    }

    #[test]
    fn an_escaped_tzid_is_the_one_events_name_quoted() {
        let text = OUTLOOK_BERLIN.replace(
            "TZID:W. Europe Standard Time",
            "TZID:(UTC+01:00) Amsterdam\\, Berlin\\, Bern",
        );
        let components = icalendar::parser::read_calendar_simple(&text).expect("parses");
        let zones = Zones::read(&components, wall("2030-01-01 00:00"));
        let zone = zones
            .zone("\"(UTC+01:00) Amsterdam, Berlin, Bern\"")
            .expect("found under its unescaped name");
        assert_eq!(zone.instant(wall("2026-07-15 09:00")), utc("2026-07-15 07:00"));
    }

    #[test]
    fn offsets_are_read_as_written_and_nonsense_is_refused() {
        assert_eq!(parse_offset("+0100"), Some(Duration::hours(1)));
        assert_eq!(parse_offset("-0530"), Some(-Duration::minutes(330)));
        assert_eq!(parse_offset("+013045"), Some(Duration::seconds(5445)));
        for bad in ["0100", "+1", "+01:00", "+2500", "", "+", "+01000"] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }
}
