//! The sync log as the window and the command line read it. A page can be 10,000 rows and an export every
//! row: both run on the blocking pool (never on the async threads that serve the relay and the engine) and on
//! the store's reader connection (never in the writer's way).

use std::path::PathBuf;

use caret_store::{LogEntry, LogFilter, Store};
use chrono::{DateTime, Local};

use super::export::{ExportFormat, ExportedLog, export_log};
use crate::error::Result;

/// Rows matching `filter`, newest first.
pub async fn page(store: &Store, filter: LogFilter) -> Result<Vec<LogEntry>> {
    let store = store.clone();
    Ok(crate::blocking::run("reading the sync log", move || store.query_log(&filter)).await??)
}

/// Writes every row `filter` selects to a new file in `dir` (see [`export_log`]).
pub async fn export(
    store: &Store,
    filter: LogFilter,
    format: ExportFormat,
    dir: PathBuf,
    now: DateTime<Local>,
) -> Result<ExportedLog> {
    let store = store.clone();
    crate::blocking::run("exporting the sync log", move || {
        export_log(&store, &filter, format, &dir, now)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_is_read_newest_first_off_the_runtime() {
        let store = Store::open_in_memory().unwrap();
        for at_ms in [1, 2, 3] {
            store
                .append_log(&caret_store::NewLogEntry {
                    at_ms,
                    outcome: "ok".into(),
                    ..caret_store::NewLogEntry::default()
                })
                .unwrap();
        }
        let rows = page(&store, LogFilter::default()).await.unwrap();
        assert_eq!(rows.iter().map(|row| row.at_ms).collect::<Vec<_>>(), [3, 2, 1]);
    }
}
