//! `caret-desktop hours [on|off] [--week WEEK] [--off-status on|off] [--json]`: the working hours.

use caret_core::{DayHours, WorkingHours};

use crate::slack::setting_keys::{on_off, on_off_arg};
use crate::sources::WorkingHoursChange;
use clap::Args;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Your working hours, in this computer's time zone: outside them Slack shows you away, and, with
/// `--off-status on`, "Off for the day" until the next start (under Trusted and VIP, where nothing else sets a
/// status). Without arguments, says what they are and where you are in them; `on` or `off` follows them or not;
/// `--week "mon-fri 09:00-17:30, sat 10:00-13:00"` sets the week (days not named are off; an end at or before
/// the start runs past midnight).
#[derive(Debug, Clone, Args)]
pub struct Hours {
    /// `on` or `off`.
    switch: Option<String>,
    /// The whole week, e.g. "mon-fri 09:00-17:30, sat 10:00-13:00".
    #[arg(long)]
    week: Option<String>,
    /// Show "Off for the day" outside the hours: `on` or `off`.
    #[arg(long = "off-status")]
    off_status: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Hours {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        // Only what was given changes, in one step in the app: a week saved in Settings meanwhile is kept.
        let change = WorkingHoursChange {
            on: self
                .switch
                .as_deref()
                .map(|word| on_off_arg("hours", word))
                .transpose()?,
            days: self.week.as_deref().map(parse_week).transpose()?,
            off_status: self
                .off_status
                .as_deref()
                .map(|word| on_off_arg("--off-status", word))
                .transpose()?,
        };
        let asked = if change == WorkingHoursChange::default() {
            ControlRequest::Sources
        } else {
            ControlRequest::ChangeWorkingHours { change }
        };
        let ControlResponse::Sources { sources } = request(&config.paths, &asked).await? else {
            return Err(unexpected_answer());
        };
        if self.json {
            println!("{}", serde_json::to_string(&sources).unwrap_or_default());
        } else {
            println!("week: {}", describe_week(&sources.working_week));
            println!(
                "\"Off for the day\" outside them: {}",
                on_off(sources.working_week.off_status)
            );
            println!("now: {}", sources.working_hours.describe());
        }
        Ok(())
    }
}

/// Reads "mon-fri 09:00-17:30, sat 10:00-13:00": days (one, a list with commas inside a part is not allowed,
/// or a range, which may wrap past Sunday) then their hours; the days not named are off.
pub fn parse_week(text: &str) -> Result<[Option<DayHours>; 7]> {
    let refuse = |reason: String| {
        AppError::Refused(Refusal::WorkingWeek {
            text: text.to_owned(),
            reason,
        })
    };
    let mut days = [None; 7];
    for part in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let mut words = part.split_whitespace();
        let (Some(named), Some(span), None) = (words.next(), words.next(), words.next()) else {
            return Err(refuse(format!("{part:?} is not days then hours")));
        };
        let hours = parse_span(span).map_err(refuse)?;
        for day in parse_days(named).map_err(refuse)? {
            if days[day].is_some() {
                return Err(refuse(format!("{} is named twice", DAY_NAMES[day])));
            }
            days[day] = Some(hours);
        }
    }
    Ok(days)
}

/// The days' whole names: a day is named by one of these, or by its start of at least three letters ("mon",
/// "Tues").
const DAY_WORDS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn parse_days(named: &str) -> std::result::Result<Vec<usize>, String> {
    let day = |name: &str| {
        let name = name.to_ascii_lowercase();
        DAY_WORDS
            .iter()
            .position(|word| name.len() >= 3 && word.starts_with(name.as_str()))
            .ok_or_else(|| format!("{name:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"))
    };
    match named.split_once('-') {
        None => Ok(vec![day(named)?]),
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            let length = (last + 7 - first) % 7 + 1;
            Ok((0..length).map(|step| (first + step) % 7).collect())
        }
    }
}

fn parse_span(span: &str) -> std::result::Result<DayHours, String> {
    let (start, end) = span
        .split_once('-')
        .ok_or_else(|| format!("{span:?} is not hours like 09:00-17:30"))?;
    let (start, end) = (parse_clock(start)?, parse_clock(end)?);
    DayHours::new(start, end).map_err(|error| error.to_string())
}

/// "09:00" → 540; "24:00" is the end of the day.
fn parse_clock(text: &str) -> std::result::Result<u16, String> {
    let refuse = || format!("{text:?} is not a time like 09:00");
    let (hours, minutes) = text.split_once(':').ok_or_else(refuse)?;
    // Digits only: `u16::from_str` would take "+9".
    let digits = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if !digits(hours, 1..=2) || !digits(minutes, 2..=2) {
        return Err(refuse());
    }
    let (hours, minutes): (u16, u16) = (
        hours.parse().map_err(|_| refuse())?,
        minutes.parse().map_err(|_| refuse())?,
    );
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return Err(refuse());
    }
    Ok(hours * 60 + minutes)
}

/// The week as `--week` takes it, each run of days with the same hours together: "mon-fri 09:00-17:00".
pub fn describe_week(hours: &WorkingHours) -> String {
    let clock = |minutes: u16| format!("{:02}:{:02}", minutes / 60, minutes % 60);
    let mut parts = Vec::new();
    let mut day = 0;
    while day < 7 {
        let Some(span) = hours.days[day] else {
            day += 1;
            continue;
        };
        let mut last = day;
        while last + 1 < 7 && hours.days[last + 1] == Some(span) {
            last += 1;
        }
        let days = if last == day {
            DAY_NAMES[day].to_owned()
        } else {
            format!("{}-{}", DAY_NAMES[day], DAY_NAMES[last])
        };
        parts.push(format!("{days} {}-{}", clock(span.start), clock(span.end)));
        day = last + 1;
    }
    if parts.is_empty() {
        "no working day".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u16, end: u16) -> Option<DayHours> {
        Some(DayHours { start, end })
    }

    #[test]
    fn a_week_is_read_as_written_and_written_back_the_same() {
        let week = parse_week("mon-fri 09:00-17:30, sat 10:00-13:00").expect("a week");
        assert_eq!(week[0], span(540, 1050));
        assert_eq!(week[4], span(540, 1050));
        assert_eq!(week[5], span(600, 780));
        assert_eq!(week[6], None);
        let hours = WorkingHours {
            on: true,
            days: week,
            off_status: false,
        };
        assert_eq!(describe_week(&hours), "mon-fri 09:00-17:30, sat 10:00-13:00");
        // A range wraps past Sunday; a night shift ends the next day; 24:00 ends the day.
        let nights = parse_week("Friday-Mon 22:00-06:00; wed 00:00-24:00").expect("a week");
        assert_eq!(nights.iter().filter(|day| **day == span(1320, 360)).count(), 4);
        assert_eq!(nights[2], span(0, 1440));
        assert_eq!(nights[1], None);
        assert_eq!(parse_week("").expect("no day"), [None; 7]);
    }

    #[test]
    fn what_is_not_a_week_is_refused_with_its_reason() {
        for (text, reason) in [
            ("mon-fri", "is not days then hours"),
            ("mon-fri 9-17", "is not a time like 09:00"),
            ("mon 09:00-09:00", "not a day's"),
            ("mon 25:00-26:00", "is not a time like 09:00"),
            ("mon 09:0-10:00", "is not a time like 09:00"),
            ("mon +9:00-10:00", "is not a time like 09:00"),
            ("monkey 09:00-10:00", "is not a day"),
            ("mo 09:00-10:00", "is not a day"),
            ("funday 09:00-10:00", "is not a day"),
            ("mon-fri 09:00-17:00, fri 10:00-12:00", "fri is named twice"),
            ("mon 09:00-17:00 extra", "is not days then hours"),
        ] {
            let error = parse_week(text).expect_err(text).to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
