//! Schema migrations: SQL files beside this crate, applied in order inside one transaction each, the count
//! kept in `PRAGMA user_version`. A migration once released is never edited; a change is a new file.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// (file name, SQL) in the order they apply.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "20261122_0001_initial.sql",
        include_str!("../migrations/20261122_0001_initial.sql"),
    ),
    (
        "20261122_0002_devices.sql",
        include_str!("../migrations/20261122_0002_devices.sql"),
    ),
    (
        "20261201_0003_workspace_scopes_and_notices.sql",
        include_str!("../migrations/20261201_0003_workspace_scopes_and_notices.sql"),
    ),
    (
        "20261204_0004_call_attempts.sql",
        include_str!("../migrations/20261204_0004_call_attempts.sql"),
    ),
    (
        "20261204_0005_known_networks.sql",
        include_str!("../migrations/20261204_0005_known_networks.sql"),
    ),
    (
        "20261206_0006_drop_desired.sql",
        include_str!("../migrations/20261206_0006_drop_desired.sql"),
    ),
    (
        "20261207_0007_snooze.sql",
        include_str!("../migrations/20261207_0007_snooze.sql"),
    ),
];

pub fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings the schema up to date; refuses a database from a newer app rather than guessing.
pub fn apply(connection: &mut Connection) -> Result<()> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = latest_version();
    if current > known {
        return Err(StoreError::NewerSchema {
            found: current,
            known,
        });
    }
    for (index, (_name, sql)) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", i64::try_from(index + 1).unwrap_or(i64::MAX))?;
        transaction.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_record_the_version() {
        let mut connection = Connection::open_in_memory().unwrap();
        apply(&mut connection).unwrap();
        apply(&mut connection).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
        let tables: i64 = connection
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('workspaces', 'sync_state', 'inputs', 'sync_log', 'devices')", [], |row| row.get(0))
            .unwrap();
        assert_eq!(tables, 5);
    }

    #[test]
    fn a_database_from_a_newer_app_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            apply(&mut connection),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
    }

    #[test]
    fn migration_files_are_named_in_order() {
        let names: Vec<&str> = MIGRATIONS.iter().map(|(name, _)| *name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
