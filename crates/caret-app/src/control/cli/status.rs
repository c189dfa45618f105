//! `caret-desktop status [set STATE --for D | clear]`: what the tray says, or a status set by hand.

use caret_core::StateKind;
use clap::{Args, Subcommand};

use super::{duration_arg, perform, unexpected_answer};
use crate::action::Action;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};

/// What the tray says now (without a subcommand); or set your status by hand, which wins over the phone
/// until it ends, or clear it.
#[derive(Debug, Clone, Args)]
pub struct Status {
    #[command(subcommand)]
    change: Option<StatusCommand>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StatusCommand {
    /// Set a status: available, busy, in_call, in_vehicle, silent, walking, running, biking, sleeping, offline.
    Set {
        state: String,
        /// How long: 30m, 1h, 90 (minutes), eod (until midnight), forever (until cleared). Default 1h.
        #[arg(long = "for", default_value = "1h")]
        duration: String,
    },
    /// Clear the status you set; the phone's state applies again.
    Clear,
}

impl Status {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        match self.change {
            None => {
                let ControlResponse::Status { state_line } =
                    request(&config.paths, &ControlRequest::Status).await?
                else {
                    return Err(unexpected_answer());
                };
                println!("{state_line}");
            }
            Some(StatusCommand::Set { state, duration }) => {
                let action = Action::SetStatus {
                    state: state_arg(&state)?,
                    duration: duration_arg(&duration)?,
                };
                perform(config, action).await?;
                println!("Status set: {state} ({duration}).");
            }
            Some(StatusCommand::Clear) => {
                perform(config, Action::ClearStatus).await?;
                println!("Status cleared; the phone's state applies again.");
            }
        }
        Ok(())
    }
}

/// A state a person can set by hand: any but Event, which comes from the phone with its details.
fn state_arg(text: &str) -> Result<StateKind> {
    StateKind::parse(text)
        .filter(|kind| *kind != StateKind::Event)
        .ok_or_else(|| {
            let choices = StateKind::ALL
                .iter()
                .filter(|kind| **kind != StateKind::Event)
                .map(|kind| kind.as_str())
                .collect();
            AppError::Refused(Refusal::UnknownStatus {
                text: text.to_owned(),
                choices,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_made_here_is_said_once_without_blaming_the_running_app() {
        let said = state_arg("sleepy").unwrap_err().to_string();
        assert!(said.starts_with("unknown status \"sleepy\""), "{said}");
        let relayed = AppError::RunningAppRefused {
            message: "that is not a Slack User OAuth Token".into(),
        }
        .to_string();
        assert_eq!(relayed.matches("refused").count(), 1, "{relayed}");
    }

    #[test]
    fn states_read_as_typed_and_an_event_is_the_phone_s() {
        assert_eq!(state_arg("in_call").unwrap(), StateKind::InCall);
        assert!(
            state_arg("event").is_err(),
            "an event comes from the phone, with its details"
        );
    }
}
