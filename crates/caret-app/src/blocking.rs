//! Work that blocks (the keyring's D-Bus round trips, which may wait for the user to unlock it; the sync log's
//! large queries and exports) runs on the async runtime's blocking pool, never on the async threads that
//! serve the relay, the engine and the control socket.

use crate::error::{AppError, Result};

/// Runs `call` on the blocking pool and waits for it; `work` names it if it never comes back (the app is
/// stopping, or it panicked).
pub(crate) async fn run<T: Send + 'static>(
    work: &'static str,
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|error| AppError::Interrupted {
            work,
            reason: error.to_string(),
        })
}
