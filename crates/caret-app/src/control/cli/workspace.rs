//! `caret-desktop workspace add | connect | notices | list | remove`: the Slack workspaces.

use clap::Subcommand;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request, request_stream};
use crate::error::{AnswerProblem, AppError, Result};
use crate::slack::workspaces::{PastedSecret, RevokeOutcome, WorkspaceView};

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCommand {
    /// Connect a workspace: paste its User OAuth Token (xoxp-…) when asked, or pipe it in.
    Add,
    /// Connect a workspace by signing in with Slack in the browser (OAuth with PKCE; your Slack app's
    /// Client ID, from Basic Information → App Credentials).
    Connect {
        #[arg(long)]
        client_id: String,
        /// Print the link instead of opening the browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Security notices by direct message to yourself in this workspace (a phone paired, a policy made
    /// less private): on or off.
    Notices {
        workspace_id: i64,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// List the workspaces.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disconnect a workspace: syncing stops, Slack revokes its token, and it is deleted from the keyring.
    Remove { workspace_id: i64 },
}

impl WorkspaceCommand {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        match self {
            WorkspaceCommand::Add => add(config).await,
            WorkspaceCommand::Connect {
                client_id,
                no_browser,
            } => connect(config, client_id, no_browser).await,
            WorkspaceCommand::Notices { workspace_id, state } => {
                notices(config, workspace_id, state == "on").await
            }
            WorkspaceCommand::List { json } => list(config, json).await,
            WorkspaceCommand::Remove { workspace_id } => remove(config, workspace_id).await,
        }
    }
}

async fn add(config: &AppConfig) -> Result<()> {
    let token = read_token()?;
    let ControlResponse::Workspace { workspace } =
        request(&config.paths, &ControlRequest::ConnectWorkspace { token }).await?
    else {
        return Err(unexpected_answer());
    };
    print_connected(&workspace);
    Ok(())
}

async fn connect(config: &AppConfig, client_id: String, no_browser: bool) -> Result<()> {
    let request = ControlRequest::SignIn {
        client_id,
        open_browser: !no_browser,
    };
    let mut connected = None;
    request_stream(&config.paths, &request, |response| match response {
        ControlResponse::OAuthStarted { start } => {
            match (&start.browser_problem, no_browser) {
                (None, false) => println!("Sign in to Slack in your browser. If it did not open, visit:"),
                (Some(problem), _) => println!("{problem}. Visit:"),
                (None, true) => println!("Visit this link to sign in to Slack:"),
            }
            println!("{}", start.authorize_url);
            println!(
                "Waiting for Slack (up to {} minutes)…",
                start.expires_in_secs / 60
            );
            true
        }
        ControlResponse::Workspace { workspace } => {
            connected = Some(workspace);
            false
        }
        _ => false,
    })
    .await?;
    let workspace = connected.ok_or(AppError::RunningAppAnswer(AnswerProblem::SignInWithoutWorkspace))?;
    print_connected(&workspace);
    if let Some(expires_at) = workspace.token_expires_at {
        let lifetime = expires_at - chrono::Utc::now().timestamp();
        println!(
            "Its token expires {}; Caret Desktop renews it by itself.",
            in_words(lifetime)
        );
    }
    Ok(())
}

async fn notices(config: &AppConfig, workspace_id: i64, on: bool) -> Result<()> {
    let ControlResponse::Workspace { workspace } = request(
        &config.paths,
        &ControlRequest::SetSecurityNotices { workspace_id, on },
    )
    .await?
    else {
        return Err(unexpected_answer());
    };
    if on {
        println!(
            "Security notices for {} are on: a DM to yourself when a phone pairs or its policy becomes less private.",
            workspace.team
        );
    } else {
        println!("Security notices for {} are off.", workspace.team);
    }
    print_scope_problem(&workspace);
    Ok(())
}

async fn list(config: &AppConfig, json: bool) -> Result<()> {
    let ControlResponse::Workspaces { workspaces } =
        request(&config.paths, &ControlRequest::Workspaces).await?
    else {
        return Err(unexpected_answer());
    };
    for workspace in &workspaces {
        if json {
            println!("{}", serde_json::to_string(workspace).unwrap_or_default());
        } else {
            println!("{}", workspace_line(workspace));
        }
    }
    if workspaces.is_empty() && !json {
        println!("No workspace connected. Run `caret-desktop workspace add`.");
    }
    Ok(())
}

async fn remove(config: &AppConfig, workspace_id: i64) -> Result<()> {
    let ControlResponse::Disconnected { disconnected } = request(
        &config.paths,
        &ControlRequest::DisconnectWorkspace { workspace_id },
    )
    .await?
    else {
        return Err(unexpected_answer());
    };
    let team = &disconnected.workspace.team;
    match &disconnected.revoke {
        RevokeOutcome::Revoked => {
            println!("Disconnected {team}; Slack revoked its token and it was deleted from the keyring.");
        }
        RevokeOutcome::AlreadyDead | RevokeOutcome::NoToken => {
            println!("Disconnected {team}; its token was deleted from the keyring.");
        }
        RevokeOutcome::NotRevoked { reason } => println!(
            "Disconnected {team}; its token was deleted from the keyring, but Slack could not revoke it \
             ({reason}). To be sure it no longer works, remove the app in Slack (Settings → Manage apps)."
        ),
    }
    Ok(())
}

/// How long until a token Slack just issued expires, as a person says it ("in 12 hours", "in 2 hours 30
/// minutes", "in 45 minutes").
fn in_words(seconds: i64) -> String {
    let minutes = (seconds.max(0) + 30) / 60;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let plural = |count: i64, unit: &str| format!("{count} {unit}{}", if count == 1 { "" } else { "s" });
    match (hours, minutes) {
        (0, 0) => "within a minute".to_owned(),
        (0, minutes) => format!("in {}", plural(minutes, "minute")),
        (hours, 0) => format!("in {}", plural(hours, "hour")),
        (hours, minutes) => format!("in {} {}", plural(hours, "hour"), plural(minutes, "minute")),
    }
}

fn print_connected(workspace: &WorkspaceView) {
    println!("Connected to {} as {}.", workspace.team, workspace.user);
    print_scope_problem(workspace);
}

fn print_scope_problem(workspace: &WorkspaceView) {
    for problem in &workspace.scope_problems {
        println!("{problem}");
    }
    if let Some(fix) = &workspace.scope_fix {
        println!("To fix it: {fix}.");
    }
}

/// Reads the token: hidden when typed at a terminal, a line of standard input otherwise.
fn read_token() -> Result<PastedSecret> {
    super::read_secret("Slack User OAuth Token (xoxp-…, not shown): ")
}

fn workspace_line(workspace: &WorkspaceView) -> String {
    let state = if workspace.connected {
        "connected".to_owned()
    } else {
        // What happened and what to do, as the notification says it, with this interface's commands.
        format!(
            "disconnected: {}; to connect it again: caret-desktop workspace connect --client-id ID (signed in \
             with Slack) or caret-desktop workspace add (a pasted token)",
            crate::runtime::notifications::disconnect_explanation(
                workspace
                    .disconnect_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            )
        )
    };
    let mut line = format!(
        "{:>4}  {} as {}  {state}",
        workspace.id, workspace.team, workspace.user
    );
    if workspace.connected && !workspace.missing_scopes.is_empty() {
        line.push_str(&format!("; lacks {}", workspace.missing_scopes.join(", ")));
    }
    if workspace.security_notices {
        line.push_str("; security notices on");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_reads_as_a_person_says_it() {
        assert_eq!(in_words(43_200), "in 12 hours");
        assert_eq!(
            in_words(43_195),
            "in 12 hours",
            "the seconds the sign-in took do not show"
        );
        assert_eq!(in_words(3_600), "in 1 hour");
        assert_eq!(in_words(9_000), "in 2 hours 30 minutes");
        assert_eq!(in_words(60), "in 1 minute");
        assert_eq!(in_words(2_700), "in 45 minutes");
        assert_eq!(in_words(10), "within a minute");
        assert_eq!(in_words(-5), "within a minute");
    }
}
