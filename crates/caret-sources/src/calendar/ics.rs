//! One iCalendar document read into the occurrences of its events within a window of time.
//!
//! What counts: each `VEVENT` and each occurrence its `RRULE` and `RDATE`s make, less its `EXDATE`s, an
//! occurrence a later `VEVENT` with the same `UID` and a `RECURRENCE-ID` replaces taken from that one instead
//! (moved, retitled, cancelled, declined). What does not count, because the person is not busy with it:
//! cancelled events (`STATUS:CANCELLED`), events shown as free (`TRANSP:TRANSPARENT`, or Outlook's
//! `X-MICROSOFT-CDO-BUSYSTATUS:FREE`), events the person declined (their own `ATTENDEE` with
//! `PARTSTAT=DECLINED`), and all-day events unless they asked for those.
//!
//! The person's own addresses are the ones they gave for the calendar, and the calendar's name when it is an
//! address (Google names a person's main calendar after their address).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use icalendar::parser::{Component, Property};

use super::recurrence::{self, Until};
use super::zones::{Zone, Zones};
use super::{CalendarOptions, Occurrence, Reading};

/// How a date or time value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Date,
    /// No zone of its own: a `TZID` parameter may give one, else the reader's time.
    Local,
    Utc,
}

/// "20261207", "20261207T090000", "20261207T090000Z" as a wall time and how it was written.
pub fn parse_wall(value: &str) -> Option<(NaiveDateTime, Written)> {
    let value = value.trim();
    if let Some(utc) = value.strip_suffix(['Z', 'z']) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()
            .map(|wall| (wall, Written::Utc));
    }
    if value.len() == 8 {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .ok()
            .map(|date| (date.and_time(NaiveTime::MIN), Written::Date));
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .ok()
        .map(|wall| (wall, Written::Local))
}

/// A date or time property, with the zone it is in.
#[derive(Debug, Clone)]
struct Moment {
    wall: NaiveDateTime,
    zone: Zone,
    all_day: bool,
}

impl Moment {
    fn instant(&self) -> DateTime<Utc> {
        self.zone.instant(self.wall)
    }
}

fn param<'a>(property: &'a Property<'_>, key: &str) -> Option<&'a str> {
    property
        .params
        .iter()
        .find(|parameter| parameter.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|parameter| parameter.val.as_ref())
        .map(|value| value.as_str())
}

/// The properties of `component` named `name` (names are case-insensitive).
pub fn props<'a, 'b>(
    component: &'a Component<'b>,
    name: &'a str,
) -> impl Iterator<Item = &'a Property<'b>> + 'a {
    component
        .properties
        .iter()
        .filter(move |property| property.name.as_str().eq_ignore_ascii_case(name))
}

/// The raw value of `component`'s first property named `name`.
pub fn value<'a>(component: &'a Component<'_>, name: &str) -> Option<&'a str> {
    component
        .properties
        .iter()
        .find(|property| property.name.as_str().eq_ignore_ascii_case(name))
        .map(|property| property.val.as_str())
}

fn text(component: &Component<'_>, name: &str) -> Option<String> {
    props(component, name)
        .next()
        .map(|property| property.val.clone().unescape_text().as_str().to_owned())
}

/// The moments a property holds (one, or several separated by commas for `EXDATE` and `RDATE`).
fn moments(property: &Property<'_>, zones: &Zones, reading: &mut Reading) -> Vec<Moment> {
    let zone = param(property, "TZID").map(|tzid| {
        zones.zone(tzid).unwrap_or_else(|| {
            reading.unknown_zones += 1;
            Zone::Floating
        })
    });
    property
        .val
        .as_str()
        .split(',')
        .filter_map(parse_wall)
        .map(|(wall, written)| Moment {
            wall,
            zone: match written {
                Written::Utc => Zone::Utc,
                Written::Date => Zone::Floating,
                Written::Local => zone.clone().unwrap_or(Zone::Floating),
            },
            all_day: written == Written::Date,
        })
        .collect()
}

fn moment(component: &Component<'_>, name: &str, zones: &Zones, reading: &mut Reading) -> Option<Moment> {
    props(component, name)
        .next()
        .and_then(|property| moments(property, zones, reading).into_iter().next())
}

/// `P1D`, `PT1H30M`, `P2W`, `-PT15M` (the sign is ignored: an event does not end before it starts).
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim().trim_start_matches(['+', '-']);
    let rest = value.strip_prefix(['P', 'p'])?;
    let (mut total, mut number, mut in_time, mut any) = (Duration::zero(), String::new(), false, false);
    for character in rest.chars() {
        match character.to_ascii_uppercase() {
            'T' if number.is_empty() => in_time = true,
            digit if digit.is_ascii_digit() => number.push(digit),
            unit => {
                let amount: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                let part = match (unit, in_time) {
                    ('W', false) => Duration::try_weeks(amount)?,
                    ('D', false) => Duration::try_days(amount)?,
                    ('H', true) => Duration::try_hours(amount)?,
                    ('M', true) => Duration::try_minutes(amount)?,
                    ('S', true) => Duration::try_seconds(amount)?,
                    _ => return None,
                };
                total = total.checked_add(&part)?;
            }
        }
    }
    (any && number.is_empty()).then_some(total)
}

/// Why a person is not busy with an event, if they are not.
fn not_busy(event: &Component<'_>, own_addresses: &[String]) -> bool {
    let is = |name: &str, wanted: &str| {
        text(event, name).is_some_and(|value| value.trim().eq_ignore_ascii_case(wanted))
    };
    if is("STATUS", "CANCELLED") || is("TRANSP", "TRANSPARENT") || is("X-MICROSOFT-CDO-BUSYSTATUS", "FREE") {
        return true;
    }
    props(event, "ATTENDEE").any(|attendee| {
        let address = attendee.val.as_str().trim();
        let address = address
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
            .map_or(address, |_| &address[7..]);
        own_addresses.iter().any(|own| own.eq_ignore_ascii_case(address))
            && param(attendee, "PARTSTAT").is_some_and(|status| status.eq_ignore_ascii_case("DECLINED"))
    })
}

/// One `VEVENT`, read.
struct Entry {
    uid: Option<String>,
    /// The occurrence of its series this one replaces.
    replaces: Option<DateTime<Utc>>,
    title: String,
    start: Moment,
    length: Length,
    busy: bool,
}

/// How long each occurrence lasts.
#[derive(Debug, Clone, Copy)]
enum Length {
    /// DTEND of a timed event: the same exact time for every occurrence (RFC 5545 3.8.5.3), whatever zone
    /// the end is written in.
    Exact(Duration),
    /// Dates, and DURATION: in the series' wall time (a day is a calendar day across a change).
    Nominal(Duration),
}

impl Length {
    fn longest(self) -> Duration {
        match self {
            Self::Exact(length) | Self::Nominal(length) => length + Duration::hours(2),
        }
    }
}

/// The longest event that counts: a calendar saying someone is busy for longer says nothing useful, and a
/// bound keeps the arithmetic safe whatever a document writes.
const LONGEST_EVENT: Duration = Duration::days(366);
/// The longest title kept: Slack shows 100 characters of a status.
const LONGEST_TITLE: usize = 1024;
/// How deep components may nest: VCALENDAR › VEVENT › VALARM, VCALENDAR › VTIMEZONE › STANDARD are 3.
const DEEPEST_NESTING: usize = 8;

fn entry(event: &Component<'_>, zones: &Zones, own: &[String], reading: &mut Reading) -> Option<Entry> {
    let Some(start) = moment(event, "DTSTART", zones, reading) else {
        reading.unreadable_events += 1;
        return None;
    };
    let length = match moment(event, "DTEND", zones, reading) {
        Some(end) if end.all_day && start.all_day => Length::Nominal(end.wall - start.wall),
        Some(end) if !end.all_day && !start.all_day => Length::Exact(end.instant() - start.instant()),
        Some(_) => Length::Exact(Duration::zero()),
        None => match text(event, "DURATION").map(|value| parse_duration(&value)) {
            Some(Some(duration)) => Length::Nominal(duration),
            Some(None) => {
                reading.unreadable_events += 1;
                return None;
            }
            None if start.all_day => Length::Nominal(Duration::days(1)),
            None => Length::Exact(Duration::zero()),
        },
    };
    let (Length::Exact(span) | Length::Nominal(span)) = length;
    if span > LONGEST_EVENT || span < Duration::zero() {
        reading.unreadable_events += 1;
        return None;
    }
    let mut title = text(event, "SUMMARY").unwrap_or_default();
    if let Some((cut, _)) = title.char_indices().nth(LONGEST_TITLE) {
        title.truncate(cut);
    }
    Some(Entry {
        uid: text(event, "UID"),
        replaces: moment(event, "RECURRENCE-ID", zones, reading).map(|moment| moment.instant()),
        title,
        length,
        busy: !not_busy(event, own),
        start,
    })
}

impl Entry {
    fn occurrence(&self, wall: NaiveDateTime, zone: &Zone) -> Occurrence {
        let start = zone.instant(wall);
        Occurrence {
            title: self.title.clone(),
            start,
            end: match self.length {
                Length::Exact(length) => start + length,
                Length::Nominal(length) => zone.instant(wall + length),
            },
            all_day: self.start.all_day,
        }
    }
}

/// The occurrences of `event`'s series (master `entry`) that may overlap `window`, with the instants they
/// are known by for `EXDATE` and `RECURRENCE-ID`.
fn series(
    event: &Component<'_>,
    master: &Entry,
    zones: &Zones,
    window: &std::ops::Range<DateTime<Utc>>,
    reading: &mut Reading,
    steps: &mut usize,
) -> Vec<(DateTime<Utc>, Occurrence)> {
    let zone = &master.start.zone;
    // A day's margin each side for the zone's offset, and the event's length before the window.
    let from = zone.wall(window.start - master.length.longest()) - Duration::days(1);
    let horizon = zone.wall(window.end) + Duration::days(1);
    let mut walls = vec![master.start.wall];
    if let Some(rule) = props(event, "RRULE").next() {
        let until = Until::with(|instant| zone.wall(instant));
        match recurrence::walls(
            rule.val.as_str(),
            master.start.wall,
            master.start.all_day,
            &until,
            from..=horizon,
            steps,
        ) {
            Ok(made) => {
                reading.broken_rules += usize::from(made.cut);
                walls = made.walls;
            }
            Err(_) => reading.broken_rules += 1,
        }
    }
    let mut made: Vec<(DateTime<Utc>, Occurrence)> = walls
        .into_iter()
        .map(|wall| (zone.instant(wall), master.occurrence(wall, zone)))
        .collect();
    for rdate in props(event, "RDATE") {
        for extra in moments(rdate, zones, reading) {
            made.push((extra.instant(), master.occurrence(extra.wall, &extra.zone)));
        }
    }
    let excluded: Vec<DateTime<Utc>> = props(event, "EXDATE")
        .flat_map(|exdate| moments(exdate, zones, reading))
        .map(|moment| moment.instant())
        .collect();
    made.retain(|(known_as, _)| !excluded.contains(known_as));
    made
}

/// Refuses a document nested deeper than any calendar is (the parser would recurse once per level).
fn nesting_is_sane(unfolded: &str) -> Result<(), String> {
    let mut depth = 0_usize;
    for line in unfolded.lines() {
        let keyword = line.get(..6).unwrap_or(line);
        if keyword.eq_ignore_ascii_case("BEGIN:") {
            depth += 1;
            if depth > DEEPEST_NESTING {
                return Err(format!(
                    "not an iCalendar document (its parts nest deeper than {DEEPEST_NESTING})"
                ));
            }
        } else if keyword
            .get(..4)
            .is_some_and(|end| end.eq_ignore_ascii_case("END:"))
        {
            depth = depth.saturating_sub(1);
        }
    }
    Ok(())
}

/// The occurrences in `document` that overlap `window`, and what could not be read.
pub fn read(
    document: &str,
    window: std::ops::Range<DateTime<Utc>>,
    options: &CalendarOptions,
) -> Result<Reading, String> {
    let unfolded = icalendar::parser::unfold(document);
    nesting_is_sane(&unfolded)?;
    let roots = icalendar::parser::read_calendar_simple(&unfolded).map_err(|error| {
        let line = unfolded[..unfolded.len() - error.input.len()]
            .lines()
            .count()
            .max(1);
        format!("not an iCalendar document (it stops making sense on line {line}, once unfolded)")
    })?;
    let Some(calendar) = roots
        .iter()
        .find(|root| root.name.as_str().eq_ignore_ascii_case("VCALENDAR"))
    else {
        return Err("not an iCalendar document (no VCALENDAR in it)".to_owned());
    };
    let mut own = options.own_addresses.clone();
    if let Some(name) =
        text(calendar, "X-WR-CALNAME").filter(|name| name.contains('@') && !name.contains(' '))
    {
        own.push(name);
    }
    let zones = Zones::read(&calendar.components, window.end.naive_utc() + Duration::days(366));
    let mut reading = Reading::default();
    let mut steps = recurrence::STEPS_PER_DOCUMENT;
    let events: Vec<(&Component<'_>, Entry)> = calendar
        .components
        .iter()
        .filter(|component| component.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .filter_map(|event| entry(event, &zones, &own, &mut reading).map(|entry| (event, entry)))
        .collect();
    // Which occurrences a replacement stands for, per series.
    let mut replaced: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for (_, entry) in &events {
        if let (Some(uid), Some(instant)) = (&entry.uid, entry.replaces) {
            replaced.entry(uid.as_str()).or_default().push(instant);
        }
    }
    let mut found = Vec::new();
    for (event, entry) in &events {
        let occurrences: Vec<(DateTime<Utc>, Occurrence)> = if entry.replaces.is_some() {
            vec![(
                entry.start.instant(),
                entry.occurrence(entry.start.wall, &entry.start.zone),
            )]
        } else {
            let replacements = entry.uid.as_deref().and_then(|uid| replaced.get(uid));
            series(event, entry, &zones, &window, &mut reading, &mut steps)
                .into_iter()
                .filter(|(known_as, _)| replacements.is_none_or(|instants| !instants.contains(known_as)))
                .collect()
        };
        if !entry.busy || (entry.start.all_day && !options.include_all_day) {
            continue;
        }
        found.extend(
            occurrences
                .into_iter()
                .map(|(_, occurrence)| occurrence)
                // An event that takes no time (RFC 5545: a start and nothing else) makes no one busy.
                .filter(|occurrence| occurrence.start < occurrence.end)
                .filter(|occurrence| occurrence.start < window.end && occurrence.end > window.start),
        );
    }
    found.sort_by(|a, b| (a.start, a.end, &a.title).cmp(&(b.start, b.end, &b.title)));
    reading.occurrences = found;
    Ok(reading)
}

#[cfg(test)]
mod tests;
