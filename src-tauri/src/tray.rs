//! The tray icon and its menu. The menu's first line always says what the core believes your state is; it is
//! updated from the core's snapshots, never polled. Menu ids map to [`Action`]s through [`TrayItem`], so a click
//! is handled by [`crate::actions::handle`] exactly like the same action from the shortcut, CLI or UI.

use caret_app::{Action, AppCore, StatusDuration, WindowKind};
use caret_core::StateKind;
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};

/// The id under which the tray icon is registered.
pub const TRAY_ID: &str = "caret";

const IDLE_ICON: &[u8] = include_bytes!("../../icons/tray/idle.png");

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

/// The items of the tray menu that do something or show something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    /// Read-only: the current state.
    StateLine,
    SetStatus(StateKind, TrayDuration),
    ClearStatus,
    PauseSyncing,
    ResumeSyncing,
    PairPhone,
    OpenPhones,
    OpenSettings,
    Quit,
}

impl TrayItem {
    /// Every item, for mapping ids back.
    pub fn all() -> Vec<TrayItem> {
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
            TrayItem::OpenSettings,
            TrayItem::Quit,
        ]);
        items
    }

    pub fn id(self) -> String {
        match self {
            TrayItem::StateLine => "state-line".into(),
            TrayItem::SetStatus(state, duration) => format!("status:{}:{}", state.as_str(), duration.key()),
            TrayItem::ClearStatus => "clear-status".into(),
            TrayItem::PauseSyncing => "pause".into(),
            TrayItem::ResumeSyncing => "resume".into(),
            TrayItem::PairPhone => "pair-phone".into(),
            TrayItem::OpenPhones => "open-phones".into(),
            TrayItem::OpenSettings => "open-settings".into(),
            TrayItem::Quit => "quit".into(),
        }
    }

    pub fn action(self) -> Option<Action> {
        match self {
            TrayItem::StateLine => None,
            TrayItem::SetStatus(state, duration) => Some(Action::SetStatus {
                state,
                duration: duration.duration(),
            }),
            TrayItem::ClearStatus => Some(Action::ClearStatus),
            TrayItem::PauseSyncing => Some(Action::Pause),
            TrayItem::ResumeSyncing => Some(Action::Resume),
            TrayItem::PairPhone => Some(Action::PairPhone),
            TrayItem::OpenPhones => Some(Action::OpenWindow {
                window: WindowKind::Phones,
            }),
            TrayItem::OpenSettings => Some(Action::OpenWindow {
                window: WindowKind::Settings,
            }),
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
        TrayItem::all()
            .into_iter()
            .find(|item| item.id() == id.as_ref())
            .ok_or_else(|| UnknownMenuId(id.as_ref().to_owned()))
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

/// Creates the tray icon and keeps its state line current.
pub fn create<R: Runtime>(app: &AppHandle<R>, core: &AppCore) -> tauri::Result<()> {
    let state_line = MenuItem::with_id(
        app,
        TrayItem::StateLine.id(),
        core.snapshot().state_line(),
        false,
        None::<&str>,
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &state_line,
            &PredefinedMenuItem::separator(app)?,
            &status_menu(app)?,
            &MenuItem::with_id(
                app,
                TrayItem::ClearStatus.id(),
                "Clear status",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(
                app,
                TrayItem::PauseSyncing.id(),
                "Pause syncing",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(
                app,
                TrayItem::ResumeSyncing.id(),
                "Resume syncing",
                true,
                None::<&str>,
            )?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, TrayItem::PairPhone.id(), "Pair phone…", true, None::<&str>)?,
            &MenuItem::with_id(app, TrayItem::OpenPhones.id(), "Phones…", true, None::<&str>)?,
            &MenuItem::with_id(app, TrayItem::OpenSettings.id(), "Settings…", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, TrayItem::Quit.id(), "Quit Caret Desktop", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(IDLE_ICON)?)
        .tooltip("Caret Desktop")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;

    let mut snapshots = core.subscribe();
    tauri::async_runtime::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let line = snapshots.borrow_and_update().state_line();
            if let Err(error) = state_line.set_text(&line) {
                tracing::warn!("cannot update the tray state line: {error}");
            }
        }
    });
    Ok(())
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayItem::try_from(event.id()).map(TrayItem::action) {
        Ok(Some(action)) => crate::actions::handle(app, action, caret_app::apply::Source::Tray),
        Ok(None) => {}
        Err(UnknownMenuId(id)) => tracing::warn!(id, "click on a menu item we do not know"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_map_to_items_and_items_to_actions() {
        for item in TrayItem::all() {
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
    }

    #[test]
    fn menu_ids_are_unique() {
        let mut ids: Vec<_> = TrayItem::all().iter().map(|item| item.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), TrayItem::all().len());
        assert_eq!(
            ids.len(),
            1 + 10 * 4 + 7,
            "ten states × four durations, and the rest"
        );
    }
}
