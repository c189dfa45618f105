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
    let fail = |path: &Path, reason: String| AppError::Export {
        path: path.to_path_buf(),
        reason,
    };
    // Written to a hidden file of its own first (create_new: never someone else's), flushed, then linked
    // under a name that is free: a hard link fails rather than replace an existing file.
    let partial = dir.join(format!(
        ".{stem}.{}.{}.partial",
        format.extension(),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|error| fail(&partial, error.to_string()))?;
    let written = match format {
        ExportFormat::Jsonl => store.export_log_jsonl(filter, &mut file),
        ExportFormat::Csv => store.export_log_csv(filter, &mut file),
    }
    .map_err(|error| error.to_string())
    .and_then(|rows| file.sync_all().map(|()| rows).map_err(|error| error.to_string()));
    drop(file);
    let outcome = written.and_then(|rows| {
        for n in 0..100 {
            let target = match n {
                0 => dir.join(format!("{stem}.{}", format.extension())),
                n => dir.join(format!("{stem}-{n}.{}", format.extension())),
            };
            match std::fs::hard_link(&partial, &target) {
                Ok(()) => return Ok((target, rows)),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                // A file system without hard links (a FAT stick): rename, having checked the name is free.
                Err(_) if !target.exists() => {
                    return std::fs::rename(&partial, &target)
                        .map(|()| (target, rows))
                        .map_err(|error| error.to_string());
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Err(format!("too many exports named {stem}"))
    });
    let _ = std::fs::remove_file(&partial);
    let (target, rows) = outcome.map_err(|reason| fail(dir, reason))?;
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
        let exports = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(exports, 3, "three exports, three files, none replaced");
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
