//! The desktop keyring (the Secret Service on Linux), the only place the app keeps secrets: Slack tokens
//! (`slack/credentials.rs` says their format) and calendars' secret addresses. Every secret is one text under
//! the service `caret-desktop` and an account naming what it is for (`slack:TEAM:USER`, `calendar:ID`).
//!
//! Keyring calls are D-Bus round trips that may wait for the user to unlock the keyring: the async ones run
//! on the blocking pool, never on the async threads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, KeyringAction, Result};

/// The keyring's service name for every secret of the app.
pub const KEYRING_SERVICE: &str = "caret-desktop";

fn keyring_error(action: KeyringAction) -> impl FnOnce(keyring::Error) -> AppError {
    move |source| match source {
        // The keyring library connects to the Secret Service once per process: one that was missing then
        // stays missing for this run.
        keyring::Error::NoDefaultStore
        | keyring::Error::PlatformFailure(_)
        | keyring::Error::NoStorageAccess(_) => AppError::KeyringUnavailable { action, source },
        source => AppError::Keyring { action, source },
    }
}

async fn off_the_runtime<T: Send + 'static>(
    call: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<keyring::Result<T>> {
    crate::blocking::run("a call to the keyring", call).await
}

/// Keeps `text` for `account`, replacing what was there in one call.
pub(crate) async fn store(account: String, text: String) -> Result<()> {
    off_the_runtime(move || {
        keyring::Entry::new(KEYRING_SERVICE, &account).and_then(|entry| entry.set_password(&text))
    })
    .await?
    .map_err(keyring_error(KeyringAction::Write))
}

/// Deletes what is kept for `account`; nothing there is fine.
pub(crate) async fn delete(account: String) -> Result<()> {
    match off_the_runtime(move || {
        keyring::Entry::new(KEYRING_SERVICE, &account).and_then(|entry| entry.delete_credential())
    })
    .await?
    {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(error) => Err(keyring_error(KeyringAction::Delete)(error)),
    }
}

/// What is kept for `account`, blocking; `Ok(None)` when nothing is.
pub(crate) fn read_blocking(account: &str) -> Result<Option<String>> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, account).map_err(keyring_error(KeyringAction::Read))?;
    match entry.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(error) => Err(keyring_error(KeyringAction::Read)(error)),
    }
}

/// A secret typed or pasted by the user (a Slack token, a calendar's address), on its way to the keyring:
/// never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PastedSecret(String);

impl PastedSecret {
    pub fn new(text: impl Into<String>) -> PastedSecret {
        PastedSecret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PastedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PastedSecret(…redacted)")
    }
}
