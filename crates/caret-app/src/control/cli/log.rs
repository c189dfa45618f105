//! `caret-desktop log [--follow] [--workspace ID] [--problems] [--search TEXT] [-n N]`: the sync log as JSON
//! lines.

use clap::Args;

use super::{finish_printing, print_json_line};
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request_stream};
use crate::error::Result;

/// Print the sync log as JSON lines, oldest first (each input, each Slack call and its outcome).
#[derive(Debug, Clone, Args)]
pub struct Log {
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
}

impl Log {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let follow = self.follow;
        let filter = caret_store::LogFilter {
            workspace_id: self.workspace,
            problems_only: self.problems,
            text: self.search,
            limit: self.limit,
            ..caret_store::LogFilter::default()
        };
        let mut failed = None;
        request_stream(
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
        finish_printing(failed)
    }
}
