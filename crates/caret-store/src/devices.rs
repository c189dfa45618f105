//! Paired phones. Tokens are never stored, only their SHA-256 (computed by the relay).

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::store::Store;

/// A paired phone, as the Devices list shows it. The token hash stays inside the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Device {
    pub id: String,
    pub name: String,
    #[ts(type = "number")]
    pub paired_at_ms: i64,
    #[ts(type = "number | null")]
    pub last_seen_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub last_seq: Option<i64>,
    #[ts(type = "number | null")]
    pub revoked_at_ms: Option<i64>,
}

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        name: row.get(1)?,
        paired_at_ms: row.get(2)?,
        last_seen_ms: row.get(3)?,
        last_seq: row.get(4)?,
        revoked_at_ms: row.get(5)?,
    })
}

const DEVICE_COLUMNS: &str = "id, name, paired_at, last_seen, last_seq, revoked_at";

impl Store {
    pub fn add_device(&self, id: &str, name: &str, token_hash: &[u8; 32], now_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO devices (id, name, token_hash, paired_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, token_hash.as_slice(), now_ms],
            )?;
            Ok(())
        })
    }

    /// Every device, revoked ones included (the list shows them as revoked), newest first.
    pub fn devices(&self) -> Result<Vec<Device>> {
        self.with(|c| {
            let mut statement = c.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY paired_at DESC, id"
            ))?;
            let rows = statement.query_map([], device_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// A device that is not revoked, with its token hash, for checking a presented token.
    pub fn active_device(&self, id: &str) -> Result<Option<(Device, [u8; 32])>> {
        self.with(|c| {
            let found = c
                .query_row(
                    &format!("SELECT {DEVICE_COLUMNS}, token_hash FROM devices WHERE id = ?1 AND revoked_at IS NULL"),
                    [id],
                    |row| Ok((device_from_row(row)?, row.get::<_, Vec<u8>>(6)?)),
                )
                .optional()?;
            Ok(found.and_then(|(device, hash)| <[u8; 32]>::try_from(hash.as_slice()).ok().map(|hash| (device, hash))))
        })
    }

    /// Records that a device was heard from, and the last sequence number accepted from it.
    pub fn touch_device(&self, id: &str, now_ms: i64, last_seq: Option<u64>) -> Result<()> {
        let last_seq = last_seq.and_then(|seq| i64::try_from(seq).ok());
        self.with_bookkeeping(|c| {
            c.execute(
                "UPDATE devices SET last_seen = ?2, last_seq = COALESCE(?3, last_seq) WHERE id = ?1",
                params![id, now_ms, last_seq],
            )?;
            Ok(())
        })
    }

    /// Revokes a device; returns whether it existed and was active.
    pub fn revoke_device(&self, id: &str, now_ms: i64) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms],
            )? == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_added_listed_touched_and_revoked() {
        let store = Store::open_in_memory().unwrap();
        let hash = [7u8; 32];
        store.add_device("d_1", "Pixel", &hash, 100).unwrap();
        store.add_device("d_2", "iPhone", &[8u8; 32], 200).unwrap();
        assert_eq!(
            store
                .devices()
                .unwrap()
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            ["d_2", "d_1"]
        );
        let (device, stored) = store.active_device("d_1").unwrap().unwrap();
        assert_eq!((device.name.as_str(), stored), ("Pixel", hash));
        store.touch_device("d_1", 300, Some(42)).unwrap();
        store.touch_device("d_1", 400, None).unwrap();
        let device = store.active_device("d_1").unwrap().unwrap().0;
        assert_eq!((device.last_seen_ms, device.last_seq), (Some(400), Some(42)));
        assert!(store.revoke_device("d_1", 500).unwrap());
        assert!(!store.revoke_device("d_1", 600).unwrap(), "already revoked");
        assert!(
            store.active_device("d_1").unwrap().is_none(),
            "a revoked device is refused at once"
        );
        assert_eq!(
            store
                .devices()
                .unwrap()
                .iter()
                .find(|d| d.id == "d_1")
                .unwrap()
                .revoked_at_ms,
            Some(500)
        );
        assert!(store.active_device("nope").unwrap().is_none());
    }
}
