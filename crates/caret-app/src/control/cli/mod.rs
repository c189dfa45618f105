//! The commands `caret-desktop` takes besides running: they talk to the running instance over the control
//! socket ([`crate::control`]) and print for a person, or JSON with `--json` for scripts. One module per
//! command (or per family of commands): its arguments, and what it asks and prints.

mod calendars;
mod hours;
mod log;
mod phones;
mod policy;
mod preview;
mod reach;
mod settings;
mod sources;
mod state;
mod status;
mod workspace;

use clap::Subcommand;

use crate::action::{Action, StatusDuration};
use crate::config::AppConfig;
use crate::control::{ControlRequest, request};
use crate::error::{AnswerProblem, AppError, Refusal, Result};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    Pair(phones::Pair),
    Devices(phones::Devices),
    Revoke(phones::Revoke),
    /// Slack workspaces: connect one with a token (read from standard input, never from the command
    /// line), list them, disconnect one.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    State(state::State),
    Status(status::Status),
    Policy(policy::Policy),
    Settings(settings::Settings),
    Preview(preview::Preview),
    /// Stop writing to Slack until `resume` (nothing is lost: what is due is sent then).
    Pause,
    /// Write to Slack again: what is due is sent at once.
    Resume,
    Log(log::Log),
    /// Open the quick status picker of the running tray app. Bind this in your desktop's keyboard settings
    /// where the global shortcut cannot be registered (Wayland sessions, a taken combination).
    Picker,
    Reach(reach::Reach),
    Sources(sources::Sources),
    Calendars(calendars::Calendars),
    Hours(hours::Hours),
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
            Command::Pair(pair) => pair.run(&config).await,
            Command::Devices(devices) => devices.run(&config).await,
            Command::Revoke(revoke) => revoke.run(&config).await,
            Command::Workspace(workspace) => workspace.run(&config).await,
            Command::State(state) => state.run(&config).await,
            Command::Status(status) => status.run(&config).await,
            Command::Settings(settings) => settings.run(&config).await,
            Command::Preview(preview) => preview.run(&config).await,
            Command::Policy(policy) => policy.run(&config).await,
            Command::Pause => policy::pause(&config).await,
            Command::Resume => policy::resume(&config).await,
            Command::Log(log) => log.run(&config).await,
            Command::Picker => {
                let window = crate::action::WindowKind::Picker;
                perform(&config, Action::OpenWindow { window }).await
            }
            Command::Reach(reach) => reach.run(&config).await,
            Command::Sources(sources) => sources.run(&config).await,
            Command::Calendars(calendars) => calendars.run(&config).await,
            Command::Hours(hours) => hours.run(&config).await,
        }
    })
}

/// An answer of the wrong kind: the app and this command are not the same version.
fn unexpected_answer() -> AppError {
    AppError::RunningAppAnswer(AnswerProblem::Unexpected)
}

/// Reads a secret: hidden when typed at a terminal (after `prompt`), a line of standard input otherwise.
fn read_secret(prompt: &str) -> Result<crate::secrets::PastedSecret> {
    use std::io::{BufRead, IsTerminal};
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(AppError::Stdin)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(AppError::Stdin)?;
        line
    };
    Ok(crate::secrets::PastedSecret::new(line.trim()))
}

/// Has the running app carry out an action, as the tray or a window would.
async fn perform(config: &AppConfig, action: Action) -> Result<()> {
    request(&config.paths, &ControlRequest::Perform { action }).await?;
    Ok(())
}

fn duration_arg(text: &str) -> Result<StatusDuration> {
    StatusDuration::parse(text).ok_or_else(|| {
        AppError::Refused(Refusal::NotADuration {
            text: text.to_owned(),
        })
    })
}

fn print_json_line(value: &impl serde::Serialize) -> std::io::Result<()> {
    use std::io::Write;
    let json = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")?;
    out.flush()
}

/// A failure to print ends the command with an error, but a closed pipe (`| head`) ends it quietly.
fn finish_printing(failed: Option<std::io::Error>) -> Result<()> {
    match failed {
        Some(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(AppError::Stdout(error)),
        _ => Ok(()),
    }
}
