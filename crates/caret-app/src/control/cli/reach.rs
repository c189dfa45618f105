//! `caret-desktop reach [CHOICE | forget [ID]] [--json]`: where phones can reach this computer.

use clap::Args;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Result};

/// Where phones can reach this computer: `known-networks` (networks where you paired a phone, the
/// default), `any-network` or `this-computer`. Without a choice, says where they can now and why;
/// `forget [ID]` forgets a known network (every one without an id).
#[derive(Debug, Clone, Args)]
pub struct Reach {
    choice: Option<String>,
    /// With `forget`: the id of the network to forget (`reach --json` lists them).
    id: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Reach {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let asked = match (self.choice.as_deref(), self.id) {
            (None, _) => ControlRequest::Reach,
            (Some("forget"), id) => ControlRequest::ForgetNetworks { id },
            (Some(word), None) => ControlRequest::SetReach {
                choice: crate::phones::reach::PhoneReach::parse(word).ok_or_else(|| {
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
        if self.json {
            println!("{}", serde_json::to_string(&reach).unwrap_or_default());
        } else {
            print!("{}", reach.describe());
        }
        Ok(())
    }
}
