//! Exporting the sync log from the Sync log window: the rows the window's filter selects, oldest first, as
//! JSON lines or CSV, into a new file in the user's Downloads folder (the window then says where). A new
//! name each time, written beside and renamed into place, so an export never overwrites or half-writes a file.

use std::path::{Path, PathBuf};

use caret_store::{LogFilter, Store};
use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{AppError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Where an export went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ExportedLog {
    pub path: String,
    pub rows: u32,
}

/// The user's Downloads folder, else their home, else the current directory.
pub fn export_dir() -> PathBuf {
    let user = directories::UserDirs::new();
    user.as_ref()
        .and_then(|dirs| dirs.download_dir().map(Path::to_path_buf))
        .filter(|dir| dir.is_dir())
        .or_else(|| user.as_ref().map(|dirs| dirs.home_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Writes the rows `filter` selects (all of them, not one page) into a new file in `dir`.
pub fn export_log(
    store: &Store,
    filter: &LogFilter,
    format: ExportFormat,
    dir: &Path,
    now: DateTime<Local>,
) -> Result<ExportedLog> {
    let stem = format!("caret-sync-log-{}", now.format("%Y%m%d-%H%M%S"));
    let target = (0..100)
        .map(|n| match n {
            0 => dir.join(format!("{stem}.{}", format.extension())),
            n => dir.join(format!("{stem}-{n}.{}", format.extension())),
        })
        .find(|path| !path.exists())
        .ok_or_else(|| AppError::Refused(format!("too many exports named {stem} in {}", dir.display())))?;
    let partial = target.with_extension("partial");
    let fail = |path: &Path, reason: String| AppError::Export {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::create(&partial).map_err(|error| fail(&partial, error.to_string()))?;
    let rows = match format {
        ExportFormat::Jsonl => store.export_log_jsonl(filter, &mut file),
        ExportFormat::Csv => store.export_log_csv(filter, &mut file),
    };
    let rows = match rows.and_then(|rows| {
        file.sync_all()
            .map(|()| rows)
            .map_err(|e| caret_store::StoreError::Export(e.to_string()))
    }) {
        Ok(rows) => rows,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(fail(&target, error.to_string()));
        }
    };
    std::fs::rename(&partial, &target).map_err(|error| fail(&target, error.to_string()))?;
    Ok(ExportedLog {
        path: target.display().to_string(),
        rows: u32::try_from(rows).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use caret_store::{LogKind, NewLogEntry};

    fn store() -> Store {
        let store = Store::open_in_memory().unwrap();
        for (at, outcome) in [(1_000, "ok"), (2_000, "ratelimited"), (3_000, "ok")] {
            store
                .append_log(&NewLogEntry {
                    at_ms: at,
                    kind: Some(LogKind::Call),
                    source: "engine".into(),
                    outcome: outcome.into(),
                    method: Some("users.profile.set".into()),
                    ..NewLogEntry::default()
                })
                .unwrap();
        }
        store
    }

    #[test]
    fn an_export_holds_the_filtered_rows_oldest_first_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let now = Local::now();
        let problems = LogFilter {
            problems_only: true,
            ..LogFilter::default()
        };
        let first = export_log(&store(), &problems, ExportFormat::Jsonl, dir.path(), now).unwrap();
        assert_eq!(first.rows, 1);
        let text = std::fs::read_to_string(&first.path).unwrap();
        assert!(text.contains("ratelimited") && !text.contains("\"ok\""), "{text}");

        let second = export_log(
            &store(),
            &LogFilter::default(),
            ExportFormat::Csv,
            dir.path(),
            now,
        )
        .unwrap();
        let third = export_log(
            &store(),
            &LogFilter::default(),
            ExportFormat::Csv,
            dir.path(),
            now,
        )
        .unwrap();
        assert_ne!(
            second.path, third.path,
            "a second export in the same second gets its own name"
        );
        let csv = std::fs::read_to_string(&third.path).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "a header and three rows: {csv}");
        assert!(
            lines[1].contains("1000") && lines[3].contains("3000"),
            "oldest first: {csv}"
        );
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().path().extension() == Some("partial".as_ref()))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn an_unwritable_folder_is_a_clear_error() {
        let error = export_log(
            &store(),
            &LogFilter::default(),
            ExportFormat::Csv,
            Path::new("/nonexistent/caret"),
            Local::now(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("/nonexistent/caret"), "{error}");
    }
}
