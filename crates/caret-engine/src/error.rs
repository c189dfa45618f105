//! The engine's one error type.

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] caret_store::StoreError),
    #[error("the sync engine has stopped")]
    Stopped,
    /// A rotating token could not be refreshed (the reason names what Slack or the keyring said).
    #[error("cannot refresh the Slack token: {0}")]
    TokenRefresh(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;
