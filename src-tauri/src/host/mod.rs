//! The window host: `caret-desktop --window-host`, the child process the tray app starts to show its windows
//! (see [`caret_app::control::host`] for why). It has no core of its own:
//! - each call a page makes goes to the tray app over the control socket, by name, and its answer comes back
//!   as the page would have had it in the app ([`forwarder`]); the few that are about the window itself (the
//!   picker's timing) are answered here;
//! - the app's link says which window to show and carries the events for every window ([`follow_app`]); the
//!   host says on it when the picker hid ([`tell_app`]);
//! - the host exits with its last window (Tauri's default when no tray holds it), or when the app hangs up.

pub mod picker;
pub mod windows;

use std::time::Duration;

use caret_app::config::AppPaths;
use caret_app::control::host::{FromHost, ToHost, UiCall};
use caret_app::{AppConfig, WindowKind};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::error::{CommandError, Result};

/// The commands a page has answered by the host itself: they are about its window, not about the app.
const WINDOW_OWN_COMMANDS: &[&str] = &["picker_ready"];

/// The host's way up to the app, written by one task.
struct Uplink(mpsc::UnboundedSender<FromHost>);

/// Tells the app something only the host sees.
pub(crate) fn tell_app<R: Runtime>(app: &AppHandle<R>, notice: FromHost) {
    if let Some(uplink) = app.try_state::<Uplink>()
        && uplink.0.send(notice).is_err()
    {
        tracing::debug!("the link to the app is closed: {notice:?} not said");
    }
}

/// Runs the window host until its last window closes or the app hangs up.
pub fn run() -> Result<()> {
    let config = AppConfig::from_env()?;
    let paths = config.paths.clone();
    // Connected before anything is shown: a host without an app to serve has nothing to do.
    let link = tauri::async_runtime::block_on(caret_app::control::client::connect_window_host(&paths))?;
    let (from_app, to_app) = link.into_split();
    let app = tauri::Builder::default()
        .invoke_handler(forwarder(paths))
        .setup(move |app| {
            app.manage(picker::PickerState::default());
            let (uplink, notices) = mpsc::unbounded_channel();
            app.manage(Uplink(uplink));
            tauri::async_runtime::spawn(write_up(to_app, notices));
            tauri::async_runtime::spawn(follow_app(app.handle().clone(), from_app));
            #[cfg(target_os = "linux")]
            crate::theme::follow_desktop(app.handle());
            tracing::info!("window host ready");
            Ok(())
        })
        .build(tauri::generate_context!())?;
    // Closing the last window ends the run (Tauri's default); so does the app's `exit` below.
    app.run(|_, _| {});
    tracing::info!("window host exits");
    Ok(())
}

/// Sends the host's notices up the link, one JSON line each.
async fn write_up(mut to_app: OwnedWriteHalf, mut notices: mpsc::UnboundedReceiver<FromHost>) {
    while let Some(notice) = notices.recv().await {
        let Ok(mut line) = serde_json::to_string(&notice) else {
            continue;
        };
        line.push('\n');
        if to_app.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Carries out what the app sends, until it hangs up; then the windows close with the host.
async fn follow_app<R: Runtime>(app: AppHandle<R>, from_app: OwnedReadHalf) {
    let mut lines = BufReader::new(from_app).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => match serde_json::from_str::<ToHost>(&line) {
                Ok(message) => carry_out(&app, message),
                Err(error) => {
                    tracing::warn!("the app sent the window host something unknown ({error}): {line}")
                }
            },
            Ok(None) | Err(_) => {
                tracing::info!("the app hung up: its windows close");
                app.exit(0);
                return;
            }
        }
    }
}

fn carry_out<R: Runtime>(app: &AppHandle<R>, message: ToHost) {
    let outcome = match message {
        ToHost::Open {
            window: WindowKind::Picker,
            waited_ms,
            opening,
        } => {
            let waited = Duration::try_from_secs_f64(waited_ms / 1000.0).unwrap_or_default();
            picker::show(app, opening, waited)
        }
        ToHost::Open { window, .. } => windows::open(app, window),
        ToHost::Event { name, payload } => app.emit(&name, payload),
    };
    if let Err(error) = outcome {
        tracing::error!("the window host cannot do what the app asked: {error}");
    }
}

/// Tauri's invoke handler in the host: every listed command goes to the app by name (the window's own are
/// answered here, by the same dispatcher the app uses); anything else is not ours.
fn forwarder<R: Runtime>(paths: AppPaths) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    let here = crate::ipc::handler::<R>();
    move |invoke| {
        let command = invoke.message.command();
        if WINDOW_OWN_COMMANDS.contains(&command) {
            return here(invoke);
        }
        if !crate::ipc::COMMANDS.contains(&command) {
            return false;
        }
        let call = UiCall {
            command: command.to_owned(),
            args: match invoke.message.payload() {
                tauri::ipc::InvokeBody::Json(args) => args.clone(),
                tauri::ipc::InvokeBody::Raw(_) => serde_json::Value::Null,
            },
            window: WindowKind::from_label(invoke.message.webview_ref().label()),
        };
        let paths = paths.clone();
        invoke.resolver.respond_async_serialized(async move {
            match caret_app::control::client::call_ui(&paths, call).await {
                Ok(Ok(answer)) => Ok(tauri::ipc::InvokeResponseBody::Json(answer.to_string())),
                Ok(Err(error)) => Err(tauri::ipc::InvokeError(error)),
                Err(error) => Err(tauri::ipc::InvokeError::from(CommandError {
                    code: "app_unreachable".to_owned(),
                    message: error.to_string(),
                })),
            }
        });
        true
    }
}
