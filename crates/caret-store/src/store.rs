//! [`Store`]: workspaces, inputs, per-workspace sync state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caret_core::WorkspaceSettings;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Result, StoreError};
use crate::migrations;

pub type WorkspaceId = i64;

/// How long recorded call attempts are kept (only the last minute is ever read).
const ATTEMPTS_KEPT_MS: i64 = 10 * 60 * 1000;

/// A connected (or once-connected) Slack workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Workspace {
    #[ts(type = "number")]
    pub id: WorkspaceId,
    pub team_id: String,
    pub user_id: String,
    pub team_name: String,
    pub user_name: String,
    pub settings: WorkspaceSettings,
    pub connected: bool,
    pub disconnect_reason: Option<String>,
    #[ts(type = "number")]
    pub created_at_ms: i64,
    /// The scopes Slack granted the token (`None`: not known, connected before they were kept).
    pub granted_scopes: Option<Vec<String>>,
    /// Whether the user wants a direct message to themselves when a phone pairs or this workspace's policy
    /// becomes less private.
    pub security_notices: bool,
}

/// A custom status exactly as Slack holds it (Unix-seconds expiration, 0 for never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub text: String,
    pub emoji: String,
    pub expiration: i64,
}

/// A write the engine started. After a crash, Slack may or may not have applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// The status we were setting (`None`: we were clearing ours).
    pub status: Option<StatusRecord>,
    /// What was ours before the write, to recognise either outcome.
    pub previous: Option<StatusRecord>,
}

/// What the engine persists per workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The status we last set and Slack confirmed; `None` when no status of ours is in Slack.
    pub applied_status: Option<StatusRecord>,
    /// "auto" or "away" as we last set it; `None` if we never set presence.
    pub applied_presence: Option<String>,
    pub applied_at_ms: Option<i64>,
    pub in_flight: Option<InFlight>,
}

/// A cheap-to-clone handle on the database. Every method is a synchronous call that never holds a lock across
/// an `.await`. What it does on the connection is short (a bookkeeping commit takes microseconds, an input's
/// commit one fsync) and runs in place when the connection is free; a call that finds it taken (the engine's
/// commit, the hourly pruning) waits for it, and does its work, off the async runtime's worker
/// ([`off_the_async_workers`]), so the relay's and the engine's other tasks go on meanwhile. The long ones (the
/// pruning, the sync log's queries and exports) always step off. Two connections, each behind a parking_lot
/// `Mutex` (no poisoning to handle: a panic mid-statement cannot leave SQLite inconsistent, its statements
/// being atomic): the writer, for everything the engine, the relay and the app read and write, and a reader for
/// the sync log's queries, so that a 10,000-row page for the window never holds up a device check or the
/// engine's commit (WAL lets the reader read while the writer writes).
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    /// The sync log's queries; the writer itself for an in-memory database (it cannot be opened twice).
    reader: Arc<Mutex<Connection>>,
    /// The id of the newest sync log row, so the sync log window and `caret-desktop log --follow` are told of
    /// new rows without polling the database.
    pub(crate) newest_log_id: Arc<tokio::sync::watch::Sender<i64>>,
    /// The write-ahead log's file (`None` in memory): [`Store::sync_to_disk`] flushes it.
    wal_path: Option<Arc<PathBuf>>,
}

/// Runs blocking work (a wait on the database's lock, a long query; the app's keyring calls too) without
/// stalling the async runtime: on a multi-threaded runtime's worker, tokio hands that worker's other tasks to
/// another thread for the duration (`block_in_place`), so a device check waiting behind the engine's commit
/// never holds up a phone's frames. That hand-over has a price (a thread taken from, or started in, the
/// blocking pool: `bench-app` measured the relay's ack going from about 1 ms to over 10 ms at p50 when every
/// call paid it), so the store pays it only when it must wait. Elsewhere (a blocking-pool or plain thread, a
/// current-thread runtime as in the CLI and the unit tests) it runs in place.
pub fn off_the_async_workers<T>(call: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

/// Runs `work` on the connection: in place if it is free, or else waiting for it off the async workers.
fn on<T>(connection: &Mutex<Connection>, work: impl FnOnce(&Connection) -> T) -> T {
    match connection.try_lock() {
        Some(free) => work(&free),
        None => off_the_async_workers(|| work(&connection.lock())),
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Our own types always serialise; a failure would be a bug caught by the tests.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// An update of one workspace's row: none changed means there is no such workspace.
fn one_workspace(changed: usize, id: WorkspaceId) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NoSuchWorkspace(id))
    } else {
        Ok(())
    }
}

fn split_scopes(scopes: &str) -> Vec<String> {
    scopes
        .split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn from_json<T: DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| StoreError::Json { column, source })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let to_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(to_error)?;
        // WAL lets the UI read while the engine writes; FULL makes a committed change survive kill -9 and
        // power loss alike. The engine's and the relay's bookkeeping opts out of the fsync, not of the
        // commit: see `with_bookkeeping`.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(to_error)?;
        // A file system without shared memory keeps the rollback journal: then every commit syncs at its
        // end (NORMAL does too in that mode), and there is no write-ahead log to sync later.
        let journal: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(to_error)?;
        let mut store = Store::prepare(connection)?;
        // Opened after the writer has brought the schema up to date; read-only, so it can never write.
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(to_error)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        store.reader = Arc::new(Mutex::new(reader));
        if journal.eq_ignore_ascii_case("wal") {
            let mut wal_path = path.as_os_str().to_owned();
            wal_path.push("-wal");
            store.wal_path = Some(Arc::new(PathBuf::from(wal_path)));
        } else {
            tracing::warn!(
                journal,
                "the database could not use a write-ahead log; every commit waits for the disk"
            );
        }
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> Result<Store> {
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&mut connection)?;
        let newest: i64 =
            connection.query_row("SELECT COALESCE(MAX(id), 0) FROM sync_log", [], |row| row.get(0))?;
        let connection = Arc::new(Mutex::new(connection));
        Ok(Store {
            reader: connection.clone(),
            connection,
            newest_log_id: Arc::new(tokio::sync::watch::channel(newest).0),
            wal_path: None,
        })
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        on(&self.connection, f)
    }

    /// Work that may take long whatever else is going on (deleting many rows): always off the async workers.
    pub(crate) fn with_long<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        off_the_async_workers(|| f(&self.connection.lock()))
    }

    /// For the engine's and the relay's own bookkeeping (in-flight and applied records, budget attempts, the
    /// sync log's rows, a device's last-seen time): committed before the caller goes on, so it survives a
    /// `kill -9` like everything else, but without an fsync of its own (`synchronous = NORMAL` for this
    /// commit). It reaches the disk with the next fsync: the next user change (it keeps `FULL`), the sync
    /// that follows the next input ([`Store::sync_to_disk`]), or a checkpoint. A power cut may lose the last moments of it; docs/sync-engine.md says why that is
    /// safe. This keeps one fsync per input on the way from a phone's state to Slack, not one per step.
    pub(crate) fn with_bookkeeping<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        on(&self.connection, |connection| {
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            let result = f(connection);
            // Restored whatever `f` did: every other commit must stay durable. `f`'s own error comes first.
            let restored = connection.pragma_update(None, "synchronous", "FULL");
            let value = result?;
            restored?;
            Ok(value)
        })
    }

    /// The sync log's queries: on the reader connection, beside whatever the writer is doing.
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        off_the_async_workers(|| f(&self.reader.lock()))
    }

    /// `PRAGMA integrity_check`: "ok" for a healthy database.
    pub fn integrity_check(&self) -> Result<String> {
        self.with_long(|c| Ok(c.query_row("PRAGMA integrity_check", [], |row| row.get(0))?))
    }

    // --- workspaces ---

    /// Adds a workspace, or updates the names of the same team and user and marks it connected again.
    pub fn upsert_workspace(
        &self,
        team_id: &str,
        user_id: &str,
        team_name: &str,
        user_name: &str,
        settings: &WorkspaceSettings,
        now_ms: i64,
    ) -> Result<WorkspaceId> {
        self.with(|c| {
            c.execute(
                "INSERT INTO workspaces (team_id, user_id, team_name, user_name, settings, connected, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)
                 ON CONFLICT (team_id, user_id) DO UPDATE SET
                   team_name = excluded.team_name, user_name = excluded.user_name,
                   connected = 1, disconnect_reason = NULL",
                params![team_id, user_id, team_name, user_name, to_json(settings), now_ms],
            )?;
            Ok(c.query_row(
                "SELECT id FROM workspaces WHERE team_id = ?1 AND user_id = ?2",
                params![team_id, user_id],
                |row| row.get(0),
            )?)
        })
    }

    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        self.with(|c| {
            let mut statement = c.prepare(
                "SELECT id, team_id, user_id, team_name, user_name, settings, connected, disconnect_reason, created_at,
                        granted_scopes, security_notices
                 FROM workspaces ORDER BY id",
            )?;
            let rows = statement.query_map([], |row| {
                // The settings are JSON, parsed below where a parse error can say which column it was.
                let settings: String = row.get(5)?;
                let workspace = Workspace {
                    id: row.get(0)?,
                    team_id: row.get(1)?,
                    user_id: row.get(2)?,
                    team_name: row.get(3)?,
                    user_name: row.get(4)?,
                    settings: WorkspaceSettings::default(),
                    connected: row.get(6)?,
                    disconnect_reason: row.get(7)?,
                    created_at_ms: row.get(8)?,
                    granted_scopes: row
                        .get::<_, Option<String>>(9)?
                        .map(|scopes| split_scopes(&scopes)),
                    security_notices: row.get(10)?,
                };
                Ok((settings, workspace))
            })?;
            let mut workspaces = Vec::new();
            for row in rows {
                let (settings, mut workspace) = row?;
                workspace.settings = from_json("workspaces.settings", &settings)?;
                workspaces.push(workspace);
            }
            Ok(workspaces)
        })
    }

    pub fn workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        self.workspaces()?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or(StoreError::NoSuchWorkspace(id))
    }

    pub fn save_settings(&self, id: WorkspaceId, settings: &WorkspaceSettings) -> Result<()> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE workspaces SET settings = ?2 WHERE id = ?1",
                params![id, to_json(settings)],
            )?;
            one_workspace(changed, id)
        })
    }

    /// Marks a workspace disconnected (Slack refused its token) or connected again.
    pub fn set_connected(&self, id: WorkspaceId, connected: bool, reason: Option<&str>) -> Result<()> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE workspaces SET connected = ?2, disconnect_reason = ?3 WHERE id = ?1",
                params![id, connected, reason],
            )?;
            one_workspace(changed, id)
        })
    }

    /// Keeps the scopes Slack granted the workspace's token (from `auth.test`, or narrowed when Slack answered
    /// `missing_scope`).
    pub fn set_granted_scopes(&self, id: WorkspaceId, scopes: &[String]) -> Result<()> {
        self.update_workspace(id, "granted_scopes", &scopes.join(","))
    }

    /// Turns the security notices by direct message on or off.
    pub fn set_security_notices(&self, id: WorkspaceId, on: bool) -> Result<()> {
        self.update_workspace(id, "security_notices", &on)
    }

    fn update_workspace(
        &self,
        id: WorkspaceId,
        column: &'static str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<()> {
        self.with(|c| {
            let changed = c.execute(
                &format!("UPDATE workspaces SET {column} = ?2 WHERE id = ?1"),
                params![id, value],
            )?;
            one_workspace(changed, id)
        })
    }

    pub fn remove_workspace(&self, id: WorkspaceId) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM workspaces WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    // --- inputs ---

    fn write_input(c: &Connection, key: &str, value: &str, now_ms: i64) -> Result<()> {
        c.execute(
            "INSERT INTO inputs (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value, now_ms],
        )?;
        Ok(())
    }

    pub fn save_input<T: Serialize>(&self, key: &str, value: &T, now_ms: i64) -> Result<()> {
        self.with(|c| Store::write_input(c, key, &to_json(value), now_ms))
    }

    /// [`Store::save_input`] and the sync log's row for that input, in one commit that survives `kill -9` at
    /// once but reaches the disk only with [`Store::sync_to_disk`]: the engine hands its workers the input
    /// between the two, so that they look at Slack while the disk catches up, and waits for the disk only
    /// before a write leaves for Slack. Returns the row's id.
    pub fn save_input_with_log<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        now_ms: i64,
        row: &crate::NewLogEntry,
    ) -> Result<i64> {
        let id = self.with_bookkeeping(|c| {
            let transaction = c.unchecked_transaction()?;
            Store::write_input(&transaction, key, &to_json(value), now_ms)?;
            let id = crate::log::insert_log(&transaction, row)?;
            transaction.commit()?;
            Ok(id)
        })?;
        self.announce_log_row(id);
        Ok(id)
    }

    /// Puts every commit made so far on the disk, so that it survives a power cut too: one `fdatasync` of the
    /// write-ahead log, which holds every commit not yet checkpointed (a checkpoint syncs what it moves). Done
    /// outside the connection's lock, so commits go on meanwhile. Blocks for as long as the disk takes (about
    /// a millisecond): call it off the async workers. Nothing to do in memory, nor without a write-ahead log
    /// (every commit then syncs itself).
    pub fn sync_to_disk(&self) -> Result<()> {
        let Some(wal_path) = &self.wal_path else {
            return Ok(());
        };
        // A descriptor of our own on the write-ahead log: SQLite keeps no locks on that file (they are on the
        // database and its -shm), so opening and closing it here cannot drop one. The log exists while the
        // connections are open; its absence is a fault, not "nothing to sync".
        std::fs::File::open(wal_path.as_ref())
            .and_then(|wal| wal.sync_data())
            .map_err(|source| StoreError::Sync {
                path: wal_path.as_ref().clone(),
                source,
            })
    }

    pub fn load_input<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let text: Option<String> = self.with(|c| {
            Ok(
                c.query_row("SELECT value FROM inputs WHERE key = ?1", [key], |row| row.get(0))
                    .optional()?,
            )
        })?;
        text.map(|text| from_json("inputs.value", &text)).transpose()
    }

    // --- sync state ---

    pub fn sync_state(&self, id: WorkspaceId) -> Result<SyncState> {
        type Row = (Option<String>, Option<String>, Option<i64>, Option<String>);
        let row: Option<Row> = self.with(|c| {
            Ok(c.query_row(
                "SELECT applied_status, applied_presence, applied_at, in_flight
                 FROM sync_state WHERE workspace_id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?)
        })?;
        let Some((applied_status, applied_presence, applied_at_ms, in_flight)) = row else {
            return Ok(SyncState::default());
        };
        Ok(SyncState {
            applied_status: applied_status
                .map(|t| from_json("sync_state.applied_status", &t))
                .transpose()?
                .flatten(),
            applied_presence,
            applied_at_ms,
            in_flight: in_flight
                .map(|t| from_json("sync_state.in_flight", &t))
                .transpose()?,
        })
    }

    pub(crate) fn ensure_sync_row(c: &Connection, id: WorkspaceId) -> Result<()> {
        c.execute(
            "INSERT OR IGNORE INTO sync_state (workspace_id) VALUES (?1)",
            [id],
        )?;
        Ok(())
    }

    /// Records a write about to be sent: if the app dies before [`Store::finish_write`], the next start knows
    /// Slack may hold either the old or the new status, and checks before acting.
    pub fn begin_write(&self, id: WorkspaceId, in_flight: &InFlight, now_ms: i64) -> Result<()> {
        self.with_bookkeeping(|c| {
            Store::ensure_sync_row(c, id)?;
            c.execute(
                "UPDATE sync_state SET in_flight = ?2, in_flight_at = ?3 WHERE workspace_id = ?1",
                params![id, to_json(in_flight), now_ms],
            )?;
            Ok(())
        })
    }

    /// [`Store::begin_write`], the attempt for the write budget ([`Store::record_attempt`]) and the row of the
    /// look at Slack that came just before (if it is not written yet), in one transaction: one commit (one
    /// fsync) before the write leaves, rather than three. Returns the log row's id.
    pub fn begin_write_after_look(
        &self,
        id: WorkspaceId,
        in_flight: &InFlight,
        now_ms: i64,
        method: &str,
        look: Option<&crate::NewLogEntry>,
    ) -> Result<Option<i64>> {
        let row = self.with_bookkeeping(|c| {
            let transaction = c.unchecked_transaction()?;
            let row = look
                .map(|look| crate::log::insert_log(&transaction, look))
                .transpose()?;
            transaction.execute(
                "DELETE FROM call_attempts WHERE workspace_id = ?1 AND method = ?2 AND at < ?3",
                params![id, method, now_ms - ATTEMPTS_KEPT_MS],
            )?;
            transaction.execute(
                "INSERT INTO call_attempts (workspace_id, method, at) VALUES (?1, ?2, ?3)",
                params![id, method, now_ms],
            )?;
            Store::ensure_sync_row(&transaction, id)?;
            transaction.execute(
                "UPDATE sync_state SET in_flight = ?2, in_flight_at = ?3 WHERE workspace_id = ?1",
                params![id, to_json(in_flight), now_ms],
            )?;
            transaction.commit()?;
            Ok(row)
        })?;
        if let Some(row) = row {
            self.announce_log_row(row);
        }
        Ok(row)
    }

    /// Records what Slack confirmed (`None`: no status of ours is there) and clears the in-flight write.
    pub fn finish_write(&self, id: WorkspaceId, applied: Option<&StatusRecord>, now_ms: i64) -> Result<()> {
        self.with_bookkeeping(|c| {
            Store::ensure_sync_row(c, id)?;
            c.execute(
                "UPDATE sync_state SET applied_status = ?2, applied_at = ?3, in_flight = NULL, in_flight_at = NULL
                 WHERE workspace_id = ?1",
                params![id, to_json(&applied), now_ms],
            )?;
            Ok(())
        })
    }

    /// Drops an in-flight write that failed (Slack refused it), keeping the applied status as it was.
    pub fn abandon_write(&self, id: WorkspaceId) -> Result<()> {
        self.with_bookkeeping(|c| {
            c.execute(
                "UPDATE sync_state SET in_flight = NULL, in_flight_at = NULL WHERE workspace_id = ?1",
                [id],
            )?;
            Ok(())
        })
    }

    /// Records a Slack write about to be sent (committed before it leaves), and forgets those older than
    /// ten minutes: only the last minute counts towards Slack's limits.
    pub fn record_attempt(&self, id: WorkspaceId, method: &str, at_ms: i64) -> Result<()> {
        self.with_bookkeeping(|c| {
            c.execute(
                "DELETE FROM call_attempts WHERE workspace_id = ?1 AND method = ?2 AND at < ?3",
                params![id, method, at_ms - ATTEMPTS_KEPT_MS],
            )?;
            c.execute(
                "INSERT INTO call_attempts (workspace_id, method, at) VALUES (?1, ?2, ?3)",
                params![id, method, at_ms],
            )?;
            Ok(())
        })
    }

    /// The times (Unix ms) of a method's recorded attempts since `since_ms`, oldest first.
    pub fn recent_attempts(&self, id: WorkspaceId, method: &str, since_ms: i64) -> Result<Vec<i64>> {
        self.with(|c| {
            let mut statement = c.prepare(
                "SELECT at FROM call_attempts WHERE workspace_id = ?1 AND method = ?2 AND at >= ?3 ORDER BY at",
            )?;
            let rows = statement.query_map(params![id, method, since_ms], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
    }

    pub fn save_presence(&self, id: WorkspaceId, presence: &str, now_ms: i64) -> Result<()> {
        self.with_bookkeeping(|c| {
            Store::ensure_sync_row(c, id)?;
            c.execute(
                "UPDATE sync_state SET applied_presence = ?2, applied_at = ?3 WHERE workspace_id = ?1",
                params![id, presence, now_ms],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caret_core::SharingPolicy;

    fn record(text: &str) -> StatusRecord {
        StatusRecord {
            text: text.into(),
            emoji: ":car:".into(),
            expiration: 1_800_000_000,
        }
    }

    #[test]
    fn a_long_sync_log_query_does_not_hold_up_the_writer() {
        use std::sync::mpsc;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("caret.db")).unwrap();
        let (held, reader_busy) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let reader = store.clone();
        let query = std::thread::spawn(move || {
            reader.with_reader(|_| {
                held.send(()).unwrap();
                released.recv().unwrap();
                Ok(())
            })
        });
        reader_busy.recv().unwrap();
        // While the reader is taken, the writer's work goes on: a device check, a sync log row, a workspace.
        let (done, finished) = mpsc::channel();
        let writer = store.clone();
        std::thread::spawn(move || {
            let worked = writer.devices().is_ok()
                && writer
                    .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 1)
                    .is_ok();
            done.send(worked).unwrap();
        });
        // A deadlock guard, not a speed limit: with one shared connection this would never answer.
        assert_eq!(
            finished.recv_timeout(std::time::Duration::from_secs(30)),
            Ok(true)
        );
        release.send(()).unwrap();
        query.join().unwrap().unwrap();
        // The reader sees what the writer committed.
        let workspaces: i64 = store
            .with_reader(|c| Ok(c.query_row("SELECT COUNT(*) FROM workspaces", [], |row| row.get(0))?))
            .unwrap();
        assert_eq!(workspaces, 1);
    }

    #[test]
    fn a_call_waiting_on_the_database_leaves_the_async_worker_to_other_tasks() {
        use std::sync::mpsc;
        let store = Store::open_in_memory().unwrap();
        // The writer taken by another thread, as by the engine's commit while the relay checks a device.
        let (held, writer_busy) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = store.clone();
        let commit = std::thread::spawn(move || {
            holder.with(|_| {
                held.send(()).unwrap();
                released.recv().unwrap();
                Ok(())
            })
        });
        writer_busy.recv().unwrap();
        // One async worker: a call that blocked it would leave no thread for the other task.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (waiting, check_started) = tokio::sync::oneshot::channel();
            let checker = store.clone();
            let device_check = tokio::spawn(async move {
                waiting.send(()).unwrap();
                checker.devices().map(|devices| devices.len())
            });
            check_started.await.unwrap();
            let other_task = tokio::spawn(async { "a phone's frame served" });
            // A deadlock guard, not a speed limit: on a blocked worker the other task would never run.
            let served = tokio::time::timeout(std::time::Duration::from_secs(30), other_task).await;
            assert_eq!(served.unwrap().unwrap(), "a phone's frame served");
            assert!(!device_check.is_finished(), "the check still waits on the writer");
            release.send(()).unwrap();
            assert_eq!(device_check.await.unwrap().unwrap(), 0);
        });
        commit.join().unwrap().unwrap();
    }

    #[test]
    fn the_reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("caret.db")).unwrap();
        assert!(
            store
                .with_reader(|c| Ok(c.execute("DELETE FROM workspaces", [])?))
                .is_err()
        );
    }

    #[test]
    fn workspaces_are_added_once_per_team_and_user_and_keep_their_settings() {
        let store = Store::open_in_memory().unwrap();
        let mut settings = WorkspaceSettings::default();
        settings.policy.choose(SharingPolicy::Vip);
        let id = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &settings, 10)
            .unwrap();
        let again = store
            .upsert_workspace("T1", "U1", "Acme Corp", "ada", &WorkspaceSettings::default(), 20)
            .unwrap();
        assert_eq!(id, again);
        let workspace = store.workspace(id).unwrap();
        assert_eq!(workspace.team_name, "Acme Corp", "names follow Slack");
        assert_eq!(
            workspace.settings, settings,
            "reconnecting keeps the user's settings"
        );
        assert_eq!(workspace.created_at_ms, 10);
        let other = store
            .upsert_workspace("T2", "U1", "Beta", "ada", &settings, 30)
            .unwrap();
        assert_ne!(id, other);
        assert_eq!(store.workspaces().unwrap().len(), 2);
    }

    #[test]
    fn granted_scopes_and_the_notice_choice_are_kept_per_workspace() {
        let store = Store::open_in_memory().unwrap();
        let id = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        let fresh = store.workspace(id).unwrap();
        assert_eq!(fresh.granted_scopes, None, "unknown until auth.test tells");
        assert!(!fresh.security_notices, "notices are off by default");
        store
            .set_granted_scopes(id, &["users.profile:write".into(), "chat:write".into()])
            .unwrap();
        store.set_security_notices(id, true).unwrap();
        let workspace = store.workspace(id).unwrap();
        assert_eq!(
            workspace.granted_scopes,
            Some(vec!["users.profile:write".to_owned(), "chat:write".to_owned()])
        );
        assert!(workspace.security_notices);
        store.set_granted_scopes(id, &[]).unwrap();
        assert_eq!(store.workspace(id).unwrap().granted_scopes, Some(vec![]));
        assert!(matches!(
            store.set_security_notices(99, true),
            Err(StoreError::NoSuchWorkspace(99))
        ));
    }

    #[test]
    fn a_disconnected_workspace_says_why_and_reconnecting_clears_it() {
        let store = Store::open_in_memory().unwrap();
        let id = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        store.set_connected(id, false, Some("token_revoked")).unwrap();
        let workspace = store.workspace(id).unwrap();
        assert!(!workspace.connected);
        assert_eq!(workspace.disconnect_reason.as_deref(), Some("token_revoked"));
        store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 1)
            .unwrap();
        assert!(store.workspace(id).unwrap().connected);
        assert!(matches!(
            store.set_connected(99, true, None),
            Err(StoreError::NoSuchWorkspace(99))
        ));
    }

    #[test]
    fn sync_state_tracks_applied_and_in_flight_writes() {
        let store = Store::open_in_memory().unwrap();
        let id = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        assert_eq!(store.sync_state(id).unwrap(), SyncState::default());
        let in_flight = InFlight {
            status: Some(record("Driving")),
            previous: None,
        };
        store.begin_write(id, &in_flight, 6).unwrap();
        let state = store.sync_state(id).unwrap();
        assert_eq!(state.in_flight, Some(in_flight));
        assert_eq!(state.applied_status, None);

        store.finish_write(id, Some(&record("Driving")), 7).unwrap();
        let state = store.sync_state(id).unwrap();
        assert_eq!(state.applied_status, Some(record("Driving")));
        assert_eq!(state.in_flight, None);

        store.finish_write(id, None, 8).unwrap();
        assert_eq!(
            store.sync_state(id).unwrap().applied_status,
            None,
            "cleared: nothing of ours in Slack"
        );
        store.save_presence(id, "away", 9).unwrap();
        assert_eq!(
            store.sync_state(id).unwrap().applied_presence.as_deref(),
            Some("away")
        );
    }

    #[test]
    fn inputs_round_trip() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.load_input::<caret_core::CaretState>("phone").unwrap(), None);
        store
            .save_input("phone", &caret_core::CaretState::InCall, 1)
            .unwrap();
        store
            .save_input("phone", &caret_core::CaretState::Walking, 2)
            .unwrap();
        assert_eq!(
            store.load_input("phone").unwrap(),
            Some(caret_core::CaretState::Walking)
        );
    }

    #[test]
    fn bookkeeping_skips_its_own_fsync_and_every_other_commit_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("caret.sqlite3")).unwrap();
        let synchronous = |store: &Store| -> i64 {
            store
                .with(|c| Ok(c.query_row("PRAGMA synchronous", [], |row| row.get(0))?))
                .unwrap()
        };
        const FULL: i64 = 2;
        const NORMAL: i64 = 1;
        assert_eq!(synchronous(&store), FULL);
        let during = store
            .with_bookkeeping(|c| Ok(c.query_row("PRAGMA synchronous", [], |row| row.get::<_, i64>(0))?))
            .unwrap();
        assert_eq!(during, NORMAL);
        assert_eq!(synchronous(&store), FULL, "restored after a success");
        let failed = store.with_bookkeeping(|c| {
            c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            Ok(())
        });
        assert!(failed.is_err());
        assert_eq!(synchronous(&store), FULL, "restored after a failure");
    }

    #[test]
    fn an_input_is_committed_at_once_and_put_on_the_disk_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caret.sqlite3");
        let store = Store::open(&path).unwrap();
        let row = crate::NewLogEntry {
            at_ms: 1,
            kind: Some(crate::LogKind::Input),
            source: "phone".into(),
            outcome: "phone state".into(),
            ..crate::NewLogEntry::default()
        };
        store
            .save_input_with_log("phone", &caret_core::CaretState::InCall, 1, &row)
            .unwrap();
        // Committed: another connection (a restart after kill -9) reads it before any sync.
        let after_kill = Store::open(&path).unwrap();
        assert_eq!(
            after_kill.load_input::<caret_core::CaretState>("phone").unwrap(),
            Some(caret_core::CaretState::InCall)
        );
        store.sync_to_disk().unwrap();
        assert_eq!(
            store
                .with(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))?))
                .unwrap(),
            2,
            "every other commit still waits for the disk"
        );
        // In memory there is no disk to wait for.
        Store::open_in_memory().unwrap().sync_to_disk().unwrap();
        // A write-ahead log gone from under the open database is a fault, said with its path.
        std::fs::remove_file(dir.path().join("caret.sqlite3-wal")).unwrap();
        let refused = store.sync_to_disk().unwrap_err().to_string();
        assert!(refused.contains("caret.sqlite3-wal"), "{refused}");
    }

    #[test]
    fn an_input_and_its_log_row_are_saved_together_and_announced() {
        let store = Store::open_in_memory().unwrap();
        let newest = store.watch_log();
        let row = crate::NewLogEntry {
            at_ms: 3,
            kind: Some(crate::LogKind::Input),
            source: "phone".into(),
            state: Some("driving".into()),
            outcome: "phone state".into(),
            ..crate::NewLogEntry::default()
        };
        let id = store
            .save_input_with_log("phone", &caret_core::CaretState::InVehicle, 3, &row)
            .unwrap();
        assert_eq!(
            store.load_input("phone").unwrap(),
            Some(caret_core::CaretState::InVehicle)
        );
        assert_eq!(*newest.borrow(), id, "the log's watchers hear of the row");
        let logged = store.query_log(&crate::LogFilter::default()).unwrap();
        assert_eq!(logged.len(), 1);
        assert_eq!((logged[0].id, logged[0].outcome.as_str()), (id, "phone state"));
    }

    #[test]
    fn a_file_database_survives_reopening_and_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caret.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            store
                .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.workspaces().unwrap().len(), 1);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn removing_a_workspace_removes_its_sync_state_but_not_its_log() {
        let store = Store::open_in_memory().unwrap();
        let id = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        store.finish_write(id, Some(&record("x")), 1).unwrap();
        store
            .append_log(&crate::NewLogEntry {
                at_ms: 1,
                source: "engine".into(),
                workspace_id: Some(id),
                outcome: "ok".into(),
                ..Default::default()
            })
            .unwrap();
        store.remove_workspace(id).unwrap();
        assert_eq!(store.sync_state(id).unwrap(), SyncState::default());
        assert_eq!(store.query_log(&crate::LogFilter::default()).unwrap().len(), 1);
    }

    #[test]
    fn call_attempts_are_kept_per_workspace_and_method_and_old_ones_forgotten() {
        let store = Store::open_in_memory().unwrap();
        let acme = store
            .upsert_workspace("T1", "U1", "Acme", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        let beta = store
            .upsert_workspace("T2", "U2", "Beta", "ada", &WorkspaceSettings::default(), 0)
            .unwrap();
        store.record_attempt(acme, "users.profile.set", 1_000).unwrap();
        store.record_attempt(acme, "users.setPresence", 2_000).unwrap();
        store.record_attempt(beta, "users.profile.set", 3_000).unwrap();
        store.record_attempt(acme, "users.profile.set", 61_000).unwrap();
        assert_eq!(
            store.recent_attempts(acme, "users.profile.set", 0).unwrap(),
            vec![1_000, 61_000]
        );
        assert_eq!(
            store.recent_attempts(acme, "users.profile.set", 1_001).unwrap(),
            vec![61_000]
        );
        assert_eq!(
            store.recent_attempts(beta, "users.profile.set", 0).unwrap(),
            vec![3_000]
        );
        // Ten minutes on, the first attempt is deleted when the next is recorded.
        store
            .record_attempt(acme, "users.profile.set", 1_000 + ATTEMPTS_KEPT_MS + 1)
            .unwrap();
        assert_eq!(
            store.recent_attempts(acme, "users.profile.set", 0).unwrap(),
            vec![61_000, 1_000 + ATTEMPTS_KEPT_MS + 1]
        );
        store.remove_workspace(beta).unwrap();
        assert!(
            store
                .recent_attempts(beta, "users.profile.set", 0)
                .unwrap()
                .is_empty()
        );
    }
}
