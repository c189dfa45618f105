//! The commands `caret-desktop` takes besides running: they talk to the running instance over the control
//! socket ([`crate::control`]) and print for a person, or JSON with `--json` for scripts.

use clap::Subcommand;
use qrcode::render::unicode::Dense1x2;

use caret_core::StateKind;

use crate::action::{Action, PolicyChoice, StatusDuration};
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request, request_stream};
use crate::error::{AppError, Result};
use crate::services::{DeviceView, PairingView};
use crate::workspaces::{PastedSecret, RevokeOutcome, WorkspaceView};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Start pairing a phone: prints the QR code to scan and the short code to type (valid two minutes).
    Pair {
        /// Print the pairing as JSON (link, short code, fingerprint, expiry).
        #[arg(long)]
        json: bool,
    },
    /// List paired phones.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a phone: its token stops working at once, also on an open connection.
    Revoke {
        device_id: String,
    },
    /// Slack workspaces: connect one with a token (read from standard input, never from the command
    /// line), list them, disconnect one.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// What the tray says now (without a subcommand); or set your status by hand, which wins over the phone
    /// until it ends, or clear it.
    Status {
        #[command(subcommand)]
        change: Option<StatusCommand>,
    },
    /// A workspace's policy: default, trusted, vip, blocked (for a time with --for, or until resumed), resume.
    Policy {
        workspace_id: i64,
        policy: String,
        /// With `blocked`: how long (30m, 2h, eod).
        #[arg(long = "for")]
        duration: Option<String>,
    },
    /// Stop writing to Slack until `resume` (nothing is lost: what is due is sent then).
    Pause,
    Resume,
    /// Print the sync log as JSON lines, oldest first (each input, each Slack call and its outcome).
    Log {
        /// Keep printing new rows as they are written (Ctrl+C to stop).
        #[arg(long, short)]
        follow: bool,
        /// Only this workspace's rows.
        #[arg(long)]
        workspace: Option<i64>,
        /// Only problems: Slack calls that failed, and rows with an error.
        #[arg(long)]
        problems: bool,
        /// Only rows mentioning this text (state, policy, method, what was sent, outcome, error).
        #[arg(long)]
        search: Option<String>,
        /// How many of the latest rows to print first (default 200).
        #[arg(long, short = 'n')]
        limit: Option<u32>,
    },
    /// Open the quick status picker of the running tray app. Bind this in your desktop's keyboard settings
    /// where the global shortcut cannot be registered (Wayland sessions, a taken combination).
    Picker,
    /// Where phones can reach this computer: `known-networks` (networks where you paired a phone, the
    /// default), `any-network` or `this-computer`. Without a choice, says where they can now and why;
    /// `forget [ID]` forgets a known network (every one without an id).
    Reach {
        choice: Option<String>,
        /// With `forget`: the id of the network to forget (`reach --json` lists them).
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
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

/// An answer of the wrong kind: the app and this command are not the same version.
fn unexpected_answer() -> AppError {
    AppError::RunningAppAnswer(
        "gave an answer this command did not expect; are the app and the command the same version?".into(),
    )
}

fn duration_arg(text: &str) -> Result<StatusDuration> {
    StatusDuration::parse(text).ok_or_else(|| {
        AppError::Refused(format!(
            "{text:?} is not a duration: use 30m, 1h, 90 (minutes), eod or forever"
        ))
    })
}

fn state_arg(text: &str) -> Result<StateKind> {
    StateKind::parse(text)
        .filter(|kind| *kind != StateKind::Event)
        .ok_or_else(|| {
            let names: Vec<&str> = StateKind::ALL
                .iter()
                .filter(|kind| **kind != StateKind::Event)
                .map(|kind| kind.as_str())
                .collect();
            AppError::Refused(format!("unknown status {text:?}; one of: {}", names.join(", ")))
        })
}

fn policy_arg(text: &str, duration: Option<&str>) -> Result<PolicyChoice> {
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
        (_, Some(_)) => return Err(AppError::Refused("--for goes with `blocked` only".into())),
        (other, None) => {
            return Err(AppError::Refused(format!(
                "unknown policy {other:?}: default, trusted, vip, blocked or resume"
            )));
        }
    })
}

fn minutes_until_midnight() -> u32 {
    let now = chrono::Utc::now();
    crate::apply::status_until(&StatusDuration::EndOfDay, now)
        .map(|end| u32::try_from((end - now).num_minutes().max(1)).unwrap_or(1))
        .unwrap_or(60)
}

async fn perform(config: &AppConfig, action: Action) -> Result<()> {
    request(&config.paths, &ControlRequest::Perform { action }).await?;
    Ok(())
}

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
    use std::io::{BufRead, IsTerminal};
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Slack User OAuth Token (xoxp-…, not shown): ").map_err(AppError::Stdin)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(AppError::Stdin)?;
        line
    };
    Ok(PastedSecret::new(line.trim()))
}

fn workspace_line(workspace: &WorkspaceView) -> String {
    let state = if workspace.connected {
        "connected".to_owned()
    } else {
        // What happened and what to do, as the notification says it, with this interface's commands.
        format!(
            "disconnected: {}; to connect it again: caret-desktop workspace connect --client-id ID (signed in \
             with Slack) or caret-desktop workspace add (a pasted token)",
            crate::services::disconnect_explanation(
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

fn print_json_line(value: &impl serde::Serialize) -> std::io::Result<()> {
    use std::io::Write;
    let json = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")?;
    out.flush()
}

/// Runs a command against the running app.
pub fn run(command: Command) -> Result<()> {
    let config = AppConfig::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    runtime.block_on(async {
        match command {
            Command::Pair { json } => {
                let ControlResponse::Pairing { pairing } =
                    request(&config.paths, &ControlRequest::StartPairing).await?
                else {
                    return Err(unexpected_answer());
                };
                if json {
                    println!("{}", serde_json::to_string(&pairing).unwrap_or_default());
                } else {
                    print!("{}", pairing_text(&pairing));
                }
                Ok(())
            }
            Command::Devices { json } => {
                let ControlResponse::Devices { devices } =
                    request(&config.paths, &ControlRequest::Devices).await?
                else {
                    return Err(unexpected_answer());
                };
                if json {
                    for device in &devices {
                        println!("{}", serde_json::to_string(device).unwrap_or_default());
                    }
                } else {
                    print!("{}", devices_text(&devices));
                }
                Ok(())
            }
            Command::Workspace(WorkspaceCommand::Add) => {
                let token = read_token()?;
                let ControlResponse::Workspace { workspace } =
                    request(&config.paths, &ControlRequest::ConnectWorkspace { token }).await?
                else {
                    return Err(unexpected_answer());
                };
                print_connected(&workspace);
                Ok(())
            }
            Command::Workspace(WorkspaceCommand::Connect {
                client_id,
                no_browser,
            }) => {
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
                        println!("Waiting for Slack (up to {} minutes)…", start.expires_in_secs / 60);
                        true
                    }
                    ControlResponse::Workspace { workspace } => {
                        connected = Some(workspace);
                        false
                    }
                    _ => false,
                })
                .await?;
                let workspace = connected.ok_or_else(|| AppError::RunningAppAnswer("ended the sign-in without connecting a workspace".into()))?;
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
            Command::Workspace(WorkspaceCommand::Notices { workspace_id, state }) => {
                let on = state == "on";
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
            Command::Workspace(WorkspaceCommand::List { json }) => {
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
            Command::Workspace(WorkspaceCommand::Remove { workspace_id }) => {
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
            Command::Status { change: None } => {
                let ControlResponse::Status { state_line } = request(&config.paths, &ControlRequest::Status).await?
                else {
                    return Err(unexpected_answer());
                };
                println!("{state_line}");
                Ok(())
            }
            Command::Status {
                change: Some(StatusCommand::Set { state, duration }),
            } => {
                let action = Action::SetStatus {
                    state: state_arg(&state)?,
                    duration: duration_arg(&duration)?,
                };
                perform(&config, action).await?;
                println!("Status set: {state} ({duration}).");
                Ok(())
            }
            Command::Status {
                change: Some(StatusCommand::Clear),
            } => {
                perform(&config, Action::ClearStatus).await?;
                println!("Status cleared; the phone's state applies again.");
                Ok(())
            }
            Command::Policy {
                workspace_id,
                policy,
                duration,
            } => {
                let choice = policy_arg(&policy, duration.as_deref())?;
                perform(
                    &config,
                    Action::SetPolicy {
                        workspace: workspace_id,
                        choice,
                    },
                )
                .await?;
                println!("Policy of workspace {workspace_id}: {policy}.");
                Ok(())
            }
            Command::Pause => {
                perform(&config, Action::Pause).await?;
                println!("Syncing paused: nothing is sent to Slack until `caret-desktop resume`.");
                Ok(())
            }
            Command::Resume => {
                perform(&config, Action::Resume).await?;
                println!("Syncing resumed.");
                Ok(())
            }
            Command::Log {
                follow,
                workspace,
                problems,
                search,
                limit,
            } => {
                let filter = caret_store::LogFilter {
                    workspace_id: workspace,
                    problems_only: problems,
                    text: search,
                    limit,
                    ..caret_store::LogFilter::default()
                };
                let mut failed = None;
                crate::control::request_stream(
                    &config.paths,
                    &ControlRequest::Log { filter, follow },
                    |response| {
                        if let ControlResponse::Log { entries } = response {
                            for entry in &entries {
                                if let Err(error) = print_json_line(entry) {
                                    // A closed pipe (`| head`) ends the command quietly.
                                    failed = Some(error);
                                    return false;
                                }
                            }
                        }
                        follow
                    },
                )
                .await?;
                match failed {
                    Some(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(AppError::Stdout(error))
                    }
                    _ => Ok(()),
                }
            }
            Command::Reach { choice, id, json } => reach(&config, choice.as_deref(), id, json).await,
            Command::Picker => {
                perform(
                    &config,
                    Action::OpenWindow {
                        window: crate::action::WindowKind::Picker,
                    },
                )
                .await
            }
            Command::Revoke { device_id } => {
                let answer = request(
                    &config.paths,
                    &ControlRequest::Revoke {
                        device_id: device_id.clone(),
                    },
                )
                .await?;
                match answer {
                    ControlResponse::Revoked { revoked: true } => println!("Revoked {device_id}."),
                    _ => println!("{device_id} was not an active device; nothing changed."),
                }
                Ok(())
            }
        }
    })
}

/// The pairing as a person reads it in a terminal: the QR code, then the code and the fingerprint.
pub fn pairing_text(pairing: &PairingView) -> String {
    let qr = qrcode::QrCode::new(pairing.link.as_bytes())
        .map(|code| code.render::<Dense1x2>().quiet_zone(true).build())
        .unwrap_or_default();
    format!(
        "{qr}\nScan this with the phone's camera, or type the code {code} in caret-phone (caret-phone pair --code).\n\
         Valid until {expires} (one phone, one use).\n\
         Desktop address: {addresses} port {port}\n\
         Certificate fingerprint (the phone must show the same):\n  {fingerprint}\n",
        code = pairing.short_code,
        expires = pairing.expires_at,
        addresses = pairing.addresses.join(", "),
        port = pairing.port,
        fingerprint = pairing.fingerprint,
    )
}

fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| {
            time.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

pub fn devices_text(devices: &[DeviceView]) -> String {
    if devices.is_empty() {
        return "No phone paired yet. Run `caret-desktop pair`.\n".into();
    }
    let mut text = String::new();
    for device in devices {
        let status = if device.revoked {
            "revoked".to_owned()
        } else if device.online {
            "online".to_owned()
        } else {
            match device.last_seen_ms {
                Some(ms) => format!("last seen {}", format_time(ms)),
                None => "never connected".to_owned(),
            }
        };
        text.push_str(&format!(
            "{}  {:<24}  paired {}  {}\n",
            device.id,
            device.name,
            format_time(device.paired_at_ms),
            status
        ));
    }
    text
}

/// `caret-desktop reach [CHOICE | forget [ID]] [--json]`.
async fn reach(config: &AppConfig, choice: Option<&str>, id: Option<String>, json: bool) -> Result<()> {
    let asked = match (choice, id) {
        (None, _) => ControlRequest::Reach,
        (Some("forget"), id) => ControlRequest::ForgetNetworks { id },
        (Some(word), None) => ControlRequest::SetReach {
            choice: crate::reach::PhoneReach::parse(word).ok_or_else(|| {
                AppError::Refused(format!(
                    "{word:?} is not a choice: known-networks, any-network, this-computer (or forget [ID])"
                ))
            })?,
        },
        (Some(word), Some(_)) => {
            return Err(AppError::Refused(format!(
                "{word} takes no id (only forget does)"
            )));
        }
    };
    let ControlResponse::Reach { reach } = request(&config.paths, &asked).await? else {
        return Err(unexpected_answer());
    };
    if json {
        println!("{}", serde_json::to_string(&reach).unwrap_or_default());
    } else {
        print!("{}", reach.describe());
    }
    Ok(())
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

    #[test]
    fn a_refusal_made_here_is_said_once_without_blaming_the_running_app() {
        let said = state_arg("sleepy").unwrap_err().to_string();
        assert!(said.starts_with("unknown status \"sleepy\""), "{said}");
        let relayed = AppError::RunningAppRefused("that is not a Slack User OAuth Token".into()).to_string();
        assert_eq!(relayed.matches("refused").count(), 1, "{relayed}");
    }

    #[test]
    fn policies_and_states_read_as_typed_with_clear_refusals() {
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
        assert_eq!(state_arg("in_call").unwrap(), StateKind::InCall);
        assert!(
            state_arg("event").is_err(),
            "an event comes from the phone, with its details"
        );
        assert!(duration_arg("soon").unwrap_err().to_string().contains("eod"));
    }

    #[test]
    fn the_device_list_says_who_is_online_revoked_or_never_seen() {
        let device = DeviceView {
            id: "d_1".into(),
            name: "Pixel".into(),
            paired_at_ms: 0,
            last_seen_ms: None,
            online: false,
            revoked: false,
        };
        let text = devices_text(&[
            device.clone(),
            DeviceView {
                online: true,
                ..device.clone()
            },
            DeviceView {
                revoked: true,
                ..device
            },
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("never connected"));
        assert!(lines[1].ends_with("online"));
        assert!(lines[2].ends_with("revoked"));
        assert!(devices_text(&[]).contains("caret-desktop pair"));
    }
}
