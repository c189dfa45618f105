//! Known networks: where the user paired a phone, so that the relay opens to the LAN there (see
//! `caret_relay::network` and docs/relay-threat-model.md).

use rusqlite::params;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Result;
use crate::store::Store;

/// A network a phone was paired on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KnownNetwork {
    /// The network's id (a digest: it says nothing by itself).
    pub id: String,
    /// "192.168.1.0/24 via 192.168.1.1".
    pub label: String,
    #[ts(type = "number")]
    pub paired_at_ms: i64,
}

impl Store {
    /// Remembers a network a phone was just paired on (the first pairing's time is kept).
    pub fn add_known_network(&self, id: &str, label: &str, at_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO known_networks (id, label, paired_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET label = excluded.label",
                params![id, label, at_ms],
            )?;
            Ok(())
        })
    }

    pub fn is_known_network(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM known_networks WHERE id = ?1)",
                [id],
                |row| row.get(0),
            )?)
        })
    }

    /// Every known network, the most recently paired first.
    pub fn known_networks(&self) -> Result<Vec<KnownNetwork>> {
        self.with(|c| {
            let mut statement =
                c.prepare("SELECT id, label, paired_at FROM known_networks ORDER BY paired_at DESC, id")?;
            let rows = statement.query_map([], |row| {
                Ok(KnownNetwork {
                    id: row.get(0)?,
                    label: row.get(1)?,
                    paired_at_ms: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Forgets one known network (`Some(id)`) or all of them; returns how many were forgotten.
    pub fn forget_known_networks(&self, id: Option<&str>) -> Result<usize> {
        self.with(|c| {
            Ok(match id {
                Some(id) => c.execute("DELETE FROM known_networks WHERE id = ?1", [id])?,
                None => c.execute("DELETE FROM known_networks", [])?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_remembered_listed_newest_first_and_forgotten() {
        let store = Store::open_in_memory().unwrap();
        assert!(!store.is_known_network("home").unwrap());
        store
            .add_known_network("home", "192.168.1.0/24 via 192.168.1.1", 10)
            .unwrap();
        store
            .add_known_network("office", "10.0.0.0/16 via 10.0.0.1", 20)
            .unwrap();
        store
            .add_known_network("home", "192.168.1.0/24 via 192.168.1.254", 30)
            .unwrap();
        assert!(store.is_known_network("home").unwrap());
        let known = store.known_networks().unwrap();
        assert_eq!(
            known
                .iter()
                .map(|n| (n.id.as_str(), n.paired_at_ms))
                .collect::<Vec<_>>(),
            [("office", 20), ("home", 10)],
            "a second pairing keeps the first time"
        );
        assert_eq!(
            known[1].label, "192.168.1.0/24 via 192.168.1.254",
            "the label follows"
        );
        assert_eq!(store.forget_known_networks(Some("office")).unwrap(), 1);
        assert_eq!(store.forget_known_networks(None).unwrap(), 1);
        assert!(store.known_networks().unwrap().is_empty());
    }
}
