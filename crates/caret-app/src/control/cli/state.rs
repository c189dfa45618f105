//! `caret-desktop state [--json] [--follow]`: what the tray menu's first lines say.

use clap::Args;

use super::{finish_printing, print_json_line};
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request_stream};
use crate::error::Result;
use crate::runtime::core::StateReport;

/// What the tray's first lines say: your state and where it comes from, then what each workspace's Slack
/// shows of it.
#[derive(Debug, Clone, Args)]
pub struct State {
    /// One JSON object per report: the lines, the state, its source ("you" or "phone"), when a status you set
    /// ends, whether syncing is paused, and each workspace with its policy and what its Slack shows.
    #[arg(long)]
    json: bool,
    /// Print again at every change (Ctrl+C to stop).
    #[arg(long, short)]
    follow: bool,
}

impl State {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let (json, follow) = (self.json, self.follow);
        let mut failed = None;
        request_stream(&config.paths, &ControlRequest::State { follow }, |response| {
            if let ControlResponse::State { state } = response {
                let printed = if json {
                    print_json_line(&state)
                } else {
                    print_lines(&state, follow)
                };
                if let Err(error) = printed {
                    failed = Some(error);
                    return false;
                }
            }
            follow
        })
        .await?;
        finish_printing(failed)
    }
}

fn print_lines(state: &StateReport, follow: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in &state.lines {
        writeln!(out, "{line}")?;
    }
    if state.paused {
        writeln!(
            out,
            "Syncing paused: nothing is sent to Slack until `caret-desktop resume`."
        )?;
    }
    if follow {
        // Reports apart, as they come.
        writeln!(out)?;
    }
    out.flush()
}
