//! Desktop notifications as the notification daemon receives them: a D-Bus monitor on the session bus
//! (`org.freedesktop.DBus.Monitoring.BecomeMonitor`) that records every `org.freedesktop.Notifications.Notify`
//! call, whoever sends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use zbus::zvariant::OwnedValue;
use zbus::{Connection, MessageStream};

/// One notification: its summary and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub app: String,
    pub summary: String,
    pub body: String,
}

/// Records the notifications sent on the session bus from its start.
pub struct NotificationMonitor {
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

type NotifyArgs = (
    String,
    u32,
    String,
    String,
    String,
    Vec<String>,
    HashMap<String, OwnedValue>,
    i32,
);

impl NotificationMonitor {
    pub async fn start() -> NotificationMonitor {
        crate::require_desktop_session();
        let connection = Connection::session().await.expect("session bus");
        let rule = "type='method_call',interface='org.freedesktop.Notifications',member='Notify'";
        connection
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus.Monitoring"),
                "BecomeMonitor",
                &(vec![rule], 0u32),
            )
            .await
            .expect("become a D-Bus monitor");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let task = tokio::spawn(async move {
            let mut stream = MessageStream::from(&connection);
            while let Some(Ok(message)) = stream.next().await {
                let header = message.header();
                if header.member().map(|member| member.as_str()) != Some("Notify") {
                    continue;
                }
                if let Ok((app, _, _, summary, body, ..)) = message.body().deserialize::<NotifyArgs>() {
                    recorded
                        .lock()
                        .expect("seen lock")
                        .push(Seen { app, summary, body });
                }
            }
        });
        NotificationMonitor { seen, task }
    }

    /// Waits for a notification whose summary contains `summary` and body contains `body`.
    pub async fn wait_for(&self, summary: &str, body: &str, timeout: Duration) -> Seen {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self
                .seen
                .lock()
                .expect("seen lock")
                .iter()
                .find(|seen| seen.summary.contains(summary) && seen.body.contains(body))
                .cloned();
            if let Some(found) = found {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no notification {summary:?} / {body:?} within {timeout:?}; seen: {:?}",
                self.seen.lock().expect("seen lock")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for NotificationMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}
