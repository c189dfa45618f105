//! The sync log: one row per input event and per Slack call, for the sync log window and for export.

use std::io::Write;

use rusqlite::{Row, ToSql, params_from_iter};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Result, StoreError};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LogKind {
    /// Something happened that may change what Slack should show (phone state, manual status, policy…).
    Input,
    /// A call to Slack.
    Call,
    /// Something the engine decided not to do, and why (another app's status left alone, paused…).
    Note,
}

impl LogKind {
    fn as_str(self) -> &'static str {
        match self {
            LogKind::Input => "input",
            LogKind::Call => "call",
            LogKind::Note => "note",
        }
    }

    fn parse(text: &str) -> LogKind {
        match text {
            "input" => LogKind::Input,
            "call" => LogKind::Call,
            _ => LogKind::Note,
        }
    }
}

/// A row to append. Nothing here may hold a token: `sent` is the status fields or presence we sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewLogEntry {
    pub at_ms: i64,
    pub kind: Option<LogKind>,
    pub source: String,
    pub workspace_id: Option<i64>,
    pub workspace: Option<String>,
    pub state: Option<String>,
    pub policy: Option<String>,
    pub method: Option<String>,
    pub sent: Option<String>,
    pub outcome: String,
    pub latency_ms: Option<i64>,
    pub retries: i64,
    pub error: Option<String>,
}

/// A stored row, as the UI and exports see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogEntry {
    #[ts(type = "number")]
    pub id: i64,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub at_ms: i64,
    pub kind: LogKind,
    pub source: String,
    #[ts(type = "number | null")]
    pub workspace_id: Option<i64>,
    pub workspace: Option<String>,
    pub state: Option<String>,
    pub policy: Option<String>,
    pub method: Option<String>,
    pub sent: Option<String>,
    pub outcome: String,
    #[ts(type = "number | null")]
    pub latency_ms: Option<i64>,
    #[ts(type = "number")]
    pub retries: i64,
    pub error: Option<String>,
    /// A Slack call that did not succeed, or a row with an error (what "problems only" selects).
    pub problem: bool,
}

/// What the sync log window asks for. Results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogFilter {
    #[ts(type = "number | null")]
    pub workspace_id: Option<i64>,
    /// Exact outcome ("ok", "ratelimited", …).
    pub outcome: Option<String>,
    /// Only problems: Slack calls that did not succeed, and rows with an error.
    #[serde(default)]
    pub problems_only: bool,
    /// Case-insensitive substring of the state, policy, method, what was sent, outcome, error or workspace.
    pub text: Option<String>,
    /// Rows older than this id (for paging back).
    #[ts(type = "number | null")]
    pub before_id: Option<i64>,
    /// Rows newer than this id (for following the log).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub after_id: Option<i64>,
    /// At most this many rows (default 200, at most 10 000).
    pub limit: Option<u32>,
}

/// How much log to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: i64,
    pub max_rows: i64,
}

impl Default for Retention {
    /// 30 days or 100 000 rows, whichever is less.
    fn default() -> Self {
        Retention {
            max_age_ms: 30 * 24 * 3600 * 1000,
            max_rows: 100_000,
        }
    }
}

/// The outcome of a write whose answer a restart cut off, found in Slack when it was looked at again: it
/// succeeded, so it is no problem.
pub const OUTCOME_REACHED_BEFORE_RESTART: &str = "reached Slack before the restart";

/// Inserts one sync log row (inside whatever transaction `connection` is in) and returns its id.
pub(crate) fn insert_log(connection: &rusqlite::Connection, entry: &NewLogEntry) -> Result<i64> {
    connection.execute(
        "INSERT INTO sync_log (at, kind, source, workspace_id, workspace, state, policy, method, sent, outcome, latency_ms, retries, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        rusqlite::params![
            entry.at_ms,
            entry.kind.unwrap_or(LogKind::Note).as_str(),
            entry.source,
            entry.workspace_id,
            entry.workspace,
            entry.state,
            entry.policy,
            entry.method,
            entry.sent,
            entry.outcome,
            entry.latency_ms,
            entry.retries,
            entry.error,
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// What counts as a problem, in one place: a Slack call that did not succeed, or anything that carries an
/// error. An input's or a note's outcome ("manual status set", "paused: nothing sent") is not one.
macro_rules! problem_sql {
    () => {
        "(error IS NOT NULL OR (kind = 'call' AND outcome NOT IN ('ok', 'reached Slack before the restart')))"
    };
}
const PROBLEM: &str = problem_sql!();

const COLUMNS: &str = concat!(
    "id, at, kind, source, workspace_id, workspace, state, policy, method, sent, outcome, latency_ms, retries, error, ",
    problem_sql!(),
    " AS problem"
);

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    let kind: String = row.get(2)?;
    Ok(LogEntry {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        kind: LogKind::parse(&kind),
        source: row.get(3)?,
        workspace_id: row.get(4)?,
        workspace: row.get(5)?,
        state: row.get(6)?,
        policy: row.get(7)?,
        method: row.get(8)?,
        sent: row.get(9)?,
        outcome: row.get(10)?,
        latency_ms: row.get(11)?,
        retries: row.get(12)?,
        error: row.get(13)?,
        problem: row.get(14)?,
    })
}

/// `LIKE` with the user's text taken literally.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

fn where_clause(filter: &LogFilter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(id) = filter.workspace_id {
        conditions.push("workspace_id = ?".into());
        values.push(Box::new(id));
    }
    if let Some(outcome) = &filter.outcome {
        conditions.push("outcome = ?".into());
        values.push(Box::new(outcome.clone()));
    }
    if filter.problems_only {
        conditions.push(PROBLEM.into());
    }
    if let Some(text) = filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let columns = [
            "state",
            "policy",
            "method",
            "sent",
            "outcome",
            "error",
            "workspace",
            "source",
        ];
        let any = columns
            .iter()
            .map(|c| format!("{c} LIKE ? ESCAPE '\\'"))
            .collect::<Vec<_>>()
            .join(" OR ");
        conditions.push(format!("({any})"));
        for _ in columns {
            values.push(Box::new(like_pattern(text)));
        }
    }
    if let Some(before) = filter.before_id {
        conditions.push("id < ?".into());
        values.push(Box::new(before));
    }
    if let Some(after) = filter.after_id {
        conditions.push("id > ?".into());
        values.push(Box::new(after));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (clause, values)
}

impl Store {
    /// Appends a row; returns its id.
    pub fn append_log(&self, entry: &NewLogEntry) -> Result<i64> {
        self.with_bookkeeping(|connection| insert_log(connection, entry))
            .inspect(|id| self.announce_log_row(*id))
    }

    /// Tells the watchers of the sync log that row `id` was written.
    pub(crate) fn announce_log_row(&self, id: i64) {
        // Appends from two threads may finish out of order: the watched id only ever grows.
        self.newest_log_id.send_if_modified(|newest| {
            let grew = id > *newest;
            if grew {
                *newest = id;
            }
            grew
        });
    }

    /// A receiver of the newest sync log row's id: it changes whenever a row is appended.
    pub fn watch_log(&self) -> tokio::sync::watch::Receiver<i64> {
        self.newest_log_id.subscribe()
    }

    /// Rows matching `filter`, newest first.
    pub fn query_log(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        let limit = filter.limit.unwrap_or(200).clamp(1, 10_000);
        let (clause, values) = where_clause(filter);
        let sql = format!("SELECT {COLUMNS} FROM sync_log {clause} ORDER BY id DESC LIMIT {limit}");
        self.with_reader(|connection| {
            let mut statement = connection.prepare(&sql)?;
            let rows = statement.query_map(params_from_iter(values.iter()), entry_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Deletes rows older than the retention age, then the oldest beyond the row limit. Returns how many.
    pub fn prune_log(&self, retention: Retention, now_ms: i64) -> Result<usize> {
        self.with_long(|connection| {
            let by_age = connection.execute("DELETE FROM sync_log WHERE at < ?1", [now_ms - retention.max_age_ms])?;
            let by_count = connection.execute(
                "DELETE FROM sync_log WHERE id <= (SELECT id FROM sync_log ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                [retention.max_rows],
            )?;
            Ok(by_age + by_count)
        })
    }

    /// Every matching row, oldest first, one JSON object per line.
    pub fn export_log_jsonl(&self, filter: &LogFilter, out: &mut dyn Write) -> Result<usize> {
        let rows = self.export_rows(filter)?;
        for row in &rows {
            let line = serde_json::to_string(row).map_err(|e| StoreError::Export(e.to_string()))?;
            writeln!(out, "{line}").map_err(|e| StoreError::Export(e.to_string()))?;
        }
        Ok(rows.len())
    }

    /// Every matching row, oldest first, as CSV with a header line.
    pub fn export_log_csv(&self, filter: &LogFilter, out: &mut dyn Write) -> Result<usize> {
        let rows = self.export_rows(filter)?;
        let mut writer = csv::Writer::from_writer(out);
        for row in &rows {
            writer
                .serialize(row)
                .map_err(|e| StoreError::Export(e.to_string()))?;
        }
        writer.flush().map_err(|e| StoreError::Export(e.to_string()))?;
        Ok(rows.len())
    }

    fn export_rows(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        // Every matching row, not the page the window happens to show.
        let (clause, values) = where_clause(&LogFilter {
            limit: None,
            before_id: None,
            after_id: None,
            ..filter.clone()
        });
        let sql = format!("SELECT {COLUMNS} FROM sync_log {clause} ORDER BY id ASC");
        self.with_reader(|connection| {
            let mut statement = connection.prepare(&sql)?;
            let rows = statement.query_map(params_from_iter(values.iter()), entry_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: i64, workspace_id: i64, outcome: &str, state: &str) -> NewLogEntry {
        NewLogEntry {
            at_ms,
            kind: Some(LogKind::Call),
            source: "engine".into(),
            workspace_id: Some(workspace_id),
            workspace: Some(format!("Team {workspace_id}")),
            state: Some(state.into()),
            policy: Some("trusted".into()),
            method: Some("users.profile.set".into()),
            sent: Some(format!(r#"{{"status_text":"{state}"}}"#)),
            outcome: outcome.into(),
            latency_ms: Some(12),
            retries: 0,
            error: None,
        }
    }

    fn store_with_rows() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.append_log(&entry(1_000, 1, "ok", "in_call")).unwrap();
        store
            .append_log(&entry(2_000, 2, "ratelimited", "driving"))
            .unwrap();
        store
            .append_log(&entry(3_000, 1, "token_revoked", "walking"))
            .unwrap();
        store.append_log(&entry(4_000, 2, "ok", "100%_sure")).unwrap();
        store
    }

    #[test]
    fn followers_see_each_new_row_and_can_ask_for_what_came_after() {
        let store = store_with_rows();
        let mut newest = store.watch_log();
        assert_eq!(
            *newest.borrow_and_update(),
            4,
            "the newest id is known from the start"
        );
        let id = store.append_log(&entry(5_000, 1, "ok", "sleeping")).unwrap();
        assert!(newest.has_changed().unwrap());
        assert_eq!(*newest.borrow_and_update(), id);
        let after = store
            .query_log(&LogFilter {
                after_id: Some(3),
                ..LogFilter::default()
            })
            .unwrap();
        let ids: Vec<i64> = after.iter().map(|row| row.id).collect();
        assert_eq!(ids, vec![5, 4]);
        let reopened_newest = Store::open_in_memory().unwrap().watch_log();
        assert_eq!(*reopened_newest.borrow(), 0, "an empty log starts at 0");
    }

    #[test]
    fn queries_come_newest_first_and_filter_by_workspace_outcome_and_text() {
        let store = store_with_rows();
        let all = store.query_log(&LogFilter::default()).unwrap();
        assert_eq!(
            all.iter().map(|e| e.at_ms).collect::<Vec<_>>(),
            [4_000, 3_000, 2_000, 1_000]
        );
        let one = store
            .query_log(&LogFilter {
                workspace_id: Some(1),
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(one.len(), 2);
        let limited = store
            .query_log(&LogFilter {
                outcome: Some("ratelimited".into()),
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(limited[0].state.as_deref(), Some("driving"));
        let problems = store
            .query_log(&LogFilter {
                problems_only: true,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(problems.len(), 2);
        assert!(problems.iter().all(|row| row.problem));
        // An input's outcome describes it; it is not a problem unless it carries an error.
        store
            .append_log(&NewLogEntry {
                at_ms: 5_000,
                kind: Some(LogKind::Input),
                source: "cli".into(),
                outcome: "manual status set".into(),
                ..NewLogEntry::default()
            })
            .unwrap();
        let problems_after_input = store
            .query_log(&LogFilter {
                problems_only: true,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(problems_after_input.len(), 2, "an input is not a problem");
        store
            .append_log(&NewLogEntry {
                kind: Some(LogKind::Call),
                source: "engine".into(),
                method: Some("users.profile.set".into()),
                outcome: OUTCOME_REACHED_BEFORE_RESTART.into(),
                ..NewLogEntry::default()
            })
            .unwrap();
        let problems_after_adoption = store
            .query_log(&LogFilter {
                problems_only: true,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(
            problems_after_adoption.len(),
            2,
            "a write found in Slack after a restart succeeded"
        );
        assert!(PROBLEM.contains(OUTCOME_REACHED_BEFORE_RESTART), "one wording");
        let text = store
            .query_log(&LogFilter {
                text: Some("WALK".into()),
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(text.len(), 1, "case-insensitive");
        let literal = store
            .query_log(&LogFilter {
                text: Some("0%_".into()),
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(literal.len(), 1, "% and _ are literal");
    }

    #[test]
    fn paging_back_with_before_id_and_limit() {
        let store = store_with_rows();
        let first = store
            .query_log(&LogFilter {
                limit: Some(2),
                ..LogFilter::default()
            })
            .unwrap();
        let next = store
            .query_log(&LogFilter {
                limit: Some(2),
                before_id: Some(first[1].id),
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(next.iter().map(|e| e.at_ms).collect::<Vec<_>>(), [2_000, 1_000]);
    }

    #[test]
    fn retention_drops_old_rows_then_rows_beyond_the_limit() {
        let store = store_with_rows();
        let deleted = store
            .prune_log(
                Retention {
                    max_age_ms: 2_500,
                    max_rows: 100,
                },
                5_000,
            )
            .unwrap();
        assert_eq!(deleted, 2, "rows older than 2.5 s at t=5 s");
        let deleted = store
            .prune_log(
                Retention {
                    max_age_ms: 1_000_000,
                    max_rows: 1,
                },
                5_000,
            )
            .unwrap();
        assert_eq!(deleted, 1);
        let left = store.query_log(&LogFilter::default()).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].at_ms, 4_000, "the newest stays");
    }

    #[test]
    fn exports_are_oldest_first_in_json_lines_and_csv() {
        let store = store_with_rows();
        let mut jsonl = Vec::new();
        assert_eq!(
            store.export_log_jsonl(&LogFilter::default(), &mut jsonl).unwrap(),
            4
        );
        let lines: Vec<LogEntry> = String::from_utf8(jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0].at_ms, 1_000);
        assert_eq!(lines[1].outcome, "ratelimited");

        let mut csv_bytes = Vec::new();
        store
            .export_log_csv(
                &LogFilter {
                    workspace_id: Some(2),
                    ..LogFilter::default()
                },
                &mut csv_bytes,
            )
            .unwrap();
        let csv_text = String::from_utf8(csv_bytes).unwrap();
        let mut lines = csv_text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "id,at_ms,kind,source,workspace_id,workspace,state,policy,method,sent,outcome,latency_ms,retries,error,problem"
        );
        assert_eq!(lines.count(), 2);
        assert!(
            csv_text.contains(r#""{""status_text"":""driving""}""#),
            "JSON in a cell is quoted: {csv_text}"
        );
    }
}
