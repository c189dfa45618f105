//! The engine's one error type.

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] caret_store::StoreError),
    #[error("the sync engine has stopped")]
    Stopped,
    /// A rotating token could not be refreshed: `reason` names what Slack or the keyring said; `may_recover`:
    /// trying again later may work (Slack or the keyring in trouble), rather than a refusal.
    #[error("cannot refresh the Slack token: {reason}")]
    TokenRefresh { reason: String, may_recover: bool },
}

pub type Result<T> = std::result::Result<T, EngineError>;
