//! A workspace's settings by name, for the command line (`caret-desktop settings ID set KEY VALUE`): the same
//! fields the Settings form edits, each value read by the same constructors of `caret_core` the form's values
//! go through, and the result checked by [`caret_core::WorkspaceSettings::validate`] in
//! [`super::workspaces::Workspaces::edit_settings`], so a value the window refuses is refused here with the
//! same words.

use caret_core::{
    DndRule, LeaseMinutes, PhoneNumber, StateKind, StateTemplate, TimeFormat, WorkspaceSettings,
};

use crate::error::{AppError, Refusal, Result};

/// The keys of one state's look, and whether it pauses Slack's notifications; `STATE.text` and so on.
const STATE_FIELDS: [&str; 4] = ["text", "emoji", "vip-text", "dnd"];

/// Every key a person can set, in the order `settings ID` lists them.
pub fn keys() -> Vec<String> {
    let mut keys: Vec<String> = ["phone", "show-phone", "lease", "time-format", "always-override"]
        .map(str::to_owned)
        .to_vec();
    for kind in templated_states() {
        keys.extend(STATE_FIELDS.map(|field| format!("{}.{field}", kind.as_str())));
    }
    keys
}

/// The states whose look in Slack is the user's to change.
fn templated_states() -> impl Iterator<Item = StateKind> {
    StateKind::ALL
        .into_iter()
        .filter(|kind| StateTemplate::builtin(*kind).is_some())
}

/// Every setting of `settings` by name, as `settings ID` prints them (the policy and the security notices are
/// shown by the caller, which knows them from elsewhere).
pub fn named(settings: &WorkspaceSettings) -> Vec<(String, String)> {
    keys()
        .into_iter()
        .filter_map(|key| {
            let value = value_of(settings, &key).ok()?;
            Some((key, value))
        })
        .collect()
}

/// The value of one setting, as typed to set it.
pub fn value_of(settings: &WorkspaceSettings, key: &str) -> Result<String> {
    Ok(match key {
        "phone" => settings
            .phone
            .number
            .as_ref()
            .map_or_else(String::new, |number| number.as_str().to_owned()),
        "show-phone" => on_off(settings.phone.share).to_owned(),
        "lease" => settings.lease.minutes().to_string(),
        "time-format" => time_format_name(settings.time_format).to_owned(),
        "always-override" => on_off(settings.always_override).to_owned(),
        _ => {
            let (kind, field) = state_key(key)?;
            let template = settings.template(kind).ok_or_else(|| unknown_key(key))?;
            match field {
                "text" => template.text,
                "emoji" => template.emoji,
                "dnd" => on_off(settings.dnd_rule(kind) == DndRule::Snooze).to_owned(),
                _ => template.detailed_text.unwrap_or_default(),
            }
        }
    })
}

/// Sets one setting in `settings`. A value that cannot be read is refused here; whether the whole is valid
/// (a text too long for Slack, sharing a number that is not set) is checked where it is saved.
pub fn set(settings: &mut WorkspaceSettings, key: &str, value: &str) -> Result<()> {
    match key {
        "phone" => {
            settings.phone.number = if value.trim().is_empty() {
                None
            } else {
                Some(PhoneNumber::parse(value)?)
            };
        }
        "show-phone" => settings.phone.share = on_off_arg(key, value)?,
        "lease" => {
            let minutes = value.trim().parse::<u32>().map_err(|_| {
                AppError::Refused(Refusal::NotMinutes {
                    text: value.to_owned(),
                })
            })?;
            settings.lease = LeaseMinutes::new(minutes)?;
        }
        "time-format" => settings.time_format = time_format_arg(value)?,
        "always-override" => settings.always_override = on_off_arg(key, value)?,
        _ => {
            let (kind, field) = state_key(key)?;
            let mut template = settings.template(kind).ok_or_else(|| unknown_key(key))?;
            if field == "dnd" {
                let rule = if on_off_arg(key, value)? {
                    DndRule::Snooze
                } else {
                    DndRule::Off
                };
                settings.dnd.insert(kind, rule);
                return Ok(());
            }
            match field {
                "text" => template.text = value.to_owned(),
                "emoji" => template.emoji = value.trim().to_owned(),
                _ => {
                    template.detailed_text = (!value.trim().is_empty()).then(|| value.to_owned());
                }
            }
            settings.templates.insert(kind, template);
        }
    }
    Ok(())
}

/// Puts a state's look back to the built-in one.
pub fn reset_state(settings: &mut WorkspaceSettings, state: &str) -> Result<()> {
    let kind = StateKind::parse(state)
        .filter(|kind| StateTemplate::builtin(*kind).is_some())
        .ok_or_else(|| unknown_key(state))?;
    settings.templates.remove(&kind);
    Ok(())
}

/// `in_call.text` → (InCall, "text").
fn state_key(key: &str) -> Result<(StateKind, &str)> {
    let (state, field) = key.rsplit_once('.').ok_or_else(|| unknown_key(key))?;
    let kind = StateKind::parse(state).ok_or_else(|| unknown_key(key))?;
    let field = STATE_FIELDS
        .into_iter()
        .find(|known| *known == field)
        .ok_or_else(|| unknown_key(key))?;
    Ok((kind, field))
}

fn unknown_key(key: &str) -> AppError {
    AppError::Refused(Refusal::UnknownSetting {
        key: key.to_owned(),
        states: templated_states().map(StateKind::as_str).collect(),
    })
}

/// How the command line writes a switch.
pub fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A switch as typed: on/off (true/false, yes/no).
pub fn on_off_arg(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(AppError::Refused(Refusal::NotOnOrOff {
            key: key.to_owned(),
            text: value.to_owned(),
        })),
    }
}

fn time_format_name(format: TimeFormat) -> &'static str {
    match format {
        TimeFormat::H24 => "24h",
        TimeFormat::H12 => "12h",
    }
}

fn time_format_arg(value: &str) -> Result<TimeFormat> {
    match value.trim().to_ascii_lowercase().as_str() {
        "24h" | "24" | "h24" => Ok(TimeFormat::H24),
        "12h" | "12" | "h12" => Ok(TimeFormat::H12),
        _ => Err(AppError::Refused(Refusal::NotATimeFormat {
            text: value.to_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_reads_back_what_was_set() {
        let mut settings = WorkspaceSettings::default();
        set(&mut settings, "phone", "+1 555 0100").unwrap();
        set(&mut settings, "show-phone", "on").unwrap();
        set(&mut settings, "lease", "45").unwrap();
        set(&mut settings, "time-format", "12h").unwrap();
        set(&mut settings, "always-override", "on").unwrap();
        set(&mut settings, "in_call.text", "On a call").unwrap();
        set(&mut settings, "in_call.emoji", ":telephone:").unwrap();
        set(&mut settings, "event.vip-text", "In {title} until {end}").unwrap();
        set(&mut settings, "in_call.dnd", "on").unwrap();
        set(&mut settings, "in_vehicle.dnd", "off").unwrap();
        settings.validate().unwrap();
        assert_eq!(value_of(&settings, "in_call.dnd").unwrap(), "on");
        assert_eq!(value_of(&settings, "in_vehicle.dnd").unwrap(), "off");
        assert_eq!(value_of(&settings, "sleeping.dnd").unwrap(), "on", "built in");
        assert_eq!(settings.dnd_rule(StateKind::InCall), DndRule::Snooze);
        assert_eq!(value_of(&settings, "show-phone").unwrap(), "on");
        assert_eq!(value_of(&settings, "lease").unwrap(), "45");
        assert_eq!(value_of(&settings, "time-format").unwrap(), "12h");
        assert_eq!(value_of(&settings, "always-override").unwrap(), "on");
        assert_eq!(value_of(&settings, "in_call.text").unwrap(), "On a call");
        assert_eq!(value_of(&settings, "in_call.emoji").unwrap(), ":telephone:");
        assert_eq!(
            value_of(&settings, "event.vip-text").unwrap(),
            "In {title} until {end}"
        );
        assert!(!value_of(&settings, "phone").unwrap().is_empty());
        // Every key listed can be read, and each reads as it was set or as built in.
        let named = named(&settings);
        assert_eq!(named.len(), keys().len());
        // An empty VIP text means none (the plain text then shows under VIP too), as in the form.
        set(&mut settings, "event.vip-text", "").unwrap();
        assert_eq!(settings.template(StateKind::Event).unwrap().detailed_text, None);
        reset_state(&mut settings, "in_call").unwrap();
        assert_eq!(
            settings.template(StateKind::InCall),
            StateTemplate::builtin(StateKind::InCall)
        );
    }

    #[test]
    fn values_that_cannot_be_read_are_refused_with_what_is_wrong() {
        let mut settings = WorkspaceSettings::default();
        let said = |key: &str, value: &str| {
            let mut copy = WorkspaceSettings::default();
            set(&mut copy, key, value).unwrap_err().to_string()
        };
        assert!(
            said("lease", "soon").contains("minutes"),
            "{}",
            said("lease", "soon")
        );
        // The core's own words, as the window says them.
        assert_eq!(
            said("lease", "2"),
            AppError::from(LeaseMinutes::new(2).unwrap_err()).to_string()
        );
        assert!(said("show-phone", "maybe").contains("on or off"));
        assert!(said("in_call.dnd", "maybe").contains("on or off"));
        assert!(said("available.dnd", "on").contains("unknown setting"));
        assert!(said("time-format", "noon").contains("24h"));
        assert!(said("colour", "red").contains("in_call.text"));
        assert!(said("in_call.colour", "red").contains("unknown setting"));
        assert!(said("nowhere.text", "x").contains("unknown setting"));
        assert!(said("phone", "call me").contains("phone"));
        // Nothing was changed by the refusals.
        assert_eq!(settings, WorkspaceSettings::default());
        set(&mut settings, "in_call.emoji", "telephone").unwrap();
        assert!(
            settings.validate().is_err(),
            "an emoji without colons fails at the save"
        );
    }
}
