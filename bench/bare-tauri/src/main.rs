//! A bare Tauri app: a tray icon with a one-item menu, no window. Caret Desktop's tray-only memory is
//! measured against this (scripts/memory.sh), built in the same run with the same Tauri and features.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

const ICON: &[u8] = include_bytes!("../../../icons/32x32.png");

fn main() {
    let app = tauri::Builder::default()
        .setup(|app| {
            let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let menu = Menu::with_items(app, &[&quit])?;
            TrayIconBuilder::with_id("bare")
                .icon(Image::from_bytes(ICON)?)
                .menu(&menu)
                .on_menu_event(|app, _| app.exit(0))
                .build(app)?;
            eprintln!("bare-tauri ready");
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, event| {
            if let tauri::RunEvent::ExitRequested { code: None, api, .. } = event {
                api.prevent_exit();
            }
        }),
        Err(error) => {
            eprintln!("bare-tauri: {error}");
            std::process::exit(1);
        }
    }
}
