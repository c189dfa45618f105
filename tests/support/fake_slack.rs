//! A local Slack Web API server that behaves as Slack documents it, for tests (`127.0.0.1:0`):
//!
//! - tokens: missing → `not_authed`, unknown → `invalid_auth`, revoked → `token_revoked`, expired →
//!   `token_expired`; `auth.test` returns the granted scopes in `x-oauth-scopes`;
//! - scopes: each method needs its scope, else `missing_scope` with `needed` and `provided`;
//! - `users.profile.set`: JSON body `{"profile": {…}}`; over 100 characters → `too_long`; an emoji not on the
//!   workspace → `profile_status_set_failed_not_valid_emoji`, raw unicode → `…_not_emoji_syntax`; text and
//!   emoji both `""` clears; a text without emoji gets `:speech_balloon:`; `&`, `<`, `>` are kept escaped;
//!   the status clears itself at `status_expiration`;
//! - presence: `users.setPresence` (`auto`/`away`, else `invalid_presence`), `users.getPresence`;
//! - Do Not Disturb: `dnd.setSnooze` (form-encoded `num_minutes`, as Slack documents it; none readable →
//!   `missing_duration`; `dnd:write`, tier 2), `dnd.endSnooze` (`snooze_not_active` when none runs; `dnd:write`,
//!   tier 2), `dnd.info` (`dnd:read`, tier 3); a snooze ends by itself at its end; the user snoozes on their
//!   own with [`FakeSlack::user_snoozes`];
//! - limits: `users.profile.set` at most 10 per minute per user, and per-method tier limits per workspace,
//!   answered with HTTP 429, `Retry-After` (seconds) and `{"ok":false,"error":"ratelimited"}`;
//! - faults on demand: HTTP 5xx, hanging (timeouts), an outage until a time (for everyone or one team), a
//!   revoked or expired token, a status changed by the user in Slack;
//! - OAuth v2 for a registered app ([`OAuthApp`]): `/oauth/v2/authorize` approves (or declines) as the user
//!   signed in to the browser and redirects to the redirect URL, which must match a registered one exactly,
//!   with a single-use code; `oauth.v2.access` (form-encoded) trades it only with the right `client_id`,
//!   `redirect_uri` and a `code_verifier` whose S256 is the `code_challenge` (PKCE; no client secret). With
//!   token rotation the access token (`xoxe.xoxp-…`) expires after the app's lifetime and comes with a
//!   refresh token that works once (`invalid_refresh_token` after);
//! - `auth.revoke` (the token then answers `token_revoked`), `chat.postMessage` (needs `chat:write`; kept,
//!   see [`FakeSlack::messages`]).
//!
//! Time is tokio's ([`TestClock`]): with `tokio::time::pause()` a test moves expirations and rate windows
//! forward by advancing the clock, never by sleeping.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Wall-clock time that moves with tokio's clock, so paused-time tests control it.
#[derive(Debug, Clone, Copy)]
pub struct TestClock {
    base_unix_millis: i64,
    base_instant: Instant,
}

impl TestClock {
    pub fn new() -> TestClock {
        let base_unix_millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        TestClock {
            base_unix_millis,
            base_instant: Instant::now(),
        }
    }

    pub fn unix_millis(&self) -> i64 {
        let elapsed = i64::try_from(self.base_instant.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_unix_millis + elapsed
    }

    pub fn unix_seconds(&self) -> i64 {
        self.unix_millis() / 1000
    }
}

impl Default for TestClock {
    fn default() -> Self {
        TestClock::new()
    }
}

/// The status fields of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub emoji: String,
    pub expiration: i64,
}

/// One user with one token.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub team_id: String,
    pub team: String,
    pub user_id: String,
    pub user: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
    pub expired: bool,
    pub status: Status,
    pub manual_away: bool,
    /// The snooze running (Do Not Disturb paused notifications) until then, in Slack's clock's Unix seconds.
    pub snooze_until: Option<i64>,
    profile_sets: VecDeque<Instant>,
}

/// The Slack app users sign in to (created from the manifest).
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub redirect_urls: Vec<String>,
    /// Access tokens expire after `token_lifetime` and come with refresh tokens.
    pub token_rotation: bool,
    pub token_lifetime: Duration,
}

/// A token issued by `oauth.v2.access` (a sign-in or a refresh).
#[derive(Debug, Clone)]
struct Issued {
    token: String,
    account: usize,
    /// Unix seconds; `None`: never expires.
    expires_at: Option<i64>,
    revoked: bool,
}

/// A code the authorize page handed out, waiting to be traded.
#[derive(Debug, Clone)]
struct PendingCode {
    account: usize,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    used: bool,
}

/// A message posted with `chat.postMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    /// Who posted it.
    pub user_id: String,
    pub channel: String,
    pub text: String,
}

/// A call as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub method: String,
    pub user_id: Option<String>,
    pub body: Value,
    /// "ok", the `error` code, or "http_NNN".
    pub outcome: String,
    pub at: Instant,
    /// Slack's clock when the call arrived, in Unix seconds (it moves with [`FakeSlack::advance_clock`]).
    pub slack_secs: i64,
}

/// What goes wrong.
#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// Answer with this HTTP status (5xx) instead of handling the call.
    ServerError(u16),
    /// Handle the call (a write is applied), then hold the answer this long: longer than the client waits, it
    /// is a timeout whose write landed anyway.
    Hang(Duration),
    /// Answer HTTP 429 with this `Retry-After`.
    RateLimited(Duration),
}

/// A fault to inject, for the next `times` calls (of `method`, if given).
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub times: usize,
    pub method: Option<&'static str>,
}

impl Fault {
    pub fn server_error(status: u16, times: usize) -> Fault {
        Fault {
            kind: FaultKind::ServerError(status),
            times,
            method: None,
        }
    }

    pub fn hang(delay: Duration, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Hang(delay),
            times,
            method: None,
        }
    }

    pub fn rate_limited(retry_after: Duration, times: usize) -> Fault {
        Fault {
            kind: FaultKind::RateLimited(retry_after),
            times,
            method: None,
        }
    }

    /// Only calls of this method.
    pub fn on(mut self, method: &'static str) -> Fault {
        self.method = Some(method);
        self
    }
}

struct Inner {
    clock: TestClock,
    /// How far Slack's clock was moved ahead of the test clock ([`FakeSlack::advance_clock`]).
    skew_secs: i64,
    accounts: Vec<Account>,
    calls: Vec<RecordedCall>,
    faults: VecDeque<Fault>,
    outage_until: Option<Instant>,
    tier_windows: HashMap<(String, String), VecDeque<Instant>>,
    custom_emoji: Vec<String>,
    profile_set_limit: usize,
    calls_feed: tokio::sync::broadcast::Sender<RecordedCall>,
    app: Option<OAuthApp>,
    /// The account signed in to the browser, which the authorize page approves for; `None`: declines.
    browser_user: Option<usize>,
    codes: HashMap<String, PendingCode>,
    issued: Vec<Issued>,
    /// refresh token → (account, client id, spent)
    refresh_tokens: HashMap<String, (usize, String, bool)>,
    messages: Vec<PostedMessage>,
    team_outages: HashMap<String, Instant>,
    serial: u64,
    /// Unique to this server in this machine: tests run side by side and share one keyring, so team ids,
    /// user ids and tokens must not repeat between servers.
    instance: String,
}

impl Inner {
    /// Slack's time, in Unix seconds.
    fn now_secs(&self) -> i64 {
        self.clock.unix_seconds() + self.skew_secs
    }
}

fn next_instance() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let local = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}x{local}", std::process::id())
}

/// The per-user limit on `users.profile.set`.
pub const PROFILE_SET_PER_MINUTE: usize = 10;

/// Standard emoji the workspace always has (a sample; tests use these or add custom ones).
const STANDARD_EMOJI: &[&str] = &[
    "no_entry",
    "telephone_receiver",
    "car",
    "no_bell",
    "calendar",
    "walking",
    "runner",
    "bicyclist",
    "sleeping",
    "speech_balloon",
    "spiral_calendar_pad",
    "palm_tree",
    "house",
    "coffee",
    "headphones",
    "large_green_circle",
    "crescent_moon",
];

fn scope_for(method: &str) -> Option<&'static str> {
    match method {
        "chat.postMessage" => Some("chat:write"),
        "users.profile.set" => Some("users.profile:write"),
        "users.profile.get" => Some("users.profile:read"),
        "users.setPresence" => Some("users:write"),
        "users.getPresence" => Some("users:read"),
        "dnd.info" => Some("dnd:read"),
        "dnd.setSnooze" | "dnd.endSnooze" => Some("dnd:write"),
        _ => None,
    }
}

/// Requests per minute per workspace, by method tier (Slack's tiers 2-4; auth.test is "special", generous).
fn tier_limit(method: &str) -> usize {
    match method {
        "users.setPresence" | "dnd.setSnooze" | "dnd.endSnooze" => 20,
        "users.profile.set" | "users.getPresence" | "dnd.info" => 50,
        "users.profile.get" => 100,
        _ => 600,
    }
}

/// The server. Dropping it stops it.
pub struct FakeSlack {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSlack {
    pub async fn start(clock: TestClock) -> FakeSlack {
        let inner = Arc::new(Mutex::new(Inner {
            clock,
            skew_secs: 0,
            accounts: Vec::new(),
            calls: Vec::new(),
            faults: VecDeque::new(),
            outage_until: None,
            tier_windows: HashMap::new(),
            custom_emoji: Vec::new(),
            profile_set_limit: PROFILE_SET_PER_MINUTE,
            calls_feed: tokio::sync::broadcast::channel(1024).0,
            app: None,
            browser_user: None,
            codes: HashMap::new(),
            issued: Vec::new(),
            refresh_tokens: HashMap::new(),
            messages: Vec::new(),
            team_outages: HashMap::new(),
            serial: 0,
            instance: next_instance(),
        }));
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .route("/oauth/v2/authorize", axum::routing::get(authorize))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSlack { addr, inner, task }
    }

    /// The base URL to give the client (`CARET_SLACK_API_URL`).
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("fake slack lock"))
    }

    /// Adds a user with a token and the given scopes; returns the token.
    pub fn add_user(&self, team: &str, user: &str, scopes: &[&str]) -> String {
        self.with(|inner| {
            let index = inner.accounts.len() + 1;
            let instance = &inner.instance;
            let token = format!("xoxp-{instance}-{index}111-fake{index}{user}");
            inner.accounts.push(Account {
                token: token.clone(),
                team_id: format!("T{instance}X{index:04}"),
                team: team.to_owned(),
                user_id: format!("U{instance}X{index:04}"),
                user: user.to_owned(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                revoked: false,
                expired: false,
                status: Status::default(),
                manual_away: false,
                snooze_until: None,
                profile_sets: VecDeque::new(),
            });
            token
        })
    }

    /// The scopes Do Not Disturb needs (in [`FakeSlack::FULL_SCOPES`] too).
    pub const DND_SCOPES: [&'static str; 2] = ["dnd:read", "dnd:write"];

    /// All the scopes Caret Desktop asks for, but `chat:write` (security notices, off unless turned on).
    pub const FULL_SCOPES: [&'static str; 6] = [
        "users.profile:write",
        "users.profile:read",
        "users:write",
        "users:read",
        "dnd:write",
        "dnd:read",
    ];

    pub fn account(&self, token: &str) -> Account {
        self.with(|inner| {
            let now = inner.now_secs();
            let account = inner
                .accounts
                .iter_mut()
                .find(|a| a.token == token)
                .expect("known token");
            expire_status(account, now);
            account.clone()
        })
    }

    fn with_account<T>(&self, token: &str, change: impl FnOnce(&mut Account) -> T) -> T {
        self.with(|inner| {
            change(
                inner
                    .accounts
                    .iter_mut()
                    .find(|a| a.token == token)
                    .expect("known token"),
            )
        })
    }

    /// The status Slack shows now (expired statuses already cleared).
    pub fn status(&self, token: &str) -> Status {
        self.account(token).status
    }

    /// The user pauses notifications in Slack for `minutes` (a snooze of their own).
    pub fn user_snoozes(&self, token: &str, minutes: i64) {
        self.with(|inner| {
            let until = inner.now_secs() + minutes * 60;
            if let Some(account) = inner.accounts.iter_mut().find(|account| account.token == token) {
                account.snooze_until = Some(until);
            }
        });
    }

    /// The user (or another app) changes the status in Slack.
    pub fn user_sets_status(&self, token: &str, status: Status) {
        self.with_account(token, |account| account.status = status);
    }

    /// The user's admin takes a scope away from the app (the token no longer has it).
    pub fn remove_scope(&self, token: &str, scope: &str) {
        self.with_account(token, |account| account.scopes.retain(|s| s != scope));
    }

    pub fn revoke(&self, token: &str) {
        self.with_account(token, |account| account.revoked = true);
    }

    /// The user removes the app from the workspace and installs it again: `token` now answers
    /// `token_revoked`, and the same account (its status kept) has a new token, which this returns.
    pub fn reinstall(&self, token: &str) -> String {
        self.with(|inner| {
            inner.serial += 1;
            let fresh = format!(
                "xoxp-{}-{}-reinstalled{}",
                inner.instance, inner.serial, inner.serial
            );
            let index = inner
                .accounts
                .iter()
                .position(|account| account.token == token)
                .expect("known token");
            inner.issued.push(Issued {
                token: token.to_owned(),
                account: index,
                expires_at: None,
                revoked: true,
            });
            let account = &mut inner.accounts[index];
            account.token = fresh.clone();
            account.revoked = false;
            fresh
        })
    }

    pub fn expire_token(&self, token: &str) {
        self.with_account(token, |account| account.expired = true);
    }

    pub fn add_custom_emoji(&self, name: &str) {
        self.with(|inner| inner.custom_emoji.push(name.to_owned()));
    }

    pub fn inject(&self, fault: Fault) {
        self.with(|inner| inner.faults.push_back(fault));
    }

    /// Moves Slack's clock ahead (expirations come due), for tests of a real app, whose clock cannot be paused.
    pub fn advance_clock(&self, by: Duration) {
        self.with(|inner| inner.skew_secs += i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 2));
    }

    /// Slack's time now, in Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.with(|inner| inner.now_secs())
    }

    /// Every call answers HTTP 503 for `duration` from now.
    pub fn outage_for(&self, duration: Duration) {
        self.with(|inner| inner.outage_until = Some(Instant::now() + duration));
    }

    /// Every call from now on, as it arrives.
    pub fn subscribe_calls(&self) -> tokio::sync::broadcast::Receiver<RecordedCall> {
        self.with(|inner| inner.calls_feed.subscribe())
    }

    /// Lifts Slack's limits (the 10/min per user and the tiers), for benchmarks of our own pipeline.
    pub fn lift_limits(&self) {
        self.with(|inner| inner.profile_set_limit = usize::MAX);
    }

    /// Registers the Slack app that sign-ins go to.
    pub fn register_app(&self, app: OAuthApp) {
        self.with(|inner| inner.app = Some(app));
    }

    /// The user signed in to Slack in the browser (`None`: whoever it is declines).
    pub fn sign_in_browser_as(&self, token: Option<&str>) {
        self.with(|inner| {
            inner.browser_user = token.map(|token| {
                inner
                    .accounts
                    .iter()
                    .position(|a| a.token == token)
                    .expect("known token")
            });
        });
    }

    /// The tokens `oauth.v2.access` issued for the user of `token`, oldest first.
    pub fn issued_tokens(&self, token: &str) -> Vec<String> {
        self.with(|inner| {
            let account = inner
                .accounts
                .iter()
                .position(|a| a.token == token)
                .expect("known token");
            inner
                .issued
                .iter()
                .filter(|issued| issued.account == account)
                .map(|issued| issued.token.clone())
                .collect()
        })
    }

    /// Slack calls an issued token expired from now on (before its time).
    pub fn expire_issued(&self, token: &str) {
        self.with(|inner| {
            let now = inner.now_secs();
            if let Some(issued) = inner.issued.iter_mut().find(|issued| issued.token == token) {
                issued.expires_at = Some(now);
            }
        });
    }

    /// Every refresh token stops working (the app's refresh tokens were revoked, or expired after 30 days).
    pub fn spoil_refresh_tokens(&self) {
        self.with(|inner| {
            for entry in inner.refresh_tokens.values_mut() {
                entry.2 = true;
            }
        });
    }

    /// Whether Slack still takes a token (primary or issued).
    pub fn token_works(&self, token: &str) -> bool {
        self.with(|inner| {
            let now = inner.now_secs();
            resolve(inner, token, now).is_ok()
        })
    }

    /// Messages posted with `chat.postMessage`, oldest first.
    pub fn messages(&self) -> Vec<PostedMessage> {
        self.with(|inner| inner.messages.clone())
    }

    /// Every call for this team answers HTTP 503 for `duration` from now (the other teams are fine).
    pub fn team_outage_for(&self, token: &str, duration: Duration) {
        let team_id = self.account(token).team_id;
        self.with(|inner| inner.team_outages.insert(team_id, Instant::now() + duration));
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.with(|inner| inner.calls.clone())
    }

    /// Calls of one method that Slack accepted.
    pub fn accepted(&self, method: &str) -> usize {
        self.with(|inner| {
            inner
                .calls
                .iter()
                .filter(|c| c.method == method && c.outcome == "ok")
                .count()
        })
    }

    pub fn count(&self, method: &str, outcome: &str) -> usize {
        self.with(|inner| {
            inner
                .calls
                .iter()
                .filter(|c| c.method == method && c.outcome == outcome)
                .count()
        })
    }
}

fn expire_status(account: &mut Account, now: i64) {
    if account.status.expiration != 0 && account.status.expiration <= now {
        account.status = Status::default();
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

fn api_error(code: &str) -> (StatusCode, Value) {
    (StatusCode::OK, json!({"ok": false, "error": code}))
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let body_json: Value = if body.is_empty() {
        json!({})
    } else if is_form {
        Value::Object(
            url::form_urlencoded::parse(&body)
                .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
                .collect(),
        )
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let token = bearer(&headers);

    // Faults first: they model trouble in front of the API.
    let fault = {
        let mut guard = inner.lock().expect("fake slack lock");
        let now = guard.now_secs();
        let team_down = token
            .as_deref()
            .and_then(|token| resolve(&guard, token, now).ok())
            .and_then(|index| guard.team_outages.get(&guard.accounts[index].team_id))
            .is_some_and(|until| Instant::now() < *until);
        if team_down || guard.outage_until.is_some_and(|until| Instant::now() < until) {
            Some(FaultKind::ServerError(503))
        } else {
            guard.faults.retain(|fault| fault.times > 0);
            let matching = guard
                .faults
                .iter_mut()
                .find(|fault| fault.method.is_none_or(|m| m == method));
            matching.map(|fault| {
                fault.times -= 1;
                fault.kind
            })
        }
    };

    let early_or_answer = {
        let mut guard = inner.lock().expect("fake slack lock");
        let state = &mut *guard;
        let now = state.now_secs();
        let user_id = token
            .as_ref()
            .and_then(|t| resolve(state, t, now).ok())
            .map(|index| state.accounts[index].user_id.clone());
        let record = |state: &mut Inner, outcome: &str| {
            let call = RecordedCall {
                method: method.clone(),
                user_id: user_id.clone(),
                body: body_json.clone(),
                outcome: outcome.to_owned(),
                at: Instant::now(),
                slack_secs: state.now_secs(),
            };
            let _ = state.calls_feed.send(call.clone());
            state.calls.push(call);
        };
        match fault {
            Some(FaultKind::ServerError(status)) => {
                record(state, &format!("http_{status}"));
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                Err((code, "upstream trouble").into_response())
            }
            Some(FaultKind::RateLimited(retry_after)) => {
                record(state, "ratelimited");
                Ok(ratelimited(retry_after))
            }
            _ => {
                let request = Request {
                    token: token.as_deref(),
                    body: &body_json,
                    is_form,
                };
                let answered = answer(state, &method, request);
                let outcome = if answered.1["ok"] == json!(true) {
                    "ok".to_owned()
                } else {
                    answered.1["error"].as_str().unwrap_or("unknown").to_owned()
                };
                record(state, &outcome);
                Ok(answered)
            }
        }
    };
    let (status, value, extra_headers) = match early_or_answer {
        Ok(answered) => answered,
        Err(response) => return response,
    };
    if let Some(FaultKind::Hang(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    let mut response = (status, axum::Json(value)).into_response();
    for (name, value) in extra_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// What a call brought: its bearer token, its body, and whether that body was form-encoded.
struct Request<'a> {
    token: Option<&'a str>,
    body: &'a Value,
    is_form: bool,
}

fn answer(
    state: &mut Inner,
    method: &str,
    request: Request<'_>,
) -> (StatusCode, Value, Vec<(&'static str, String)>) {
    let Request { token, body, is_form } = request;
    let now = state.now_secs();
    if method == "oauth.v2.access" {
        let (status, value) = oauth_access(state, body, now);
        return (status, value, vec![]);
    }
    let Some(token) = token else {
        let (status, value) = api_error("not_authed");
        return (status, value, vec![]);
    };
    let index = match resolve(state, token, now) {
        Ok(index) => index,
        Err(code) => {
            let (status, value) = api_error(code);
            return (status, value, vec![]);
        }
    };
    let account = &state.accounts[index];
    if let Some(needed) = scope_for(method)
        && !account.scopes.iter().any(|s| s == needed)
    {
        let value = json!({"ok": false, "error": "missing_scope", "needed": needed, "provided": account.scopes.join(",")});
        return (StatusCode::OK, value, vec![]);
    }

    // Tier limit per method per workspace (lifted with the per-user limit, for benchmarks).
    let team_id = account.team_id.clone();
    let profile_set_limit = state.profile_set_limit;
    let window = state
        .tier_windows
        .entry((method.to_owned(), team_id))
        .or_default();
    if profile_set_limit != usize::MAX
        && let Some(retry) = over_limit(window, tier_limit(method))
    {
        return ratelimited(retry);
    }

    let account = &mut state.accounts[index];
    expire_status(account, now);
    match method {
        "auth.test" => {
            let value = json!({
                "ok": true,
                "url": format!("https://{}.slack.com/", account.team.to_lowercase().replace(' ', "-")),
                "team": account.team, "user": account.user, "team_id": account.team_id, "user_id": account.user_id,
            });
            (
                StatusCode::OK,
                value,
                vec![("x-oauth-scopes", account.scopes.join(","))],
            )
        }
        "users.profile.get" => (
            StatusCode::OK,
            json!({"ok": true, "profile": profile_json(&account.status)}),
            vec![],
        ),
        "users.profile.set" => {
            if let Some(retry) = over_limit(&mut account.profile_sets, profile_set_limit) {
                return ratelimited(retry);
            }
            let Some(profile) = body.get("profile").and_then(Value::as_object) else {
                let (status, value) = api_error(if body.is_null() {
                    "invalid_json"
                } else {
                    "invalid_profile"
                });
                return (status, value, vec![]);
            };
            let text = profile
                .get("status_text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let emoji = profile
                .get("status_emoji")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let expiration = profile
                .get("status_expiration")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if text.chars().count() > 100 {
                let (status, value) = api_error("too_long");
                return (status, value, vec![]);
            }
            if !emoji.is_empty() {
                let name = emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':'));
                let Some(name) = name.filter(|n| !n.is_empty() && n.is_ascii()) else {
                    let (status, value) = api_error("profile_status_set_failed_not_emoji_syntax");
                    return (status, value, vec![]);
                };
                if !STANDARD_EMOJI.contains(&name) && !state.custom_emoji.iter().any(|c| c == name) {
                    let (status, value) = api_error("profile_status_set_failed_not_valid_emoji");
                    return (status, value, vec![]);
                }
            }
            let account = &mut state.accounts[index];
            account.status = if text.is_empty() && emoji.is_empty() {
                Status::default()
            } else {
                // Slack picks a default emoji for a text without one, and keeps the text with &, < and >
                // escaped, as in messages.
                let emoji = if emoji.is_empty() {
                    ":speech_balloon:".to_owned()
                } else {
                    emoji
                };
                let text = text
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                Status {
                    text,
                    emoji,
                    expiration,
                }
            };
            (
                StatusCode::OK,
                json!({"ok": true, "profile": profile_json(&account.status)}),
                vec![],
            )
        }
        "users.setPresence" => match body.get("presence").and_then(Value::as_str) {
            Some("away") => {
                account.manual_away = true;
                (StatusCode::OK, json!({"ok": true}), vec![])
            }
            Some("auto") => {
                account.manual_away = false;
                (StatusCode::OK, json!({"ok": true}), vec![])
            }
            _ => {
                let (status, value) = api_error("invalid_presence");
                (status, value, vec![])
            }
        },
        "auth.revoke" => {
            if let Some(issued) = state.issued.iter_mut().find(|issued| issued.token == token) {
                issued.revoked = true;
            } else {
                state.accounts[index].revoked = true;
            }
            (StatusCode::OK, json!({"ok": true, "revoked": true}), vec![])
        }
        "chat.postMessage" => {
            let channel = body
                .get("channel")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let text = body.get("text").and_then(Value::as_str).unwrap_or("").to_owned();
            if channel.is_empty() {
                let (status, value) = api_error("channel_not_found");
                return (status, value, vec![]);
            }
            if text.is_empty() {
                let (status, value) = api_error("no_text");
                return (status, value, vec![]);
            }
            state.serial += 1;
            let ts = format!("{now}.{:06}", state.serial);
            let user_id = state.accounts[index].user_id.clone();
            state.messages.push(PostedMessage {
                user_id,
                channel: channel.clone(),
                text,
            });
            // A DM to oneself lives in the user's own D… channel.
            let posted_in = format!("D{}", channel.trim_start_matches('U'));
            (
                StatusCode::OK,
                json!({"ok": true, "channel": posted_in, "ts": ts}),
                vec![],
            )
        }
        "dnd.info" => {
            let mut value = json!({"ok": true, "dnd_enabled": false, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1,
                                   "snooze_enabled": false});
            if let Some(until) = account.snooze_until.filter(|until| *until > now) {
                value["snooze_enabled"] = json!(true);
                value["snooze_endtime"] = json!(until);
                value["snooze_remaining"] = json!(until - now);
            }
            (StatusCode::OK, value, vec![])
        }
        // Documented as form-encoded only: a JSON body carries no `num_minutes` Slack can read.
        "dnd.setSnooze" => match body
            .get("num_minutes")
            .filter(|_| is_form)
            .and_then(Value::as_str)
            .map(|minutes| minutes.trim().parse::<i64>())
        {
            None => {
                let (status, value) = api_error("missing_duration");
                (status, value, vec![])
            }
            Some(Ok(minutes)) if minutes > 0 => {
                let until = now + minutes * 60;
                account.snooze_until = Some(until);
                let value = json!({"ok": true, "snooze_enabled": true, "snooze_endtime": until,
                                   "snooze_remaining": minutes * 60, "snooze_is_indefinite": false});
                (StatusCode::OK, value, vec![])
            }
            Some(_) => {
                let (status, value) = api_error("snooze_failed");
                (status, value, vec![])
            }
        },
        "dnd.endSnooze" => {
            if account.snooze_until.is_none_or(|until| until <= now) {
                let (status, value) = api_error("snooze_not_active");
                return (status, value, vec![]);
            }
            account.snooze_until = None;
            let value = json!({"ok": true, "dnd_enabled": false, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1,
                               "snooze_enabled": false});
            (StatusCode::OK, value, vec![])
        }
        "users.getPresence" => {
            let presence = if account.manual_away { "away" } else { "active" };
            let value = json!({"ok": true, "presence": presence, "online": true, "auto_away": false,
                               "manual_away": account.manual_away, "connection_count": 1});
            (StatusCode::OK, value, vec![])
        }
        _ => {
            let (status, value) = api_error("unknown_method");
            (status, value, vec![])
        }
    }
}

/// Which account a bearer token belongs to, or Slack's refusal.
fn resolve(state: &Inner, token: &str, now: i64) -> Result<usize, &'static str> {
    if let Some(index) = state.accounts.iter().position(|a| a.token == token) {
        let account = &state.accounts[index];
        if account.revoked {
            return Err("token_revoked");
        }
        if account.expired {
            return Err("token_expired");
        }
        return Ok(index);
    }
    let issued = state
        .issued
        .iter()
        .find(|issued| issued.token == token)
        .ok_or("invalid_auth")?;
    if issued.revoked || state.accounts[issued.account].revoked {
        return Err("token_revoked");
    }
    if issued.expires_at.is_some_and(|at| at <= now) {
        return Err("token_expired");
    }
    Ok(issued.account)
}

fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    let digest = ring_sha256(verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Computed here with ring directly, not with the client's code, so that a mistake there is caught.
fn ring_sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Issues an access token (and with rotation a refresh token) for an account.
fn issue(state: &mut Inner, account: usize, client_id: &str, now: i64) -> Value {
    let app = state.app.clone().expect("an app is registered");
    state.serial += 1;
    let serial = state.serial;
    let instance = state.instance.clone();
    let prefix = if app.token_rotation { "xoxe.xoxp" } else { "xoxp" };
    let token = format!("{prefix}-{instance}-{serial}-issued{serial}");
    let lifetime = i64::try_from(app.token_lifetime.as_secs()).unwrap_or(i64::MAX);
    state.issued.push(Issued {
        token: token.clone(),
        account,
        expires_at: app.token_rotation.then_some(now + lifetime),
        revoked: false,
    });
    let account_record = &state.accounts[account];
    let mut user = json!({
        "id": account_record.user_id, "scope": account_record.scopes.join(","), "access_token": token,
        "token_type": "user",
    });
    if app.token_rotation {
        let refresh = format!("xoxe-1-{instance}-{serial}-refresh{serial}");
        state
            .refresh_tokens
            .insert(refresh.clone(), (account, client_id.to_owned(), false));
        user["refresh_token"] = json!(refresh);
        user["expires_in"] = json!(lifetime);
    }
    json!({
        "ok": true, "app_id": "A0FAKEAPP", "authed_user": user,
        "team": {"id": account_record.team_id, "name": account_record.team},
        "enterprise": null, "is_enterprise_install": false,
    })
}

fn oauth_access(state: &mut Inner, body: &Value, now: i64) -> (StatusCode, Value) {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    let Some(app) = state.app.clone() else {
        return api_error("invalid_client_id");
    };
    if field("client_id") != app.client_id {
        return api_error("invalid_client_id");
    }
    if !field("client_secret").is_empty() {
        // A PKCE app is a public client: it has no secret to send.
        return api_error("bad_client_secret");
    }
    match field("grant_type").as_str() {
        "refresh_token" => {
            let refresh = field("refresh_token");
            let Some((account, client_id, spent)) = state.refresh_tokens.get_mut(&refresh) else {
                return api_error("invalid_refresh_token");
            };
            if *spent || *client_id != app.client_id {
                return api_error("invalid_refresh_token");
            }
            *spent = true;
            let account = *account;
            let mut answer = issue(state, account, &app.client_id, now);
            // A refresh of a user token answers at the top level.
            let user = answer["authed_user"].take();
            for key in [
                "access_token",
                "refresh_token",
                "expires_in",
                "scope",
                "token_type",
            ] {
                answer[key] = user[key].clone();
            }
            answer.as_object_mut().map(|map| map.remove("authed_user"));
            (StatusCode::OK, answer)
        }
        "" | "authorization_code" => {
            let code = field("code");
            let Some(pending) = state.codes.get_mut(&code) else {
                return api_error("invalid_code");
            };
            if pending.used {
                return api_error("code_already_used");
            }
            pending.used = true;
            let pending = pending.clone();
            if pending.client_id != field("client_id") {
                return api_error("invalid_code");
            }
            if pending.redirect_uri != field("redirect_uri") {
                return api_error("bad_redirect_uri");
            }
            if pkce_challenge(&field("code_verifier")) != pending.code_challenge {
                return api_error("invalid_code_verifier");
            }
            (StatusCode::OK, issue(state, pending.account, &app.client_id, now))
        }
        _ => api_error("unsupported_grant_type"),
    }
}

/// Slack's authorize page, approving at once as the browser's user (or declining).
async fn authorize(
    State(inner): State<Arc<Mutex<Inner>>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut state = inner.lock().expect("fake slack lock");
    let Some(app) = state.app.clone() else {
        return (StatusCode::BAD_REQUEST, "no such app").into_response();
    };
    let redirect_uri = param("redirect_uri");
    // Slack shows an error page (no redirect) for an unknown app or an unregistered redirect URL.
    if param("client_id") != app.client_id {
        return (StatusCode::BAD_REQUEST, "invalid_client_id").into_response();
    }
    if !app.redirect_urls.contains(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, "bad_redirect_uri").into_response();
    }
    if !param("scope").is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "desktop redirects cannot request bot scopes",
        )
            .into_response();
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "invalid_code_challenge").into_response();
    }
    let mut target = url::Url::parse(&redirect_uri).expect("a registered URL");
    match state.browser_user {
        None => {
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("state", &param("state"));
        }
        Some(account) => {
            state.serial += 1;
            let code = format!("{}.{}.code{}", state.instance, state.serial, state.serial);
            state.codes.insert(
                code.clone(),
                PendingCode {
                    account,
                    client_id: app.client_id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    code_challenge: param("code_challenge"),
                    used: false,
                },
            );
            target
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &param("state"));
        }
    }
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, target.to_string())],
    )
        .into_response()
}

fn profile_json(status: &Status) -> Value {
    json!({"status_text": status.text, "status_emoji": status.emoji, "status_expiration": status.expiration,
           "real_name": "Test User", "display_name": "test"})
}

/// Counts a request in a one-minute sliding window; `Some(retry after)` if the window is full.
fn over_limit(window: &mut VecDeque<Instant>, limit: usize) -> Option<Duration> {
    let now = Instant::now();
    while window
        .front()
        .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60))
    {
        window.pop_front();
    }
    if window.len() >= limit {
        let oldest = *window.front()?;
        let free_in = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
        // Retry-After is whole seconds, rounded up so that a client waiting exactly that long is let in.
        return Some(Duration::from_secs(
            free_in.as_millis().div_ceil(1000).try_into().unwrap_or(60),
        ));
    }
    window.push_back(now);
    None
}

fn ratelimited(retry: Duration) -> (StatusCode, Value, Vec<(&'static str, String)>) {
    (
        StatusCode::TOO_MANY_REQUESTS,
        json!({"ok": false, "error": "ratelimited"}),
        vec![("retry-after", retry.as_secs().to_string())],
    )
}
