//! Dark mode: the windows follow the desktop's colour scheme, as the XDG desktop portal publishes it
//! (`org.freedesktop.appearance` `color-scheme` in `org.freedesktop.portal.Settings`), read at start and
//! again at every change, so a switch to dark mode reaches an open window at once. The GTK setting this
//! changes is what WebKit's `prefers-color-scheme` follows, and the UI's stylesheet with it.
//!
//! Tao does the same with Tauri's `dbus` feature, on a libdbus connection it polls every 5 s: 720 wake-ups an
//! hour in an idle tray (docs/performance.md). That feature is off; this listens on zbus, which wakes only
//! when the desktop sends something. Without a portal (or one without the setting) nothing changes: GTK's
//! own theme applies, as before.

use ashpd::desktop::settings::{ColorScheme, Settings};
use futures_util::StreamExt;
use tauri::{AppHandle, Runtime, Theme};

/// What the windows are told for a colour scheme: tao's own mapping (no preference is light).
fn theme_for(scheme: ColorScheme) -> Theme {
    match scheme {
        ColorScheme::PreferDark => Theme::Dark,
        ColorScheme::PreferLight | ColorScheme::NoPreference => Theme::Light,
    }
}

/// Starts following the desktop's colour scheme, for as long as the app runs.
pub fn follow_desktop<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let settings = match Settings::new().await {
            Ok(settings) => settings,
            Err(error) => {
                tracing::debug!("no desktop portal for the colour scheme ({error}); GTK's theme applies");
                return;
            }
        };
        // Subscribed before reading, so that a change in between is not lost.
        let changes = match settings.receive_color_scheme_changed().await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::debug!("the desktop portal does not announce colour scheme changes ({error})");
                return;
            }
        };
        match settings.color_scheme().await {
            Ok(scheme) => app.set_theme(Some(theme_for(scheme))),
            Err(error) => tracing::debug!("the desktop portal has no colour scheme ({error})"),
        }
        let mut changes = std::pin::pin!(changes);
        while let Some(scheme) = changes.next().await {
            tracing::debug!(?scheme, "the desktop's colour scheme changed");
            app.set_theme(Some(theme_for(scheme)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_only_when_the_desktop_prefers_dark() {
        assert_eq!(theme_for(ColorScheme::PreferDark), Theme::Dark);
        assert_eq!(theme_for(ColorScheme::PreferLight), Theme::Light);
        assert_eq!(theme_for(ColorScheme::NoPreference), Theme::Light);
    }
}
