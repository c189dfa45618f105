//! `caret-desktop preview ID [--policy P|all] [--json]`: what a workspace's Slack would show for every state,
//! computed by the Settings window's own preview ([`crate::views::preview::preview`]) from the settings the
//! running app keeps.

use caret_core::{Policy, Presence};
use clap::Args;

use super::{print_json_line, unexpected_answer};
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};
use crate::views::preview::{PolicyPreview, preview};

/// What Slack would show for each state (status text, emoji, when it ends, presence) under the workspace's
/// policy now, as the Settings window previews it.
#[derive(Debug, Clone, Args)]
pub struct Preview {
    workspace_id: i64,
    /// Under another policy (default, trusted, vip, blocked), or under all four.
    #[arg(long)]
    policy: Option<String>,
    /// One JSON object per policy: the policy and a row per state.
    #[arg(long)]
    json: bool,
}

impl Preview {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let asked = ControlRequest::Settings {
            workspace_id: self.workspace_id,
            change: None,
        };
        let ControlResponse::Settings { workspace, settings } = request(&config.paths, &asked).await? else {
            return Err(unexpected_answer());
        };
        let wanted = policies_arg(self.policy.as_deref(), workspace.effective_policy)?;
        // What speaks now is `caret-desktop state`'s to say; the tables are the same either way.
        let shown = preview(&settings, chrono::Local::now().fixed_offset(), None);
        let policies = shown
            .policies
            .into_iter()
            .filter(|previewed| wanted.contains(&previewed.policy));
        for previewed in policies {
            if self.json {
                print_json_line(&previewed).map_err(AppError::Stdout)?;
            } else {
                let now = if previewed.policy == workspace.effective_policy {
                    " (its policy now)"
                } else {
                    ""
                };
                println!("{} under {}{now}:", workspace.team, previewed.policy.label());
                print_rows(&previewed);
            }
        }
        if !self.json && wanted.contains(&Policy::Vip) {
            println!("An event is shown as {}.", shown.example_event);
        }
        Ok(())
    }
}

fn policies_arg(text: Option<&str>, now: Policy) -> Result<Vec<Policy>> {
    let Some(text) = text else {
        return Ok(vec![now]);
    };
    let lowered = text.trim().to_ascii_lowercase();
    if lowered == "all" {
        return Ok(Policy::ALL.to_vec());
    }
    Policy::ALL
        .into_iter()
        .find(|policy| policy.label().to_ascii_lowercase() == lowered)
        .map(|policy| vec![policy])
        .ok_or_else(|| {
            AppError::Refused(Refusal::UnknownPolicy {
                text: text.to_owned(),
            })
        })
}

fn print_rows(previewed: &PolicyPreview) {
    let width = previewed
        .rows
        .iter()
        .map(|row| row.label.chars().count())
        .max()
        .unwrap_or(0);
    for row in &previewed.rows {
        let status = row.status.as_ref().map_or_else(
            || "no status".to_owned(),
            |status| format!("{} {} ({})", status.emoji, status.text, status.expires),
        );
        let presence = match row.presence {
            Presence::Away => " · away",
            Presence::Auto => "",
        };
        println!("  {:width$}  {status}{presence}", row.label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_now_is_the_default_and_any_other_can_be_named() {
        assert_eq!(policies_arg(None, Policy::Trusted).unwrap(), [Policy::Trusted]);
        assert_eq!(policies_arg(Some("VIP"), Policy::Default).unwrap(), [Policy::Vip]);
        assert_eq!(policies_arg(Some("all"), Policy::Default).unwrap(), Policy::ALL);
        let said = policies_arg(Some("friends"), Policy::Default)
            .unwrap_err()
            .to_string();
        assert!(said.contains("friends"), "{said}");
    }
}
