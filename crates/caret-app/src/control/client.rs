//! The command line's side of the control socket.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::host::{UiCall, UiOutcome};
use super::protocol::{ControlRequest, ControlResponse};
use super::{control_error, socket_path};
use crate::config::AppPaths;
use crate::error::{AnswerProblem, AppError, Result};

/// How long a command waits for its answer: connecting a workspace asks Slack first.
const ANSWER_PATIENCE: Duration = Duration::from_secs(45);

/// Sends one request to the running app and returns its answer (an `Error` answer becomes
/// [`AppError::RunningAppRefused`]).
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
    let mut stream = connect(&path).await?;
    let mut json = serde_json::to_string(request).map_err(AppError::EncodeRequest)?;
    json.push('\n');
    if let Err(error) = stream.write_all(json.as_bytes()).await {
        // The app may answer and hang up before reading (it refuses another user at once): its answer, not the
        // broken pipe, says why.
        let mut lines = BufReader::new(stream).lines();
        if let Ok(Some(line)) = lines.next_line().await
            && let Ok(ControlResponse::Error { message }) = serde_json::from_str::<ControlResponse>(&line)
        {
            return Err(AppError::RunningAppRefused { message });
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
                    AppError::RunningAppAnswer(AnswerProblem::NoAnswer {
                        waited: ANSWER_PATIENCE,
                    })
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
            Ok(ControlResponse::Error { message }) => return Err(AppError::RunningAppRefused { message }),
            Ok(response) => response,
            Err(source) => {
                return Err(AppError::RunningAppAnswer(AnswerProblem::NotUnderstood {
                    source,
                }));
            }
        };
        if !each(response) {
            return Ok(());
        }
    }
}

async fn connect(path: &std::path::Path) -> Result<UnixStream> {
    UnixStream::connect(path)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => AppError::NotRunning {
                path: path.to_path_buf(),
            },
            _ => control_error(path)(source),
        })
}

/// Connects to the running app and sends `request`, for a connection that goes on after it.
async fn open(paths: &AppPaths, request: &ControlRequest) -> Result<UnixStream> {
    let path = socket_path(paths);
    let mut stream = connect(&path).await?;
    let mut json = serde_json::to_string(request).map_err(AppError::EncodeRequest)?;
    json.push('\n');
    stream
        .write_all(json.as_bytes())
        .await
        .map_err(control_error(&path))?;
    Ok(stream)
}

/// A window's call, handed to the running app (from the window host). It waits as long as the call takes, as
/// a call inside the app would: finishing a sign-in waits for the browser.
pub async fn call_ui(paths: &AppPaths, call: UiCall) -> Result<UiOutcome> {
    let stream = open(paths, &ControlRequest::Ui { call }).await?;
    let path = socket_path(paths);
    let mut lines = BufReader::new(stream).lines();
    let line = lines
        .next_line()
        .await
        .map_err(control_error(&path))?
        .ok_or(AppError::NotRunning { path })?;
    match serde_json::from_str::<ControlResponse>(&line) {
        Ok(ControlResponse::Answer { value }) => Ok(Ok(value)),
        Ok(ControlResponse::Refused { error }) => Ok(Err(error)),
        Ok(ControlResponse::Error { message }) => Err(AppError::RunningAppRefused { message }),
        Ok(_) => Err(AppError::RunningAppAnswer(AnswerProblem::Unexpected)),
        Err(source) => Err(AppError::RunningAppAnswer(AnswerProblem::NotUnderstood {
            source,
        })),
    }
}

/// The window host's link to the running app: what the app sends comes on it as [`super::host::ToHost`]
/// lines; the host writes [`super::host::FromHost`] lines on it.
pub async fn connect_window_host(paths: &AppPaths, number: u64) -> Result<UnixStream> {
    open(paths, &ControlRequest::WindowHost { number }).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
