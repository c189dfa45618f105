//! The window host: `caret-desktop --window-host`, the child process the tray app starts to show its windows
//! (see [`caret_app::control::host`] for why). It has no core of its own:
//! - each call a page makes goes to the tray app over the control socket, by name, and its answer comes back
//!   as the page would have had it in the app ([`forwarder`]); the few that are about the window itself (the
//!   picker's timing) are answered here;
//! - the app's link says which window to show and carries the events for every window ([`follow_app`]); the
//!   host says on it when the picker hid ([`tell_app`]);
//! - when its last window closes, the host tells the app it is leaving and exits once the app has hung up,
//!   handing back any window the app asked for meanwhile ([`FromHost::Returned`]), so that a window asked for
//!   just then is shown by the next host rather than lost; it also exits when the app goes.

pub mod picker;
pub mod windows;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use caret_app::config::AppPaths;
use caret_app::control::host::{FromHost, ToHost, UiCall};
use caret_app::{AppConfig, WindowKind};
use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::error::{CommandError, Result, ShellError};

/// The environment variable that gives a window host the number the app started it with.
pub const HOST_NUMBER_VAR: &str = "CARET_WINDOW_HOST";

/// The commands a page has answered by the host itself: they are about its window, not about the app.
const WINDOW_OWN_COMMANDS: &[&str] = &["picker_ready"];

/// What goes up to the app, written by one task: a notice, or a request to say when all before it is written.
enum Up {
    Notice(FromHost),
    Flush(oneshot::Sender<()>),
}

/// The host's way up to the app, and whether it has said it is leaving.
struct Uplink {
    sender: mpsc::UnboundedSender<Up>,
    leaving: AtomicBool,
}

/// Tells the app something only the host sees.
pub(crate) fn tell_app<R: Runtime>(app: &AppHandle<R>, notice: FromHost) {
    if let Some(uplink) = app.try_state::<Uplink>()
        && uplink.sender.send(Up::Notice(notice)).is_err()
    {
        tracing::debug!("the link to the app is closed: {notice:?} not said");
    }
}

/// The last window closed (or none could be shown): says so to the app, which hangs up once it has sent
/// nothing more; the host exits then ([`follow_app`]).
fn leave<R: Runtime>(app: &AppHandle<R>) {
    if let Some(uplink) = app.try_state::<Uplink>()
        && !uplink.leaving.swap(true, Ordering::SeqCst)
    {
        tracing::info!("the window host's last window closed: leaving");
        tell_app(app, FromHost::Leaving);
    }
}

fn leaving<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Uplink>()
        .is_some_and(|uplink| uplink.leaving.load(Ordering::SeqCst))
}

/// Runs the window host until its last window closes or the app hangs up.
pub fn run() -> Result<()> {
    name_the_process();
    let number = std::env::var(HOST_NUMBER_VAR)
        .ok()
        .and_then(|number| number.parse().ok())
        .ok_or(ShellError::NotStartedByTheApp)?;
    let config = AppConfig::from_env()?;
    let paths = config.paths.clone();
    // Connected before anything is shown: a host without an app to serve has nothing to do.
    let link =
        tauri::async_runtime::block_on(caret_app::control::client::connect_window_host(&paths, number))?;
    let (from_app, to_app) = link.into_split();
    let app = tauri::Builder::default()
        .invoke_handler(forwarder(paths))
        .setup(move |app| {
            app.manage(picker::PickerState::default());
            let (uplink, notices) = mpsc::unbounded_channel();
            app.manage(Uplink {
                sender: uplink,
                leaving: AtomicBool::new(false),
            });
            tauri::async_runtime::spawn(write_up(to_app, notices));
            tauri::async_runtime::spawn(follow_app(app.handle().clone(), from_app));
            #[cfg(target_os = "linux")]
            crate::theme::follow_desktop(app.handle());
            tracing::info!("window host ready");
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|app, event| {
        // The last window closed: the host leaves through the app (which may have just asked for another
        // window); the app hanging up ends the run with a code.
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
            leave(app);
        }
    });
    tracing::info!("window host exits");
    Ok(())
}

/// Sends the host's notices up the link, one JSON line each.
async fn write_up(mut to_app: OwnedWriteHalf, mut notices: mpsc::UnboundedReceiver<Up>) {
    while let Some(up) = notices.recv().await {
        let notice = match up {
            Up::Notice(notice) => notice,
            Up::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let Ok(mut line) = serde_json::to_string(&notice) else {
            continue;
        };
        line.push('\n');
        if to_app.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Names the process as people know it: started from `/proc/self/exe`, it would be called `exe`.
fn name_the_process() {
    #[cfg(target_os = "linux")]
    if let Err(error) = std::fs::write("/proc/self/comm", "caret-desktop") {
        tracing::debug!("cannot name the window host's process: {error}");
    }
}

/// Carries out what the app sends, until it hangs up; then the windows close with the host.
async fn follow_app<R: Runtime>(app: AppHandle<R>, from_app: OwnedReadHalf) {
    let mut lines = BufReader::new(from_app).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => match serde_json::from_str::<ToHost>(&line) {
                Ok(message) => carry_out(&app, message, Instant::now()),
                Err(error) => {
                    tracing::warn!("the app sent the window host something unknown ({error}): {line}")
                }
            },
            Ok(None) | Err(_) => {
                tracing::info!("the app hung up: the window host exits");
                if leaving(&app) {
                    hand_back_late_windows(&app);
                }
                // What was handed back is written before the process ends.
                if let Some(uplink) = app.try_state::<Uplink>() {
                    let (done, flushed) = oneshot::channel();
                    if uplink.sender.send(Up::Flush(done)).is_ok() {
                        let _ = tokio::time::timeout(Duration::from_secs(2), flushed).await;
                    }
                }
                app.exit(0);
                return;
            }
        }
    }
}

/// A window asked for just before the last one closed can be made after the host decided to leave (Tauri
/// counts the windows when one closes, not while another is being made): it is handed back, so that the next
/// host shows it rather than it closing with this one.
fn hand_back_late_windows<R: Runtime>(app: &AppHandle<R>) {
    for (label, window) in app.webview_windows() {
        let Some(kind) = WindowKind::from_label(&label) else {
            continue;
        };
        if !window.is_visible().unwrap_or(false) {
            continue;
        }
        let opening = if kind == WindowKind::Picker {
            picker::opening(app)
        } else {
            0
        };
        tell_app(
            app,
            FromHost::Returned {
                window: kind,
                waited_ms: 0.0,
                opening,
            },
        );
    }
}

fn carry_out<R: Runtime>(app: &AppHandle<R>, message: ToHost, received_at: Instant) {
    let outcome = match message {
        ToHost::Open {
            window,
            waited_ms,
            opening,
        } if leaving(app) => {
            // Asked for after this host said it was leaving: the next host shows it.
            tell_app(
                app,
                FromHost::Returned {
                    window,
                    waited_ms: waited_ms + received_at.elapsed().as_secs_f64() * 1000.0,
                    opening,
                },
            );
            Ok(())
        }
        ToHost::Open {
            window: WindowKind::Picker,
            waited_ms,
            opening,
        } => {
            let waited = Duration::try_from_secs_f64(waited_ms / 1000.0).unwrap_or_default();
            picker::show(app, opening, waited).inspect_err(|_| {
                // Not shown: the shortcut's next press must treat it as hidden.
                tell_app(app, FromHost::PickerHidden { opening });
            })
        }
        ToHost::Open { window, .. } => windows::open(app, window),
        ToHost::Event { name, payload } => app.emit(&name, payload),
    };
    if let Err(error) = outcome {
        tracing::error!("the window host cannot do what the app asked: {error}");
        // A host with no window to show would stay for nothing.
        if app.webview_windows().is_empty() {
            leave(app);
        }
    }
}

/// Tauri's invoke handler in the host: every listed command goes to the app by name (the window's own are
/// answered here, by the same dispatcher the app uses); anything else is not ours.
pub(crate) fn forwarder<R: Runtime>(
    paths: AppPaths,
) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
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
            args: crate::ipc::arguments(&invoke),
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
