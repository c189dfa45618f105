//! A recurrence rule (`RRULE`) expanded in wall-clock time, by the rrule crate.
//!
//! RFC 5545 repeats an event in its own zone's wall time: a weekly 09:00 meeting in Berlin stays at 09:00
//! across the daylight-saving change. So the rule is expanded on bare wall times (given to the crate as if
//! they were UTC, which has no changes), and each wall time becomes an instant afterwards, in the event's zone
//! ([`super::zones::Zone::instant`]). That works the same for the zones only a `VTIMEZONE` defines, which
//! the crate cannot know. The one part of a rule that is not wall time, `UNTIL` written in UTC, is turned into
//! the event's wall time first.

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use rrule::{RRule, Tz, Unvalidated};

/// At most this many occurrences of one rule are looked at: a rule that would make more before the horizon
/// (every minute for years) is cut there rather than hold the source up.
pub const MAX_OCCURRENCES: usize = 20_000;

/// How a rule's `UNTIL` written in UTC becomes the series' wall time.
pub struct Until<'a>(Box<dyn Fn(DateTime<Utc>) -> NaiveDateTime + 'a>);

impl<'a> Until<'a> {
    pub fn with(to_wall: impl Fn(DateTime<Utc>) -> NaiveDateTime + 'a) -> Self {
        Self(Box::new(to_wall))
    }
}

/// The wall times of the series that starts at `start` and repeats by `rule`, up to `horizon` included, in
/// order. The start always counts (RFC 5545: `DTSTART` is the first instance, whether or not the rule would
/// make it). `all_day` series have dates: an `UNTIL` date includes its day.
pub fn walls(
    rule: &str,
    start: NaiveDateTime,
    all_day: bool,
    until: &Until<'_>,
    horizon: NaiveDateTime,
) -> Result<Vec<NaiveDateTime>, String> {
    let mut parts = Vec::new();
    let mut until_wall = None;
    for part in rule.trim().split(';').filter(|part| !part.is_empty()) {
        match part.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                until_wall = Some(until_as_wall(value, all_day, until).ok_or("an UNTIL that is not a date")?);
            }
            _ => parts.push(part),
        }
    }
    if until_wall.is_some_and(|until| until < start) {
        return Ok(vec![start]);
    }
    let mut parsed: RRule<Unvalidated> = parts
        .join(";")
        .parse()
        .map_err(|error: rrule::RRuleError| error.to_string())?;
    if let Some(until) = until_wall {
        parsed = parsed.until(Tz::UTC.from_utc_datetime(&until));
    }
    let set = parsed
        .build(Tz::UTC.from_utc_datetime(&start))
        .map_err(|error| error.to_string())?;
    let mut walls: Vec<NaiveDateTime> = (&set)
        .into_iter()
        .map(|occurrence| occurrence.naive_utc())
        .take_while(|wall| *wall <= horizon)
        .take(MAX_OCCURRENCES)
        .collect();
    if walls.first() != Some(&start) && start <= horizon {
        walls.insert(0, start);
    }
    Ok(walls)
}

fn until_as_wall(value: &str, all_day: bool, until: &Until<'_>) -> Option<NaiveDateTime> {
    let value = value.trim();
    if let Some(utc) = value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
        let instant = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()?
            .and_utc();
        let wall = (until.0)(instant);
        // A date series ending at an instant ends with the day that instant falls on.
        return Some(if all_day { end_of_day(wall) } else { wall });
    }
    if let Ok(wall) = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S") {
        return Some(wall);
    }
    chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
        .ok()
        .map(|date| date.and_time(NaiveTime::MIN))
        .map(end_of_day)
}

fn end_of_day(wall: NaiveDateTime) -> NaiveDateTime {
    wall.date().and_time(NaiveTime::MIN) + chrono::Duration::days(1) - chrono::Duration::seconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a wall time")
    }

    fn same_wall() -> Until<'static> {
        Until::with(|instant| instant.naive_utc())
    }

    #[test]
    fn a_weekly_rule_keeps_its_wall_time_and_stops_at_the_horizon() {
        let walls = walls(
            "FREQ=WEEKLY;BYDAY=MO",
            wall("2026-10-19 09:00"),
            false,
            &same_wall(),
            wall("2026-11-10 00:00"),
        )
        .expect("expands");
        let expected: Vec<_> = [
            "2026-10-19 09:00",
            "2026-10-26 09:00",
            "2026-11-02 09:00",
            "2026-11-09 09:00",
        ]
        .map(wall)
        .to_vec();
        assert_eq!(walls, expected);
    }

    #[test]
    fn until_in_utc_is_read_in_the_series_wall_time() {
        // Two hours ahead of UTC: an UNTIL of 07:00Z on the 26th is 09:00 there, so that Monday still counts.
        let ahead = Until::with(|instant| instant.naive_utc() + chrono::Duration::hours(2));
        let walls = walls(
            "FREQ=WEEKLY;UNTIL=20261026T070000Z;BYDAY=MO",
            wall("2026-10-19 09:00"),
            false,
            &ahead,
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(walls, vec![wall("2026-10-19 09:00"), wall("2026-10-26 09:00")]);
    }

    #[test]
    fn the_start_counts_even_where_the_rule_would_not_make_it_and_an_until_before_it_leaves_only_it() {
        // Starts on a Sunday, repeats on Mondays.
        let walls_made = walls(
            "FREQ=WEEKLY;COUNT=2;BYDAY=MO",
            wall("2026-10-18 09:00"),
            false,
            &same_wall(),
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(walls_made[0], wall("2026-10-18 09:00"));
        assert_eq!(walls_made.len(), 3);
        let only = walls(
            "FREQ=DAILY;UNTIL=20200101",
            wall("2026-10-18 09:00"),
            false,
            &same_wall(),
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(only, vec![wall("2026-10-18 09:00")]);
    }

    #[test]
    fn an_until_date_includes_its_day_and_an_endless_rule_is_cut() {
        let days = walls(
            "FREQ=DAILY;UNTIL=20261021",
            wall("2026-10-19 00:00"),
            true,
            &same_wall(),
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(days.len(), 3);
        let every_minute = walls(
            "FREQ=MINUTELY",
            wall("2020-01-01 00:00"),
            false,
            &same_wall(),
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(every_minute.len(), MAX_OCCURRENCES);
    }

    #[test]
    fn a_broken_rule_says_why() {
        for broken in ["FREQ=SOMETIMES", "BYDAY=MO", "FREQ=WEEKLY;UNTIL=soon"] {
            assert!(
                walls(
                    broken,
                    wall("2026-10-19 09:00"),
                    false,
                    &same_wall(),
                    wall("2027-01-01 00:00")
                )
                .is_err(),
                "{broken}"
            );
        }
    }
}
