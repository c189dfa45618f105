//! `caret-desktop reach [CHOICE | forget [ID]] [--json]`: where phones can reach this computer.

use clap::Args;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};

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
                    AppError::Refused(Refusal::UnknownReach {
                        word: word.to_owned(),
                    })
                })?,
            },
            (Some(word), Some(_)) => {
                return Err(AppError::Refused(Refusal::ReachTakesNoId {
                    word: word.to_owned(),
                }));
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
