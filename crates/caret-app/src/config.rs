//! Where the app keeps things and which Slack it talks to, read once from the environment at start.

use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::error::{AppError, Result};

/// Production Slack. Tests point `CARET_SLACK_API_URL` at a local server that behaves like it.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

pub const CONFIG_DIR_VAR: &str = "CARET_CONFIG_DIR";
pub const DATA_DIR_VAR: &str = "CARET_DATA_DIR";
pub const SLACK_API_URL_VAR: &str = "CARET_SLACK_API_URL";
pub const RELAY_PORT_VAR: &str = "CARET_RELAY_PORT";
pub const RELAY_LOOPBACK_VAR: &str = "CARET_RELAY_LOOPBACK";

/// How the phone relay listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RelaySettings {
    /// The TCP port (`CARET_RELAY_PORT`, default 47823; 0 picks a free port, for tests).
    pub port: u16,
    /// Listen on 127.0.0.1 only and advertise nothing (`CARET_RELAY_LOOPBACK=1`): for users who want nothing
    /// on the LAN (phones then reach the desktop through an SSH or USB tunnel), and for tests.
    pub loopback_only: bool,
}

/// The two directories the app writes to. Both are created private to the user (0700): they will hold the
/// sync log and device records, which are nobody else's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppPaths {
    /// Settings the user chose (XDG config dir, e.g. `~/.config/caret-desktop`).
    pub config_dir: PathBuf,
    /// State the app keeps (XDG data dir, e.g. `~/.local/share/caret-desktop`): database, relay certificate.
    pub data_dir: PathBuf,
}

impl AppPaths {
    /// Resolves the directories from an environment lookup (a function, so tests need not touch the process
    /// environment): the override variables first, then the XDG base directories.
    pub fn resolve(var: impl Fn(&str) -> Option<String>) -> Result<AppPaths> {
        let override_of = |name: &'static str| -> Result<Option<PathBuf>> {
            match var(name) {
                None => Ok(None),
                Some(value) if value.trim().is_empty() => Err(AppError::EmptyDirectory { name }),
                Some(value) => Ok(Some(PathBuf::from(value))),
            }
        };
        let config_override = override_of(CONFIG_DIR_VAR)?;
        let data_override = override_of(DATA_DIR_VAR)?;
        if let (Some(config_dir), Some(data_dir)) = (&config_override, &data_override) {
            return Ok(AppPaths {
                config_dir: config_dir.clone(),
                data_dir: data_dir.clone(),
            });
        }
        let project = directories::ProjectDirs::from("app", "Caret", "caret-desktop")
            .ok_or(AppError::NoHomeDirectory)?;
        Ok(AppPaths {
            config_dir: config_override.unwrap_or_else(|| project.config_dir().to_path_buf()),
            data_dir: data_override.unwrap_or_else(|| project.data_dir().to_path_buf()),
        })
    }

    /// Creates both directories (and parents) if missing, private to the user.
    pub fn create(&self) -> Result<()> {
        create_private_dir(&self.config_dir)?;
        create_private_dir(&self.data_dir)
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    let to_error = |source| AppError::Directory {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(path).map_err(to_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(to_error)?;
    }
    Ok(())
}

/// Everything the app reads from its environment at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppConfig {
    pub paths: AppPaths,
    /// Base of the Slack Web API, without a trailing slash: methods are `{base}/{method}`.
    pub slack_api_url: Url,
    pub relay: RelaySettings,
    /// The loopback port of the browser sign-in (`CARET_OAUTH_PORT`; default the one registered in the Slack
    /// app manifest, which Slack matches exactly: only tests change it).
    pub oauth_port: u16,
    /// The program that opens links in the browser (`CARET_BROWSER`), which gets the URL as its one argument;
    /// `None`: the desktop's (xdg-open, else gio, …).
    pub browser: Option<String>,
}

/// The loopback port of the browser sign-in's redirect, as the Slack app manifest registers it; Slack requires
/// the registered URL to match exactly.
pub const OAUTH_REDIRECT_PORT: u16 = 47824;

/// Overrides the program that opens links (Slack's pages, the sign-in).
pub const BROWSER_VAR: &str = "CARET_BROWSER";

/// Overrides the browser sign-in's loopback port (tests run side by side).
pub const OAUTH_PORT_VAR: &str = "CARET_OAUTH_PORT";

fn port_setting(var: &impl Fn(&str) -> Option<String>, name: &'static str, default: u16) -> Result<u16> {
    match var(name).map(|value| value.trim().to_owned()) {
        None => Ok(default),
        Some(value) if value.is_empty() => Ok(default),
        Some(value) => value.parse::<u16>().map_err(|_| AppError::InvalidSetting {
            name,
            value: value.clone(),
            expected: "a port number from 0 to 65535",
        }),
    }
}

impl AppConfig {
    pub fn from_env() -> Result<AppConfig> {
        AppConfig::resolve(|name| std::env::var(name).ok())
    }

    pub fn resolve(var: impl Fn(&str) -> Option<String>) -> Result<AppConfig> {
        let paths = AppPaths::resolve(&var)?;
        let slack_api_url = match var(SLACK_API_URL_VAR) {
            Some(value) if !value.trim().is_empty() => parse_api_url(SLACK_API_URL_VAR, value.trim())?,
            _ => parse_api_url(SLACK_API_URL_VAR, DEFAULT_SLACK_API_URL)?,
        };
        let port = port_setting(&var, RELAY_PORT_VAR, caret_relay::DEFAULT_PORT)?;
        let oauth_port = port_setting(&var, OAUTH_PORT_VAR, OAUTH_REDIRECT_PORT)?;
        let loopback_only = match var(RELAY_LOOPBACK_VAR).map(|value| value.trim().to_ascii_lowercase()) {
            None => false,
            Some(value) => match value.as_str() {
                "" | "0" | "false" | "no" | "off" => false,
                "1" | "true" | "yes" | "on" => true,
                _ => {
                    return Err(AppError::InvalidSetting {
                        name: RELAY_LOOPBACK_VAR,
                        value,
                        expected: "1 or 0",
                    });
                }
            },
        };
        Ok(AppConfig {
            paths,
            slack_api_url,
            relay: RelaySettings { port, loopback_only },
            oauth_port,
            browser: var(BROWSER_VAR)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty()),
        })
    }
}

fn parse_api_url(name: &'static str, value: &str) -> Result<Url> {
    let invalid = |reason: &str| AppError::InvalidUrl {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(value).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment"));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn relay_settings_default_to_the_lan_port_and_refuse_nonsense() {
        let config = AppConfig::resolve(env(&[(CONFIG_DIR_VAR, "/c"), (DATA_DIR_VAR, "/d")])).unwrap();
        assert_eq!(
            config.relay,
            RelaySettings {
                port: caret_relay::DEFAULT_PORT,
                loopback_only: false
            }
        );
        let config = AppConfig::resolve(env(&[
            (CONFIG_DIR_VAR, "/c"),
            (DATA_DIR_VAR, "/d"),
            (RELAY_PORT_VAR, "0"),
            (RELAY_LOOPBACK_VAR, "yes"),
        ]))
        .unwrap();
        assert_eq!(
            config.relay,
            RelaySettings {
                port: 0,
                loopback_only: true
            }
        );
        for (name, value) in [
            (RELAY_PORT_VAR, "70000"),
            (RELAY_PORT_VAR, "http"),
            (RELAY_LOOPBACK_VAR, "maybe"),
        ] {
            let error = AppConfig::resolve(env(&[
                (CONFIG_DIR_VAR, "/c"),
                (DATA_DIR_VAR, "/d"),
                (name, value),
            ]))
            .unwrap_err()
            .to_string();
            assert!(error.contains(name) && error.contains(value), "{error}");
        }
    }

    #[test]
    fn overrides_win_over_xdg_directories() {
        let config =
            AppConfig::resolve(env(&[(CONFIG_DIR_VAR, "/tmp/c"), (DATA_DIR_VAR, "/tmp/d")])).unwrap();
        assert_eq!(config.paths.config_dir, PathBuf::from("/tmp/c"));
        assert_eq!(config.paths.data_dir, PathBuf::from("/tmp/d"));
    }

    #[test]
    fn an_empty_override_is_an_error_not_the_current_directory() {
        let error = AppPaths::resolve(env(&[(DATA_DIR_VAR, " ")])).unwrap_err();
        assert!(error.to_string().contains(DATA_DIR_VAR), "{error}");
    }

    #[test]
    fn slack_api_url_defaults_to_slack_and_can_point_at_a_local_server() {
        let paths = [(CONFIG_DIR_VAR, "/c"), (DATA_DIR_VAR, "/d")];
        let config = AppConfig::resolve(env(&paths)).unwrap();
        assert_eq!(config.slack_api_url.as_str(), "https://slack.com/api");
        let local = [
            paths[0],
            paths[1],
            (SLACK_API_URL_VAR, "http://127.0.0.1:4010/api/"),
        ];
        let config = AppConfig::resolve(env(&local)).unwrap();
        assert_eq!(config.slack_api_url.as_str(), "http://127.0.0.1:4010/api");
    }

    #[test]
    fn a_bad_slack_api_url_is_refused_with_the_variable_named() {
        for bad in [
            "slack.com/api",
            "ftp://slack.com/api",
            "https://slack.com/api?x=1",
            "http://",
        ] {
            let vars = [
                (CONFIG_DIR_VAR, "/c"),
                (DATA_DIR_VAR, "/d"),
                (SLACK_API_URL_VAR, bad),
            ];
            let error = AppConfig::resolve(env(&vars)).unwrap_err();
            assert!(error.to_string().contains(SLACK_API_URL_VAR), "{bad}: {error}");
        }
    }

    #[test]
    fn created_directories_are_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let paths = AppPaths {
            config_dir: root.path().join("a/config"),
            data_dir: root.path().join("b/data"),
        };
        paths.create().unwrap();
        for dir in [&paths.config_dir, &paths.data_dir] {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
    }
}
