//! Working hours: a weekly schedule in the machine's local time, and where a moment falls in it.
//!
//! The hours are wall-clock times ("09:00 to 17:30, Monday to Friday"), so a day starts at 09:00 on both sides
//! of a daylight-saving change. A day whose end is at or before its start runs past midnight into the next
//! day (a night shift). A start that falls in a spring-forward gap begins at the first minute after it; one
//! that falls twice in the autumn overlap is the first of the two. Adjacent days that touch (Monday until
//! 24:00, Tuesday from 00:00) are one stretch of work.
//!
//! [`WorkingHours::at`] is pure (the time and its zone come in), so every rule here is testable without a
//! clock; the desktop's working-hours source calls it with the local zone and wakes at the next change.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};

/// Minutes in a day: a day's `end` may be this (midnight at its close).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// How far ahead the next start is looked for: a schedule with a working day has one within a week.
const DAYS_AHEAD: i64 = 8;

/// One working day's hours, in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DayHours {
    /// When work starts: 0 (00:00) to 1439 (23:59).
    pub start: u16,
    /// When it ends: 1 to 1440 (24:00). At or before `start`, it ends the next day.
    pub end: u16,
}

impl DayHours {
    /// Hours from `start` to `end` ("09:00" is 540).
    pub fn new(start: u16, end: u16) -> Result<DayHours> {
        let day = DayHours { start, end };
        day.validate()?;
        Ok(day)
    }

    fn validate(self) -> Result<()> {
        if self.start >= MINUTES_PER_DAY
            || self.end == 0
            || self.end > MINUTES_PER_DAY
            || self.start == self.end
        {
            return Err(CoreError::InvalidWorkingHours {
                start: self.start,
                end: self.end,
            });
        }
        Ok(())
    }

    /// Whether the day's work runs past midnight.
    fn overnight(self) -> bool {
        self.end <= self.start
    }
}

/// The person's working week, as Settings and `caret-desktop hours` set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkingHours {
    /// Followed or not (the schedule is kept either way).
    pub on: bool,
    /// Monday first; `None` for a day off.
    pub days: [Option<DayHours>; 7],
    /// Outside the hours, also set the status "Off for the day" until the next start (under the policies that
    /// show states, and only where nothing else sets a status).
    pub off_status: bool,
}

impl Default for WorkingHours {
    /// Off; Monday to Friday, 09:00 to 17:00, ready to be turned on.
    fn default() -> WorkingHours {
        let office = Some(DayHours {
            start: 9 * 60,
            end: 17 * 60,
        });
        WorkingHours {
            on: false,
            days: [office, office, office, office, office, None, None],
            off_status: false,
        }
    }
}

/// Where a moment falls in the working week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "hours", rename_all = "snake_case")]
#[ts(export)]
pub enum HoursNow {
    /// Within working hours, until `until`; `None` when work runs around the clock (a week with every day
    /// worked whole: no end in sight).
    Working { until: Option<DateTime<Utc>> },
    /// Outside them; back at the next start, `None` when the week has no working day.
    Off { back_at: Option<DateTime<Utc>> },
}

impl HoursNow {
    /// When this changes by itself.
    pub fn next_change(self) -> Option<DateTime<Utc>> {
        match self {
            HoursNow::Working { until } => until,
            HoursNow::Off { back_at } => back_at,
        }
    }
}

impl WorkingHours {
    /// Checks every day's hours.
    pub fn validate(&self) -> Result<()> {
        self.days.iter().flatten().try_for_each(|day| day.validate())
    }

    /// Where `now` falls, reading the week in `now`'s zone.
    pub fn at<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> HoursNow {
        let zone = now.timezone();
        let today = now.date_naive();
        let now = now.with_timezone(&Utc);
        let mut stretches: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        // From yesterday (a night shift that began then may still run) to a week and a day ahead.
        for offset in -1..=DAYS_AHEAD {
            let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
                continue;
            };
            let weekday = date.weekday().num_days_from_monday() as usize;
            let Some(day) = self.days.get(weekday).copied().flatten() else {
                continue;
            };
            let end_date = if day.overnight() {
                date.succ_opt()
            } else {
                Some(date)
            };
            let (Some(start), Some(end)) = (
                wall_time(&zone, date, day.start),
                end_date.and_then(|end_date| wall_time(&zone, end_date, day.end)),
            ) else {
                continue;
            };
            if start < end {
                stretches.push((start, end));
            }
        }
        stretches.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (start, end) in stretches {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        if let Some(&(_, until)) = merged.iter().find(|(start, end)| *start <= now && now < *end) {
            // Any week with a break has an end within seven days; a stretch past them runs around the clock.
            let ends = until - now <= Duration::days(7);
            return HoursNow::Working {
                until: ends.then_some(until),
            };
        }
        HoursNow::Off {
            back_at: merged.iter().map(|(start, _)| *start).find(|start| *start > now),
        }
    }
}

/// The instant `minutes` after midnight of `date` on the wall clocks of `zone`: in a gap, the first minute
/// after it; in an overlap, the first of the two.
fn wall_time<Tz: TimeZone>(zone: &Tz, date: NaiveDate, minutes: u16) -> Option<DateTime<Utc>> {
    let wall: NaiveDateTime = date.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minutes));
    // Gaps are at most a few hours (and on whole minutes everywhere since 1970).
    for skipped in 0..=4 * 60 {
        match zone.from_local_datetime(&(wall + Duration::minutes(skipped))) {
            LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
