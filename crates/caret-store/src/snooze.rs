//! The Slack Do Not Disturb snooze the engine started for a workspace, kept beside its sync state: the engine
//! ends only a snooze it knows it started, so after a restart it must still know which one that is.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::{Store, WorkspaceId, from_json, to_json};

/// A snooze Slack confirmed starting for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnoozeRecord {
    /// Slack's `snooze_endtime` for it (Unix seconds): a running snooze that ends at exactly this time is ours;
    /// any other end means the person changed it, and it is theirs.
    pub slack_end: i64,
    /// The end we asked for, on our own clock (Unix seconds): when it is renewed or due to end.
    pub until: i64,
    /// A lease (renewed while the state lasts), not a status's own end.
    #[serde(default)]
    pub renewed: bool,
}

/// What the engine knows of its snooze in one workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnoozeState {
    /// The snooze of ours Slack runs, as far as we know.
    pub applied: Option<SnoozeRecord>,
    /// A `dnd.setSnooze` sent and not yet answered: the end it asked for (Unix seconds, our clock). After a
    /// crash, a running snooze ending within a couple of minutes of it is ours.
    pub in_flight_until: Option<i64>,
    /// A `dnd.endSnooze` of ours was sent: a snooze found gone was ended by us, not by the person.
    #[serde(default)]
    pub ending: bool,
    /// The person ended our snooze while the status showed this (its text and emoji): not started again
    /// until the status changes, across restarts too.
    #[serde(default)]
    pub declined_for: Option<String>,
}

impl Store {
    /// The snooze state of a workspace (empty when the engine never snoozed it).
    pub fn snooze_state(&self, id: WorkspaceId) -> Result<SnoozeState> {
        let stored: Option<Option<String>> = self.with(|c| {
            Ok(c.query_row(
                "SELECT snooze FROM sync_state WHERE workspace_id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?)
        })?;
        match stored.flatten() {
            Some(json) => from_json("sync_state.snooze", &json),
            None => Ok(SnoozeState::default()),
        }
    }

    /// Keeps the snooze state: before a `dnd.setSnooze` leaves (its end in flight) and after Slack answers.
    /// A bookkeeping commit: it survives a `kill -9`, which is what the in-flight record is for.
    pub fn save_snooze_state(&self, id: WorkspaceId, state: &SnoozeState) -> Result<()> {
        self.with_bookkeeping(|c| {
            Store::ensure_sync_row(c, id)?;
            c.execute(
                "UPDATE sync_state SET snooze = ?2 WHERE workspace_id = ?1",
                params![id, to_json(state)],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caret_core::WorkspaceSettings;

    #[test]
    fn the_snooze_state_is_kept_per_workspace_and_survives_a_reopen() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("caret.sqlite3");
        let store = Store::open(&path).unwrap();
        let settings = WorkspaceSettings::default();
        let first = store
            .upsert_workspace("T1", "U1", "Team", "me", &settings, 0)
            .unwrap();
        let second = store
            .upsert_workspace("T2", "U1", "Other", "me", &settings, 0)
            .unwrap();
        assert_eq!(store.snooze_state(first).unwrap(), SnoozeState::default());
        let sending = SnoozeState {
            in_flight_until: Some(1_800_000_600),
            ..SnoozeState::default()
        };
        store.save_snooze_state(first, &sending).unwrap();
        let confirmed = SnoozeState {
            applied: Some(SnoozeRecord {
                slack_end: 1_800_000_601,
                until: 1_800_000_600,
                renewed: true,
            }),
            declined_for: Some(":car: Driving".into()),
            ..SnoozeState::default()
        };
        store.save_snooze_state(first, &confirmed).unwrap();
        drop(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.snooze_state(first).unwrap(), confirmed);
        assert_eq!(reopened.snooze_state(second).unwrap(), SnoozeState::default());
    }
}
