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
    /// The process that shows the running app's windows; the app starts it itself.
    #[arg(long, hide = true, conflicts_with_all = ["headless", "window"])]
    window_host: bool,
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
            let outcome = if cli.window_host {
                caret_desktop::host::run()
            } else if cli.headless {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// README's command-line section: the lines of its example block that run `caret-desktop`.
    fn readme_commands() -> Vec<&'static str> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("### The command line")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has a section \"The command line\"");
        section
            .lines()
            .filter(|line| line.starts_with("caret-desktop"))
            // The command without its comment.
            .map(|line| line.split(" #").next().unwrap_or(line).trim_end())
            .collect()
    }

    /// Every command and subcommand `--help` lists has an example in README's command-line section, and every
    /// example there names a command `--help` lists.
    #[test]
    fn readme_shows_every_command_the_help_lists_and_no_other() {
        let commands = readme_commands();
        Cli::command().debug_assert();
        let cli = Cli::command();
        let mut names = Vec::new();
        for command in cli.get_subcommands().filter(|c| c.get_name() != "help") {
            let name = command.get_name();
            names.push(name.to_owned());
            let examples: Vec<_> = commands
                .iter()
                .filter(|line| line.split_whitespace().nth(1) == Some(name))
                .collect();
            assert!(!examples.is_empty(), "README shows no `caret-desktop {name}`");
            for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
                let sub_name = sub.get_name();
                assert!(
                    examples
                        .iter()
                        .any(|line| line.split_whitespace().any(|word| word == sub_name)),
                    "README shows no `caret-desktop {name} … {sub_name}`"
                );
            }
        }
        for line in &commands {
            let word = line.split_whitespace().nth(1).unwrap_or("");
            assert!(
                word.is_empty() || word.starts_with('-') || names.iter().any(|name| name == word),
                "README shows `{line}`, which --help does not list"
            );
        }
    }
}
