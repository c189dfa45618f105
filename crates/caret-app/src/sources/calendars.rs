//! The person's calendars: their names and options in `calendars.json` (in the config folder), each secret
//! address in the desktop keyring (account `calendar:ID`), never in a file or a log. A calendar kept in a
//! local file is not a secret: its path is in `calendars.json`.

use std::path::{Path, PathBuf};

use caret_sources::calendar::CalendarOptions;
use caret_sources::calendar::fetch::{CalendarLocation, SecretAddress};
use caret_sources::calendar::watcher::CalendarConfig;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::AppPaths;
use crate::error::{AppError, Refusal, Result};
use crate::secrets::PastedSecret;

/// Where a calendar is, as it may be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum CalendarPlace {
    /// A secret web address, kept in the keyring; only its host is shown ("calendar.google.com").
    Web { host: String },
    /// A local iCalendar file.
    File { path: String },
}

/// One calendar the person added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CalendarEntry {
    /// Made when it was added; names its keyring entry.
    pub id: String,
    /// The person's name for it ("Work"), unique among their calendars.
    pub name: String,
    pub place: CalendarPlace,
    /// All-day events count (off unless the person asks).
    #[serde(default)]
    pub include_all_day: bool,
    /// The person's addresses in this calendar: events they declined there do not count.
    #[serde(default)]
    pub own_addresses: Vec<String>,
}

/// A calendar to add, as Settings and the command line give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewCalendar {
    pub name: String,
    /// The secret address (https://, http://, webcal://) or a local file's absolute path.
    #[ts(type = "string")]
    pub address: PastedSecret,
    #[serde(default)]
    pub include_all_day: bool,
    #[serde(default)]
    pub own_addresses: Vec<String>,
}

fn file_path(paths: &AppPaths) -> PathBuf {
    paths.config_dir.join("calendars.json")
}

fn keyring_account(id: &str) -> String {
    format!("calendar:{id}")
}

fn file_error(path: &Path) -> impl FnOnce(String) -> AppError + '_ {
    move |reason| AppError::Preferences {
        path: path.to_path_buf(),
        reason,
    }
}

/// The calendars added, in the order they were.
pub fn load(paths: &AppPaths) -> Result<Vec<CalendarEntry>> {
    let path = file_path(paths);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| file_error(&path)(error.to_string())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(file_error(&path)(error.to_string())),
    }
}

fn save(paths: &AppPaths, calendars: &[CalendarEntry]) -> Result<()> {
    let path = file_path(paths);
    let json = serde_json::to_vec_pretty(calendars).map_err(|error| file_error(&path)(error.to_string()))?;
    // After a crash the file is the old one or the new one, never a truncated one.
    caret_relay::identity::write_private_file(&path, &json)
        .map_err(|(file, error)| file_error(&file)(error.to_string()))
}

/// Reads what the person typed as a calendar's address: a local file's absolute path (or `file://` URL), else
/// a web address. Refusals never repeat the address.
fn location(address: &str) -> Result<CalendarLocation> {
    let address = address.trim();
    let file = address.strip_prefix("file://").unwrap_or(address);
    if file.starts_with('/') {
        let path = PathBuf::from(file);
        if !path.is_file() {
            // The path is not repeated: what was pasted may be the secret part of an address.
            return Err(AppError::Refused(Refusal::CalendarFile));
        }
        return Ok(CalendarLocation::File(path));
    }
    SecretAddress::parse(address)
        .map(CalendarLocation::Web)
        .map_err(|error| {
            AppError::Refused(Refusal::CalendarAddress {
                reason: error.to_string(),
            })
        })
}

/// Adds a calendar: its address to the keyring first (a calendar in the file always has one), then the file.
pub async fn add(paths: &AppPaths, new: NewCalendar) -> Result<CalendarEntry> {
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        return Err(AppError::Refused(Refusal::CalendarName));
    }
    let mut calendars = load(paths)?;
    if calendars
        .iter()
        .any(|known| known.name.eq_ignore_ascii_case(&name))
    {
        return Err(AppError::Refused(Refusal::CalendarNameTaken { name }));
    }
    let location = location(new.address.expose())?;
    let id = format!("{:016x}", fastrand::u64(..));
    let place = match &location {
        CalendarLocation::Web(address) => {
            crate::secrets::store(keyring_account(&id), address.expose().to_owned()).await?;
            CalendarPlace::Web {
                host: address.host().to_owned(),
            }
        }
        CalendarLocation::File(path) => CalendarPlace::File {
            path: path.display().to_string(),
        },
    };
    let entry = CalendarEntry {
        id,
        name,
        place,
        include_all_day: new.include_all_day,
        own_addresses: clean_addresses(new.own_addresses),
    };
    calendars.push(entry.clone());
    if let Err(error) = save(paths, &calendars) {
        // Nothing points to the address any more: it leaves the keyring again.
        if matches!(entry.place, CalendarPlace::Web { .. })
            && let Err(left) = crate::secrets::delete(keyring_account(&entry.id)).await
        {
            tracing::warn!("a calendar's address could not be taken back out of the keyring: {left}");
        }
        return Err(error);
    }
    Ok(entry)
}

fn clean_addresses(addresses: Vec<String>) -> Vec<String> {
    addresses
        .into_iter()
        .flat_map(|text| {
            text.split([',', ' ', '\n'])
                .map(|part| part.trim().trim_start_matches("mailto:").to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|address| address.contains('@'))
        .collect()
}

/// Removes the calendar named `name` (or with that id): its address from the keyring first (a failure there
/// leaves the calendar listed, to be removed again), then from the file (a failure there leaves it listed
/// without an address, which its row says).
pub async fn remove(paths: &AppPaths, name: &str) -> Result<CalendarEntry> {
    let mut calendars = load(paths)?;
    let Some(position) = calendars
        .iter()
        .position(|known| known.name.eq_ignore_ascii_case(name.trim()) || known.id == name.trim())
    else {
        return Err(AppError::Refused(Refusal::UnknownCalendar {
            name: name.trim().to_owned(),
        }));
    };
    let removed = calendars.remove(position);
    if matches!(removed.place, CalendarPlace::Web { .. }) {
        crate::secrets::delete(keyring_account(&removed.id)).await?;
    }
    save(paths, &calendars)?;
    Ok(removed)
}

/// What the calendar source follows: each calendar with its address from the keyring, or why it cannot be
/// followed (its address is not there, the keyring cannot be read); and whether the keyring failed (worth
/// trying again). Blocking: keyring round trips.
pub fn configs_blocking(calendars: &[CalendarEntry]) -> (Vec<CalendarConfig>, Vec<(String, String)>, bool) {
    let mut configs = Vec::new();
    let mut missing = Vec::new();
    let mut keyring_failed = false;
    for entry in calendars {
        let location = match &entry.place {
            CalendarPlace::File { path } => Ok(CalendarLocation::File(PathBuf::from(path))),
            CalendarPlace::Web { .. } => match crate::secrets::read_blocking(&keyring_account(&entry.id)) {
                Ok(Some(text)) => SecretAddress::parse(&text)
                    .map(CalendarLocation::Web)
                    .map_err(|_| "the keyring holds something else for its address: add it again".to_owned()),
                Ok(None) => Err("its address is not in the keyring: add it again".to_owned()),
                Err(error) => {
                    keyring_failed = true;
                    Err(format!("{error} (tried again by itself)"))
                }
            },
        };
        match location {
            Ok(location) => configs.push(CalendarConfig {
                id: entry.id.clone(),
                location,
                options: CalendarOptions {
                    include_all_day: entry.include_all_day,
                    own_addresses: entry.own_addresses.clone(),
                },
            }),
            Err(problem) => missing.push((entry.id.clone(), problem)),
        }
    }
    (configs, missing, keyring_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_paths_are_told_apart_and_refusals_do_not_repeat_the_address() {
        let file = tempfile::NamedTempFile::new().expect("a file");
        let path = file.path().display().to_string();
        assert_eq!(
            location(&path).expect("a file"),
            CalendarLocation::File(file.path().to_path_buf())
        );
        assert_eq!(
            location(&format!("file://{path}")).expect("a file URL"),
            CalendarLocation::File(file.path().to_path_buf())
        );
        assert!(matches!(
            location("webcal://calendar.example/private-s3cr3t/basic.ics"),
            Ok(CalendarLocation::Web(_))
        ));
        for refused in ["/no/such/s3cr3t.ics", "ftp://example.com/s3cr3t", "s3cr3t"] {
            let message = location(refused).expect_err(refused).to_string();
            assert!(!message.contains("s3cr3t"), "{refused}: {message}");
        }
    }

    #[test]
    fn own_addresses_are_split_and_cleaned() {
        assert_eq!(
            clean_addresses(vec![
                "mailto:ana@example.com, ana@work.example".to_owned(),
                "nobody".to_owned()
            ]),
            ["ana@example.com", "ana@work.example"]
        );
    }

    #[test]
    fn the_file_round_trips_and_a_missing_one_is_no_calendar() {
        let directory = tempfile::tempdir().expect("a directory");
        let paths = AppPaths {
            config_dir: directory.path().to_path_buf(),
            data_dir: directory.path().to_path_buf(),
        };
        assert_eq!(load(&paths).expect("loads"), []);
        let entry = CalendarEntry {
            id: "0123".to_owned(),
            name: "Home".to_owned(),
            place: CalendarPlace::File {
                path: "/home/ana/home.ics".to_owned(),
            },
            include_all_day: true,
            own_addresses: vec!["ana@example.com".to_owned()],
        };
        save(&paths, std::slice::from_ref(&entry)).expect("saved");
        assert_eq!(load(&paths).expect("loads"), [entry]);
    }
}
