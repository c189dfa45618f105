//! The IPC commands the UI calls. Each is a few lines that delegate to the core or to [`crate::actions`].
//! They are listed once, in [`crate::ipc`], which dispatches a call to them by name (with its arguments as
//! JSON) and generates their TypeScript signatures.
//!
//! Every command takes the [`Caller`] first: the app, and the window the call came from. None takes Tauri's
//! extractors, so the same call can come from a webview in this process or, by name, from anywhere else.

use caret_app::action::PickerOpening;
use caret_app::phones::reach::{PhoneReach, ReachView};
use caret_app::phones::views::{PairingView, PhonesView};
use caret_app::preferences::{PreferencesView, SourceName};
use caret_app::slack::manifest::{SlackAppSetup, SlackPage};
use caret_app::slack::oauth::OAuthStart;
use caret_app::slack::workspaces::{Disconnected, PastedSecret, WorkspaceView};
use caret_app::sources::SourcesView;
use caret_app::sources::calendars::NewCalendar;
use caret_app::views::export::{ExportFormat, ExportedLog};
use caret_app::views::preview::{SettingsPreview, TemplateCatalog};
use caret_app::{Action, AppCore, AppInfo, Snapshot, WindowKind};
use caret_core::WorkingHours;
use caret_core::{TimeFormat, WorkspaceSettings};
use caret_store::{LogEntry, LogFilter};
use tauri::{AppHandle, Manager, Runtime};

use crate::error::{Result, ShellError};

/// Who calls a command: the app, and which of its windows asked (none for a call from elsewhere).
pub struct Caller<R: Runtime> {
    pub app: AppHandle<R>,
    pub window: Option<WindowKind>,
}

// By hand: a derived Clone would ask the runtime itself to be Clone.
impl<R: Runtime> Clone for Caller<R> {
    fn clone(&self) -> Self {
        Caller {
            app: self.app.clone(),
            window: self.window,
        }
    }
}

impl<R: Runtime> Caller<R> {
    /// The app's core, once the shell has set it up.
    pub fn core(&self) -> Result<AppCore> {
        self.app
            .try_state::<AppCore>()
            .map(|core| core.inner().clone())
            .ok_or(ShellError::NotSetUp)
    }
}

/// Facts about the running app, for the About section.
pub async fn app_info<R: Runtime>(caller: Caller<R>) -> Result<AppInfo> {
    Ok(caller.core()?.info())
}

/// Carries out an action the user took in the UI, exactly as if it came from the tray. One taken in the quick
/// picker is logged as coming from the shortcut that opened it.
pub async fn perform<R: Runtime>(caller: Caller<R>, action: Action) -> Result<()> {
    let source = if caller.window == Some(WindowKind::Picker) {
        caret_app::runtime::apply::Source::Shortcut
    } else {
        caret_app::runtime::apply::Source::Ui
    };
    crate::actions::handle(&caller.app, action, source);
    Ok(())
}

/// What the app believes now (state, what each workspace shows, paused); later changes arrive as `snapshot`
/// events.
pub async fn snapshot<R: Runtime>(caller: Caller<R>) -> Result<Snapshot> {
    Ok(caller.core()?.snapshot())
}

/// Sync log rows matching the filter, newest first. New rows are announced by `sync-log` events. The query
/// runs off the async threads, so a large one stalls nothing.
pub async fn sync_log<R: Runtime>(caller: Caller<R>, filter: LogFilter) -> Result<Vec<LogEntry>> {
    let store = caller.core()?.services()?.store.clone();
    Ok(caret_app::views::sync_log::page(&store, filter).await?)
}

/// Writes every row the filter selects to a new file in the Downloads folder.
pub async fn export_sync_log<R: Runtime>(
    caller: Caller<R>,
    filter: LogFilter,
    format: ExportFormat,
) -> Result<ExportedLog> {
    let store = caller.core()?.services()?.store.clone();
    let dir = caret_app::views::export::export_dir();
    Ok(caret_app::views::sync_log::export(&store, filter, format, dir, chrono::Local::now()).await?)
}

/// A workspace's settings, for the Settings form.
pub async fn workspace_settings<R: Runtime>(
    caller: Caller<R>,
    workspace_id: u32,
) -> Result<WorkspaceSettings> {
    Ok(caller
        .core()?
        .services()?
        .workspaces
        .settings(i64::from(workspace_id))?)
}

/// Saves the Settings form (phone number, templates, lease, time format); the policy has its own action.
pub async fn save_workspace_settings<R: Runtime>(
    caller: Caller<R>,
    workspace_id: u32,
    settings: WorkspaceSettings,
) -> Result<WorkspaceView> {
    Ok(caller.core()?.services()?.workspaces.save_settings(
        i64::from(workspace_id),
        settings,
        caret_app::runtime::apply::Source::Ui,
    )?)
}

/// What Slack would show for each state under each policy with these (unsaved) settings, and what speaks now.
pub async fn preview_settings<R: Runtime>(
    caller: Caller<R>,
    settings: WorkspaceSettings,
) -> Result<SettingsPreview> {
    let snapshot = caller.core()?.snapshot();
    let input = snapshot.effective_input(chrono::Utc::now());
    let current = caret_app::views::preview::PreviewNow::new(input.as_ref(), &snapshot.desktop);
    Ok(caret_app::views::preview::preview(
        &settings,
        chrono::Local::now().fixed_offset(),
        Some(current),
    ))
}

/// The built-in look of each state and the VIP placeholders, for the template editor.
pub async fn template_catalog<R: Runtime>(_caller: Caller<R>) -> Result<TemplateCatalog> {
    Ok(TemplateCatalog::new())
}

/// The quick picker shows (again): its list, what the app shows now, and the keys typed for it so far.
/// Waiting for the shortcut's listener happens on a blocking thread, never on the async ones.
pub async fn picker_opened<R: Runtime>(caller: Caller<R>) -> Result<PickerOpening> {
    let core = caller.core()?;
    let app = caller.app.clone();
    Ok(tauri::async_runtime::spawn_blocking(move || crate::picker::opened(&app, &core)).await?)
}

/// The quick picker's list for `opening` shows and takes keys (for the log, and the benchmark reading it).
/// Answered by the window host, which shows the picker.
pub async fn picker_ready<R: Runtime>(caller: Caller<R>, opening: u32) -> Result<()> {
    crate::host::picker::ready(&caller.app, opening);
    Ok(())
}

/// The app's preferences (shortcut, autostart) and whether the shortcut works.
pub async fn preferences<R: Runtime>(caller: Caller<R>) -> Result<PreferencesView> {
    crate::shortcut::view(&caller.app, &caller.core()?)
}

/// Saves and registers a new global shortcut ("" for none); a refusal is reported in the answer, not thrown.
pub async fn set_shortcut<R: Runtime>(caller: Caller<R>, shortcut: String) -> Result<PreferencesView> {
    crate::shortcut::change(&caller.app, &caller.core()?, &shortcut)
}

/// Saves how the windows write a time of day, and tells every window.
pub async fn set_clock<R: Runtime>(caller: Caller<R>, clock: TimeFormat) -> Result<PreferencesView> {
    let core = caller.core()?;
    let preferences = caret_app::preferences::set_clock(&core.config().paths, clock)?;
    crate::windows::tell(&caller.app, crate::ipc::PREFERENCES_EVENT, &preferences);
    crate::shortcut::view(&caller.app, &core)
}

/// Turns starting at login on or off.
pub async fn set_autostart<R: Runtime>(caller: Caller<R>, enabled: bool) -> Result<PreferencesView> {
    crate::shortcut::set_autostart(&caller.app, &caller.core()?, enabled)
}

/// Paired phones, the relay, and the open pairing window, for the Phones window.
pub async fn phones<R: Runtime>(caller: Caller<R>) -> Result<PhonesView> {
    Ok(caller.core()?.services()?.phones.view()?)
}

/// Opens a pairing window (two minutes): the QR code and the short code.
pub async fn start_pairing<R: Runtime>(caller: Caller<R>) -> Result<PairingView> {
    Ok(caller.core()?.services()?.phones.start_pairing()?)
}

pub async fn cancel_pairing<R: Runtime>(caller: Caller<R>) -> Result<()> {
    Ok(caller.core()?.services()?.phones.cancel_pairing()?)
}

/// Revokes a phone; returns whether it was active. Its open connection closes at once.
pub async fn revoke_device<R: Runtime>(caller: Caller<R>, device_id: String) -> Result<bool> {
    Ok(caller.core()?.services()?.phones.revoke(&device_id)?)
}

/// The Slack workspaces.
pub async fn workspaces<R: Runtime>(caller: Caller<R>) -> Result<Vec<WorkspaceView>> {
    Ok(caller.core()?.services()?.workspaces.list()?)
}

/// Connects a workspace with a pasted User OAuth Token: checked with Slack, kept in the keyring only.
pub async fn connect_workspace<R: Runtime>(caller: Caller<R>, token: String) -> Result<WorkspaceView> {
    let workspaces = caller.core()?.services()?.workspaces.clone();
    Ok(workspaces.connect(&PastedSecret::new(token)).await?)
}

/// Disconnects a workspace: syncing stops, Slack revokes the token, and it is deleted from the keyring.
// A `u32` on the wire: a JSON number in TypeScript (an `i64` would be a `bigint` there); row ids fit.
pub async fn disconnect_workspace<R: Runtime>(caller: Caller<R>, workspace_id: u32) -> Result<Disconnected> {
    let workspaces = caller.core()?.services()?.workspaces.clone();
    Ok(workspaces.disconnect(i64::from(workspace_id)).await?)
}

/// Starts "Sign in with Slack": opens Slack's authorize page in the browser and returns its link.
pub async fn begin_sign_in<R: Runtime>(caller: Caller<R>, client_id: String) -> Result<OAuthStart> {
    let workspaces = caller.core()?.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::begin(&workspaces, &client_id, true).await?)
}

/// Waits for the browser to come back from Slack (the sign-in `begin_sign_in` started): the connected
/// workspace, or why not.
pub async fn finish_sign_in<R: Runtime>(caller: Caller<R>, flow_id: u32) -> Result<WorkspaceView> {
    let workspaces = caller.core()?.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::finish(&workspaces, Some(u64::from(flow_id))).await?)
}

/// Ends that sign-in if it is still in progress; `true` if it was.
pub async fn cancel_sign_in<R: Runtime>(caller: Caller<R>, flow_id: u32) -> Result<bool> {
    Ok(caret_app::slack::oauth::cancel(
        &caller.core()?.services()?.workspaces,
        Some(u64::from(flow_id)),
    ))
}

/// What the guide to creating the Slack app shows (the manifest) and the Client ID used last.
pub async fn slack_app_setup<R: Runtime>(caller: Caller<R>) -> Result<SlackAppSetup> {
    let last_client_id = caller
        .core()?
        .services()
        .ok()
        .and_then(|services| caret_app::slack::oauth::last_client_id(&services.workspaces));
    Ok(caret_app::slack::manifest::setup(last_client_id))
}

/// Opens one of Slack's pages (create the app from the manifest, your apps) in the browser.
pub async fn open_slack_page<R: Runtime>(caller: Caller<R>, page: SlackPage) -> Result<()> {
    let workspaces = caller.core()?.services()?.workspaces.clone();
    Ok(caret_app::slack::oauth::open_slack_page(&workspaces, page).await?)
}

/// Security notices by direct message to yourself for a workspace, on or off.
pub async fn set_security_notices<R: Runtime>(
    caller: Caller<R>,
    workspace_id: u32,
    on: bool,
) -> Result<WorkspaceView> {
    Ok(caller
        .core()?
        .services()?
        .workspaces
        .set_security_notices(i64::from(workspace_id), on)?)
}

/// Where phones can reach this computer now, and why.
pub async fn reach<R: Runtime>(caller: Caller<R>) -> Result<ReachView> {
    Ok(caller.core()?.services()?.phones.reach())
}

/// Changes where phones can reach this computer (saved in the preferences); answers once the relay followed.
pub async fn set_phone_reach<R: Runtime>(caller: Caller<R>, choice: PhoneReach) -> Result<ReachView> {
    let core = caller.core()?;
    let paths = core.config().paths.clone();
    Ok(core.services()?.phones.set_phone_reach(&paths, choice).await?)
}

/// Forgets one known network (by id) or all of them (`null`).
pub async fn forget_networks<R: Runtime>(caller: Caller<R>, id: Option<String>) -> Result<ReachView> {
    Ok(caller
        .core()?
        .services()?
        .phones
        .forget_networks(id.as_deref())
        .await?)
}

/// The desktop's own sources: which are on and what each sees now.
pub async fn sources<R: Runtime>(caller: Caller<R>) -> Result<SourcesView> {
    Ok(caller.core()?.services()?.sources.view())
}

/// Turns one of the desktop's sources on or off, the others as they are (saved in the preferences); answers
/// once it followed. One source per call, so that two changes in flight (Settings and the command line) never
/// undo each other.
pub async fn set_source<R: Runtime>(caller: Caller<R>, source: SourceName, on: bool) -> Result<SourcesView> {
    let core = caller.core()?;
    let paths = core.config().paths.clone();
    Ok(core.services()?.sources.set_one(&paths, source, on).await?)
}

/// Adds a calendar (its secret address to the keyring only); answers once it was read or said why not.
pub async fn add_calendar<R: Runtime>(caller: Caller<R>, calendar: NewCalendar) -> Result<SourcesView> {
    let core = caller.core()?;
    let paths = core.config().paths.clone();
    Ok(core.services()?.sources.add_calendar(&paths, calendar).await?)
}

/// Removes a calendar by name, and its address from the keyring.
pub async fn remove_calendar<R: Runtime>(caller: Caller<R>, name: String) -> Result<SourcesView> {
    let core = caller.core()?;
    let paths = core.config().paths.clone();
    Ok(core.services()?.sources.remove_calendar(&paths, &name).await?)
}

/// Saves the working week and follows it; answers once the sources show it.
pub async fn set_working_hours<R: Runtime>(caller: Caller<R>, hours: WorkingHours) -> Result<SourcesView> {
    let core = caller.core()?;
    let paths = core.config().paths.clone();
    Ok(core.services()?.sources.set_working_hours(&paths, hours).await?)
}

#[cfg(test)]
mod tests;
