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
//! - limits: `users.profile.set` at most 10 per minute per user, and per-method tier limits per workspace,
//!   answered with HTTP 429, `Retry-After` (seconds) and `{"ok":false,"error":"ratelimited"}`;
//! - faults on demand: HTTP 5xx, hanging (timeouts), an outage until a time, a revoked or expired token, a
//!   status changed by the user in Slack.
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
    profile_sets: VecDeque<Instant>,
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
    accounts: Vec<Account>,
    calls: Vec<RecordedCall>,
    faults: VecDeque<Fault>,
    outage_until: Option<Instant>,
    tier_windows: HashMap<(String, String), VecDeque<Instant>>,
    custom_emoji: Vec<String>,
    profile_set_limit: usize,
    calls_feed: tokio::sync::broadcast::Sender<RecordedCall>,
    /// Unique to this server in this machine: tests run side by side and share one keyring, so team ids,
    /// user ids and tokens must not repeat between servers.
    instance: String,
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
];

fn scope_for(method: &str) -> Option<&'static str> {
    match method {
        "users.profile.set" => Some("users.profile:write"),
        "users.profile.get" => Some("users.profile:read"),
        "users.setPresence" => Some("users:write"),
        "users.getPresence" => Some("users:read"),
        _ => None,
    }
}

/// Requests per minute per workspace, by method tier (Slack's tiers 2-4; auth.test is "special", generous).
fn tier_limit(method: &str) -> usize {
    match method {
        "users.setPresence" => 20,
        "users.profile.set" | "users.getPresence" => 50,
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
            accounts: Vec::new(),
            calls: Vec::new(),
            faults: VecDeque::new(),
            outage_until: None,
            tier_windows: HashMap::new(),
            custom_emoji: Vec::new(),
            profile_set_limit: PROFILE_SET_PER_MINUTE,
            calls_feed: tokio::sync::broadcast::channel(1024).0,
            instance: next_instance(),
        }));
        let app = Router::new()
            .route("/api/{method}", any(handle))
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
                profile_sets: VecDeque::new(),
            });
            token
        })
    }

    /// All the scopes Caret Desktop asks for.
    pub const FULL_SCOPES: [&'static str; 4] = [
        "users.profile:write",
        "users.profile:read",
        "users:write",
        "users:read",
    ];

    pub fn account(&self, token: &str) -> Account {
        self.with(|inner| {
            let now = inner.clock.unix_seconds();
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

    /// The user (or another app) changes the status in Slack.
    pub fn user_sets_status(&self, token: &str, status: Status) {
        self.with_account(token, |account| account.status = status);
    }

    pub fn revoke(&self, token: &str) {
        self.with_account(token, |account| account.revoked = true);
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
    let body_json: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let token = bearer(&headers);

    // Faults first: they model trouble in front of the API.
    let fault = {
        let mut guard = inner.lock().expect("fake slack lock");
        if guard.outage_until.is_some_and(|until| Instant::now() < until) {
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
        let user_id = token
            .as_ref()
            .and_then(|t| state.accounts.iter().find(|a| &a.token == t))
            .map(|a| a.user_id.clone());
        let record = |state: &mut Inner, outcome: &str| {
            let call = RecordedCall {
                method: method.clone(),
                user_id: user_id.clone(),
                body: body_json.clone(),
                outcome: outcome.to_owned(),
                at: Instant::now(),
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
                let answered = answer(state, &method, token.as_deref(), &body_json);
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

fn answer(
    state: &mut Inner,
    method: &str,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, Value, Vec<(&'static str, String)>) {
    let now = state.clock.unix_seconds();
    let Some(token) = token else {
        let (status, value) = api_error("not_authed");
        return (status, value, vec![]);
    };
    let Some(index) = state.accounts.iter().position(|a| a.token == token) else {
        let (status, value) = api_error("invalid_auth");
        return (status, value, vec![]);
    };
    let account = &state.accounts[index];
    if account.revoked {
        let (status, value) = api_error("token_revoked");
        return (status, value, vec![]);
    }
    if account.expired {
        let (status, value) = api_error("token_expired");
        return (status, value, vec![]);
    }
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
