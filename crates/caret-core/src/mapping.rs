//! The one function the user's privacy rests on: (state, settings, now) → what Slack shows.
//!
//! The rules, in order:
//! 1. **Blocked** shares nothing: no status from us, presence back to automatic.
//! 2. An input whose time is up (an event that has ended, a manual status past its end) shares nothing.
//! 3. **Available** and **Offline** show no status (being available is the absence of a status; an offline
//!    phone tells us nothing).
//! 4. **Default** shows every other state as Busy: text, emoji, expiration and presence (Busy's presence rule,
//!    whatever the real state's rule says) are the same for every one of them, so nothing Slack shows tells
//!    which state it is.
//! 5. **Trusted** shows the state's own plain text; details are never expanded.
//! 6. **VIP** shows the state's detailed text when it has one, with the event's title, start and end.
//! 7. The phone number, when shared, is appended whole; only the part before it is ever shortened.
//! 8. Expiration: a manual status ends when the user chose; an event under VIP at its end; anything else the
//!    phone or the desktop's own sources report gets a lease the engine renews, so that nothing outlives a
//!    desktop that died. (Under Default
//!    and Trusted an event's end is a detail, so it is not used as the expiration; `recompute_at` tells the
//!    engine to clear it when the event ends.)
//! 9. Do Not Disturb: a state whose rule is to snooze pauses notifications until the status ends (a status
//!    "until cleared" gets a lease instead: a snooze needs an end). Under Default, every state shown as Busy
//!    takes Busy's rule, as for the presence: others see that notifications are paused, so the real state's
//!    rule would single it out. Blocked, Available and Offline never snooze.

use chrono::{DateTime, FixedOffset, Utc};

use crate::policy::Policy;
use crate::settings::{
    DETAIL_PLACEHOLDERS, DndRule, StateTemplate, TimeFormat, WorkspaceSettings, placeholders,
};
use crate::state::{CaretState, Origin, StateKind, StatusInput};
use crate::status::{Decision, DesiredStatus, Expiration, Presence, SlackStatus, Snooze};
use crate::text::{STATUS_TEXT_LIMIT, sanitize_free_text, slack_length, truncate_to};

/// Separates the status text from a shared phone number.
pub const PHONE_SEPARATOR: &str = " · ";

/// Decides what Slack should show for `input` under `settings` at `now`. `now` carries the user's UTC offset,
/// used to write times such as an event's end.
pub fn decide(input: &StatusInput, settings: &WorkspaceSettings, now: DateTime<FixedOffset>) -> Decision {
    let now_utc = now.with_timezone(&Utc);
    let policy = settings.policy.effective(now_utc);
    let input_ends = input_end(input).filter(|end| *end > now_utc);
    let recompute_at = [settings.policy.next_change(now_utc), input_ends]
        .into_iter()
        .flatten()
        .min();
    let share_nothing = Decision {
        policy,
        status: DesiredStatus::Clear,
        presence: Presence::Auto,
        snooze: None,
        recompute_at,
    };

    if policy == Policy::Blocked || is_over(input, now_utc) {
        return share_nothing;
    }
    let kind = input.state.kind();
    let shown_kind = match (policy, kind) {
        (_, StateKind::Available | StateKind::Offline) => None,
        (Policy::Default, _) => Some(StateKind::Busy),
        _ => Some(kind),
    };
    let presence = match kind {
        // An offline phone tells us nothing, so it cannot make anyone away.
        StateKind::Offline => Presence::Auto,
        // Under Default a state shown as Busy is away exactly when Busy is: its own rule would single it out.
        _ => settings.presence_rule(shown_kind.unwrap_or(kind)).into(),
    };
    let Some(template) = shown_kind.and_then(|shown| settings.template(shown)) else {
        return Decision {
            presence,
            ..share_nothing
        };
    };

    let body = match policy {
        Policy::Vip => vip_text(&template, input, settings.time_format, now),
        _ => plain_text(&template),
    };
    let text = with_phone_number(&body, settings.phone.shown_number().map(|number| number.as_str()));
    let expiration = match (&input.origin, &input.state) {
        (Origin::Manual { until: Some(until) }, _) => Expiration::Fixed { at: *until },
        (Origin::Manual { until: None }, _) => Expiration::Never,
        (Origin::Phone | Origin::Desktop { .. }, CaretState::Event(event)) if policy == Policy::Vip => {
            Expiration::Fixed { at: event.end }
        }
        (Origin::Phone | Origin::Desktop { .. }, _) => Expiration::Lease {
            at: now_utc + settings.lease.duration(),
        },
    };
    let snooze = shown_kind
        .filter(|shown| settings.dnd_rule(*shown) == DndRule::Snooze)
        .map(|_| snooze_for(expiration, now_utc, settings));
    let status = DesiredStatus::Set(SlackStatus {
        text,
        emoji: template.emoji,
        expiration,
    });
    Decision {
        policy,
        status,
        presence,
        snooze,
        recompute_at,
    }
}

/// A snooze that ends with the status: at its fixed end, or on a lease (renewed while the state lasts) where
/// the status has a lease or no end at all.
fn snooze_for(expiration: Expiration, now: DateTime<Utc>, settings: &WorkspaceSettings) -> Snooze {
    match expiration {
        Expiration::Fixed { at } => Snooze {
            until: at,
            renewed: false,
        },
        Expiration::Lease { at } => Snooze {
            until: at,
            renewed: true,
        },
        Expiration::Never => Snooze {
            until: now + settings.lease.duration(),
            renewed: true,
        },
    }
}

/// When the input stops being true by itself.
fn input_end(input: &StatusInput) -> Option<DateTime<Utc>> {
    let manual_end = match input.origin {
        Origin::Manual { until } => until,
        Origin::Phone | Origin::Desktop { .. } => None,
    };
    let event_end = match &input.state {
        CaretState::Event(event) => Some(event.end),
        _ => None,
    };
    manual_end.into_iter().chain(event_end).min()
}

fn is_over(input: &StatusInput, now: DateTime<Utc>) -> bool {
    input_end(input).is_some_and(|end| end <= now)
}

/// The template's plain text with any detail placeholder removed. Validation keeps placeholders out of plain
/// texts; removing them here as well means unvalidated settings still cannot leak a detail.
fn plain_text(template: &StateTemplate) -> String {
    let stripped = substitute(&template.text, |_| Some(String::new()));
    sanitize_free_text(&stripped)
}

fn vip_text(
    template: &StateTemplate,
    input: &StatusInput,
    time_format: TimeFormat,
    now: DateTime<FixedOffset>,
) -> String {
    let Some(detailed) = &template.detailed_text else {
        return plain_text(template);
    };
    let fallback_title = plain_text(template);
    let (title, start, end) = match &input.state {
        CaretState::Event(event) => {
            let title = sanitize_free_text(&event.title);
            let title = if title.is_empty() {
                fallback_title.clone()
            } else {
                title
            };
            (
                title,
                Some(format_time(event.start, time_format, now)),
                Some(format_time(event.end, time_format, now)),
            )
        }
        _ => {
            let manual_end = match input.origin {
                Origin::Manual { until } => until.map(|until| format_time(until, time_format, now)),
                Origin::Phone | Origin::Desktop { .. } => None,
            };
            (fallback_title.clone(), None, manual_end)
        }
    };
    let value_of = |placeholder: &str| match placeholder {
        "{title}" => Some(title.clone()),
        "{start}" => start.clone(),
        "{end}" => end.clone(),
        _ => None,
    };
    // A detailed text whose details are unknown here (a time for a state that has none) would read badly
    // ("Walking (until )"): use the plain text instead.
    if placeholders(detailed)
        .any(|placeholder| DETAIL_PLACEHOLDERS.contains(&placeholder) && value_of(placeholder).is_none())
    {
        return fallback_title;
    }
    sanitize_free_text(&substitute(detailed, value_of))
}

/// Replaces each known placeholder in one pass, so that a value containing "{end}" (an event titled so) is
/// never expanded again. Unknown `{words}` stay as typed.
fn substitute(text: &str, value_of: impl Fn(&str) -> Option<String>) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        result.push_str(&rest[..open]);
        let candidate = &rest[open..];
        let placeholder = DETAIL_PLACEHOLDERS
            .iter()
            .find(|known| candidate.starts_with(**known));
        match placeholder.and_then(|placeholder| value_of(placeholder).map(|value| (placeholder, value))) {
            Some((placeholder, value)) => {
                result.push_str(&value);
                rest = &candidate[placeholder.len()..];
            }
            None => {
                result.push('{');
                rest = &candidate[1..];
            }
        }
    }
    result.push_str(rest);
    result
}

/// Appends the phone number whole, shortening only the text before it.
pub(crate) fn with_phone_number(body: &str, number: Option<&str>) -> String {
    let Some(number) = number else {
        return truncate_to(body, STATUS_TEXT_LIMIT);
    };
    if body.is_empty() {
        return number.to_owned();
    }
    let suffix = format!("{PHONE_SEPARATOR}{number}");
    let budget = STATUS_TEXT_LIMIT.saturating_sub(slack_length(&suffix));
    format!("{}{suffix}", truncate_to(body, budget))
}

/// Writes a time in the user's offset: "15:30" today, "Tue 15:30" within the week, "5 Jan 15:30" further away.
fn format_time(at: DateTime<Utc>, format: TimeFormat, now: DateTime<FixedOffset>) -> String {
    let local = at.with_timezone(now.offset());
    let clock = format.clock(&local);
    let days_away = (local.date_naive() - now.date_naive()).num_days();
    match days_away {
        0 => clock,
        1..=6 => format!("{} {clock}", local.format("%a")),
        _ => format!("{} {clock}", local.format("%-d %b")),
    }
}

#[cfg(test)]
mod tests;
