//! What the OS keyring keeps for a workspace, and the only code that reads or writes it.
//!
//! One keyring entry per workspace (service `caret-desktop`, account `slack:TEAM:USER`). A token that never
//! expires (pasted, or from an app without token rotation) is kept as the bare token, so that `secret-tool
//! lookup` shows what the user pasted. A rotating token is kept as one JSON document with its refresh token,
//! the app's client id and its expiry: one entry, so that a refresh replaces access and refresh token
//! together (the Secret Service replaces an item in one call) and a crash can never leave a new access token
//! beside an old, already spent refresh token.

use caret_slack::{RefreshToken, SlackToken, TokenGrant};
use serde::{Deserialize, Serialize};

use crate::error::Result;
pub use crate::secrets::KEYRING_SERVICE;

/// The keyring account of a workspace's credentials: one per (team, user), so two workspaces never share.
pub fn keyring_account(team_id: &str, user_id: &str) -> String {
    format!("slack:{team_id}:{user_id}")
}

/// Refresh this long before expiry at most (Slack's tokens live 12 hours); a shorter-lived token is refreshed
/// once four fifths of its life have passed.
const REFRESH_MARGIN_SECS: i64 = 10 * 60;

/// How a rotating token is renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub refresh_token: RefreshToken,
    /// The Slack app's client id (not a secret; a PKCE app has no client secret).
    pub client_id: String,
    /// Unix seconds at which Slack stops taking the access token.
    pub expires_at: i64,
    /// Unix seconds from which it is refreshed.
    pub refresh_at: i64,
}

/// A workspace's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_token: SlackToken,
    pub rotation: Option<Rotation>,
}

/// The JSON form of a rotating token in the keyring. Versioned, so that a later format can read this one.
#[derive(Serialize, Deserialize)]
struct StoredRotating {
    v: u32,
    access_token: String,
    refresh_token: String,
    client_id: String,
    expires_at: i64,
    refresh_at: i64,
}

impl Credentials {
    /// A token that never expires.
    pub fn lasting(access_token: SlackToken) -> Credentials {
        Credentials {
            access_token,
            rotation: None,
        }
    }

    /// What `oauth.v2.access` granted, `now` in Unix seconds.
    pub fn from_grant(grant: &TokenGrant, client_id: &str, now: i64) -> Credentials {
        let rotation = match (&grant.refresh_token, grant.expires_in) {
            (Some(refresh_token), Some(lifetime)) => {
                let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX / 2);
                let margin = REFRESH_MARGIN_SECS.min(lifetime / 5);
                Some(Rotation {
                    refresh_token: refresh_token.clone(),
                    client_id: client_id.to_owned(),
                    expires_at: now.saturating_add(lifetime),
                    refresh_at: now.saturating_add(lifetime - margin),
                })
            }
            _ => None,
        };
        Credentials {
            access_token: grant.access_token.clone(),
            rotation,
        }
    }

    /// Reads what the keyring holds: a bare token, or the JSON of a rotating one. `None`: not ours.
    pub fn from_keyring_text(text: &str) -> Option<Credentials> {
        let text = text.trim();
        if !text.starts_with('{') {
            return SlackToken::parse(text).map(Credentials::lasting);
        }
        let stored: StoredRotating = serde_json::from_str(text).ok()?;
        if stored.v != 1 {
            return None;
        }
        Some(Credentials {
            access_token: SlackToken::parse(&stored.access_token)?,
            rotation: Some(Rotation {
                refresh_token: RefreshToken::parse(&stored.refresh_token)?,
                client_id: stored.client_id,
                expires_at: stored.expires_at,
                refresh_at: stored.refresh_at,
            }),
        })
    }

    /// The text to keep in the keyring.
    pub fn to_keyring_text(&self) -> String {
        match &self.rotation {
            None => self.access_token.expose_for_storage().to_owned(),
            Some(rotation) => serde_json::to_string(&StoredRotating {
                v: 1,
                access_token: self.access_token.expose_for_storage().to_owned(),
                refresh_token: rotation.refresh_token.expose().to_owned(),
                client_id: rotation.client_id.clone(),
                expires_at: rotation.expires_at,
                refresh_at: rotation.refresh_at,
            })
            // A struct of strings and integers always serialises.
            .unwrap_or_default(),
        }
    }
}

/// Keeps a workspace's credentials, replacing what was there in one call.
pub async fn store(account: String, credentials: &Credentials) -> Result<()> {
    crate::secrets::store(account, credentials.to_keyring_text()).await
}

/// Deletes a workspace's credentials; nothing there is fine.
pub async fn delete(account: String) -> Result<()> {
    crate::secrets::delete(account).await
}

/// Reads a workspace's credentials, blocking (the engine's token source runs it through
/// [`caret_store::off_the_async_workers`]). `Ok(None)`: nothing kept, or something that is not ours.
pub fn read_blocking(account: &str) -> Result<Option<Credentials>> {
    let Some(text) = crate::secrets::read_blocking(account)? else {
        return Ok(None);
    };
    let credentials = Credentials::from_keyring_text(&text);
    if credentials.is_none() {
        tracing::warn!("the keyring holds something for {account} that is not a Slack token");
    }
    Ok(credentials)
}

/// Reads a workspace's credentials off the async threads.
pub async fn read(account: String) -> Result<Option<Credentials>> {
    crate::blocking::run("reading the keyring", move || read_blocking(&account)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(refresh: Option<&str>, expires_in: Option<u64>) -> TokenGrant {
        TokenGrant {
            access_token: SlackToken::parse("xoxe.xoxp-1-access").unwrap(),
            refresh_token: refresh.and_then(RefreshToken::parse),
            expires_in,
            scopes: vec![],
            team_id: None,
            team_name: None,
            user_id: None,
        }
    }

    #[test]
    fn a_lasting_token_is_kept_bare_as_pasted() {
        let credentials = Credentials::lasting(SlackToken::parse("xoxp-1-2-3-abc").unwrap());
        assert_eq!(credentials.to_keyring_text(), "xoxp-1-2-3-abc");
        assert_eq!(
            Credentials::from_keyring_text(" xoxp-1-2-3-abc\n"),
            Some(credentials)
        );
    }

    #[test]
    fn a_rotating_token_round_trips_with_its_refresh_token_in_one_text() {
        let credentials =
            Credentials::from_grant(&grant(Some("xoxe-1-refresh"), Some(43_200)), "12.34", 1_000);
        let rotation = credentials.rotation.clone().unwrap();
        assert_eq!(rotation.expires_at, 1_000 + 43_200);
        assert_eq!(rotation.refresh_at, 1_000 + 43_200 - 600, "ten minutes early");
        let text = credentials.to_keyring_text();
        assert!(text.contains("xoxe-1-refresh") && text.contains("12.34"));
        assert_eq!(Credentials::from_keyring_text(&text), Some(credentials));
    }

    #[test]
    fn a_short_lived_token_is_refreshed_after_four_fifths_of_its_life() {
        let credentials = Credentials::from_grant(&grant(Some("xoxe-1-refresh"), Some(100)), "12.34", 0);
        assert_eq!(credentials.rotation.unwrap().refresh_at, 80);
    }

    #[test]
    fn a_grant_without_a_refresh_token_never_expires() {
        assert_eq!(
            Credentials::from_grant(&grant(None, None), "12.34", 0).rotation,
            None
        );
    }

    #[test]
    fn what_is_not_ours_is_not_read() {
        for text in [
            "",
            "hello",
            "{}",
            r#"{"v":2,"access_token":"xoxp-1-2-3-abc"}"#,
            "xoxb-1-2-3-bot",
        ] {
            assert_eq!(Credentials::from_keyring_text(text), None, "{text}");
        }
    }
}
