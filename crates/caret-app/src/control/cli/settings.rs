//! `caret-desktop settings ID [get KEY | set KEY VALUE | reset STATE | export | import FILE]`: a workspace's
//! settings, everything the Settings window edits, from the command line. The running app checks each change
//! as it checks the window's ([`crate::slack::setting_keys`], then `WorkspaceSettings::validate`).

use caret_core::{PolicySetting, SharingPolicy, WorkspaceSettings};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use super::{perform, policy, print_json_line, unexpected_answer};
use crate::action::{Action, PolicyChoice};
use crate::config::AppConfig;
use crate::control::protocol::SettingsChange;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};
use crate::slack::setting_keys;
use crate::slack::workspaces::WorkspaceView;

/// What `export` writes and `import` reads.
const EXPORT_FORMAT: u32 = 1;

/// A workspace's settings (see `caret-desktop workspace list` for its ID): without a subcommand, all of them.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// The workspace's ID, as `caret-desktop workspace list` shows it.
    workspace_id: i64,
    #[command(subcommand)]
    command: Option<SettingsCommand>,
    /// JSON instead of lines: an object of every setting by name, or `{"key", "value"}` for `get`.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SettingsCommand {
    /// Print one setting (a name as `settings ID` lists them, e.g. lease or in_call.text).
    Get { key: String },
    /// Change one setting: phone (a number; "" for none), show-phone (on/off), lease (minutes, 5 to 720),
    /// time-format (24h/12h), always-override (on/off: replace a status set outside Caret Desktop), STATE.text,
    /// STATE.emoji (:code:), STATE.vip-text (shown under VIP; may use {title}, {start}, {end}; "" for none),
    /// policy (as `caret-desktop policy`), notices (on/off).
    Set { key: String, value: String },
    /// Put a state's texts and emoji back to the built-in ones.
    Reset { state: String },
    /// Print the workspace's settings and policy as a JSON document, for `import`.
    Export,
    /// Apply a document written by `export` (a file, or - for standard input): its settings, its policy and
    /// its security notices. A document that does not check out changes nothing.
    Import { file: String },
}

/// The document `export` writes: the settings as the app keeps them, the policy among them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Export {
    caret_desktop_settings: u32,
    team: String,
    settings: WorkspaceSettings,
    security_notices: bool,
}

impl Settings {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let id = self.workspace_id;
        match self.command {
            None => {
                let (workspace, settings) = fetch(config, id).await?;
                print_all(&workspace, &settings, self.json)
            }
            Some(SettingsCommand::Get { key }) => {
                let (workspace, settings) = fetch(config, id).await?;
                let value = value_of(&workspace, &settings, &key)?;
                if self.json {
                    print_json_line(&serde_json::json!({ "key": key, "value": value }))
                        .map_err(AppError::Stdout)
                } else {
                    println!("{value}");
                    Ok(())
                }
            }
            Some(SettingsCommand::Set { key, value }) => set(config, id, &key, &value).await,
            Some(SettingsCommand::Reset { state }) => {
                let change = SettingsChange::ResetState { state: state.clone() };
                let (workspace, _) = change_settings(config, id, change).await?;
                println!("{}: {state} looks as built in again.", workspace.team);
                Ok(())
            }
            Some(SettingsCommand::Export) => {
                let (workspace, settings) = fetch(config, id).await?;
                let export = Export {
                    caret_desktop_settings: EXPORT_FORMAT,
                    team: workspace.team,
                    settings,
                    security_notices: workspace.security_notices,
                };
                let json = serde_json::to_string_pretty(&export).unwrap_or_default();
                println!("{json}");
                Ok(())
            }
            Some(SettingsCommand::Import { file }) => import(config, id, &file).await,
        }
    }
}

async fn request_to(config: &AppConfig, asked: &ControlRequest) -> Result<ControlResponse> {
    request(&config.paths, asked).await
}

fn settings_of(response: ControlResponse) -> Result<(WorkspaceView, WorkspaceSettings)> {
    match response {
        ControlResponse::Settings { workspace, settings } => Ok((workspace, settings)),
        _ => Err(unexpected_answer()),
    }
}

async fn fetch(config: &AppConfig, workspace_id: i64) -> Result<(WorkspaceView, WorkspaceSettings)> {
    let asked = ControlRequest::Settings {
        workspace_id,
        change: None,
    };
    settings_of(request_to(config, &asked).await?)
}

async fn change_settings(
    config: &AppConfig,
    workspace_id: i64,
    change: SettingsChange,
) -> Result<(WorkspaceView, WorkspaceSettings)> {
    let asked = ControlRequest::Settings {
        workspace_id,
        change: Some(change),
    };
    settings_of(request_to(config, &asked).await?)
}

async fn set(config: &AppConfig, workspace_id: i64, key: &str, value: &str) -> Result<()> {
    let (workspace, settings) = match key {
        // The policy and the notices have their own ways in; these are the same. Their answers do not carry
        // the settings, so they are read back.
        "policy" => {
            // A timed block takes `caret-desktop policy ID blocked --for D`.
            set_policy(config, workspace_id, policy::policy_arg(value, None)?).await?;
            fetch(config, workspace_id).await?
        }
        "notices" => {
            let on = setting_keys::on_off_arg(key, value)?;
            request_to(config, &ControlRequest::SetSecurityNotices { workspace_id, on }).await?;
            fetch(config, workspace_id).await?
        }
        // The app answers a change with the settings as saved.
        _ => {
            let change = SettingsChange::Set {
                key: key.to_owned(),
                value: value.to_owned(),
            };
            change_settings(config, workspace_id, change).await?
        }
    };
    let now = value_of(&workspace, &settings, key)?;
    println!("{}: {key} is now {now:?}.", workspace.team);
    Ok(())
}

async fn import(config: &AppConfig, workspace_id: i64, file: &str) -> Result<()> {
    let not_ours = |reason: String| {
        AppError::Refused(Refusal::NotASettingsExport {
            path: file.to_owned(),
            reason,
        })
    };
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(AppError::Stdin)?
    } else {
        std::fs::read_to_string(file).map_err(|error| not_ours(error.to_string()))?
    };
    let export: Export = serde_json::from_str(&text).map_err(|error| not_ours(error.to_string()))?;
    if export.caret_desktop_settings != EXPORT_FORMAT {
        return Err(not_ours(format!(
            "it is format {}; this Caret Desktop reads format {EXPORT_FORMAT}",
            export.caret_desktop_settings
        )));
    }
    // The settings first: if they do not check out, nothing (the policy included) changes.
    let change = SettingsChange::Replace {
        settings: export.settings.clone(),
    };
    change_settings(config, workspace_id, change).await?;
    for choice in policy_choices(&export.settings.policy, chrono::Utc::now()) {
        set_policy(config, workspace_id, choice).await?;
    }
    let (workspace, _) = fetch(config, workspace_id).await?;
    if workspace.security_notices != export.security_notices {
        let on = export.security_notices;
        request_to(config, &ControlRequest::SetSecurityNotices { workspace_id, on }).await?;
    }
    println!(
        "{}: settings imported from {} (policy {}).",
        workspace.team,
        if export.team.is_empty() {
            "the document"
        } else {
            &export.team
        },
        policy_name(&workspace)
    );
    Ok(())
}

/// The policy actions that give a workspace the exported policy: its sharing, then its block (one that has
/// run out is none).
fn policy_choices(policy: &PolicySetting, now: chrono::DateTime<chrono::Utc>) -> Vec<PolicyChoice> {
    let sharing = match policy.sharing {
        SharingPolicy::Default => PolicyChoice::Default,
        SharingPolicy::Trusted => PolicyChoice::Trusted,
        SharingPolicy::Vip => PolicyChoice::Vip,
    };
    let block = match policy.blocked {
        Some(caret_core::Blocked { until: None }) => Some(PolicyChoice::BlockUntilResumed),
        Some(caret_core::Blocked { until: Some(until) }) if until > now => Some(PolicyChoice::BlockFor {
            minutes: u32::try_from((until - now).num_minutes().max(1)).unwrap_or(u32::MAX),
        }),
        _ => None,
    };
    std::iter::once(sharing).chain(block).collect()
}

/// A setting's value, the policy and the notices (kept beside the settings) included.
fn value_of(workspace: &WorkspaceView, settings: &WorkspaceSettings, key: &str) -> Result<String> {
    Ok(match key {
        "policy" => policy_name(workspace),
        "notices" => setting_keys::on_off(workspace.security_notices).to_owned(),
        _ => setting_keys::value_of(settings, key)?,
    })
}

async fn set_policy(config: &AppConfig, workspace: i64, choice: PolicyChoice) -> Result<()> {
    perform(config, Action::SetPolicy { workspace, choice }).await
}

fn policy_name(workspace: &WorkspaceView) -> String {
    workspace.effective_policy.label().to_lowercase()
}

fn print_all(workspace: &WorkspaceView, settings: &WorkspaceSettings, json: bool) -> Result<()> {
    let beside = ["policy", "notices"].map(|key| {
        let value = value_of(workspace, settings, key).unwrap_or_default();
        (key.to_owned(), value)
    });
    let named = beside.into_iter().chain(setting_keys::named(settings));
    if json {
        let object: serde_json::Map<String, serde_json::Value> =
            named.map(|(key, value)| (key, value.into())).collect();
        return print_json_line(&object).map_err(AppError::Stdout);
    }
    println!("{} (workspace {})", workspace.team, workspace.id);
    let named: Vec<_> = named.collect();
    let width = named.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in named {
        let shown = if value.is_empty() {
            "(none)".to_owned()
        } else {
            value
        };
        println!("  {key:width$}  {shown}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_policy_is_given_back_by_the_same_actions_a_person_would_take() {
        let now = chrono::Utc::now();
        let mut policy = PolicySetting::sharing(SharingPolicy::Vip);
        assert_eq!(policy_choices(&policy, now), [PolicyChoice::Vip]);
        policy.block_until_resumed();
        assert_eq!(
            policy_choices(&policy, now),
            [PolicyChoice::Vip, PolicyChoice::BlockUntilResumed]
        );
        policy.block_for(chrono::Duration::minutes(90), now);
        assert_eq!(
            policy_choices(&policy, now),
            [PolicyChoice::Vip, PolicyChoice::BlockFor { minutes: 90 }]
        );
        // A block that ran out before the import is no block.
        assert_eq!(
            policy_choices(&policy, now + chrono::Duration::hours(2)),
            [PolicyChoice::Vip]
        );
    }
}
