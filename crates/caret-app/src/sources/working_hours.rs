//! The working-hours source: the person's working week (the preferences) read against the local clock. Off
//! work, it tells the engine so ([`OffHours`]); the sources' loop wakes at the next start or end, and at least
//! every 5 minutes, so that a computer that slept through an evening or was moved to another zone catches up.

use std::time::Duration;

use caret_core::{HoursNow, OffHours, WorkingHours};
use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use ts_rs::TS;

/// The longest the loop sleeps while the working hours are followed.
const LOOK_AGAIN: Duration = Duration::from_secs(300);

/// What the working-hours source says now, as Settings and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum WorkingHoursView {
    /// Not followed.
    Off,
    /// At work now, until `until`; `None`: around the clock (every day worked whole).
    AtWork { until: Option<DateTime<Utc>> },
    /// Off work: away in Slack (and "Off for the day" if `off_status`) until `back_at`, `None` when the week
    /// has no working day.
    OffWork {
        back_at: Option<DateTime<Utc>>,
        off_status: bool,
    },
}

impl WorkingHoursView {
    /// One line for the command line, times in the local zone.
    pub fn describe(&self) -> String {
        let local = |at: &DateTime<Utc>| at.with_timezone(&Local).format("%a %H:%M").to_string();
        match self {
            WorkingHoursView::Off => "off".to_owned(),
            WorkingHoursView::AtWork { until: Some(until) } => format!("on: at work until {}", local(until)),
            WorkingHoursView::AtWork { until: None } => "on: at work around the clock".to_owned(),
            WorkingHoursView::OffWork { back_at, off_status } => {
                let until = back_at.as_ref().map_or_else(
                    || " (no working day in the week)".to_owned(),
                    |at| format!(" until {}", local(at)),
                );
                let status = if *off_status {
                    ", \"Off for the day\" shown"
                } else {
                    ""
                };
                format!("on: off work{until}: away in Slack{status}")
            }
        }
    }
}

/// What the working hours say at `now`: the engine's signal (off work or not) and the view.
pub(super) fn reading(hours: &WorkingHours, now: DateTime<Local>) -> (Option<OffHours>, WorkingHoursView) {
    if !hours.on {
        return (None, WorkingHoursView::Off);
    }
    match hours.at(&now) {
        HoursNow::Working { until } => (None, WorkingHoursView::AtWork { until }),
        HoursNow::Off { back_at } => (
            Some(OffHours {
                back_at,
                show_status: hours.off_status,
            }),
            WorkingHoursView::OffWork {
                back_at,
                off_status: hours.off_status,
            },
        ),
    }
}

/// When the loop must look again: the next start or end, 5 minutes at most; never while they are off.
pub(super) fn next_wake(hours: &WorkingHours, now: DateTime<Local>) -> Option<Instant> {
    if !hours.on {
        return None;
    }
    let change = hours
        .at(&now)
        .next_change()
        .and_then(|at| (at - now.with_timezone(&Utc)).to_std().ok())
        .unwrap_or(LOOK_AGAIN);
    Some(Instant::now() + change.min(LOOK_AGAIN))
}

#[cfg(test)]
mod tests {
    use caret_core::DayHours;
    use chrono::TimeZone;

    use super::*;

    fn on_all_week(start: u16, end: u16) -> WorkingHours {
        WorkingHours {
            on: true,
            days: [Some(DayHours { start, end }); 7],
            off_status: true,
        }
    }

    #[test]
    fn off_hours_are_followed_only_when_on_and_say_when_work_starts_again() {
        let now = Local
            .with_ymd_and_hms(2026, 12, 7, 20, 0, 0)
            .earliest()
            .expect("a time");
        let week = on_all_week(9 * 60, 17 * 60);
        let (signal, view) = reading(&week, now);
        let back_at = Local
            .with_ymd_and_hms(2026, 12, 8, 9, 0, 0)
            .earliest()
            .map(|at| at.with_timezone(&Utc));
        assert_eq!(
            signal,
            Some(OffHours {
                back_at,
                show_status: true
            })
        );
        assert_eq!(
            view,
            WorkingHoursView::OffWork {
                back_at,
                off_status: true
            }
        );
        assert!(
            view.describe()
                .starts_with("on: off work until Tue 09:00: away in Slack"),
            "{}",
            view.describe()
        );

        let off = WorkingHours { on: false, ..week };
        assert_eq!(reading(&off, now), (None, WorkingHoursView::Off));
        assert_eq!(next_wake(&off, now), None);
    }

    #[test]
    fn the_loop_wakes_at_the_next_change_or_within_five_minutes() {
        let now = Local
            .with_ymd_and_hms(2026, 12, 7, 16, 59, 0)
            .earliest()
            .expect("a time");
        let soon = next_wake(&on_all_week(9 * 60, 17 * 60), now).expect("followed");
        let wait = soon - Instant::now();
        assert!(
            wait <= Duration::from_secs(60) && wait > Duration::from_secs(55),
            "{wait:?}"
        );
        let later = next_wake(&on_all_week(9 * 60, 23 * 60), now).expect("followed");
        assert!(later - Instant::now() <= LOOK_AGAIN);
    }
}
