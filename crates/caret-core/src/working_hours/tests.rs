use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

use super::*;

const fn hours(start: u16, end: u16) -> Option<DayHours> {
    Some(DayHours { start, end })
}

fn office() -> WorkingHours {
    WorkingHours {
        on: true,
        ..WorkingHours::default()
    }
}

/// A wall time in New York.
fn new_york(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Tz> {
    New_York
        .with_ymd_and_hms(year, month, day, hour, minute, 0)
        .earliest()
        .expect("a wall time that exists")
}

fn utc(at: DateTime<Tz>) -> DateTime<Utc> {
    at.with_timezone(&Utc)
}

#[test]
fn a_weekday_is_worked_until_its_end_and_an_evening_or_weekend_waits_for_the_next_start() {
    let week = office();
    // Monday 7 December 2026.
    assert_eq!(
        week.at(&new_york(2026, 12, 7, 10, 0)),
        HoursNow::Working {
            until: Some(utc(new_york(2026, 12, 7, 17, 0)))
        }
    );
    assert_eq!(
        week.at(&new_york(2026, 12, 7, 18, 0)),
        HoursNow::Off {
            back_at: Some(utc(new_york(2026, 12, 8, 9, 0)))
        }
    );
    assert_eq!(
        week.at(&new_york(2026, 12, 7, 8, 59)),
        HoursNow::Off {
            back_at: Some(utc(new_york(2026, 12, 7, 9, 0)))
        }
    );
    // Friday evening and Saturday: back on Monday.
    for at in [new_york(2026, 12, 11, 17, 0), new_york(2026, 12, 12, 12, 0)] {
        assert_eq!(
            week.at(&at),
            HoursNow::Off {
                back_at: Some(utc(new_york(2026, 12, 14, 9, 0)))
            },
            "{at}"
        );
    }
    // The start counts, the end does not.
    assert!(matches!(
        week.at(&new_york(2026, 12, 7, 9, 0)),
        HoursNow::Working { .. }
    ));
    assert!(matches!(
        week.at(&new_york(2026, 12, 7, 17, 0)),
        HoursNow::Off { .. }
    ));
}

#[test]
fn hours_keep_their_wall_time_across_both_clock_changes() {
    let week = office();
    // Spring forward on Sunday 8 March 2026: Monday's 09:00 is EDT, 13:00 UTC.
    assert_eq!(
        week.at(&new_york(2026, 3, 6, 18, 0)),
        HoursNow::Off {
            back_at: Some(Utc.with_ymd_and_hms(2026, 3, 9, 13, 0, 0).unwrap())
        }
    );
    // Fall back on Sunday 1 November 2026: Monday's 09:00 is EST, 14:00 UTC.
    assert_eq!(
        week.at(&new_york(2026, 10, 30, 18, 0)),
        HoursNow::Off {
            back_at: Some(Utc.with_ymd_and_hms(2026, 11, 2, 14, 0, 0).unwrap())
        }
    );
}

#[test]
fn a_start_in_the_spring_gap_begins_after_it_and_one_in_the_autumn_overlap_at_the_first() {
    let mut sunday = WorkingHours {
        on: true,
        days: [None; 7],
        off_status: false,
    };
    // 02:30 does not exist on 8 March 2026 in New York: the day begins at 03:00 EDT (07:00 UTC).
    sunday.days[6] = hours(150, 600);
    assert_eq!(
        sunday.at(&new_york(2026, 3, 8, 1, 0)),
        HoursNow::Off {
            back_at: Some(Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap())
        }
    );
    // 01:30 happens twice on 1 November 2026: the first, in EDT (05:30 UTC).
    sunday.days[6] = hours(90, 600);
    assert_eq!(
        sunday.at(&new_york(2026, 11, 1, 0, 30)),
        HoursNow::Off {
            back_at: Some(Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap())
        }
    );
}

#[test]
fn a_night_shift_runs_past_midnight_and_touching_days_are_one_stretch() {
    let mut nights = WorkingHours {
        on: true,
        days: [None; 7],
        off_status: true,
    };
    nights.days[0] = hours(22 * 60, 6 * 60);
    assert_eq!(
        nights.at(&new_york(2026, 12, 8, 3, 0)),
        HoursNow::Working {
            until: Some(utc(new_york(2026, 12, 8, 6, 0)))
        }
    );
    assert_eq!(
        nights.at(&new_york(2026, 12, 7, 21, 0)),
        HoursNow::Off {
            back_at: Some(utc(new_york(2026, 12, 7, 22, 0)))
        }
    );
    // Monday all day, then Tuesday's morning: one stretch until Tuesday noon.
    let mut long = nights;
    long.days[0] = hours(0, MINUTES_PER_DAY);
    long.days[1] = hours(0, 12 * 60);
    assert_eq!(
        long.at(&new_york(2026, 12, 7, 10, 0)),
        HoursNow::Working {
            until: Some(utc(new_york(2026, 12, 8, 12, 0)))
        }
    );
}

#[test]
fn a_week_worked_around_the_clock_has_no_end_and_one_day_off_ends_it() {
    let mut always = WorkingHours {
        on: true,
        days: [hours(0, MINUTES_PER_DAY); 7],
        off_status: false,
    };
    assert_eq!(
        always.at(&new_york(2026, 12, 9, 15, 0)),
        HoursNow::Working { until: None }
    );
    assert_eq!(always.at(&new_york(2026, 12, 9, 15, 0)).next_change(), None);
    always.days[6] = None;
    assert_eq!(
        always.at(&new_york(2026, 12, 9, 15, 0)),
        HoursNow::Working {
            until: Some(utc(new_york(2026, 12, 13, 0, 0)))
        }
    );
}

#[test]
fn a_week_without_working_days_is_off_with_no_return() {
    let none = WorkingHours {
        on: true,
        days: [None; 7],
        off_status: true,
    };
    assert_eq!(
        none.at(&new_york(2026, 12, 7, 10, 0)),
        HoursNow::Off { back_at: None }
    );
}

#[test]
fn hours_that_are_not_a_day_s_are_refused() {
    for (start, end) in [
        (MINUTES_PER_DAY, 60),
        (60, 0),
        (540, 540),
        (0, MINUTES_PER_DAY + 1),
    ] {
        assert!(DayHours::new(start, end).is_err(), "{start}-{end}");
    }
    for (start, end) in [(0, MINUTES_PER_DAY), (1320, 360), (540, 1050), (1439, 1)] {
        assert!(DayHours::new(start, end).is_ok(), "{start}-{end}");
    }
    let mut week = office();
    week.days[3] = Some(DayHours { start: 600, end: 600 });
    assert!(week.validate().is_err());
    assert!(office().validate().is_ok());
}

/// Every 10 minutes of a fortnight around the spring change, under three schedules: what `at` says agrees
/// with the minutes around the change it announces (a stretch ends where the next moment is off, a return is
/// where the moment before is off and the moment itself worked).
#[test]
fn every_moment_of_a_fortnight_agrees_with_the_change_it_announces() {
    let mut nights = WorkingHours {
        on: true,
        days: [None; 7],
        off_status: false,
    };
    nights.days[4] = hours(22 * 60, 6 * 60);
    nights.days[5] = hours(22 * 60, 6 * 60);
    nights.days[6] = hours(2 * 60 + 30, 4 * 60);
    let mut checked = 0;
    for week in [
        office(),
        nights,
        WorkingHours {
            on: true,
            days: [hours(0, MINUTES_PER_DAY); 7],
            off_status: false,
        },
    ] {
        let from = NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|wall| New_York.from_utc_datetime(&wall))
            .expect("a start");
        for step in 0..(14 * 24 * 6) {
            let now = from + Duration::minutes(10 * step);
            let minute = Duration::minutes(1);
            match week.at(&now) {
                HoursNow::Working { until: None } => {
                    // Around the clock: every day worked whole, and a week ahead still at work.
                    assert!(
                        week.days.iter().all(|day| *day == hours(0, MINUTES_PER_DAY)),
                        "{now}"
                    );
                    let later = now + Duration::days(7);
                    assert!(matches!(week.at(&later), HoursNow::Working { .. }), "{now}");
                }
                HoursNow::Working { until: Some(until) } => {
                    assert!(until > now.with_timezone(&Utc), "{now}");
                    assert!(until - now.with_timezone(&Utc) <= Duration::days(7), "{now}");
                    let last = (until - minute).with_timezone(&New_York);
                    assert!(
                        matches!(week.at(&last), HoursNow::Working { .. }),
                        "{now}: {last}"
                    );
                    let after = until.with_timezone(&New_York);
                    assert!(matches!(week.at(&after), HoursNow::Off { .. }), "{now}: {after}");
                }
                HoursNow::Off { back_at } => {
                    let back = back_at.expect("these weeks have working days");
                    assert!(back > now.with_timezone(&Utc), "{now}");
                    assert!(
                        matches!(week.at(&back.with_timezone(&New_York)), HoursNow::Working { .. }),
                        "{now}: {back}"
                    );
                    let before = (back - minute).with_timezone(&New_York);
                    assert!(
                        matches!(week.at(&before), HoursNow::Off { .. }),
                        "{now}: {before}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * 14 * 24 * 6);
}
