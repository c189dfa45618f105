//! "Sign in with Slack": OAuth v2 with PKCE (S256, no client secret) through a loopback redirect.
//!
//! [`begin`] makes a PKCE pair and a `state`, listens on `localhost:47824` (the port the Slack app manifest
//! registers; Slack matches it exactly), and opens Slack's authorize page in the system browser. Slack sends
//! the browser back to `/oauth/callback` with a code; a callback whose `state` is not ours is refused and
//! the flow keeps waiting for the real one. The code and the verifier are traded for a user token
//! (`oauth.v2.access`), which connects the workspace exactly as a pasted token does; the page the browser
//! shows says how it went and to return to the app. [`finish`] waits for that outcome; [`cancel`] ends the
//! flow. One flow at a time: starting another ends the first. After five minutes a flow gives up.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use caret_slack::oauth::{AuthorizeRequest, Pkce, authorize_url, random_state};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use ts_rs::TS;

use super::Workspaces;
use super::credentials::Credentials;
use super::workspaces::WorkspaceView;
use crate::error::{AppError, BrowserProblem, LaunchFailure, LaunchProblem, OAuthFailure, Result};

/// The callback's path, as registered in the manifest's redirect URL.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// How long a sign-in waits for the browser.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Where the Client ID of the last sign-in is kept (the store's inputs; not a secret).
const CLIENT_ID_KEY: &str = "slack_client_id";

/// The Client ID of the last sign-in, to fill in again.
pub fn last_client_id(workspaces: &Workspaces) -> Option<String> {
    workspaces
        .store
        .load_input::<String>(CLIENT_ID_KEY)
        .ok()
        .flatten()
}

/// Opens one of Slack's pages in the browser.
pub async fn open_slack_page(workspaces: &Workspaces, page: super::manifest::SlackPage) -> Result<()> {
    open_in_browser(workspaces.sign_in.browser.as_deref(), &page.url())
        .await
        .map_err(|problem| AppError::OAuth(OAuthFailure::BrowserNotOpened(problem)))
}

/// What the UI and the CLI show while the browser is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OAuthStart {
    /// This sign-in, for finishing or cancelling exactly it (a newer one replaces it).
    #[ts(type = "number")]
    pub flow_id: u64,
    /// Slack's authorize page, to open by hand if the browser did not open.
    pub authorize_url: String,
    /// Why the system browser could not be opened, if it could not.
    pub browser_problem: Option<String>,
    #[ts(type = "number")]
    pub expires_in_secs: u64,
}

/// How a sign-in ended. The error is shared by whoever waits (the UI, the CLI), hence the `Arc`.
type Outcome = std::result::Result<WorkspaceView, Arc<AppError>>;

fn failed(reason: OAuthFailure) -> Outcome {
    Err(Arc::new(AppError::OAuth(reason)))
}

struct Flow {
    id: u64,
    callback: Arc<Callback>,
    task: tokio::task::JoinHandle<()>,
}

/// The sign-in in progress, if any. Held by [`Workspaces`].
#[derive(Default)]
pub struct OAuthFlows {
    current: Mutex<Option<Flow>>,
    last_id: AtomicU64,
}

impl OAuthFlows {
    fn current(&self) -> parking_lot::MutexGuard<'_, Option<Flow>> {
        self.current.lock()
    }

    fn is_current(&self, id: u64) -> bool {
        self.current().as_ref().is_some_and(|flow| flow.id == id)
    }

    /// Ends the current flow (or only flow `id`): whoever waits hears it was cancelled, its listener closes.
    fn end(&self, id: Option<u64>) -> Option<tokio::task::JoinHandle<()>> {
        let flow = {
            let mut current = self.current();
            if id.is_some_and(|id| current.as_ref().is_none_or(|flow| flow.id != id)) {
                return None;
            }
            current.take()?
        };
        flow.callback.outcome.send_if_modified(|outcome| {
            if outcome.is_some() {
                return false;
            }
            *outcome = Some(failed(OAuthFailure::Cancelled));
            true
        });
        flow.task.abort();
        Some(flow.task)
    }
}

impl Drop for OAuthFlows {
    fn drop(&mut self) {
        if let Some(flow) = self.current().take() {
            flow.task.abort();
        }
    }
}

/// What the callback handler shares with the flow.
struct Callback {
    id: u64,
    workspaces: Workspaces,
    client_id: String,
    state: String,
    pkce: Pkce,
    redirect_uri: String,
    /// The first callback with our state takes the flow; a second (a reload) is told it is used.
    taken: AtomicBool,
    outcome: watch::Sender<Option<Outcome>>,
}

/// Slack client ids are two numbers joined by a dot ("1234567890.1234567890").
fn valid_client_id(client_id: &str) -> bool {
    let mut parts = client_id.split('.');
    let numeric =
        |part: Option<&str>| part.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    client_id.len() <= 64 && numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

/// Listens for Slack's answer on both loopback addresses `localhost` may mean: 127.0.0.1 and, where the
/// system has IPv6, [::1] (browsers try ::1 first). Both must be ours: another program (another user's,
/// even) listening on either would receive the redirect and serve the page the user sees, so a taken
/// address refuses the sign-in, naming it. Port 0 (tests) picks a free port free on both.
async fn listen_on_loopback(
    wanted_port: u16,
) -> Result<(tokio::net::TcpListener, Option<tokio::net::TcpListener>, u16)> {
    let taken = |address: SocketAddr| {
        move |source: std::io::Error| AppError::OAuth(OAuthFailure::PortTaken { address, source })
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let address_v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, wanted_port));
        let listener = tokio::net::TcpListener::bind(address_v4)
            .await
            .map_err(taken(address_v4))?;
        let port = listener
            .local_addr()
            .map_or(wanted_port, |address| address.port());
        let address_v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        match tokio::net::TcpListener::bind(address_v6).await {
            Ok(listener_v6) => return Ok((listener, Some(listener_v6), port)),
            // No IPv6 loopback here: no browser reaches ::1, and no other program can listen there either.
            Err(error) if no_ipv6_loopback(&error) => return Ok((listener, None, port)),
            // A port picked at random that happens to be taken on ::1: pick another.
            Err(_) if wanted_port == 0 && attempts < 8 => continue,
            Err(error) => return Err(taken(address_v6)(error)),
        }
    }
}

/// Whether binding [::1] failed because the system has no IPv6 loopback (IPv6 turned off), rather than
/// because something else holds the address.
fn no_ipv6_loopback(error: &std::io::Error) -> bool {
    // EADDRNOTAVAIL (::1 not configured), EAFNOSUPPORT (no IPv6 at all).
    const EAFNOSUPPORT: i32 = 97;
    error.kind() == std::io::ErrorKind::AddrNotAvailable || error.raw_os_error() == Some(EAFNOSUPPORT)
}

/// Starts a sign-in: listens for the callback and (with `open_browser`) opens Slack's authorize page.
pub async fn begin(workspaces: &Workspaces, client_id: &str, open_browser: bool) -> Result<OAuthStart> {
    let client_id = client_id.trim();
    if !valid_client_id(client_id) {
        // What was typed is not repeated: beside the Client ID on Slack's page sit the app's secrets.
        return Err(AppError::OAuth(OAuthFailure::InvalidClientId));
    }
    // A new sign-in ends the one before: its port is needed, and only the newest browser tab matters. Its
    // task is awaited so that its listener is closed before the port is taken again.
    if let Some(ended) = workspaces.oauth.end(None) {
        let _ = ended.await;
    }

    let (listener, listener_v6, port) = listen_on_loopback(workspaces.sign_in.port).await?;
    let redirect_uri = format!("http://localhost:{port}{CALLBACK_PATH}");
    let pkce = Pkce::generate()?;
    let state = random_state()?;
    let scopes = super::manifest::user_scopes();
    let url = authorize_url(
        workspaces.client.base_url(),
        &AuthorizeRequest {
            client_id,
            user_scopes: &scopes,
            redirect_uri: &redirect_uri,
            state: &state,
            code_challenge: &pkce.challenge(),
        },
    );

    let id = workspaces.oauth.last_id.fetch_add(1, Ordering::SeqCst) + 1;
    let callback = Arc::new(Callback {
        id,
        workspaces: workspaces.clone(),
        client_id: client_id.to_owned(),
        state,
        pkce,
        redirect_uri,
        taken: AtomicBool::new(false),
        outcome: watch::channel(None).0,
    });
    let router = Router::new()
        .route(CALLBACK_PATH, axum::routing::get(on_callback))
        .fallback(|| async { page(StatusCode::NOT_FOUND, "Not found", "There is nothing here.") })
        .with_state(callback.clone());
    let task = tokio::spawn(serve_until_done(listener, listener_v6, router, callback.clone()));
    *workspaces.oauth.current() = Some(Flow { id, callback, task });
    if let Err(error) =
        workspaces
            .store
            .save_input(CLIENT_ID_KEY, &client_id, chrono::Utc::now().timestamp_millis())
    {
        tracing::warn!("cannot remember the Client ID: {error}");
    }

    let browser_problem = if open_browser {
        open_in_browser(workspaces.sign_in.browser.as_deref(), url.as_str())
            .await
            .err()
            .map(|problem| problem.to_string())
    } else {
        None
    };
    tracing::info!("sign in with Slack: waiting for the browser on localhost:{port}");
    Ok(OAuthStart {
        flow_id: id,
        authorize_url: url.to_string(),
        browser_problem,
        expires_in_secs: FLOW_TIMEOUT.as_secs(),
    })
}

/// Serves the callback until the flow has an outcome or times out. Everything runs in this one task, so that
/// aborting it (a cancel, a newer sign-in) closes the listeners at once. A connection the browser keeps open
/// outlives them, so every page says `Connection: close` and the handler answers only for the current flow.
async fn serve_until_done(
    listener: tokio::net::TcpListener,
    listener_v6: Option<tokio::net::TcpListener>,
    router: Router,
    callback: Arc<Callback>,
) {
    let mut done = callback.outcome.subscribe();
    let serve_v4 = axum::serve(listener, router.clone()).into_future();
    let serve_v6 = async move {
        match listener_v6 {
            Some(listener) => {
                let _ = axum::serve(listener, router).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = done.wait_for(Option::is_some) => {}
        _ = serve_v4 => {}
        () = serve_v6 => {}
        () = tokio::time::sleep(FLOW_TIMEOUT) => {
            // A callback already taken is being completed: its own outcome follows, not a timeout.
            if !callback.taken.load(Ordering::SeqCst) {
                callback.outcome.send_replace(Some(failed(OAuthFailure::TimedOut {
                    waited: FLOW_TIMEOUT,
                })));
            }
        }
    }
}

/// Waits for a sign-in's outcome (`flow`: exactly that one, else the current one): the connected workspace,
/// or why not.
pub async fn finish(workspaces: &Workspaces, flow: Option<u64>) -> Result<WorkspaceView> {
    let mut outcome = {
        let current = workspaces.oauth.current();
        match current.as_ref() {
            Some(current) if flow.is_none_or(|id| id == current.id) => current.callback.outcome.subscribe(),
            Some(_) => return Err(AppError::OAuth(OAuthFailure::Replaced)),
            None => return Err(AppError::OAuth(OAuthFailure::NotInProgress)),
        }
    };
    let settled = outcome
        .wait_for(Option::is_some)
        .await
        .map_err(|_| AppError::OAuth(OAuthFailure::Cancelled))?
        .clone();
    match settled {
        Some(Ok(workspace)) => Ok(workspace),
        Some(Err(error)) => Err(AppError::OAuth(OAuthFailure::Ended(error))),
        None => Err(AppError::OAuth(OAuthFailure::NoOutcome)),
    }
}

/// Ends the sign-in in progress (`flow`: only that one), freeing its port. `true` if one was ended.
pub fn cancel(workspaces: &Workspaces, flow: Option<u64>) -> bool {
    workspaces.oauth.end(flow).is_some()
}

async fn on_callback(State(callback): State<Arc<Callback>>, uri: Uri) -> Response {
    let params: HashMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    // Not our state: a stale tab, or another site trying to slip its own code in (login CSRF). Refused, and
    // the real sign-in keeps waiting.
    if params
        .get("state")
        .is_none_or(|state| !constant_time_eq(state, &callback.state))
    {
        return page(
            StatusCode::BAD_REQUEST,
            "This sign-in is not the current one",
            "Caret Desktop did not start this sign-in, or started a newer one. Return to Caret Desktop and \
             choose Sign in with Slack again.",
        );
    }
    // Our state, but a flow that ended (cancelled, timed out) over a connection the browser kept open.
    let current = callback.workspaces.oauth.is_current(callback.id);
    if !current || callback.taken.swap(true, Ordering::SeqCst) {
        return page(
            StatusCode::CONFLICT,
            "This sign-in is over",
            "This sign-in was already used, cancelled or replaced. You can close this tab and return to Caret \
             Desktop.",
        );
    }
    // Its own task: the browser going away mid-way must not leave a spent code and nothing connected.
    let completion = {
        let callback = callback.clone();
        tokio::spawn(async move {
            let outcome = complete(&callback, &params).await;
            callback.outcome.send_replace(Some(outcome.clone()));
            outcome
        })
    };
    let outcome = completion
        .await
        .unwrap_or_else(|join| failed(OAuthFailure::Interrupted(join)));
    match &outcome {
        Ok(workspace) => page(
            StatusCode::OK,
            "Connected",
            &format!(
                "Caret Desktop is connected to {} as {}. You can close this tab and return to Caret Desktop.",
                workspace.team, workspace.user
            ),
        ),
        Err(error) => page(
            StatusCode::OK,
            "Not connected",
            &format!(
                "{}. Return to Caret Desktop to try again.",
                error.sign_in_reason()
            ),
        ),
    }
}

/// Trades the code for a token and connects the workspace.
async fn complete(callback: &Callback, params: &HashMap<String, String>) -> Outcome {
    if let Some(error) = params.get("error") {
        return match error.as_str() {
            "access_denied" => failed(OAuthFailure::Declined),
            other => failed(OAuthFailure::NotAuthorized {
                code: other.to_owned(),
            }),
        };
    }
    let Some(code) = params.get("code").filter(|code| !code.is_empty()) else {
        return failed(OAuthFailure::NoCode);
    };
    let workspaces = &callback.workspaces;
    let started = std::time::Instant::now();
    let exchanged = workspaces
        .client
        .oauth_exchange(
            &callback.client_id,
            code,
            callback.pkce.verifier(),
            &callback.redirect_uri,
        )
        .await;
    // The sync log shows every call to Slack; the workspace is not known until auth.test names it.
    workspaces.log_entry(&super::synclog::app_call(
        None,
        None,
        caret_slack::SlackMethod::OAuthV2Access,
        exchanged
            .as_ref()
            .map_or_else(caret_slack::SlackError::code, |_| "ok".to_owned()),
        i64::try_from(started.elapsed().as_millis()).ok(),
        exchanged.as_ref().err().map(ToString::to_string),
    ));
    let grant = match exchanged {
        Ok(grant) => grant,
        Err(error) => return failed(OAuthFailure::ExchangeRefused(error)),
    };
    let credentials = Credentials::from_grant(&grant, &callback.client_id, chrono::Utc::now().timestamp());
    workspaces.connect_with(credentials).await.map_err(Arc::new)
}

/// Compares a callback's `state` with ours without saying, by how long it takes, how much of it matched.
fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small self-contained page: no script, nothing loaded from elsewhere.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{title} · Caret Desktop</title><style>body{{font:16px/1.5 \
         system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;color:#222}}h1{{font-size:1.4em}}\
         </style></head><body><h1>{title}</h1><p>{message}</p></body></html>",
        title = escape_html(title),
        message = escape_html(message),
    );
    (
        status,
        [
            // A kept-open connection would outlive this sign-in's listener.
            (header::CONNECTION, "close"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// Opens a URL in the user's browser: with `opener` (`CARET_BROWSER`) if the user named one, else with the
/// desktop's launchers in turn (xdg-open, gio open, …); `Err` says why not.
async fn open_in_browser(opener: Option<&str>, url: &str) -> std::result::Result<(), BrowserProblem> {
    // The user's opener if they named one (`CARET_BROWSER`), else the desktop's: xdg-open, then gio, then the
    // others the `open` crate knows, the first that runs.
    let launchers = match opener {
        Some(program) => vec![open::with_command(url, program)],
        None => open::commands(url),
    };
    let mut failures = Vec::new();
    for launcher in launchers {
        let program = launcher.get_program().to_string_lossy().into_owned();
        match launch(launcher).await {
            Ok(()) => return Ok(()),
            Err(problem) => failures.push(LaunchFailure { program, problem }),
        }
    }
    Err(BrowserProblem { failures })
}

/// Runs one launcher: it has done its part once it exits well (or is still running after a while: some stay
/// until the browser exits, and the browser is open, which is what counts).
async fn launch(launcher: std::process::Command) -> std::result::Result<(), LaunchProblem> {
    let mut child = tokio::process::Command::from(launcher)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(LaunchProblem::CannotRun)?;
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(LaunchProblem::Failed(status)),
        Ok(Err(error)) => Err(LaunchProblem::Lost(error)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_two_numbers_joined_by_a_dot() {
        assert!(valid_client_id("1234567890.1234567890"));
        for bad in [
            "", "123", "123.", ".123", "12.34.56", "abc.def", "123 .456", "xoxp-1-2",
        ] {
            assert!(!valid_client_id(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_named_opener_gets_the_link_and_its_failure_is_said() {
        assert!(open_in_browser(Some("true"), "https://slack.com/").await.is_ok());
        let failed = open_in_browser(Some("false"), "https://slack.com/")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            failed.starts_with("false failed") && failed.ends_with("open the link yourself"),
            "{failed}"
        );
        let missing = open_in_browser(Some("/nowhere/opener"), "https://slack.com/")
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot run"), "{missing}");
    }

    #[test]
    fn states_compare_whole() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn the_callback_page_escapes_what_it_shows() {
        let html = escape_html("<script>\"x\" & 'y'</script>");
        assert!(!html.contains('<') && !html.contains('"'), "{html}");
    }
}
