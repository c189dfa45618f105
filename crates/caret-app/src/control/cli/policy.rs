//! `caret-desktop policy ID POLICY [--for D]`, `pause` and `resume`: what a workspace shares, and whether
//! anything is written to Slack at all.

use clap::Args;

use super::{duration_arg, perform};
use crate::action::{Action, PolicyChoice, StatusDuration};
use crate::config::AppConfig;
use crate::error::{AppError, Refusal, Result};

/// A workspace's policy: default, trusted, vip, blocked (for a time with --for, or until resumed), resume.
#[derive(Debug, Clone, Args)]
pub struct Policy {
    workspace_id: i64,
    policy: String,
    /// With `blocked`: how long (30m, 2h, eod).
    #[arg(long = "for")]
    duration: Option<String>,
}

impl Policy {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let choice = policy_arg(&self.policy, self.duration.as_deref())?;
        perform(
            config,
            Action::SetPolicy {
                workspace: self.workspace_id,
                choice,
            },
        )
        .await?;
        println!("Policy of workspace {}: {}.", self.workspace_id, self.policy);
        Ok(())
    }
}

pub async fn pause(config: &AppConfig) -> Result<()> {
    perform(config, Action::Pause).await?;
    println!("Syncing paused: nothing is sent to Slack until `caret-desktop resume`.");
    Ok(())
}

pub async fn resume(config: &AppConfig) -> Result<()> {
    perform(config, Action::Resume).await?;
    println!("Syncing resumed.");
    Ok(())
}

pub(super) fn policy_arg(text: &str, duration: Option<&str>) -> Result<PolicyChoice> {
    Ok(match (text.to_ascii_lowercase().as_str(), duration) {
        ("default", None) => PolicyChoice::Default,
        ("trusted", None) => PolicyChoice::Trusted,
        ("vip", None) => PolicyChoice::Vip,
        ("resume", None) => PolicyChoice::Resume,
        ("blocked", None) => PolicyChoice::BlockUntilResumed,
        ("blocked", Some(duration)) => match duration_arg(duration)? {
            StatusDuration::Minutes { minutes } => PolicyChoice::BlockFor { minutes },
            StatusDuration::EndOfDay => PolicyChoice::BlockFor {
                minutes: minutes_until_midnight(),
            },
            StatusDuration::UntilCleared => PolicyChoice::BlockUntilResumed,
        },
        (_, Some(_)) => return Err(AppError::Refused(Refusal::DurationWithoutBlock)),
        (other, None) => {
            return Err(AppError::Refused(Refusal::UnknownPolicy {
                text: other.to_owned(),
            }));
        }
    })
}

fn minutes_until_midnight() -> u32 {
    let now = chrono::Utc::now();
    crate::runtime::apply::status_until(&StatusDuration::EndOfDay, now)
        .map(|end| u32::try_from((end - now).num_minutes().max(1)).unwrap_or(1))
        .unwrap_or(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_typed_with_clear_refusals() {
        assert_eq!(policy_arg("VIP", None).unwrap(), PolicyChoice::Vip);
        assert_eq!(
            policy_arg("blocked", Some("2h")).unwrap(),
            PolicyChoice::BlockFor { minutes: 120 }
        );
        assert_eq!(
            policy_arg("blocked", None).unwrap(),
            PolicyChoice::BlockUntilResumed
        );
        assert!(
            policy_arg("trusted", Some("1h"))
                .unwrap_err()
                .to_string()
                .contains("--for")
        );
        assert!(
            policy_arg("open", None)
                .unwrap_err()
                .to_string()
                .contains("default, trusted")
        );
        assert!(duration_arg("soon").unwrap_err().to_string().contains("eod"));
    }
}
