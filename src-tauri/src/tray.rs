//! The tray icon and its menu. The menu's first line always says what the core believes your state is; it is
//! updated from the core's snapshots, never polled. Menu ids map to [`Action`]s through [`TrayItem`], so a click
//! is handled by [`crate::actions::handle`] exactly like the same action from the shortcut, CLI or UI.

use caret_app::views::tray_icon::{ICON_SIZE, IconLook};
use caret_app::{Action, AppCore, PolicyChoice, Snapshot, StatusDuration, WindowKind};
use caret_core::{Blocked, PolicySetting, SharingPolicy, StateKind};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

/// The id under which the tray icon is registered.
pub const TRAY_ID: &str = "caret";

/// How long a status set from the tray lasts: the four choices of its Set status submenu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayDuration {
    HalfHour,
    Hour,
    EndOfDay,
    UntilCleared,
}

impl TrayDuration {
    pub const ALL: [TrayDuration; 4] = [
        TrayDuration::HalfHour,
        TrayDuration::Hour,
        TrayDuration::EndOfDay,
        TrayDuration::UntilCleared,
    ];

    fn key(self) -> &'static str {
        match self {
            TrayDuration::HalfHour => "30m",
            TrayDuration::Hour => "1h",
            TrayDuration::EndOfDay => "eod",
            TrayDuration::UntilCleared => "forever",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TrayDuration::HalfHour => "For 30 minutes",
            TrayDuration::Hour => "For 1 hour",
            TrayDuration::EndOfDay => "Until the end of the day",
            TrayDuration::UntilCleared => "Until I clear it",
        }
    }

    fn duration(self) -> StatusDuration {
        match self {
            TrayDuration::HalfHour => StatusDuration::Minutes { minutes: 30 },
            TrayDuration::Hour => StatusDuration::Minutes { minutes: 60 },
            TrayDuration::EndOfDay => StatusDuration::EndOfDay,
            TrayDuration::UntilCleared => StatusDuration::UntilCleared,
        }
    }
}

/// The states the tray offers (an event needs its title and times, which come from the phone).
pub fn tray_states() -> impl Iterator<Item = StateKind> {
    StateKind::ALL
        .into_iter()
        .filter(|kind| *kind != StateKind::Event)
}

/// The policy choices of a workspace's submenu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayPolicy {
    Default,
    Trusted,
    Vip,
    BlockHour,
    BlockUntilResumed,
    Resume,
}

impl TrayPolicy {
    pub const ALL: [TrayPolicy; 6] = [
        TrayPolicy::Default,
        TrayPolicy::Trusted,
        TrayPolicy::Vip,
        TrayPolicy::BlockHour,
        TrayPolicy::BlockUntilResumed,
        TrayPolicy::Resume,
    ];

    fn key(self) -> &'static str {
        match self {
            TrayPolicy::Default => "default",
            TrayPolicy::Trusted => "trusted",
            TrayPolicy::Vip => "vip",
            TrayPolicy::BlockHour => "block-1h",
            TrayPolicy::BlockUntilResumed => "block",
            TrayPolicy::Resume => "resume",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TrayPolicy::Default => "Default — Available or Busy only",
            TrayPolicy::Trusted => "Trusted — the exact state",
            TrayPolicy::Vip => "VIP — the state with details",
            TrayPolicy::BlockHour => "Blocked for 1 hour",
            TrayPolicy::BlockUntilResumed => "Blocked until resumed",
            TrayPolicy::Resume => "Resume sharing",
        }
    }

    fn choice(self) -> PolicyChoice {
        match self {
            TrayPolicy::Default => PolicyChoice::Default,
            TrayPolicy::Trusted => PolicyChoice::Trusted,
            TrayPolicy::Vip => PolicyChoice::Vip,
            TrayPolicy::BlockHour => PolicyChoice::BlockFor { minutes: 60 },
            TrayPolicy::BlockUntilResumed => PolicyChoice::BlockUntilResumed,
            TrayPolicy::Resume => PolicyChoice::Resume,
        }
    }

    /// Whether the radio-like check mark sits on this choice for `policy` (the Resume item carries none).
    fn is_checked(self, policy: &PolicySetting) -> bool {
        match (self, policy.blocked) {
            (TrayPolicy::BlockHour, Some(Blocked { until: Some(_) })) => true,
            (TrayPolicy::BlockUntilResumed, Some(Blocked { until: None })) => true,
            (TrayPolicy::Default, None) => policy.sharing == SharingPolicy::Default,
            (TrayPolicy::Trusted, None) => policy.sharing == SharingPolicy::Trusted,
            (TrayPolicy::Vip, None) => policy.sharing == SharingPolicy::Vip,
            _ => false,
        }
    }
}

/// The items of the tray menu that do something or show something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    /// Read-only: the current state.
    StateLine,
    /// Read-only: what a workspace's Slack shows.
    WorkspaceLine(i64),
    SetStatus(StateKind, TrayDuration),
    ClearStatus,
    SetPolicy(i64, TrayPolicy),
    PauseSyncing,
    ResumeSyncing,
    PairPhone,
    OpenPhones,
    OpenSyncLog,
    OpenSettings,
    Quit,
}

impl TrayItem {
    /// The items whose ids carry no workspace.
    fn fixed() -> Vec<TrayItem> {
        let mut items = vec![TrayItem::StateLine];
        for state in tray_states() {
            for duration in TrayDuration::ALL {
                items.push(TrayItem::SetStatus(state, duration));
            }
        }
        items.extend([
            TrayItem::ClearStatus,
            TrayItem::PauseSyncing,
            TrayItem::ResumeSyncing,
            TrayItem::PairPhone,
            TrayItem::OpenPhones,
            TrayItem::OpenSyncLog,
            TrayItem::OpenSettings,
            TrayItem::Quit,
        ]);
        items
    }

    pub fn id(self) -> String {
        match self {
            TrayItem::StateLine => "state-line".into(),
            TrayItem::WorkspaceLine(workspace) => format!("workspace:{workspace}"),
            TrayItem::SetStatus(state, duration) => format!("status:{}:{}", state.as_str(), duration.key()),
            TrayItem::ClearStatus => "clear-status".into(),
            TrayItem::SetPolicy(workspace, policy) => format!("policy:{workspace}:{}", policy.key()),
            TrayItem::PauseSyncing => "pause".into(),
            TrayItem::ResumeSyncing => "resume".into(),
            TrayItem::PairPhone => "pair-phone".into(),
            TrayItem::OpenPhones => "open-phones".into(),
            TrayItem::OpenSyncLog => "open-sync-log".into(),
            TrayItem::OpenSettings => "open-settings".into(),
            TrayItem::Quit => "quit".into(),
        }
    }

    pub fn action(self) -> Option<Action> {
        let open = |window| Some(Action::OpenWindow { window });
        match self {
            TrayItem::StateLine | TrayItem::WorkspaceLine(_) => None,
            TrayItem::SetStatus(state, duration) => Some(Action::SetStatus {
                state,
                duration: duration.duration(),
            }),
            TrayItem::ClearStatus => Some(Action::ClearStatus),
            TrayItem::SetPolicy(workspace, policy) => Some(Action::SetPolicy {
                workspace,
                choice: policy.choice(),
            }),
            TrayItem::PauseSyncing => Some(Action::Pause),
            TrayItem::ResumeSyncing => Some(Action::Resume),
            TrayItem::PairPhone => Some(Action::PairPhone),
            TrayItem::OpenPhones => open(WindowKind::Phones),
            TrayItem::OpenSyncLog => open(WindowKind::SyncLog),
            TrayItem::OpenSettings => open(WindowKind::Settings),
            TrayItem::Quit => Some(Action::Quit),
        }
    }
}

/// A menu id that is not one of ours.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownMenuId(pub String);

impl TryFrom<&MenuId> for TrayItem {
    type Error = UnknownMenuId;

    fn try_from(id: &MenuId) -> Result<TrayItem, UnknownMenuId> {
        let text = id.as_ref();
        let unknown = || UnknownMenuId(text.to_owned());
        let mut parts = text.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("workspace"), Some(workspace), None, None) => workspace
                .parse()
                .map(TrayItem::WorkspaceLine)
                .map_err(|_| unknown()),
            (Some("policy"), Some(workspace), Some(key), None) => {
                let workspace = workspace.parse().map_err(|_| unknown())?;
                let policy = TrayPolicy::ALL
                    .into_iter()
                    .find(|policy| policy.key() == key)
                    .ok_or_else(unknown)?;
                Ok(TrayItem::SetPolicy(workspace, policy))
            }
            _ => TrayItem::fixed()
                .into_iter()
                .find(|item| item.id() == text)
                .ok_or_else(unknown),
        }
    }
}

/// The Set status submenu: a submenu per state, a duration in each.
fn status_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Submenu<R>> {
    let submenu = Submenu::with_id(app, "set-status", "Set status", true)?;
    for state in tray_states() {
        let durations = Submenu::with_id(app, format!("status:{}", state.as_str()), state.label(), true)?;
        for duration in TrayDuration::ALL {
            let item = TrayItem::SetStatus(state, duration);
            durations.append(&MenuItem::with_id(
                app,
                item.id(),
                duration.label(),
                true,
                None::<&str>,
            )?)?;
        }
        submenu.append(&durations)?;
    }
    Ok(submenu)
}

/// The handles of the items that change with the snapshot, so that a change updates them in place (a menu
/// the user holds open stays open); the menu is rebuilt only when the list of workspaces changes.
struct LiveMenu<R: Runtime> {
    state_line: MenuItem<R>,
    workspace_lines: Vec<(i64, MenuItem<R>)>,
    policies: Vec<(i64, TrayPolicy, CheckMenuItem<R>)>,
    pause: MenuItem<R>,
    resume: MenuItem<R>,
    /// The workspaces the menu was built for: (id, team).
    built_for: Vec<(i64, String)>,
}

fn workspaces_key(snapshot: &Snapshot) -> Vec<(i64, String)> {
    snapshot
        .workspaces
        .iter()
        .map(|workspace| (workspace.id, workspace.team.clone()))
        .collect()
}

/// The tray menu for `snapshot`, with the handles of the items that later snapshots change.
fn build_menu<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) -> tauri::Result<(Menu<R>, LiveMenu<R>)> {
    let state_line = MenuItem::with_id(
        app,
        TrayItem::StateLine.id(),
        snapshot.state_line(),
        false,
        None::<&str>,
    )?;
    let menu = Menu::with_items(app, &[&state_line])?;
    let workspace_lines = append_workspace_lines(app, &menu, snapshot)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&status_menu(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        TrayItem::ClearStatus.id(),
        "Clear status",
        true,
        None::<&str>,
    )?)?;
    let policies = append_policy_menu(app, &menu, snapshot)?;
    let (pause, resume) = append_syncing_items(app, &menu, snapshot.paused)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    append_window_items(app, &menu)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        TrayItem::Quit.id(),
        "Quit Caret Desktop",
        true,
        None::<&str>,
    )?)?;
    let live = LiveMenu {
        state_line,
        workspace_lines,
        policies,
        pause,
        resume,
        built_for: workspaces_key(snapshot),
    };
    Ok((menu, live))
}

/// A read-only line per workspace (what its Slack shows), kept to be updated in place.
fn append_workspace_lines<R: Runtime>(
    app: &AppHandle<R>,
    menu: &Menu<R>,
    snapshot: &Snapshot,
) -> tauri::Result<Vec<(i64, MenuItem<R>)>> {
    let mut workspace_lines = Vec::new();
    for workspace in &snapshot.workspaces {
        let line = MenuItem::with_id(
            app,
            TrayItem::WorkspaceLine(workspace.id).id(),
            workspace.tray_line(),
            false,
            None::<&str>,
        )?;
        menu.append(&line)?;
        workspace_lines.push((workspace.id, line));
    }
    Ok(workspace_lines)
}

/// The Policy submenu: a submenu per workspace with a check item per choice (kept, so that the marks follow
/// the snapshot), or a disabled line when no workspace is connected.
fn append_policy_menu<R: Runtime>(
    app: &AppHandle<R>,
    menu: &Menu<R>,
    snapshot: &Snapshot,
) -> tauri::Result<Vec<(i64, TrayPolicy, CheckMenuItem<R>)>> {
    let policy_menu = Submenu::with_id(app, "policy", "Policy", true)?;
    let mut policies = Vec::new();
    if snapshot.workspaces.is_empty() {
        policy_menu.append(&MenuItem::with_id(
            app,
            "policy-none",
            "No Slack workspace connected",
            false,
            None::<&str>,
        )?)?;
    }
    for workspace in &snapshot.workspaces {
        let submenu = Submenu::with_id(app, format!("policy:{}", workspace.id), &workspace.team, true)?;
        for policy in TrayPolicy::ALL {
            if policy == TrayPolicy::BlockHour {
                submenu.append(&PredefinedMenuItem::separator(app)?)?;
            }
            let item = CheckMenuItem::with_id(
                app,
                TrayItem::SetPolicy(workspace.id, policy).id(),
                policy.label(),
                policy != TrayPolicy::Resume || workspace.policy.blocked.is_some(),
                policy.is_checked(&workspace.policy),
                None::<&str>,
            )?;
            submenu.append(&item)?;
            policies.push((workspace.id, policy, item));
        }
        policy_menu.append(&submenu)?;
    }
    menu.append(&policy_menu)?;
    Ok(policies)
}

/// Pause syncing and Resume syncing, only one of them enabled: kept, so that a pause from elsewhere flips them.
fn append_syncing_items<R: Runtime>(
    app: &AppHandle<R>,
    menu: &Menu<R>,
    paused: bool,
) -> tauri::Result<(MenuItem<R>, MenuItem<R>)> {
    let pause = MenuItem::with_id(
        app,
        TrayItem::PauseSyncing.id(),
        "Pause syncing",
        !paused,
        None::<&str>,
    )?;
    let resume = MenuItem::with_id(
        app,
        TrayItem::ResumeSyncing.id(),
        "Resume syncing",
        paused,
        None::<&str>,
    )?;
    menu.append(&pause)?;
    menu.append(&resume)?;
    Ok((pause, resume))
}

/// The items that open the app's windows (or start pairing).
fn append_window_items<R: Runtime>(app: &AppHandle<R>, menu: &Menu<R>) -> tauri::Result<()> {
    for (item, label) in [
        (TrayItem::PairPhone, "Pair phone…"),
        (TrayItem::OpenPhones, "Phones…"),
        (TrayItem::OpenSyncLog, "Open sync log"),
        (TrayItem::OpenSettings, "Settings…"),
    ] {
        menu.append(&MenuItem::with_id(app, item.id(), label, true, None::<&str>)?)?;
    }
    Ok(())
}

impl<R: Runtime> LiveMenu<R> {
    /// Brings the items in line with `snapshot` (same workspaces as when built).
    fn update(&self, snapshot: &Snapshot) -> tauri::Result<()> {
        self.state_line.set_text(snapshot.state_line())?;
        for workspace in &snapshot.workspaces {
            if let Some((_, line)) = self.workspace_lines.iter().find(|(id, _)| *id == workspace.id) {
                line.set_text(workspace.tray_line())?;
            }
            for (_, policy, item) in self.policies.iter().filter(|(id, _, _)| *id == workspace.id) {
                item.set_checked(policy.is_checked(&workspace.policy))?;
                if *policy == TrayPolicy::Resume {
                    item.set_enabled(workspace.policy.blocked.is_some())?;
                }
            }
        }
        self.pause.set_enabled(!snapshot.paused)?;
        self.resume.set_enabled(snapshot.paused)?;
        Ok(())
    }
}

/// On Linux the panel shows the item's title ("Caret Desktop") above the tooltip; elsewhere the tooltip is one
/// text and names the app itself.
fn tooltip(snapshot: &Snapshot) -> String {
    if cfg!(target_os = "linux") {
        IconLook::tooltip_body(snapshot)
    } else {
        IconLook::tooltip(snapshot)
    }
}

fn icon_image(look: IconLook) -> Image<'static> {
    Image::new_owned(look.render(), ICON_SIZE, ICON_SIZE)
}

/// Creates the tray icon and keeps its icon, tooltip and menu in line with the core's snapshot.
pub fn create<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> tauri::Result<()> {
    // Subscribed before building, so a change made while the menu is built is not missed.
    let mut snapshots = core.subscribe();
    let snapshot = snapshots.borrow_and_update().clone();
    let (menu, mut live) = build_menu(app, &snapshot)?;
    let mut look = IconLook::of(&snapshot, chrono::Utc::now());
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_image(look))
        // The item's name for panels (StatusNotifierItem's Title; its ToolTip's title too).
        .title("Caret Desktop")
        .tooltip(tooltip(&snapshot))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .on_tray_icon_event(on_icon_event)
        .build(app)?;

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let snapshot = snapshots.borrow_and_update().clone();
            let refreshed = if workspaces_key(&snapshot) == live.built_for {
                live.update(&snapshot)
            } else {
                build_menu(&app, &snapshot).and_then(|(menu, rebuilt)| {
                    live = rebuilt;
                    tray.set_menu(Some(menu))
                })
            };
            if let Err(error) = refreshed {
                tracing::warn!("cannot update the tray menu: {error}");
            }
            let now_look = IconLook::of(&snapshot, chrono::Utc::now());
            if now_look != look {
                look = now_look;
                if let Err(error) = tray.set_icon(Some(icon_image(look))) {
                    tracing::warn!("cannot change the tray icon: {error}");
                }
            }
            if let Err(error) = tray.set_tooltip(Some(tooltip(&snapshot))) {
                tracing::warn!("cannot change the tray tooltip: {error}");
            }
        }
    });
    Ok(())
}

/// A click on the icon itself. On Linux the panel shows the menu on the right button and asks the item on the
/// left one (StatusNotifierItem's Activate): that opens the quick picker, the tray's quickest use.
fn on_icon_event<R: Runtime>(tray: &TrayIcon<R>, event: TrayIconEvent) {
    if let TrayIconEvent::Click {
        button: MouseButton::Left,
        button_state: MouseButtonState::Up,
        ..
    } = event
    {
        crate::actions::handle(
            tray.app_handle(),
            Action::OpenWindow {
                window: WindowKind::Picker,
            },
            caret_app::runtime::apply::Source::Tray,
        );
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayItem::try_from(event.id()) {
        Ok(item) => {
            if let Some(action) = item.action() {
                crate::actions::handle(app, action, caret_app::runtime::apply::Source::Tray);
            }
            // GTK flips a check item's mark by itself on a click; when the click changed nothing (the policy
            // already chosen) or failed, the mark must go back to what the snapshot says.
            if matches!(item, TrayItem::SetPolicy(..))
                && let Some(core) = app.try_state::<AppCore>()
            {
                core.republish();
            }
        }
        Err(UnknownMenuId(id)) => tracing::warn!(id, "click on a menu item we do not know"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_map_to_items_and_items_to_actions() {
        let dynamic = [
            TrayItem::WorkspaceLine(7),
            TrayItem::SetPolicy(7, TrayPolicy::Vip),
            TrayItem::SetPolicy(12, TrayPolicy::BlockHour),
        ];
        for item in TrayItem::fixed().into_iter().chain(dynamic) {
            assert_eq!(TrayItem::try_from(&MenuId::new(item.id())), Ok(item));
        }
        assert_eq!(
            TrayItem::SetStatus(StateKind::InCall, TrayDuration::HalfHour).action(),
            Some(Action::SetStatus {
                state: StateKind::InCall,
                duration: StatusDuration::Minutes { minutes: 30 }
            })
        );
        assert_eq!(TrayItem::ClearStatus.action(), Some(Action::ClearStatus));
        assert_eq!(TrayItem::PauseSyncing.action(), Some(Action::Pause));
        assert_eq!(
            TrayItem::try_from(&MenuId::new("bogus")),
            Err(UnknownMenuId("bogus".into()))
        );
        assert_eq!(TrayItem::Quit.action(), Some(Action::Quit));
        assert_eq!(
            TrayItem::OpenSettings.action(),
            Some(Action::OpenWindow {
                window: WindowKind::Settings
            })
        );
        assert_eq!(TrayItem::PairPhone.action(), Some(Action::PairPhone));
        assert_eq!(TrayItem::StateLine.action(), None, "the state line is read-only");
        assert_eq!(
            TrayItem::WorkspaceLine(3).action(),
            None,
            "so are the workspace lines"
        );
        assert_eq!(
            TrayItem::SetPolicy(3, TrayPolicy::BlockHour).action(),
            Some(Action::SetPolicy {
                workspace: 3,
                choice: PolicyChoice::BlockFor { minutes: 60 }
            })
        );
        assert_eq!(
            TrayItem::OpenSyncLog.action(),
            Some(Action::OpenWindow {
                window: WindowKind::SyncLog
            })
        );
        for bad in [
            "policy:x:vip",
            "policy:3:nope",
            "policy:3",
            "workspace:",
            "status:in_call:2h",
        ] {
            assert!(TrayItem::try_from(&MenuId::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_check_mark_follows_the_setting_and_a_block_hides_the_sharing_choice() {
        let trusted = PolicySetting::sharing(SharingPolicy::Trusted);
        let checked: Vec<TrayPolicy> = TrayPolicy::ALL
            .into_iter()
            .filter(|policy| policy.is_checked(&trusted))
            .collect();
        assert_eq!(checked, vec![TrayPolicy::Trusted]);
        let mut blocked = trusted;
        blocked.block_until_resumed();
        let checked: Vec<TrayPolicy> = TrayPolicy::ALL
            .into_iter()
            .filter(|policy| policy.is_checked(&blocked))
            .collect();
        assert_eq!(checked, vec![TrayPolicy::BlockUntilResumed]);
    }

    #[test]
    fn menu_ids_are_unique() {
        let mut ids: Vec<_> = TrayItem::fixed().iter().map(|item| item.id()).collect();
        ids.extend(TrayPolicy::ALL.map(|policy| TrayItem::SetPolicy(1, policy).id()));
        ids.extend(TrayPolicy::ALL.map(|policy| TrayItem::SetPolicy(2, policy).id()));
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);
        assert_eq!(
            TrayItem::fixed().len(),
            1 + 10 * 4 + 8,
            "ten states × four durations, and the rest"
        );
    }
}
