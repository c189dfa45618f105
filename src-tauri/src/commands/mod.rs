//! The IPC commands the UI calls. Each is a few lines that delegate to the core or to [`crate::actions`].
//! They are listed once, in [`crate::ipc`], which registers them and generates their TypeScript signatures.

use caret_app::action::PickerOpening;
use caret_app::phones::reach::{PhoneReach, ReachView};
use caret_app::phones::views::{PairingView, PhonesView};
use caret_app::preferences::PreferencesView;
use caret_app::slack::manifest::{SlackAppSetup, SlackPage};
use caret_app::slack::oauth::OAuthStart;
use caret_app::slack::workspaces::{Disconnected, PastedSecret, WorkspaceView};
use caret_app::views::export::{ExportFormat, ExportedLog};
use caret_app::views::preview::{SettingsPreview, TemplateCatalog};
use caret_app::{Action, AppCore, AppInfo, Snapshot, WindowKind};
use caret_core::{TimeFormat, WorkspaceSettings};
use caret_store::{LogEntry, LogFilter};
use tauri::{AppHandle, Emitter, Runtime, State, WebviewWindow};

use crate::error::Result;

/// Facts about the running app, for the About section.
#[tauri::command]
pub fn app_info(core: State<'_, AppCore>) -> AppInfo {
    core.info()
}

/// Carries out an action the user took in the UI, exactly as if it came from the tray. One taken in the quick
/// picker is logged as coming from the shortcut that opened it.
#[tauri::command]
pub fn perform<R: Runtime>(app: AppHandle<R>, window: WebviewWindow<R>, action: Action) {
    let source = if WindowKind::from_label(window.label()) == Some(WindowKind::Picker) {
        caret_app::runtime::apply::Source::Shortcut
    } else {
        caret_app::runtime::apply::Source::Ui
    };
    crate::actions::handle(&app, action, source);
}

/// What the app believes now (state, what each workspace shows, paused); later changes arrive as `snapshot`
/// events.
#[tauri::command]
pub fn snapshot(core: State<'_, AppCore>) -> Snapshot {
    core.snapshot()
}

/// Sync log rows matching the filter, newest first. New rows are announced by `sync-log` events. Async, like
/// the export: it runs off the main thread and off the async threads, so a large query stalls nothing.
#[tauri::command]
pub async fn sync_log(core: State<'_, AppCore>, filter: LogFilter) -> Result<Vec<LogEntry>> {
    Ok(caret_app::views::sync_log::page(&core.services()?.store, filter).await?)
}

/// Writes every row the filter selects to a new file in the Downloads folder.
#[tauri::command]
pub async fn export_sync_log(
    core: State<'_, AppCore>,
    filter: LogFilter,
    format: ExportFormat,
) -> Result<ExportedLog> {
    let dir = caret_app::views::export::export_dir();
    Ok(
        caret_app::views::sync_log::export(
            &core.services()?.store,
            filter,
            format,
            dir,
            chrono::Local::now(),
        )
        .await?,
    )
}

/// A workspace's settings, for the Settings form.
#[tauri::command]
pub fn workspace_settings(core: State<'_, AppCore>, workspace_id: u32) -> Result<WorkspaceSettings> {
    Ok(core.services()?.workspaces.settings(i64::from(workspace_id))?)
}

/// Saves the Settings form (phone number, templates, lease, time format); the policy has its own action.
#[tauri::command]
pub fn save_workspace_settings(
    core: State<'_, AppCore>,
    workspace_id: u32,
    settings: WorkspaceSettings,
) -> Result<WorkspaceView> {
    Ok(core.services()?.workspaces.save_settings(
        i64::from(workspace_id),
        settings,
        caret_app::runtime::apply::Source::Ui,
    )?)
}

/// What Slack would show for each state under each policy with these (unsaved) settings.
#[tauri::command]
pub fn preview_settings(settings: WorkspaceSettings) -> SettingsPreview {
    caret_app::views::preview::preview(&settings, chrono::Local::now().fixed_offset())
}

/// The built-in look of each state and the VIP placeholders, for the template editor.
#[tauri::command]
pub fn template_catalog() -> TemplateCatalog {
    TemplateCatalog::new()
}

/// The quick picker shows (again): its list, what the app shows now, and the keys typed for it so far.
/// Async, so that waiting for the shortcut's listener never holds the main thread.
#[tauri::command]
pub async fn picker_opened<R: Runtime>(app: AppHandle<R>, core: State<'_, AppCore>) -> Result<PickerOpening> {
    Ok(crate::picker::opened(&app, &core))
}

/// The quick picker's list for `opening` shows and takes keys (for the log, and the benchmark reading it).
#[tauri::command]
pub fn picker_ready<R: Runtime>(app: AppHandle<R>, opening: u32) {
    crate::picker::ready(&app, opening);
}

/// The app's preferences (shortcut, autostart) and whether the shortcut works.
#[tauri::command]
pub fn preferences<R: Runtime>(app: AppHandle<R>, core: State<'_, AppCore>) -> Result<PreferencesView> {
    crate::shortcut::view(&app, &core)
}

/// Saves and registers a new global shortcut ("" for none); a refusal is reported in the answer, not thrown.
#[tauri::command]
pub fn set_shortcut<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    shortcut: String,
) -> Result<PreferencesView> {
    crate::shortcut::change(&app, &core, &shortcut)
}

/// Saves how the windows write a time of day, and tells every window.
#[tauri::command]
pub fn set_clock<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    clock: TimeFormat,
) -> Result<PreferencesView> {
    let preferences = caret_app::preferences::set_clock(&core.config().paths, clock)?;
    if let Err(error) = app.emit(crate::ipc::PREFERENCES_EVENT, &preferences) {
        tracing::warn!("cannot tell the windows about the new preferences: {error}");
    }
    crate::shortcut::view(&app, &core)
}

/// Turns starting at login on or off.
#[tauri::command]
pub fn set_autostart<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    enabled: bool,
) -> Result<PreferencesView> {
    crate::shortcut::set_autostart(&app, &core, enabled)
}

/// Paired phones, the relay, and the open pairing window, for the Phones window.
#[tauri::command]
pub fn phones(core: State<'_, AppCore>) -> Result<PhonesView> {
    Ok(core.services()?.phones.view()?)
}

/// Opens a pairing window (two minutes): the QR code and the short code.
#[tauri::command]
pub fn start_pairing(core: State<'_, AppCore>) -> Result<PairingView> {
    Ok(core.services()?.phones.start_pairing()?)
}

#[tauri::command]
pub fn cancel_pairing(core: State<'_, AppCore>) -> Result<()> {
    Ok(core.services()?.phones.cancel_pairing()?)
}

/// The Slack workspaces.
#[tauri::command]
pub fn workspaces(core: State<'_, AppCore>) -> Result<Vec<WorkspaceView>> {
    Ok(core.services()?.workspaces.list()?)
}

/// Connects a workspace with a pasted User OAuth Token: checked with Slack, kept in the keyring only.
#[tauri::command]
pub async fn connect_workspace(core: State<'_, AppCore>, token: String) -> Result<WorkspaceView> {
    let workspaces = core.services()?.workspaces.clone();
    Ok(workspaces.connect(&PastedSecret::new(token)).await?)
}

/// Disconnects a workspace: syncing stops, Slack revokes the token, and it is deleted from the keyring.
#[tauri::command]
// A `u32` on the wire: a JSON number in TypeScript (an `i64` would be a `bigint` there); row ids fit.
pub async fn disconnect_workspace(core: State<'_, AppCore>, workspace_id: u32) -> Result<Disconnected> {
    let workspaces = core.services()?.workspaces.clone();
    Ok(workspaces.disconnect(i64::from(workspace_id)).await?)
}

/// Starts "Sign in with Slack": opens Slack's authorize page in the browser and returns its link.
#[tauri::command]
pub async fn begin_sign_in(core: State<'_, AppCore>, client_id: String) -> Result<OAuthStart> {
    let workspaces = core.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::begin(&workspaces, &client_id, true).await?)
}

/// Waits for the browser to come back from Slack (the sign-in `begin_sign_in` started): the connected
/// workspace, or why not.
#[tauri::command]
pub async fn finish_sign_in(core: State<'_, AppCore>, flow_id: u32) -> Result<WorkspaceView> {
    let workspaces = core.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::finish(&workspaces, Some(u64::from(flow_id))).await?)
}

/// Ends that sign-in if it is still in progress; `true` if it was.
#[tauri::command]
pub fn cancel_sign_in(core: State<'_, AppCore>, flow_id: u32) -> Result<bool> {
    Ok(caret_app::slack::oauth::cancel(
        &core.services()?.workspaces,
        Some(u64::from(flow_id)),
    ))
}

/// What the guide to creating the Slack app shows (the manifest) and the Client ID used last.
#[tauri::command]
pub fn slack_app_setup(core: State<'_, AppCore>) -> SlackAppSetup {
    let last_client_id = core
        .services()
        .ok()
        .and_then(|services| caret_app::slack::oauth::last_client_id(&services.workspaces));
    caret_app::slack::manifest::setup(last_client_id)
}

/// Opens one of Slack's pages (create the app from the manifest, your apps) in the browser.
#[tauri::command]
pub async fn open_slack_page(core: State<'_, AppCore>, page: SlackPage) -> Result<()> {
    let workspaces = core.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::open_slack_page(&workspaces, page).await?)
}

/// Security notices by direct message to yourself for a workspace, on or off.
#[tauri::command]
pub fn set_security_notices(core: State<'_, AppCore>, workspace_id: u32, on: bool) -> Result<WorkspaceView> {
    Ok(core
        .services()?
        .workspaces
        .set_security_notices(i64::from(workspace_id), on)?)
}

/// Revokes a phone; returns whether it was active. Its open connection closes at once.
#[tauri::command]
pub fn revoke_device(core: State<'_, AppCore>, device_id: String) -> Result<bool> {
    Ok(core.services()?.phones.revoke(&device_id)?)
}

#[cfg(test)]
mod tests {
    use caret_app::{AppConfig, AppCore, AppPaths};
    use tauri::Manager;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
    use tauri::webview::InvokeRequest;

    fn app() -> tauri::App<MockRuntime> {
        let paths = AppPaths {
            config_dir: "/tmp/caret-c".into(),
            data_dir: "/tmp/caret-d".into(),
        };
        let config = AppConfig {
            paths,
            slack_api_url: "http://127.0.0.1:9/api".parse().expect("url"),
            relay: caret_app::config::RelaySettings {
                port: 0,
                loopback_only: true,
            },
            oauth_port: 0,
            browser: None,
        };
        let app = mock_builder()
            .invoke_handler(crate::ipc::handler())
            // The app's own context: its config and capabilities, so permissions are tested as shipped.
            .build(tauri::generate_context!())
            .expect("mock app builds");
        app.manage(AppCore::new(config, false));
        app
    }

    /// Where the app's own pages come from on Linux: a local origin, which the ACL lets call app commands.
    const APP_ORIGIN: &str = "tauri://localhost";

    fn call(
        webview: &tauri::WebviewWindow<MockRuntime>,
        command: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        call_from(APP_ORIGIN, webview, command, args)
    }

    fn call_from(
        origin: &str,
        webview: &tauri::WebviewWindow<MockRuntime>,
        command: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: origin.parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(webview, request).map(|body| body.deserialize::<serde_json::Value>().expect("JSON"))
    }

    #[test]
    fn app_info_answers_in_the_shape_the_ui_was_generated_for() {
        let app = app();
        let webview = tauri::WebviewWindowBuilder::new(&app, "settings", Default::default())
            .build()
            .expect("webview");
        let info = call(&webview, "app_info", serde_json::json!({})).expect("app_info answers");
        assert_eq!(info["headless"], false);
        assert_eq!(info["data_dir"], "/tmp/caret-d");
        assert_eq!(info["slack_api_url"], "http://127.0.0.1:9/api");
        assert_eq!(info["state_line"], "No phone paired yet");
        let keys: Vec<&str> = info
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let generated = include_str!("../../../ui/src/bindings/AppInfo.ts");
        for key in keys {
            assert!(generated.contains(&format!("{key}:")), "AppInfo.ts lacks {key}");
        }
    }

    #[test]
    fn perform_takes_an_action_as_the_generated_types_spell_it() {
        let app = app();
        let webview = tauri::WebviewWindowBuilder::new(&app, "settings", Default::default())
            .build()
            .expect("webview");
        let action = serde_json::json!({"action": {"type": "open_window", "window": "settings"}});
        assert_eq!(call(&webview, "perform", action), Ok(serde_json::Value::Null));
        let misspelt = serde_json::json!({"action": {"type": "open_window", "window": "nowhere"}});
        assert!(
            call(&webview, "perform", misspelt).is_err(),
            "an action outside the generated type is refused"
        );
    }

    #[test]
    fn a_remote_page_cannot_call_the_app() {
        let app = app();
        let webview = tauri::WebviewWindowBuilder::new(&app, "settings", Default::default())
            .build()
            .expect("webview");
        let refused = call_from(
            "https://evil.example",
            &webview,
            "app_info",
            serde_json::json!({}),
        );
        assert!(refused.is_err(), "{refused:?}");
    }
}

/// Where phones can reach this computer now, and why.
#[tauri::command]
pub fn reach(core: State<'_, AppCore>) -> Result<ReachView> {
    Ok(core.services()?.phones.reach())
}

/// Changes where phones can reach this computer (saved in the preferences); answers once the relay followed.
#[tauri::command]
pub async fn set_phone_reach(core: State<'_, AppCore>, choice: PhoneReach) -> Result<ReachView> {
    let core = core.inner().clone();
    let paths = core.config().paths.clone();
    Ok(core.services()?.phones.set_phone_reach(&paths, choice).await?)
}

/// Forgets one known network (by id) or all of them (`null`).
#[tauri::command]
pub async fn forget_networks(core: State<'_, AppCore>, id: Option<String>) -> Result<ReachView> {
    let core = core.inner().clone();
    Ok(core.services()?.phones.forget_networks(id.as_deref()).await?)
}
