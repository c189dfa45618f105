//! Scenario files for `caret-phone replay`: one step per line, so a day of a phone's life can be written
//! by hand or generated, and replayed against a desktop.
//!
//! ```text
//! # comments and blank lines are skipped
//! in_call                      # send a state now
//! wait 90s                     # wait (s, m or h)
//! event "Standup" 15m          # an event from now, lasting 15 minutes, with its title
//! disconnect                   # drop the connection (the next state reconnects and sends a snapshot)
//! silent 2m                    # stay connected but send nothing, not even heartbeats
//! ```

use std::time::Duration;

use caret_core::{CaretState, EventDetails, StateKind};
use chrono::Utc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this state (the event's times are fixed when the step runs).
    Send(StateSpec),
    Wait(Duration),
    Disconnect,
    /// Connected but mute: the desktop should give up after three missed heartbeats.
    Silent(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSpec {
    Plain(StateKind),
    Event { title: String, lasting: Duration },
}

impl StateSpec {
    /// The state to send now.
    pub fn at_now(&self) -> CaretState {
        match self {
            StateSpec::Plain(kind) => CaretState::without_details(*kind).unwrap_or(CaretState::Available),
            StateSpec::Event { title, lasting } => {
                let start = Utc::now();
                let end = start + chrono::Duration::from_std(*lasting).unwrap_or_default();
                EventDetails::new(title.clone(), start, end)
                    .map(CaretState::Event)
                    .unwrap_or(CaretState::Available)
            }
        }
    }
}

/// `90s`, `15m`, `2h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (at, 's' | 'm' | 'h') => (&text[..at], &text[at..]),
        _ => (text, "s"),
    };
    let value: f64 = number.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    let seconds = match unit {
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => value,
    };
    (seconds <= 7.0 * 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

/// A state name, or `event "Title" 15m`.
pub fn parse_state_spec(text: &str) -> Result<StateSpec, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("event") {
        let rest = rest.trim();
        let (title, after) = match rest.strip_prefix('"') {
            Some(quoted) => quoted
                .split_once('"')
                .ok_or_else(|| "the event title's closing quote is missing".to_owned())?,
            None => ("", rest),
        };
        let lasting = match after.trim() {
            "" => Duration::from_secs(30 * 60),
            length => parse_duration(length).ok_or_else(|| format!("not a duration: {length:?}"))?,
        };
        return Ok(StateSpec::Event {
            title: title.to_owned(),
            lasting,
        });
    }
    let kind = StateKind::parse(text).ok_or_else(|| {
        format!(
            "unknown state {text:?}; one of: {}",
            StateKind::ALL
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    if kind == StateKind::Event {
        return Err("an event needs a title and a length: event \"Standup\" 15m".into());
    }
    Ok(StateSpec::Plain(kind))
}

/// Parses a whole scenario; errors name the line.
pub fn parse_scenario(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = match raw.split_once(" #") {
            Some((before, _)) => before,
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        }
        .trim();
        if line.is_empty() {
            continue;
        }
        let at_line = |error: String| format!("line {}: {error}", index + 1);
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let step = match word {
            "wait" => {
                Step::Wait(parse_duration(rest).ok_or_else(|| at_line(format!("not a duration: {rest:?}")))?)
            }
            "silent" => Step::Silent(
                parse_duration(rest).ok_or_else(|| at_line(format!("not a duration: {rest:?}")))?,
            ),
            "disconnect" => Step::Disconnect,
            _ => Step::Send(parse_state_spec(line).map_err(at_line)?),
        };
        steps.push(step);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_reads_as_written() {
        let steps = parse_scenario(
            "# a morning\n\nin_call\nwait 90s  # then\nevent \"Standup\" 15m\ndisconnect\nsilent 1m\nwalking\n",
        )
        .unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Send(StateSpec::Plain(StateKind::InCall)),
                Step::Wait(Duration::from_secs(90)),
                Step::Send(StateSpec::Event {
                    title: "Standup".into(),
                    lasting: Duration::from_secs(900)
                }),
                Step::Disconnect,
                Step::Silent(Duration::from_secs(60)),
                Step::Send(StateSpec::Plain(StateKind::Walking)),
            ]
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(
            parse_scenario("busy\nwait soon").unwrap_err(),
            "line 2: not a duration: \"soon\""
        );
        assert!(
            parse_scenario("driving")
                .unwrap_err()
                .starts_with("line 1: unknown state \"driving\"")
        );
        assert!(parse_scenario("event").is_ok(), "an untitled event of 30 minutes");
        assert!(
            parse_scenario("event \"Open")
                .unwrap_err()
                .contains("closing quote")
        );
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("9999h"), None);
    }

    #[test]
    fn an_event_step_runs_from_now() {
        let state = StateSpec::Event {
            title: "Demo".into(),
            lasting: Duration::from_secs(600),
        }
        .at_now();
        let CaretState::Event(details) = state else {
            panic!()
        };
        assert_eq!((details.end - details.start).num_seconds(), 600);
        assert_eq!(details.title, "Demo");
    }
}
