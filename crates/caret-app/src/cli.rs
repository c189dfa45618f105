//! The commands `caret-desktop` takes besides running: they talk to the running instance over the control
//! socket ([`crate::control`]) and print for a person, or JSON with `--json` for scripts.

use clap::Subcommand;
use qrcode::render::unicode::Dense1x2;

use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Result};
use crate::services::{DeviceView, PairingView};
use crate::workspaces::{PastedSecret, WorkspaceView};

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
    Revoke { device_id: String },
    /// Slack workspaces: connect one with a token (read from standard input, never from the command
    /// line), list them, disconnect one.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCommand {
    /// Connect a workspace: paste its User OAuth Token (xoxp-…) when asked, or pipe it in.
    Add,
    /// List the workspaces.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disconnect a workspace: syncing stops and its token is deleted from the keyring.
    Remove { workspace_id: i64 },
}

/// Reads the token: hidden when typed at a terminal, a line of standard input otherwise.
fn read_token() -> Result<PastedSecret> {
    use std::io::{BufRead, IsTerminal};
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Slack User OAuth Token (xoxp-…, not shown): ")
            .map_err(AppError::Signals)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(AppError::Signals)?;
        line
    };
    Ok(PastedSecret::new(line.trim()))
}

fn workspace_line(workspace: &WorkspaceView) -> String {
    let state = if workspace.connected {
        "connected".to_owned()
    } else {
        format!(
            "disconnected ({})",
            workspace
                .disconnect_reason
                .as_deref()
                .unwrap_or("no reason given")
        )
    };
    format!(
        "{:>4}  {} as {}  {state}",
        workspace.id, workspace.team, workspace.user
    )
}

/// Runs a command against the running app.
pub fn run(command: Command) -> Result<()> {
    let config = AppConfig::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Signals)?;
    runtime.block_on(async {
        match command {
            Command::Pair { json } => {
                let ControlResponse::Pairing { pairing } =
                    request(&config.paths, &ControlRequest::StartPairing).await?
                else {
                    return Err(AppError::Refused("unexpected answer".into()));
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
                    return Err(AppError::Refused("unexpected answer".into()));
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
                    return Err(AppError::Refused("unexpected answer".into()));
                };
                println!("Connected to {} as {}.", workspace.team, workspace.user);
                if !workspace.missing_scopes.is_empty() {
                    println!(
                        "Presence (away/active) is left alone: the token lacks {}.",
                        workspace.missing_scopes.join(", ")
                    );
                }
                Ok(())
            }
            Command::Workspace(WorkspaceCommand::List { json }) => {
                let ControlResponse::Workspaces { workspaces } =
                    request(&config.paths, &ControlRequest::Workspaces).await?
                else {
                    return Err(AppError::Refused("unexpected answer".into()));
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
                let ControlResponse::Workspace { workspace } = request(
                    &config.paths,
                    &ControlRequest::DisconnectWorkspace { workspace_id },
                )
                .await?
                else {
                    return Err(AppError::Refused("unexpected answer".into()));
                };
                println!(
                    "Disconnected {}; its token was deleted from the keyring.",
                    workspace.team
                );
                Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
