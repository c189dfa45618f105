//! Security notices by direct message to yourself in Slack (`chat.postMessage` to your own user id), off by
//! default and chosen per workspace. Sent when a new phone pairs (to every workspace that has them on: a
//! phone can change what all of them show) and when a workspace's policy becomes less private (to that
//! workspace). A notice tells you, wherever you read Slack, about a change that you may not have made.
//!
//! Each attempt is in the sync log (a failure with its reason); without `chat:write` the workspace's
//! missing scopes say so.

use caret_core::{Policy, TimeFormat};
use caret_engine::Source;
use caret_engine::TokenSource;
use caret_slack::{AuthFailure, SlackError, SlackMethod};
use caret_store::{LogKind, NewLogEntry, WorkspaceId};
use chrono::{DateTime, Local};

use super::Workspaces;
use super::manifest::DM_SCOPE;

/// What a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    DevicePaired {
        name: String,
    },
    PolicyLessPrivate {
        workspace: WorkspaceId,
        before: Policy,
        after: Policy,
        source: Source,
    },
}

fn source_words(source: Source) -> &'static str {
    match source {
        Source::Tray => "from the tray menu",
        Source::Shortcut => "with the keyboard shortcut",
        Source::Cli => "from the command line",
        Source::Ui => "in Settings",
        Source::Phone => "from a phone",
        Source::Engine => "by a schedule",
        Source::Microphone => "by the microphone in use",
        Source::Camera => "by the camera in use",
        Source::Calendar => "by your calendar",
        Source::ScreenLock => "by the screen lock",
        Source::WorkingHours => "by your working hours",
    }
}

fn what_it_shares(policy: Policy) -> &'static str {
    match policy {
        Policy::Default => "only Available or Busy",
        Policy::Trusted => "your exact state (In a call, Driving, …)",
        Policy::Vip => "your exact state with details such as event titles",
        Policy::Blocked => "nothing",
    }
}

/// The message text (plain; Slack shows it as sent).
pub fn notice_text(event: &SecurityEvent, team: &str, at: DateTime<Local>, clock: TimeFormat) -> String {
    escape_for_slack(&plain_notice_text(event, team, at, clock))
}

/// Slack reads `&`, `<` and `>` in a message as the start of an entity, a link or a mention: a device name
/// such as `<!channel>` must be shown, not acted on.
fn escape_for_slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The time is written as the workspace writes times in its statuses: the notice is read in that Slack.
fn plain_notice_text(event: &SecurityEvent, team: &str, at: DateTime<Local>, clock: TimeFormat) -> String {
    let time = clock.clock(&at);
    match event {
        SecurityEvent::DevicePaired { name } => format!(
            "Caret Desktop: a new phone, \"{name}\", was paired at {time} and can now change your Slack status. \
             If this was not you, open Caret Desktop → Phones and revoke it."
        ),
        SecurityEvent::PolicyLessPrivate {
            before,
            after,
            source,
            ..
        } => format!(
            "Caret Desktop: the privacy policy for {team} changed from {} to {} at {time} ({}). People in {team} \
             now see {}. If this was not you, open Caret Desktop → Settings and choose another policy.",
            before.label(),
            after.label(),
            source_words(*source),
            what_it_shares(*after)
        ),
    }
}

impl Workspaces {
    /// Sends the notice to each workspace it concerns that has notices on. Never fails: each outcome is in the
    /// sync log.
    pub async fn send_security_notice(&self, event: SecurityEvent) {
        let only = match &event {
            SecurityEvent::DevicePaired { .. } => None,
            SecurityEvent::PolicyLessPrivate { workspace, .. } => Some(*workspace),
        };
        let workspaces = match self.store.workspaces() {
            Ok(workspaces) => workspaces,
            Err(error) => {
                tracing::error!("cannot read the workspaces for a security notice: {error}");
                return;
            }
        };
        for workspace in workspaces
            .into_iter()
            .filter(|w| w.connected && w.security_notices && only.is_none_or(|id| id == w.id))
        {
            let text = notice_text(
                &event,
                &workspace.team_name,
                Local::now(),
                workspace.settings.time_format,
            );
            let id = workspace.id;
            let started = std::time::Instant::now();
            let result = self.post_to_yourself(&workspace, &text).await;
            let latency_ms = i64::try_from(started.elapsed().as_millis()).ok();
            if let Err(SlackError::MissingScope { .. }) = &result
                && let Err(error) = self.scope_missing(id, DM_SCOPE)
            {
                tracing::warn!("cannot note the missing scope: {error}");
            }
            let entry = NewLogEntry {
                at_ms: chrono::Utc::now().timestamp_millis(),
                kind: Some(LogKind::Call),
                source: "engine".to_owned(),
                workspace_id: Some(id),
                workspace: Some(workspace.team_name.clone()),
                method: Some(SlackMethod::ChatPostMessage.as_str().to_owned()),
                sent: Some(serde_json::json!({ "channel": workspace.user_id, "text": text }).to_string()),
                outcome: result
                    .as_ref()
                    .map_or_else(SlackError::code, |()| "ok".to_owned()),
                latency_ms,
                error: result.as_ref().err().map(ToString::to_string),
                ..NewLogEntry::default()
            };
            match self.store.append_log(&entry) {
                Ok(_) => {}
                Err(error) => tracing::error!("cannot write the sync log: {error}"),
            }
        }
    }

    /// Posts `text` to the user's own DMs in `workspace`, renewing an expired rotating token once, as the
    /// engine would, and sending again.
    async fn post_to_yourself(
        &self,
        workspace: &caret_store::Workspace,
        text: &str,
    ) -> Result<(), SlackError> {
        let tokens = self.tokens.clone();
        let id = workspace.id;
        let token = tokio::task::spawn_blocking(move || tokens.token(id))
            .await
            .ok()
            .flatten();
        let result = match &token {
            Some(token) => self
                .client
                .post_message(token, &workspace.user_id, text)
                .await
                .map(|_| ()),
            None => Err(SlackError::Api {
                method: SlackMethod::ChatPostMessage,
                code: "no_token".into(),
            }),
        };
        if let (
            Err(SlackError::Auth {
                reason: AuthFailure::TokenExpired,
                ..
            }),
            Some(stale),
        ) = (&result, &token)
            && self.tokens.rotates(id)
            && self.tokens.refresh_now(id, Some(stale)).await.is_ok()
            && let Some(fresh) = self.tokens.token(id)
        {
            return self
                .client
                .post_message(&fresh, &workspace.user_id, text)
                .await
                .map(|_| ());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 12, 1, 14, 2, 0).single().unwrap()
    }

    #[test]
    fn a_pairing_notice_names_the_phone_and_how_to_revoke_it() {
        let text = notice_text(
            &SecurityEvent::DevicePaired {
                name: "Pixel 8".into(),
            },
            "Acme",
            at(),
            TimeFormat::H24,
        );
        assert!(
            text.contains("\"Pixel 8\"") && text.contains("14:02") && text.contains("revoke"),
            "{text}"
        );
        let in_twelve_hours = notice_text(
            &SecurityEvent::DevicePaired {
                name: "Pixel 8".into(),
            },
            "Acme",
            at(),
            TimeFormat::H12,
        );
        assert!(
            in_twelve_hours.contains("at 2:02 PM"),
            "the workspace's own time format: {in_twelve_hours}"
        );
    }

    #[test]
    fn a_name_that_looks_like_slack_markup_is_shown_not_acted_on() {
        let text = notice_text(
            &SecurityEvent::DevicePaired {
                name: "<!channel> & <https://evil.example|Pixel>".into(),
            },
            "R&D <team>",
            at(),
            TimeFormat::H24,
        );
        assert!(
            text.contains("\"&lt;!channel&gt; &amp; &lt;https://evil.example|Pixel&gt;\""),
            "{text}"
        );
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
    }

    #[test]
    fn a_policy_notice_says_what_the_workspace_now_sees() {
        let event = SecurityEvent::PolicyLessPrivate {
            workspace: 1,
            before: Policy::Default,
            after: Policy::Vip,
            source: Source::Tray,
        };
        let text = notice_text(&event, "Acme", at(), TimeFormat::H24);
        assert!(text.contains("from Default to VIP"), "{text}");
        assert!(text.contains("from the tray menu"), "{text}");
        assert!(text.contains("event titles"), "{text}");
    }
}
