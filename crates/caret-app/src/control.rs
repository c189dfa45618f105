//! The local control socket: how the command line (`caret-desktop pair`, `devices`, `revoke`, `workspace`,
//! `status`, `policy`, `pause`, `resume`) talks to the running app (tray or headless). A Unix socket in the data directory (0700), itself 0600: only the user can reach it.
//!
//! One JSON request per connection, one JSON answer, each on a line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use caret_store::{LogEntry, LogFilter};

use crate::config::AppPaths;
use crate::core::AppCore;
use crate::error::{AppError, Result};
use crate::oauth::OAuthStart;
use crate::services::{DeviceView, PairingView};
use crate::workspaces::{Disconnected, PastedSecret, WorkspaceView};

pub const SOCKET_FILE: &str = "control.sock";
/// A request is a short line; anything longer is not ours.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
const PATIENCE: Duration = Duration::from_secs(5);
/// How long a command waits for its answer: connecting a workspace asks Slack first.
const ANSWER_PATIENCE: Duration = Duration::from_secs(45);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    StartPairing,
    CancelPairing,
    Devices,
    Revoke {
        device_id: String,
    },
    Status,
    /// Connect a workspace with a pasted token (checked with Slack, then kept in the keyring only).
    ConnectWorkspace {
        token: PastedSecret,
    },
    DisconnectWorkspace {
        workspace_id: i64,
    },
    /// Sign in with Slack in the browser: answers `o_auth_started` (the link) at once, then the connected
    /// workspace or an error when the browser comes back (or the sign-in times out). Hanging up cancels it.
    SignIn {
        client_id: String,
        #[serde(default)]
        open_browser: bool,
    },
    /// Security notices by direct message for a workspace, on or off.
    SetSecurityNotices {
        workspace_id: i64,
        on: bool,
    },
    Workspaces,
    /// Carry out an action (set or clear a status, a policy, pause, resume) as the tray would.
    Perform {
        action: crate::action::Action,
    },
    /// The sync log, oldest first; with `follow`, the connection stays open and each new row is sent as it
    /// is written, until the client hangs up.
    Log {
        #[serde(default)]
        filter: LogFilter,
        #[serde(default)]
        follow: bool,
    },
    /// Where phones can reach this computer, and why.
    Reach,
    /// Changes where phones can reach this computer (saved in the preferences).
    SetReach {
        choice: crate::reach::PhoneReach,
    },
    /// Forgets one known network (by id), or every one.
    ForgetNetworks {
        #[serde(default)]
        id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlResponse {
    Pairing {
        pairing: PairingView,
    },
    Devices {
        devices: Vec<DeviceView>,
    },
    Revoked {
        revoked: bool,
    },
    Done,
    Status {
        state_line: String,
    },
    Workspace {
        workspace: WorkspaceView,
    },
    Workspaces {
        workspaces: Vec<WorkspaceView>,
    },
    Disconnected {
        disconnected: Disconnected,
    },
    OAuthStarted {
        start: OAuthStart,
    },
    /// Sync log rows, oldest first.
    Log {
        entries: Vec<LogEntry>,
    },
    Reach {
        reach: crate::reach::ReachView,
    },
    Error {
        message: String,
    },
}

pub fn socket_path(paths: &AppPaths) -> PathBuf {
    paths.data_dir.join(SOCKET_FILE)
}

fn control_error(path: &Path) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |source| AppError::Control {
        path: path.to_path_buf(),
        source,
    }
}

/// Starts answering on the socket. The instance lock is held, so a socket file left by a crash is stale
/// and replaced.
pub fn start(core: AppCore) -> Result<()> {
    let path = socket_path(&core.config().paths);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(control_error(&path)(error)),
    }
    let listener = UnixListener::bind(&path).map_err(control_error(&path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(control_error(&path))?;
    }
    // The socket file is ours: its owner is the user this app runs as, the only one it answers.
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&path).map_err(control_error(&path))?.uid()
    };
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match stream.peer_cred().map(|peer| peer.uid()) {
                    Ok(uid) if uid == owner => {
                        tokio::spawn(serve(core.clone(), stream));
                    }
                    // The file's mode (0600, in a 0700 directory) already keeps others out; this holds even
                    // if someone loosens them, or root hands a connection on.
                    peer => {
                        tracing::warn!(
                            "control socket: refused a connection from {peer:?}: not user {owner}"
                        );
                        tokio::spawn(refuse_stranger(stream));
                    }
                },
                Err(error) => {
                    tracing::warn!("control socket: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn serve(core: AppCore, stream: UnixStream) {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(reader).take(MAX_REQUEST_BYTES as u64);
    let response = match tokio::time::timeout(PATIENCE, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => match serde_json::from_str::<ControlRequest>(&line) {
            Ok(ControlRequest::Log { filter, follow: true }) => {
                follow_log(&core, filter, reader, writer).await;
                return;
            }
            Ok(ControlRequest::SignIn {
                client_id,
                open_browser,
            }) => {
                sign_in(&core, &client_id, open_browser, reader, writer).await;
                return;
            }
            Ok(request) => answer(&core, request).await,
            Err(error) => ControlResponse::Error {
                message: format!("not a control request: {error}"),
            },
        },
        Ok(Err(error)) => ControlResponse::Error {
            message: error.to_string(),
        },
        Err(_) => return,
    };
    let _ = send(&mut writer, &response).await;
}

/// Tells a client run by another user why nothing will be done, and hangs up.
async fn refuse_stranger(mut stream: UnixStream) {
    let refusal = ControlResponse::Error {
        message: "this Caret Desktop answers only the user it runs as".into(),
    };
    let _ = tokio::time::timeout(PATIENCE, send(&mut stream, &refusal)).await;
}

async fn send(writer: &mut (impl AsyncWriteExt + Unpin), response: &ControlResponse) -> std::io::Result<()> {
    let mut json =
        serde_json::to_string(response).unwrap_or_else(|_| r#"{"type":"error","message":"internal"}"#.into());
    json.push('\n');
    writer.write_all(json.as_bytes()).await
}

/// Starts a browser sign-in, sends its link, then its outcome. The client hanging up cancels the sign-in.
async fn sign_in(
    core: &AppCore,
    client_id: &str,
    open_browser: bool,
    mut reader: impl AsyncReadExt + Unpin,
    mut writer: impl AsyncWriteExt + Unpin,
) {
    let start = match crate::oauth::begin(core, client_id, open_browser).await {
        Ok(start) => start,
        Err(error) => {
            let message = error.to_string();
            let _ = send(&mut writer, &ControlResponse::Error { message }).await;
            return;
        }
    };
    let flow = Some(start.flow_id);
    if send(&mut writer, &ControlResponse::OAuthStarted { start })
        .await
        .is_err()
    {
        let _ = crate::oauth::cancel(core, flow);
        return;
    }
    let mut scratch = [0_u8; 64];
    let response = tokio::select! {
        outcome = crate::oauth::finish(core, flow) => match outcome {
            Ok(workspace) => ControlResponse::Workspace { workspace },
            Err(error) => ControlResponse::Error { message: error.to_string() },
        },
        // The client sends nothing more: a read ending means it hung up (Ctrl+C).
        _ = reader.read(&mut scratch) => {
            let _ = crate::oauth::cancel(core, flow);
            return;
        }
    };
    let _ = send(&mut writer, &response).await;
}

/// The rows matching `filter`, oldest first.
fn log_rows(core: &AppCore, filter: &LogFilter) -> Result<Vec<LogEntry>> {
    let mut rows = core.services()?.store.query_log(filter)?;
    rows.reverse();
    Ok(rows)
}

/// Sends the matching rows, then every new matching row as it is written, until the client hangs up.
async fn follow_log(
    core: &AppCore,
    filter: LogFilter,
    mut reader: impl AsyncReadExt + Unpin,
    mut writer: impl AsyncWriteExt + Unpin,
) {
    let mut newest = match core.services() {
        Ok(services) => services.store.watch_log(),
        Err(error) => {
            let _ = send(
                &mut writer,
                &ControlResponse::Error {
                    message: error.to_string(),
                },
            )
            .await;
            return;
        }
    };
    // Read before the first query: a row written in between is then both in the query and announced, and the
    // `after_id` bookkeeping below keeps it from being sent twice.
    let mut seen = *newest.borrow_and_update();
    let mut batch = log_rows(
        core,
        &LogFilter {
            after_id: None,
            ..filter.clone()
        },
    );
    let mut hung_up = [0u8; 1];
    let mut first = true;
    loop {
        let response = match batch {
            Ok(entries) => {
                seen = entries.iter().map(|entry| entry.id).fold(seen, i64::max);
                ControlResponse::Log { entries }
            }
            Err(error) => ControlResponse::Error {
                message: error.to_string(),
            },
        };
        let ends = matches!(response, ControlResponse::Error { .. });
        let empty = matches!(&response, ControlResponse::Log { entries } if entries.is_empty());
        // The first answer always goes out (the client waits for it); later empty ones (rows the filter
        // leaves out) do not.
        if (first || !empty) && send(&mut writer, &response).await.is_err() || ends {
            return;
        }
        first = false;
        tokio::select! {
            changed = newest.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            // The client sends nothing more; a read that ends is the client hanging up.
            _ = reader.read(&mut hung_up) => return,
        }
        let upto = *newest.borrow_and_update();
        batch = log_rows(
            core,
            &LogFilter {
                after_id: Some(seen),
                limit: Some(10_000),
                before_id: None,
                ..filter.clone()
            },
        );
        seen = seen.max(upto);
    }
}

async fn answer(core: &AppCore, request: ControlRequest) -> ControlResponse {
    let result = async {
        let services = core.services()?;
        Ok::<_, AppError>(match request {
            ControlRequest::StartPairing => ControlResponse::Pairing {
                pairing: services.start_pairing()?,
            },
            ControlRequest::CancelPairing => {
                services.cancel_pairing()?;
                ControlResponse::Done
            }
            ControlRequest::Devices => ControlResponse::Devices {
                devices: services.devices()?,
            },
            ControlRequest::Revoke { device_id } => ControlResponse::Revoked {
                revoked: services.revoke(&device_id)?,
            },
            ControlRequest::Status => ControlResponse::Status {
                state_line: core.snapshot().state_line(),
            },
            ControlRequest::ConnectWorkspace { token } => ControlResponse::Workspace {
                workspace: services.connect_workspace(&token).await?,
            },
            ControlRequest::DisconnectWorkspace { workspace_id } => ControlResponse::Disconnected {
                disconnected: services.disconnect_workspace(workspace_id).await?,
            },
            ControlRequest::SetSecurityNotices { workspace_id, on } => ControlResponse::Workspace {
                workspace: services.set_security_notices(workspace_id, on)?,
            },
            // Streamed by `serve` (a link, then the outcome); never answered in one line.
            ControlRequest::SignIn { .. } => {
                return Err(AppError::Refused("sign_in streams its answers".into()));
            }
            ControlRequest::Workspaces => ControlResponse::Workspaces {
                workspaces: services.workspaces()?,
            },
            ControlRequest::Reach => ControlResponse::Reach {
                reach: services.reach(),
            },
            ControlRequest::SetReach { choice } => ControlResponse::Reach {
                reach: services.set_phone_reach(&core.config().paths, choice).await?,
            },
            ControlRequest::ForgetNetworks { id } => ControlResponse::Reach {
                reach: services.forget_networks(id.as_deref()).await?,
            },
            ControlRequest::Perform { action } => {
                if crate::apply::is_domain_action(&action) {
                    crate::apply::apply(core, &action, crate::apply::Source::Cli)?;
                } else {
                    core.shell_action(action)?;
                }
                ControlResponse::Done
            }
            ControlRequest::Log { filter, follow: _ } => ControlResponse::Log {
                entries: log_rows(core, &filter)?,
            },
        })
    }
    .await;
    result.unwrap_or_else(|error| ControlResponse::Error {
        message: error.to_string(),
    })
}

/// Sends one request to the running app and returns its answer (an `Error` answer becomes
/// `RunningAppRefused`).
pub async fn request(paths: &AppPaths, request: &ControlRequest) -> Result<ControlResponse> {
    let mut first = None;
    request_stream(paths, request, |response| {
        first = Some(response);
        false
    })
    .await?;
    first.ok_or_else(|| AppError::NotRunning {
        path: socket_path(paths),
    })
}

/// Sends a request and hands each answer line to `each` until it returns `false` or the app hangs up. Only
/// the first answer has a deadline: a followed log may stay quiet for hours.
pub async fn request_stream(
    paths: &AppPaths,
    request: &ControlRequest,
    mut each: impl FnMut(ControlResponse) -> bool,
) -> Result<()> {
    let path = socket_path(paths);
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                AppError::NotRunning { path: path.clone() }
            }
            _ => control_error(&path)(source),
        })?;
    let mut json = serde_json::to_string(request).map_err(|error| AppError::Refused(error.to_string()))?;
    json.push('\n');
    if let Err(error) = stream.write_all(json.as_bytes()).await {
        // The app may answer and hang up before reading (it refuses another user at once): its answer, not the
        // broken pipe, says why.
        let mut lines = BufReader::new(stream).lines();
        if let Ok(Some(line)) = lines.next_line().await
            && let Ok(ControlResponse::Error { message }) = serde_json::from_str::<ControlResponse>(&line)
        {
            return Err(AppError::RunningAppRefused(message));
        }
        return Err(control_error(&path)(error));
    }
    let path_for_errors = path.clone();
    let mut lines = BufReader::new(stream).lines();
    let mut first = true;
    loop {
        let next = if first {
            tokio::time::timeout(ANSWER_PATIENCE, lines.next_line())
                .await
                .map_err(|_| {
                    AppError::RunningAppAnswer(format!(
                        "gave no answer within {} s (it may still finish: check with `caret-desktop workspace list`)",
                        ANSWER_PATIENCE.as_secs()
                    ))
                })?
        } else {
            lines.next_line().await
        };
        let Some(line) = next.map_err(control_error(&path_for_errors))? else {
            return if first {
                Err(AppError::NotRunning { path })
            } else {
                Ok(())
            };
        };
        first = false;
        let response = match serde_json::from_str::<ControlResponse>(&line) {
            Ok(ControlResponse::Error { message }) => return Err(AppError::RunningAppRefused(message)),
            Ok(response) => response,
            Err(error) => {
                return Err(AppError::RunningAppAnswer(format!(
                    "gave an answer this command does not understand ({error}); are the app and the command the same version?"
                )));
            }
        };
        if !each(response) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_have_a_stable_json_form() {
        assert_eq!(
            serde_json::to_string(&ControlRequest::Revoke {
                device_id: "d_1".into()
            })
            .unwrap(),
            r#"{"command":"revoke","device_id":"d_1"}"#
        );
        assert_eq!(
            serde_json::from_str::<ControlRequest>(r#"{"command":"start_pairing"}"#).unwrap(),
            ControlRequest::StartPairing
        );
        assert_eq!(
            serde_json::to_string(&ControlResponse::Revoked { revoked: true }).unwrap(),
            r#"{"type":"revoked","revoked":true}"#
        );
    }

    #[tokio::test]
    async fn no_running_app_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths {
            config_dir: dir.path().into(),
            data_dir: dir.path().into(),
        };
        let error = request(&paths, &ControlRequest::Status).await.unwrap_err();
        assert!(error.to_string().contains("not running"), "{error}");
    }
}
