//! The running app's side of the control socket: one request per connection, one answer (a followed log and a
//! sign-in stream several), only for the user the app runs as.

use std::time::Duration;

use caret_store::{LogEntry, LogFilter};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Take};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

use super::host::{FromHost, UiCall};

use super::protocol::{ControlRequest, ControlResponse, SettingsChange};
use super::{control_error, socket_path};
use crate::error::{AppError, Refusal, Result};
use crate::runtime::core::AppCore;

/// A request is one line; the longest of ours (an imported workspace's settings) is a few kilobytes, and
/// anything much longer is not ours.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
const PATIENCE: Duration = Duration::from_secs(5);
/// How long a window host that said it was leaving may take to hand back what it was sent meanwhile.
const HOST_LAST_WORDS: Duration = Duration::from_secs(5);

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
            Ok(ControlRequest::State { follow: true }) => {
                follow_state(&core, reader, writer).await;
                return;
            }
            Ok(ControlRequest::SignIn {
                client_id,
                open_browser,
            }) => {
                sign_in(&core, &client_id, open_browser, reader, writer).await;
                return;
            }
            Ok(ControlRequest::WindowHost { number }) => {
                serve_host(&core, number, reader, writer).await;
                return;
            }
            Ok(ControlRequest::Ui { call }) => ui_answer(&core, call).await,
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

async fn send(
    writer: &mut (impl AsyncWriteExt + Unpin),
    response: &impl serde::Serialize,
) -> std::io::Result<()> {
    let mut json =
        serde_json::to_string(response).unwrap_or_else(|_| r#"{"type":"error","message":"internal"}"#.into());
    json.push('\n');
    writer.write_all(json.as_bytes()).await
}

/// A window's call, answered by the tray app's dispatcher as if the window were in its process.
async fn ui_answer(core: &AppCore, call: UiCall) -> ControlResponse {
    match core.window_host() {
        Ok(link) => match link.call(call).await {
            Ok(value) => ControlResponse::Answer { value },
            Err(error) => ControlResponse::Refused { error },
        },
        Err(error) => ControlResponse::Error {
            message: error.to_string(),
        },
    }
}

/// The window host's connection: what the app has for the windows goes down it, what the host says comes up,
/// until either side hangs up. A host leaving (its last window closed) is sent nothing more and hung up on,
/// after its last words (the windows it was sent meanwhile, handed back); whatever was not sent goes to the
/// next host.
async fn serve_host(
    core: &AppCore,
    number: u64,
    reader: Take<BufReader<OwnedReadHalf>>,
    mut writer: OwnedWriteHalf,
) {
    let link = match core.window_host() {
        Ok(link) => link.clone(),
        Err(error) => {
            let message = error.to_string();
            let _ = send(&mut writer, &ControlResponse::Error { message }).await;
            return;
        }
    };
    let Some(mut messages) = link.connect(number) else {
        let message = format!("window host {number} is not the one this app started last");
        tracing::warn!("{message}");
        let _ = send(&mut writer, &ControlResponse::Error { message }).await;
        return;
    };
    tracing::info!(number, "window host connected");
    // Reading a line is not safe to cancel halfway, so the host's side is read by a task of its own.
    let listener = link.clone();
    let mut notices = tokio::spawn(async move {
        let mut reader = reader;
        let mut line = String::new();
        loop {
            line.clear();
            reader.set_limit(MAX_REQUEST_BYTES as u64);
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => match serde_json::from_str::<FromHost>(&line) {
                    Ok(notice) => listener.notice(number, notice),
                    Err(error) => tracing::warn!("the window host said something unknown: {error}"),
                },
            }
        }
    });
    let host_hung_up = loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(message) => {
                    let line = message.leave();
                    if send(&mut writer, &line).await.is_err() {
                        break true;
                    }
                }
                // The host said it is leaving: nothing more goes to it.
                None => break false,
            },
            _ = &mut notices => break true,
        }
    };
    if !host_hung_up {
        // Hanging up tells the host nothing more comes; it hands back what reached it after it said it was
        // leaving, then exits.
        let _ = writer.shutdown().await;
        if tokio::time::timeout(HOST_LAST_WORDS, &mut notices).await.is_err() {
            tracing::warn!(number, "the window host did not hang up after leaving");
        }
    }
    notices.abort();
    link.disconnect(number, messages);
    tracing::info!(number, "window host gone");
}

/// Starts a browser sign-in, sends its link, then its outcome. The client hanging up cancels the sign-in.
async fn sign_in(
    core: &AppCore,
    client_id: &str,
    open_browser: bool,
    mut reader: impl AsyncReadExt + Unpin,
    mut writer: impl AsyncWriteExt + Unpin,
) {
    let workspaces = match core.services() {
        Ok(services) => services.workspaces.clone(),
        Err(error) => {
            let message = error.to_string();
            let _ = send(&mut writer, &ControlResponse::Error { message }).await;
            return;
        }
    };
    let start = match crate::slack::oauth::begin(&workspaces, client_id, open_browser).await {
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
        crate::slack::oauth::cancel(&workspaces, flow);
        return;
    }
    let mut scratch = [0_u8; 64];
    let response = tokio::select! {
        outcome = crate::slack::oauth::finish(&workspaces, flow) => match outcome {
            Ok(workspace) => ControlResponse::Workspace { workspace },
            Err(error) => ControlResponse::Error { message: error.to_string() },
        },
        // The client sends nothing more: a read ending means it hung up (Ctrl+C).
        _ = reader.read(&mut scratch) => {
            crate::slack::oauth::cancel(&workspaces, flow);
            return;
        }
    };
    let _ = send(&mut writer, &response).await;
}

/// Rows matching `filter`, oldest first (as the CLI prints them), read off the async threads.
async fn log_rows(core: &AppCore, filter: LogFilter) -> Result<Vec<LogEntry>> {
    let mut rows = crate::views::sync_log::page(&core.services()?.store, filter).await?;
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
        LogFilter {
            after_id: None,
            ..filter.clone()
        },
    )
    .await;
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
            LogFilter {
                after_id: Some(seen),
                limit: Some(10_000),
                before_id: None,
                ..filter.clone()
            },
        )
        .await;
        seen = seen.max(upto);
    }
}

async fn answer(core: &AppCore, request: ControlRequest) -> ControlResponse {
    let result = async {
        let services = core.services()?;
        Ok::<_, AppError>(match request {
            ControlRequest::StartPairing => ControlResponse::Pairing {
                pairing: services.phones.start_pairing()?,
            },
            ControlRequest::CancelPairing => {
                services.phones.cancel_pairing()?;
                ControlResponse::Done
            }
            ControlRequest::Devices => ControlResponse::Devices {
                devices: services.phones.devices()?,
            },
            ControlRequest::Revoke { device_id } => ControlResponse::Revoked {
                revoked: services.phones.revoke(&device_id)?,
            },
            ControlRequest::Status => ControlResponse::Status {
                state_line: core.snapshot().state_line(),
            },
            ControlRequest::ConnectWorkspace { token } => ControlResponse::Workspace {
                workspace: services.workspaces.connect(&token).await?,
            },
            ControlRequest::DisconnectWorkspace { workspace_id } => ControlResponse::Disconnected {
                disconnected: services.workspaces.disconnect(workspace_id).await?,
            },
            ControlRequest::SetSecurityNotices { workspace_id, on } => ControlResponse::Workspace {
                workspace: services.workspaces.set_security_notices(workspace_id, on)?,
            },
            // Streamed by `serve` (a link, then the outcome); never answered in one line.
            ControlRequest::SignIn { .. } => {
                return Err(AppError::Refused(Refusal::StreamedRequest));
            }
            // Answered by `serve` on a connection of their own.
            ControlRequest::Ui { .. } | ControlRequest::WindowHost { .. } => {
                return Err(AppError::Refused(Refusal::WindowHostRequest));
            }
            ControlRequest::Workspaces => ControlResponse::Workspaces {
                workspaces: services.workspaces.list()?,
            },
            ControlRequest::Reach => ControlResponse::Reach {
                reach: services.phones.reach(),
            },
            ControlRequest::SetReach { choice } => ControlResponse::Reach {
                reach: services
                    .phones
                    .set_phone_reach(&core.config().paths, choice)
                    .await?,
            },
            request @ (ControlRequest::Sources
            | ControlRequest::SetSource { .. }
            | ControlRequest::AddCalendar { .. }
            | ControlRequest::RemoveCalendar { .. }
            | ControlRequest::ChangeWorkingHours { .. }) => ControlResponse::Sources {
                sources: sources_answer(&services.sources, &core.config().paths, request).await?,
            },
            ControlRequest::ForgetNetworks { id } => ControlResponse::Reach {
                reach: services.phones.forget_networks(id.as_deref()).await?,
            },
            ControlRequest::Perform { action } => perform(core, action)?,
            ControlRequest::Log { filter, follow: _ } => ControlResponse::Log {
                entries: log_rows(core, filter).await?,
            },
            ControlRequest::State { follow: _ } => ControlResponse::State {
                state: core.snapshot().report(chrono::Utc::now()),
            },
            ControlRequest::Settings { workspace_id, change } => {
                settings_answer(&services.workspaces, workspace_id, change)?
            }
        })
    }
    .await;
    result.unwrap_or_else(|error| ControlResponse::Error {
        message: error.to_string(),
    })
}

/// The desktop's sources, after the change asked for if any.
async fn sources_answer(
    sources: &crate::sources::DesktopSources,
    paths: &crate::config::AppPaths,
    request: ControlRequest,
) -> Result<crate::sources::SourcesView> {
    match request {
        ControlRequest::SetSource { source, on } => sources.set_one(paths, source, on).await,
        ControlRequest::AddCalendar { calendar } => sources.add_calendar(paths, calendar).await,
        ControlRequest::RemoveCalendar { name } => sources.remove_calendar(paths, &name).await,
        ControlRequest::ChangeWorkingHours { change } => sources.change_working_hours(paths, change).await,
        _ => Ok(sources.view()),
    }
}

/// Carries out an action asked for from the command line: the domain's here, the windows' by the shell.
fn perform(core: &AppCore, action: crate::action::Action) -> Result<ControlResponse> {
    if crate::runtime::apply::is_domain_action(&action) {
        crate::runtime::apply::apply(core, &action, crate::runtime::apply::Source::Cli)?;
    } else {
        core.shell_action(action)?;
    }
    Ok(ControlResponse::Done)
}

/// A workspace's settings, after the change asked for from the command line if any.
fn settings_answer(
    workspaces: &crate::slack::Workspaces,
    workspace_id: i64,
    change: Option<SettingsChange>,
) -> Result<ControlResponse> {
    use crate::slack::setting_keys;
    let (workspace, settings) = match change {
        None => workspaces.view_with_settings(workspace_id)?,
        Some(change) => {
            workspaces.edit_settings(workspace_id, caret_engine::Source::Cli, |settings| match change {
                SettingsChange::Set { key, value } => setting_keys::set(settings, &key, &value),
                SettingsChange::ResetState { state } => setting_keys::reset_state(settings, &state),
                SettingsChange::Replace { settings: imported } => {
                    *settings = imported;
                    Ok(())
                }
            })?
        }
    };
    Ok(ControlResponse::Settings { settings, workspace })
}

/// Sends what the tray's first lines say, then again at every change of it, until the client hangs up.
async fn follow_state(
    core: &AppCore,
    mut reader: impl AsyncReadExt + Unpin,
    mut writer: impl AsyncWriteExt + Unpin,
) {
    let mut snapshots = core.subscribe();
    let mut last = None;
    let mut hung_up = [0u8; 1];
    loop {
        let state = snapshots.borrow_and_update().report(chrono::Utc::now());
        // The snapshot changes for things the tray's lines do not show (a policy's timer); only a change
        // of what they say is sent.
        if last.as_ref() != Some(&state) {
            if send(&mut writer, &ControlResponse::State { state: state.clone() })
                .await
                .is_err()
            {
                return;
            }
            last = Some(state);
        }
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            // The client sends nothing more; a read that ends is the client hanging up.
            _ = reader.read(&mut hung_up) => return,
        }
    }
}
