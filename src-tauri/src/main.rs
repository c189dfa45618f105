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
    /// Open a window at once: settings, phones, sync-log or picker (for a launcher; a second launch opens it
    /// in the running app).
    #[arg(long, value_name = "WINDOW", value_parser = parse_window)]
    window: Option<caret_app::WindowKind>,
    #[command(subcommand)]
    command: Option<caret_app::control::cli::Command>,
}

fn parse_window(label: &str) -> Result<caret_app::WindowKind, String> {
    caret_app::WindowKind::from_label(label).ok_or_else(|| {
        let labels: Vec<&str> = caret_app::WindowKind::ALL
            .iter()
            .map(|kind| kind.label())
            .collect();
        format!("one of: {}", labels.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    caret_app::logging::init();
    // One line per failure: a command says it as `caret-desktop: …` (it is its whole answer); the app says it
    // in its log, which is on standard error too.
    match cli.command {
        Some(command) => match caret_app::control::cli::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("caret-desktop: {error}");
                ExitCode::FAILURE
            }
        },
        None => {
            let outcome = if cli.headless {
                caret_desktop::run_headless()
            } else {
                caret_desktop::run_tray(cli.window)
            };
            outcome.map_or_else(
                |error| {
                    tracing::error!("{error}");
                    ExitCode::FAILURE
                },
                |()| ExitCode::SUCCESS,
            )
        }
    }
}
