//! The tray icon and its menu. The menu's first line always says what the core believes your state is; it is
//! updated from the core's snapshots, never polled. Menu ids map to [`Action`]s through [`TrayItem`], so a click
//! is handled by [`crate::actions::handle`] exactly like the same action from the shortcut, CLI or UI.

use caret_app::{Action, AppCore, WindowKind};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};

/// The id under which the tray icon is registered.
pub const TRAY_ID: &str = "caret";

const IDLE_ICON: &[u8] = include_bytes!("../../icons/tray/idle.png");

/// The items of the tray menu that do something or show something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    /// Read-only: the current state.
    StateLine,
    PairPhone,
    OpenPhones,
    OpenSettings,
    Quit,
}

impl TrayItem {
    pub const ALL: [TrayItem; 5] = [
        TrayItem::StateLine,
        TrayItem::PairPhone,
        TrayItem::OpenPhones,
        TrayItem::OpenSettings,
        TrayItem::Quit,
    ];

    pub fn id(self) -> &'static str {
        match self {
            TrayItem::StateLine => "state-line",
            TrayItem::PairPhone => "pair-phone",
            TrayItem::OpenPhones => "open-phones",
            TrayItem::OpenSettings => "open-settings",
            TrayItem::Quit => "quit",
        }
    }

    pub fn action(self) -> Option<Action> {
        match self {
            TrayItem::StateLine => None,
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
        TrayItem::ALL
            .into_iter()
            .find(|item| item.id() == id.as_ref())
            .ok_or_else(|| UnknownMenuId(id.as_ref().to_owned()))
    }
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
        for item in TrayItem::ALL {
            assert_eq!(TrayItem::try_from(&MenuId::new(item.id())), Ok(item));
        }
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
        let mut ids: Vec<_> = TrayItem::ALL.iter().map(|item| item.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), TrayItem::ALL.len());
    }
}
