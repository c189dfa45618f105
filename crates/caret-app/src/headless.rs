//! `--headless`: the same core as the tray app, with no tray and no window, for a home server or a test. It
//! runs until SIGINT or SIGTERM and then stops cleanly.

use tokio::signal::unix::{SignalKind, signal};

use crate::core::AppCore;
use crate::error::{AppError, Result};

/// Printed (to stderr) once the app is up, so that scripts and tests can wait for it.
pub const READY_LINE: &str = "caret-desktop ready";

/// Runs until a stop signal arrives.
pub async fn run(core: AppCore) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).map_err(AppError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(AppError::Signals)?;
    crate::services::start_all(&core).await?;
    let info = core.info();
    tracing::info!(
        config_dir = %info.config_dir,
        data_dir = %info.data_dir,
        slack_api_url = %info.slack_api_url,
        "{READY_LINE} (headless): {}",
        info.state_line
    );
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
        _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
    }
    if let Ok(services) = core.services() {
        services.stop().await;
    }
    Ok(())
}
