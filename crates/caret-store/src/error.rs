//! The one error type of the store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "the database was written by a newer Caret Desktop (schema {found}, this one knows up to {known}); update the app"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("stored JSON in {column} cannot be read: {source}")]
    Json {
        column: &'static str,
        source: serde_json::Error,
    },
    #[error("cannot put the database's last commits on the disk ({path}): {source}")]
    Sync { path: PathBuf, source: std::io::Error },
    #[error("no workspace with id {0}")]
    NoSuchWorkspace(i64),
    #[error("cannot write the export: {0}")]
    Export(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;
