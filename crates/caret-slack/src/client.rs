//! [`SlackClient`]: one async method per Web API method, one attempt per call.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Result, SlackError, SlackMethod};
use crate::oauth::{RefreshToken, TokenGrant, WireGrant};
use crate::token::SlackToken;

/// What `auth.test` tells about a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthInfo {
    /// The workspace's URL, e.g. `https://acme.slack.com/`.
    pub url: String,
    pub team: String,
    pub team_id: String,
    pub user: String,
    pub user_id: String,
    /// The scopes granted to the token, from the `x-oauth-scopes` response header.
    #[serde(skip)]
    pub scopes: Vec<String>,
}

impl AuthInfo {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

/// The custom-status part of a Slack profile, as Slack sends and takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileStatus {
    #[serde(default)]
    pub status_text: String,
    #[serde(default)]
    pub status_emoji: String,
    /// Unix seconds; 0 for never.
    #[serde(default)]
    pub status_expiration: i64,
}

impl ProfileStatus {
    /// Slack's way to clear a status: both text and emoji empty.
    pub fn cleared() -> ProfileStatus {
        ProfileStatus::default()
    }

    pub fn is_clear(&self) -> bool {
        self.status_text.is_empty() && self.status_emoji.is_empty()
    }
}

/// What `users.profile.set` takes.
pub type StatusFields = ProfileStatus;

/// The presence values `users.setPresence` accepts (nothing forces "active").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WirePresence {
    Auto,
    Away,
}

/// What `users.getPresence` tells.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PresenceInfo {
    /// "active" or "away".
    pub presence: String,
    #[serde(default)]
    pub manual_away: bool,
    #[serde(default)]
    pub auto_away: bool,
    #[serde(default)]
    pub online: bool,
}

/// The person's Do Not Disturb, as `dnd.info`, `dnd.setSnooze` and `dnd.endSnooze` answer: their schedule is
/// on or off, and a snooze (the "pause notifications" a person or an app starts) runs until `snooze_endtime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DndInfo {
    /// The person's Do Not Disturb schedule is on (not a snooze).
    #[serde(default)]
    pub dnd_enabled: bool,
    #[serde(default)]
    pub snooze_enabled: bool,
    /// Unix seconds; Slack leaves it out when no snooze runs.
    #[serde(default)]
    pub snooze_endtime: Option<i64>,
}

#[derive(Deserialize)]
struct ProfileEnvelope {
    profile: ProfileStatus,
}

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct Revoked {
    #[serde(default)]
    revoked: bool,
}

/// What `chat.postMessage` tells of the message it posted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PostedMessage {
    pub channel: String,
    /// The message's timestamp, its id in the channel.
    pub ts: String,
}

/// A client for one Slack API base URL (production Slack, or a local server in tests).
#[derive(Debug, Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: Url,
}

impl SlackClient {
    /// `timeout` bounds each call from connect to the last byte.
    pub fn new(base: Url, timeout: Duration) -> Result<SlackClient> {
        // rustls needs a process-wide crypto provider; installing it twice is harmless (the second is refused).
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("caret-desktop/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| SlackError::Setup(error.to_string()))?;
        Ok(SlackClient { http, base })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, method: SlackMethod) -> String {
        format!("{}/{}", self.base.as_str().trim_end_matches('/'), method.as_str())
    }

    fn post(&self, method: SlackMethod, token: &SlackToken) -> RequestBuilder {
        self.http
            .post(self.url(method))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
    }

    fn get(&self, method: SlackMethod, token: &SlackToken) -> RequestBuilder {
        self.http
            .get(self.url(method))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
    }

    /// Who the token belongs to, and which scopes it has.
    pub async fn auth_test(&self, token: &SlackToken) -> Result<AuthInfo> {
        let method = SlackMethod::AuthTest;
        let (mut info, headers): (AuthInfo, _) = self.call(method, self.post(method, token)).await?;
        info.scopes = scope_list(
            headers
                .get("x-oauth-scopes")
                .and_then(|value| value.to_str().ok())
                .unwrap_or(""),
        );
        Ok(info)
    }

    /// The user's current custom status.
    pub async fn profile_get(&self, token: &SlackToken) -> Result<ProfileStatus> {
        let method = SlackMethod::UsersProfileGet;
        let (envelope, _): (ProfileEnvelope, _) = self.call(method, self.get(method, token)).await?;
        Ok(envelope.profile)
    }

    /// Sets (or, with [`ProfileStatus::cleared`], clears) the custom status; returns the status Slack kept.
    pub async fn profile_set(&self, token: &SlackToken, status: &StatusFields) -> Result<ProfileStatus> {
        let method = SlackMethod::UsersProfileSet;
        let body = serde_json::json!({ "profile": status });
        let (envelope, _): (ProfileEnvelope, _) =
            self.call(method, self.post(method, token).json(&body)).await?;
        Ok(envelope.profile)
    }

    pub async fn set_presence(&self, token: &SlackToken, presence: WirePresence) -> Result<()> {
        let method = SlackMethod::UsersSetPresence;
        let body = serde_json::json!({ "presence": presence });
        let _: (Empty, _) = self.call(method, self.post(method, token).json(&body)).await?;
        Ok(())
    }

    pub async fn get_presence(&self, token: &SlackToken) -> Result<PresenceInfo> {
        let method = SlackMethod::UsersGetPresence;
        let (info, _) = self.call(method, self.get(method, token)).await?;
        Ok(info)
    }

    /// The person's Do Not Disturb (`dnd.info`: scope `dnd:read`, tier 3).
    pub async fn dnd_info(&self, token: &SlackToken) -> Result<DndInfo> {
        let method = SlackMethod::DndInfo;
        let (info, _) = self.call(method, self.get(method, token)).await?;
        Ok(info)
    }

    /// Starts a snooze of `minutes` (at least 1), or changes the one running (`dnd.setSnooze`: scope
    /// `dnd:write`, tier 2). Slack documents this method as form-encoded only, so no JSON body.
    pub async fn set_snooze(&self, token: &SlackToken, minutes: std::num::NonZeroU32) -> Result<DndInfo> {
        let method = SlackMethod::DndSetSnooze;
        let form = [("num_minutes", minutes.to_string())];
        let (info, _) = self.call(method, self.post(method, token).form(&form)).await?;
        Ok(info)
    }

    /// Ends the snooze running now (`dnd.endSnooze`: scope `dnd:write`, tier 2); Slack answers
    /// `snooze_not_active` when none runs.
    pub async fn end_snooze(&self, token: &SlackToken) -> Result<DndInfo> {
        let method = SlackMethod::DndEndSnooze;
        let (info, _) = self.call(method, self.post(method, token)).await?;
        Ok(info)
    }

    /// Trades an authorization code and its PKCE verifier for a user token (no client secret: a public client).
    pub async fn oauth_exchange(
        &self,
        client_id: &str,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant> {
        let method = SlackMethod::OAuthV2Access;
        let form = [
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", code_verifier),
            ("redirect_uri", redirect_uri),
            ("grant_type", "authorization_code"),
        ];
        let request = self.http.post(self.url(method)).form(&form);
        let (grant, _): (WireGrant, _) = self.call(method, request).await?;
        grant.into_grant()
    }

    /// Trades a refresh token for a new access token and a new refresh token; the old refresh token is dead
    /// once Slack answers.
    pub async fn oauth_refresh(&self, client_id: &str, refresh_token: &RefreshToken) -> Result<TokenGrant> {
        let method = SlackMethod::OAuthV2Access;
        let form = [
            ("client_id", client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        let request = self.http.post(self.url(method)).form(&form);
        let (grant, _): (WireGrant, _) = self.call(method, request).await?;
        grant.into_grant()
    }

    /// Revokes the token at Slack. `Ok(false)`: Slack answered but did not revoke (a test-mode call).
    pub async fn auth_revoke(&self, token: &SlackToken) -> Result<bool> {
        let method = SlackMethod::AuthRevoke;
        let (answer, _): (Revoked, _) = self.call(method, self.post(method, token)).await?;
        Ok(answer.revoked)
    }

    /// Posts a plain-text message; a user id as `channel` posts to the direct message with that user (with
    /// one's own id: the DM to oneself).
    pub async fn post_message(&self, token: &SlackToken, channel: &str, text: &str) -> Result<PostedMessage> {
        let method = SlackMethod::ChatPostMessage;
        // Plain text with no link unfurling: the notice names devices and workspaces, nothing to preview.
        let body = serde_json::json!({
            "channel": channel, "text": text, "unfurl_links": false, "unfurl_media": false, "mrkdwn": false,
        });
        let (posted, _) = self.call(method, self.post(method, token).json(&body)).await?;
        Ok(posted)
    }

    /// Sends one request and turns every way it can fail into a [`SlackError`].
    async fn call<T: DeserializeOwned>(
        &self,
        method: SlackMethod,
        request: RequestBuilder,
    ) -> Result<(T, HeaderMap)> {
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(method, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SlackError::RateLimited {
                method,
                retry_after: retry_after(&headers),
            });
        }
        if status.is_server_error() {
            return Err(SlackError::Server {
                method,
                status: status.as_u16(),
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| transport_error(method, &error))?;
        let parsed: std::result::Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
        if !status.is_success() {
            // OAuth errors may come as HTTP 400 with Slack's usual `error` field: keep its code when there is one.
            let code = parsed
                .ok()
                .and_then(|value| {
                    value
                        .get("error")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| format!("http_{}", status.as_u16()));
            return Err(SlackError::from_api(method, &code, None, None));
        }
        let invalid = |message: String| SlackError::InvalidResponse { method, message };
        let value = parsed.map_err(|error| invalid(error.to_string()))?;
        if value.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
            let field = |name: &str| {
                value
                    .get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            let code = field("error").unwrap_or_else(|| "unknown_error".to_owned());
            return Err(SlackError::from_api(
                method,
                &code,
                field("needed"),
                field("provided"),
            ));
        }
        let parsed = serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
        Ok((parsed, headers))
    }
}

/// Slack's comma-separated scope lists (`x-oauth-scopes`, `scope`, `provided`) as a list.
pub(crate) fn scope_list(scopes: &str) -> Vec<String> {
    scopes
        .split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Slack gives `Retry-After` in seconds. Missing or unreadable: a minute, the window its limits are counted in.
/// Kept between 1 s (0 would mean hammering) and an hour (a huge value is a broken proxy, not a plan).
fn retry_after(headers: &HeaderMap) -> Duration {
    let seconds = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds.clamp(1, 3600))
}

fn transport_error(method: SlackMethod, error: &reqwest::Error) -> SlackError {
    if error.is_timeout() {
        return SlackError::Timeout { method };
    }
    // reqwest's message names the URL, which holds no secret (the token travels in a header).
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    SlackError::Network { method, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_falls_back_to_a_minute() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), Duration::from_secs(60));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Duration::from_secs(7));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Duration::from_secs(60));
    }

    #[test]
    fn method_urls_join_the_base_without_double_slashes() {
        let client =
            SlackClient::new("http://127.0.0.1:9/api/".parse().unwrap(), Duration::from_secs(1)).unwrap();
        assert_eq!(
            client.url(SlackMethod::UsersProfileSet),
            "http://127.0.0.1:9/api/users.profile.set"
        );
    }

    #[test]
    fn a_cleared_status_is_both_fields_empty() {
        assert!(ProfileStatus::cleared().is_clear());
        let json = serde_json::to_value(ProfileStatus::cleared()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status_text": "", "status_emoji": "", "status_expiration": 0})
        );
    }
}
