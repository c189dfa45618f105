// No console window on Windows release builds; harmless elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use clap::Parser;

/// Caret Desktop: shows your phone's Caret state in the tray and keeps your Slack status in line with it.
#[derive(Debug, Parser)]
#[command(name = "caret-desktop", version, about)]
struct Cli {
    /// Run the same core without tray or windows (for a home server, or tests). Stops on SIGINT/SIGTERM.
    #[arg(long)]
    headless: bool,
    #[command(subcommand)]
    command: Option<caret_app::cli::Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    caret_app::logging::init();
    let outcome = match cli.command {
        Some(command) => caret_app::cli::run(command).map_err(caret_desktop::ShellError::from),
        None if cli.headless => caret_desktop::run_headless(),
        None => caret_desktop::run_tray(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("caret-desktop: {error}");
            ExitCode::FAILURE
        }
    }
}
