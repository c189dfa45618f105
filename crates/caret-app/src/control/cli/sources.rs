//! `caret-desktop sources [SOURCE on|off] [--json]`: the desktop's own sources.

use clap::Args;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::{AppError, Refusal, Result};
use crate::preferences::SourceName;

/// The desktop's own sources: `microphone` (another application recording from a microphone, or reading a
/// camera, means "in a call"; watched through PipeWire) and `screen-lock` (a locked screen makes you away in
/// Slack; watched through the desktop's ScreenSaver interface or logind). Without arguments, says which are on
/// and what each sees now; `sources microphone on` turns one on (off until you do), `off` turns it off.
#[derive(Debug, Clone, Args)]
pub struct Sources {
    source: Option<String>,
    /// `on` or `off`.
    switch: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Sources {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let asked = match (self.source.as_deref(), self.switch.as_deref()) {
            (None, _) => ControlRequest::Sources,
            (Some(word), switch) => {
                let source = SourceName::parse(word).ok_or_else(|| {
                    AppError::Refused(Refusal::UnknownSource {
                        word: word.to_owned(),
                    })
                })?;
                let on = match switch {
                    Some("on") => true,
                    Some("off") => false,
                    other => {
                        return Err(AppError::Refused(Refusal::SourceOnOrOff {
                            word: other.unwrap_or_default().to_owned(),
                        }));
                    }
                };
                ControlRequest::SetSource { source, on }
            }
        };
        let ControlResponse::Sources { sources } = request(&config.paths, &asked).await? else {
            return Err(unexpected_answer());
        };
        if self.json {
            println!("{}", serde_json::to_string(&sources).unwrap_or_default());
        } else {
            print!("{}", sources.describe());
        }
        Ok(())
    }
}
