//! `caret-desktop calendars [add NAME [--all-day] [--me ADDRESS]… | remove NAME] [--json]`: the calendars
//! whose events make you "at an event".

use clap::{Args, Subcommand};

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::Result;
use crate::secrets::PastedSecret;
use crate::sources::calendars::NewCalendar;

/// Your calendars: an event in one of them makes you "at an event" in Slack (its title only under VIP).
/// Without arguments, lists them with what each says now. `calendars add Work` reads the calendar's secret
/// address (the private iCal address Google Calendar, Outlook or Fastmail give) or a local .ics file's path
/// from standard input, never from the command line; it is kept in the desktop keyring only.
#[derive(Debug, Clone, Args)]
pub struct Calendars {
    #[command(subcommand)]
    change: Option<CalendarChange>,
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Clone, Subcommand)]
enum CalendarChange {
    /// Adds a calendar; its address is read from standard input (hidden when typed at a terminal).
    Add {
        /// Your name for it ("Work").
        name: String,
        /// All-day events count too.
        #[arg(long)]
        all_day: bool,
        /// Your address in this calendar (may be given again): events you declined there do not count.
        #[arg(long = "me", value_name = "ADDRESS")]
        own_addresses: Vec<String>,
    },
    /// Removes a calendar, and its address from the keyring.
    Remove { name: String },
}

impl Calendars {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let asked = match self.change {
            None => ControlRequest::Sources,
            Some(CalendarChange::Add {
                name,
                all_day,
                own_addresses,
            }) => ControlRequest::AddCalendar {
                calendar: NewCalendar {
                    name,
                    address: read_address()?,
                    include_all_day: all_day,
                    own_addresses,
                },
            },
            Some(CalendarChange::Remove { name }) => ControlRequest::RemoveCalendar { name },
        };
        let ControlResponse::Sources { sources } = request(&config.paths, &asked).await? else {
            return Err(unexpected_answer());
        };
        if self.json {
            println!("{}", serde_json::to_string(&sources.calendar).unwrap_or_default());
        } else {
            print!("{}", sources.calendar.describe());
        }
        Ok(())
    }
}

/// Reads the address: hidden when typed at a terminal, a line of standard input otherwise.
fn read_address() -> Result<PastedSecret> {
    super::read_secret("The calendar's secret address, or an .ics file's path (not shown): ")
}
