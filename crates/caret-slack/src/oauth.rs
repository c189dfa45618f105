//! OAuth v2 for a public client: PKCE (S256, no client secret) and token rotation.
//!
//! Slack's desktop flow: the app opens `…/oauth/v2/authorize` in the system browser with a `code_challenge`
//! and a `state`, Slack redirects the browser to a loopback URL registered in the app's manifest with a
//! `code`, and the app trades the code and the `code_verifier` for a user token at `oauth.v2.access`. With
//! token rotation the token (`xoxe.xoxp-…`) expires after 12 hours and comes with a single-use refresh token
//! (`xoxe-1-…`); refreshing returns a new pair and invalidates the old refresh token.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use url::Url;

use crate::error::{Result, SlackError, SlackMethod};
use crate::token::SlackToken;

/// A PKCE pair: the verifier stays in memory for the one exchange; only the challenge goes to the browser.
pub struct Pkce {
    verifier: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkce(…redacted)")
    }
}

/// `n` bytes from the system's CSPRNG, base64url without padding.
fn random_text(bytes: usize) -> Result<String> {
    let mut buffer = vec![0_u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| SlackError::Setup("the system random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

impl Pkce {
    /// A fresh verifier: 32 random bytes, 43 characters of the unreserved set (RFC 7636 §4.1 asks 43–128).
    pub fn generate() -> Result<Pkce> {
        Ok(Pkce {
            verifier: random_text(32)?,
        })
    }

    /// For tests: a known verifier.
    pub fn from_verifier(verifier: impl Into<String>) -> Pkce {
        Pkce {
            verifier: verifier.into(),
        }
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// `BASE64URL(SHA256(verifier))`, the S256 method (the only one Slack takes).
    pub fn challenge(&self) -> String {
        challenge_of(&self.verifier)
    }
}

/// The S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A fresh `state` value (128 random bits): the callback must bring it back unchanged.
pub fn random_state() -> Result<String> {
    random_text(16)
}

/// Where Slack's authorize page is for an API base URL: `https://slack.com/api` → `https://slack.com/oauth/v2/authorize`.
/// A local server in tests follows the same layout.
pub fn authorize_endpoint(api_base: &Url) -> Url {
    let mut url = api_base.clone();
    let path = api_base.path().trim_end_matches('/');
    let root = path.strip_suffix("/api").unwrap_or(path);
    url.set_path(&format!("{root}/oauth/v2/authorize"));
    url.set_query(None);
    url
}

/// What the browser is sent to.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest<'a> {
    pub client_id: &'a str,
    /// User scopes only: desktop redirects may not ask for bot scopes.
    pub user_scopes: &'a [&'a str],
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub code_challenge: &'a str,
}

/// The authorize URL for a request.
pub fn authorize_url(api_base: &Url, request: &AuthorizeRequest<'_>) -> Url {
    let mut url = authorize_endpoint(api_base);
    url.query_pairs_mut()
        .append_pair("client_id", request.client_id)
        .append_pair("user_scope", &request.user_scopes.join(","))
        .append_pair("redirect_uri", request.redirect_uri)
        .append_pair("state", request.state)
        .append_pair("code_challenge", request.code_challenge)
        .append_pair("code_challenge_method", "S256");
    url
}

/// A refresh token (`xoxe-1-…`): single use, redacted in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn parse(raw: &str) -> Option<RefreshToken> {
        let token = raw.trim();
        let plausible = token.starts_with("xoxe-")
            && token.len() >= 10
            && token.len() <= 512
            && token.bytes().all(|b| b.is_ascii_graphic());
        plausible.then(|| RefreshToken(token.to_owned()))
    }

    /// For the request body and the keyring only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(xoxe-…redacted)")
    }
}

impl fmt::Display for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("xoxe-…")
    }
}

/// What `oauth.v2.access` gives: a user token, and with rotation a refresh token and a lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: SlackToken,
    /// Present when the app has token rotation (the access token then expires).
    pub refresh_token: Option<RefreshToken>,
    /// Seconds the access token lives (43 200 on Slack), when it expires.
    pub expires_in: Option<u64>,
    /// The user scopes granted, when Slack says.
    pub scopes: Vec<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Deserialize)]
struct WireUser {
    id: Option<String>,
    scope: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct WireTeam {
    id: Option<String>,
    name: Option<String>,
}

/// The answer of `oauth.v2.access`. A code exchange for user scopes nests the token under `authed_user`; a
/// refresh of a user token answers at the top level (with `token_type: "user"`). Both are read.
#[derive(Deserialize)]
pub(crate) struct WireGrant {
    authed_user: Option<WireUser>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
    token_type: Option<String>,
    team: Option<WireTeam>,
}

impl WireGrant {
    pub(crate) fn into_grant(self) -> Result<TokenGrant> {
        let invalid = |message: &str| SlackError::InvalidResponse {
            method: SlackMethod::OAuthV2Access,
            message: message.to_owned(),
        };
        let user = self.authed_user.filter(|user| user.access_token.is_some());
        let top_level_is_user = self.token_type.as_deref().is_none_or(|kind| kind == "user");
        let (access, refresh, expires_in, scope, user_id) = match user {
            Some(user) => (
                user.access_token,
                user.refresh_token,
                user.expires_in,
                user.scope,
                user.id,
            ),
            None if top_level_is_user => (
                self.access_token,
                self.refresh_token,
                self.expires_in,
                self.scope,
                None,
            ),
            None => {
                return Err(invalid(
                    "no user token in the answer (was a bot scope asked for?)",
                ));
            }
        };
        let access_token = access
            .as_deref()
            .and_then(SlackToken::parse)
            .ok_or_else(|| invalid("the answer holds no user token"))?;
        let refresh_token = match refresh {
            Some(raw) => {
                Some(RefreshToken::parse(&raw).ok_or_else(|| invalid("the refresh token is malformed"))?)
            }
            None => None,
        };
        let (team_id, team_name) = self.team.map_or((None, None), |team| (team.id, team.name));
        Ok(TokenGrant {
            access_token,
            refresh_token,
            expires_in,
            scopes: crate::client::scope_list(scope.as_deref().unwrap_or("")),
            team_id,
            team_name,
            user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(pkce.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_verifiers_are_long_enough_unreserved_and_different() {
        let a = Pkce::generate().unwrap();
        let b = Pkce::generate().unwrap();
        assert_eq!(a.verifier().len(), 43);
        assert!(
            a.verifier()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.verifier(), b.verifier());
        assert_ne!(random_state().unwrap(), random_state().unwrap());
        assert!(!format!("{a:?}").contains(a.verifier()));
    }

    #[test]
    fn the_authorize_url_asks_for_user_scopes_with_s256_and_the_state() {
        let base: Url = "https://slack.com/api".parse().unwrap();
        let url = authorize_url(
            &base,
            &AuthorizeRequest {
                client_id: "123.456",
                user_scopes: &["users.profile:write", "users:read"],
                redirect_uri: "http://localhost:47824/oauth/callback",
                state: "st4te",
                code_challenge: "chall",
            },
        );
        assert_eq!(url.origin().unicode_serialization(), "https://slack.com");
        assert_eq!(url.path(), "/oauth/v2/authorize");
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["client_id"], "123.456");
        assert_eq!(pairs["user_scope"], "users.profile:write,users:read");
        assert_eq!(pairs["redirect_uri"], "http://localhost:47824/oauth/callback");
        assert_eq!(pairs["state"], "st4te");
        assert_eq!(pairs["code_challenge"], "chall");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert!(!pairs.contains_key("scope"), "no bot scopes");
        assert!(!pairs.contains_key("client_secret"));
    }

    #[test]
    fn a_local_api_base_has_its_authorize_page_beside_it() {
        let base: Url = "http://127.0.0.1:4010/api/".parse().unwrap();
        assert_eq!(
            authorize_endpoint(&base).as_str(),
            "http://127.0.0.1:4010/oauth/v2/authorize"
        );
    }

    #[test]
    fn a_code_exchange_reads_the_nested_user_token_and_a_refresh_the_top_level_one() {
        let exchanged: WireGrant = serde_json::from_value(serde_json::json!({
            "ok": true, "app_id": "A1",
            "authed_user": {"id": "U1", "scope": "users.profile:write,users:read", "access_token": "xoxe.xoxp-1-abc",
                            "token_type": "user", "refresh_token": "xoxe-1-def", "expires_in": 43200},
            "team": {"id": "T1", "name": "Acme"}
        }))
        .unwrap();
        let grant = exchanged.into_grant().unwrap();
        assert_eq!(grant.expires_in, Some(43200));
        assert_eq!(
            grant.refresh_token.as_ref().map(RefreshToken::expose),
            Some("xoxe-1-def")
        );
        assert_eq!(grant.scopes, ["users.profile:write", "users:read"]);
        assert_eq!(grant.team_name.as_deref(), Some("Acme"));
        assert_eq!(grant.user_id.as_deref(), Some("U1"));

        let refreshed: WireGrant = serde_json::from_value(serde_json::json!({
            "ok": true, "access_token": "xoxe.xoxp-1-ghi", "token_type": "user", "refresh_token": "xoxe-1-jkl",
            "expires_in": 43200, "scope": "users.profile:write", "team": {"id": "T1", "name": "Acme"}
        }))
        .unwrap();
        let grant = refreshed.into_grant().unwrap();
        assert_eq!(
            grant.refresh_token.as_ref().map(RefreshToken::expose),
            Some("xoxe-1-jkl")
        );

        let bot_only: WireGrant = serde_json::from_value(serde_json::json!({
            "ok": true, "access_token": "xoxb-1-2", "token_type": "bot"
        }))
        .unwrap();
        assert!(bot_only.into_grant().is_err(), "a bot token cannot set a status");
    }

    #[test]
    fn a_refresh_token_never_shows_itself() {
        let token = RefreshToken::parse("xoxe-1-verysecret").unwrap();
        assert!(!format!("{token:?}{token}").contains("verysecret"));
        assert!(RefreshToken::parse("xoxp-1-2-3").is_none());
    }
}
