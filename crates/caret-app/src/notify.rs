//! Desktop notifications (freedesktop, over D-Bus). A missing notification daemon is logged, never fatal:
//! a tray app on a minimal desktop must keep working.

/// Shows a notification; waits for the daemon's answer off the async threads.
pub async fn show(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    let shown = tokio::task::spawn_blocking(move || {
        notify_rust::Notification::new()
            .appname("Caret Desktop")
            .summary(&summary)
            .body(&body)
            .icon("dialog-information")
            .show()
            .map(|_| ())
    })
    .await;
    match shown {
        Ok(Ok(())) => tracing::info!("notification shown"),
        Ok(Err(error)) => {
            tracing::warn!("no notification shown (is a notification daemon running?): {error}")
        }
        Err(error) => tracing::warn!("no notification shown: {error}"),
    }
}
