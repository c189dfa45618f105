//! The engine's one error type.

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] caret_store::StoreError),
    #[error("the sync engine has stopped")]
    Stopped,
}

pub type Result<T> = std::result::Result<T, EngineError>;
