//! Starting the app, for both ways it runs: [`start`] brings up the services and then the control socket
//! (the tray app calls it, then builds its tray); [`run_headless`] is `--headless`, the same core with no
//! tray and no window, for a home server or a test, until SIGINT or SIGTERM, then a clean stop.

use tokio::signal::unix::{SignalKind, signal};

use crate::error::{AppError, Result};
use crate::runtime::core::AppCore;

/// Printed (to stderr) once the app is up, so that scripts and tests can wait for it.
pub const READY_LINE: &str = "caret-desktop ready";

/// Starts the services, attaches them to the core and opens the control socket. A control socket that
/// cannot open is logged (the CLI then cannot reach this instance) but does not stop the app.
pub async fn start(core: &AppCore) -> Result<()> {
    let services = crate::runtime::services::Services::start(core).await?;
    core.attach_services(services);
    if let Err(error) = crate::control::start(core.clone()) {
        tracing::error!("the command line cannot reach this instance: {error}");
    }
    Ok(())
}

/// `--headless`: runs until a stop signal arrives.
pub async fn run_headless(core: AppCore) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).map_err(AppError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(AppError::Signals)?;
    start(&core).await?;
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
