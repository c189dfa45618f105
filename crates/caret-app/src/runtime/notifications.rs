//! What the user must hear about, as desktop notifications: a workspace that needs them, a Slack that stays
//! unreachable, a timed Blocked that ended, a new phone paired. The security notices by direct message that
//! some of these events also send are the Slack connection's ([`crate::slack::notices`]).

use caret_engine::EngineEvent;
use caret_relay::RelayEvent;

use super::core::AppCore;
use super::services::Services;
use crate::notify;
use crate::phones::Phones;

/// Notification bodies may be read as markup (the freedesktop spec allows a subset of HTML): a device
/// name is the phone's text, shown as text.
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Capitalises the first letter (Slack's explanations are written to follow a colon).
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Why a workspace is disconnected, for a person (lower case, no final stop): the notification and
/// `caret-desktop workspace list` say the same.
pub fn disconnect_explanation(reason: &str) -> String {
    match caret_slack::AuthFailure::from_code(reason) {
        // A rotating token is renewed before it expires, and once more when Slack refuses it.
        Some(caret_slack::AuthFailure::TokenExpired) => {
            "the token expired and Slack would not renew it".to_owned()
        }
        Some(failure) => failure.explanation().to_owned(),
        None => reason.to_owned(),
    }
}

/// What the user must hear about from the sync engine, as a notification: a workspace that needs them, a
/// Slack that stays unreachable, a timed Blocked that ended. `None` for the rest (the sync log has them).
pub fn engine_notification(event: &EngineEvent) -> Option<(String, String)> {
    match event {
        EngineEvent::Disconnected { team, reason, .. } => Some((
            format!("Slack disconnected: {team}"),
            format!(
                "{}. Your status there is no longer updated: connect the workspace again in Settings.",
                escape_markup(&capitalise(&disconnect_explanation(reason)))
            ),
        )),
        EngineEvent::MissingScope { team, scope, .. } => Some((
            format!("Slack needs a permission: {team}"),
            format!(
                "The token lacks {}: add it to your Slack app, reinstall it, and connect again in Settings.",
                escape_markup(scope)
            ),
        )),
        EngineEvent::Unreachable { team, .. } => Some((
            format!("Slack unreachable: {team}"),
            "Slack has not answered for a few minutes. Changes are kept and sent when it is back.".to_owned(),
        )),
        EngineEvent::BlockEnded { team, .. } => Some((
            format!("Sharing resumed: {team}"),
            "The timed Blocked ended; the previous policy applies again.".to_owned(),
        )),
        _ => None,
    }
}

/// What the app does about the engine's news besides notifications.
fn on_engine_event(core: &AppCore, services: &Services, event: &EngineEvent) {
    match event {
        // Scope drift: what Slack says is missing is what the UI shows as missing.
        EngineEvent::MissingScope { workspace, scope, .. } => {
            if let Err(error) = services.workspaces.scope_missing(*workspace, scope) {
                tracing::warn!("cannot note the missing scope: {error}");
            }
        }
        // A dead token is neither handed out nor refreshed any more.
        EngineEvent::Disconnected { workspace, .. } => services.workspaces.forget_token(*workspace),
        // A timed block ended by itself: the workspace sees more again, which the notices tell.
        EngineEvent::BlockEnded { workspace, .. } => {
            let Ok(record) = services.store.workspace(*workspace) else {
                return;
            };
            let event = crate::slack::notices::SecurityEvent::PolicyLessPrivate {
                workspace: *workspace,
                before: caret_core::Policy::Blocked,
                after: record.settings.policy.effective(chrono::Utc::now()),
                source: caret_engine::Source::Engine,
            };
            let core = core.clone();
            tokio::spawn(async move {
                if let Ok(services) = core.services() {
                    services.workspaces.send_security_notice(event).await;
                }
            });
        }
        _ => {}
    }
}

pub(super) fn spawn_engine_notifications(
    core: AppCore,
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Ok(services) = core.services() {
                        on_engine_event(&core, services, &event);
                    }
                    if let Some((summary, body)) = engine_notification(&event) {
                        notify::show(&summary, &body).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("{missed} engine events were missed; the sync log has them");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Tells the user about what happened on the relay that they should know: a new device above all.
pub(super) fn spawn_relay_events(
    core: AppCore,
    mut events: tokio::sync::broadcast::Receiver<RelayEvent>,
    phones: Phones,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(RelayEvent::DevicePaired { device, .. }) => {
                    // The window is used up: the Phones window stops showing its QR code.
                    phones.pairing_used();
                    notify::show(
                        "New phone paired",
                        &format!(
                            "\"{}\" can now send your state to Caret Desktop. Not you? Revoke it in Phones.",
                            escape_markup(&device.name)
                        ),
                    )
                    .await;
                    // Its own task: Slack's answers for each workspace must not hold up the relay's next events.
                    let core = core.clone();
                    let name = device.name.clone();
                    tokio::spawn(async move {
                        if let Ok(services) = core.services() {
                            let event = crate::slack::notices::SecurityEvent::DevicePaired { name };
                            services.workspaces.send_security_notice(event).await;
                        }
                    });
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("{missed} relay events were missed; new pairings are in the sync log");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_events_that_need_the_user_become_notifications_and_the_rest_do_not() {
        let (summary, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme <Inc>".into(),
            reason: "token revoked".into(),
        })
        .expect("a notification");
        // The summary is plain text to notification daemons; only the body may be read as markup.
        assert_eq!(summary, "Slack disconnected: Acme <Inc>");
        assert!(body.starts_with("Token revoked.") && body.contains("Settings"));
        let (_, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme".into(),
            reason: "token_expired".into(),
        })
        .expect("a notification");
        assert!(
            body.starts_with("The token expired and Slack would not renew it."),
            "{body}"
        );
        let (_, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme".into(),
            reason: "token_revoked".into(),
        })
        .expect("a notification");
        assert!(body.starts_with("The token was revoked"), "{body}");
        assert!(engine_notification(&EngineEvent::Synced { workspace: 1 }).is_none());
        assert!(
            engine_notification(&EngineEvent::BlockEnded {
                workspace: 1,
                team: "Acme".into()
            })
            .is_some()
        );
    }

    #[test]
    fn a_device_name_is_shown_as_text_in_a_notification() {
        assert_eq!(
            escape_markup("<b>Ada</b> & co"),
            "&lt;b&gt;Ada&lt;/b&gt; &amp; co"
        );
    }
}
