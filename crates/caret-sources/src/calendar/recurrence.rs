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

/// At most this many occurrences of a rule are kept (from the window's start on).
pub const MAX_OCCURRENCES: usize = 20_000;
/// The steps one document may spend expanding its rules, all together: a rule that would make millions of
/// occurrences (every minute for years) or search for ones that never come (the 30th of February) is cut
/// there rather than hold the source up. The rrule crate itself gives up on a rule after 100 000 fruitless
/// steps ([`rrule::RRuleSet::limit`]).
pub const STEPS_PER_DOCUMENT: usize = 2_000_000;

/// How a rule's `UNTIL` written in UTC becomes the series' wall time.
pub struct Until<'a>(Box<dyn Fn(DateTime<Utc>) -> NaiveDateTime + 'a>);

impl<'a> Until<'a> {
    pub fn with(to_wall: impl Fn(DateTime<Utc>) -> NaiveDateTime + 'a) -> Self {
        Self(Box::new(to_wall))
    }
}

/// A rule's wall times, and whether it was cut short (by [`MAX_OCCURRENCES`] or the document's steps).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walls {
    pub walls: Vec<NaiveDateTime>,
    pub cut: bool,
}

/// The wall times of the series that starts at `start` and repeats by `rule`, from `from` up to `horizon`
/// included, in order. The start always counts (RFC 5545: `DTSTART` is the first instance, whether or not the
/// rule would make it). `all_day` series have dates: an `UNTIL` date includes its day. Each occurrence looked
/// at, kept or not, spends one of `steps`.
pub fn walls(
    rule: &str,
    start: NaiveDateTime,
    all_day: bool,
    until: &Until<'_>,
    range: std::ops::RangeInclusive<NaiveDateTime>,
    steps: &mut usize,
) -> Result<Walls, String> {
    let (from, horizon) = (*range.start(), *range.end());
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
    let only_start = || Walls {
        walls: (from..=horizon)
            .contains(&start)
            .then_some(start)
            .into_iter()
            .collect(),
        cut: false,
    };
    if until_wall.is_some_and(|until| until < start) {
        return Ok(only_start());
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
        .map_err(|error| error.to_string())?
        .limit();
    let mut made = only_start();
    for occurrence in &set {
        let wall = occurrence.naive_utc();
        if wall > horizon {
            break;
        }
        if *steps == 0 || made.walls.len() >= MAX_OCCURRENCES {
            made.cut = true;
            break;
        }
        *steps -= 1;
        if wall >= from && wall != start {
            made.walls.push(wall);
        }
    }
    Ok(made)
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

    /// Every wall time from the start to `horizon`, with steps to spare.
    fn walls(
        rule: &str,
        start: NaiveDateTime,
        all_day: bool,
        until: &Until<'_>,
        horizon: NaiveDateTime,
    ) -> Result<Vec<NaiveDateTime>, String> {
        let mut steps = STEPS_PER_DOCUMENT;
        super::walls(
            rule,
            start,
            all_day,
            until,
            NaiveDateTime::MIN..=horizon,
            &mut steps,
        )
        .map(|made| made.walls)
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
    fn an_until_date_includes_its_day() {
        let days = walls(
            "FREQ=DAILY;UNTIL=20261021",
            wall("2026-10-19 00:00"),
            true,
            &same_wall(),
            wall("2027-01-01 00:00"),
        )
        .expect("expands");
        assert_eq!(days.len(), 3);
    }

    #[test]
    fn only_the_range_is_kept_and_hostile_rules_are_cut_by_the_documents_steps() {
        let mut steps = STEPS_PER_DOCUMENT;
        let range = wall("2026-12-01 00:00")..=wall("2026-12-08 00:00");
        // Daily since 2010: only the week asked for is kept, the steps before it spent.
        let daily = super::walls(
            "FREQ=DAILY",
            wall("2010-01-01 09:00"),
            false,
            &same_wall(),
            range.clone(),
            &mut steps,
        )
        .expect("expands");
        assert_eq!(daily.walls.len(), 7);
        assert!(!daily.cut);
        assert!(
            steps < STEPS_PER_DOCUMENT - 6000,
            "the years before were looked at"
        );
        // Every second for years: cut where the steps ran out, said so.
        let every_second = super::walls(
            "FREQ=SECONDLY",
            wall("2020-01-01 00:00"),
            false,
            &same_wall(),
            range.clone(),
            &mut steps,
        )
        .expect("expands");
        assert!(every_second.cut && every_second.walls.is_empty());
        assert_eq!(steps, 0);
        // A 30th of February never comes: the crate gives up on it, and with no steps left nothing runs.
        let mut steps = STEPS_PER_DOCUMENT;
        let never = super::walls(
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            wall("2020-01-01 00:00"),
            false,
            &same_wall(),
            NaiveDateTime::MIN..=wall("2027-01-01 00:00"),
            &mut steps,
        )
        .expect("expands");
        assert_eq!(never.walls, vec![wall("2020-01-01 00:00")], "only the start");
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
