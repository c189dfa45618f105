//! Starting at login: an XDG Autostart entry, `$XDG_CONFIG_HOME/autostart/caret-desktop.desktop`, written and
//! removed by the app (GNOME, KDE, Xfce and systemd's xdg-autostart-generator all read that folder).
//!
//! Two things a generic login-item writer gets wrong, and why this one is ours:
//! - **It starts the installed app.** The entry names the packaged binary (`/usr/bin/caret-desktop`) whenever
//!   one is installed, not whatever path happened to run when the box was ticked (a build folder, an extracted
//!   package); only where nothing is installed does it name the running binary.
//! - **It goes stale harmlessly.** A package cannot reach into each user's home when it is removed, so the entry
//!   carries `TryExec=` with the same path: a session skips an entry whose `TryExec` program is gone (Desktop
//!   Entry Specification), so removing the package leaves nothing that tries to start. Turning the box off
//!   removes the entry.
//!
//! Earlier versions wrote `Caret Desktop.desktop` through tauri-plugin-autostart; it is taken over (removed)
//! whenever the choice is written again, and still counts as on until then.

use std::path::{Path, PathBuf};

use crate::error::{AppError, Result};

/// The entry's file name: the desktop id of the app, as the package's own entry.
pub const ENTRY_FILE: &str = "caret-desktop.desktop";
/// What tauri-plugin-autostart named it (the product name).
const OLD_ENTRY_FILE: &str = "Caret Desktop.desktop";
/// Where packages install the app, in the order a login entry prefers them.
pub const INSTALLED_PROGRAMS: [&str; 2] = ["/usr/bin/caret-desktop", "/usr/local/bin/caret-desktop"];

/// The login entry of one user.
#[derive(Debug, Clone)]
pub struct LoginItem {
    autostart_dir: PathBuf,
    program: PathBuf,
}

impl LoginItem {
    /// The current user's, starting the installed app (or this binary where none is installed).
    pub fn for_this_user() -> Result<LoginItem> {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
            .ok_or(AppError::NoHomeDirectory)?;
        let running = std::env::current_exe().map_err(|source| AppError::Autostart {
            path: config_home.join("autostart"),
            reason: format!("cannot tell which program is running: {source}"),
        })?;
        let installed: Vec<&Path> = INSTALLED_PROGRAMS.iter().map(Path::new).collect();
        Ok(LoginItem::new(
            config_home.join("autostart"),
            program_to_start(&running, &installed),
        ))
    }

    pub fn new(autostart_dir: PathBuf, program: PathBuf) -> LoginItem {
        LoginItem {
            autostart_dir,
            program,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.autostart_dir.join(ENTRY_FILE)
    }

    /// The program the entry starts.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether the app starts at login: our entry is there (or the old plugin's, until it is taken over).
    pub fn is_enabled(&self) -> bool {
        self.path().is_file() || self.autostart_dir.join(OLD_ENTRY_FILE).is_file()
    }

    /// Writes the entry (atomically: a crash leaves the old one or the new one) and removes the old plugin's.
    pub fn enable(&self) -> Result<()> {
        let path = self.path();
        let failed = |reason: String| AppError::Autostart {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(&self.autostart_dir).map_err(|error| failed(error.to_string()))?;
        caret_relay::identity::write_private_file(&path, entry_text(&self.program).as_bytes())
            .map_err(|(_, error)| failed(error.to_string()))?;
        self.remove(OLD_ENTRY_FILE)
    }

    /// Removes the entry (and the old plugin's); nothing to remove is fine.
    pub fn disable(&self) -> Result<()> {
        self.remove(ENTRY_FILE)?;
        self.remove(OLD_ENTRY_FILE)
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.autostart_dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(AppError::Autostart {
                path,
                reason: error.to_string(),
            }),
        }
    }
}

/// The installed app when there is one, else the running binary.
pub fn program_to_start(running: &Path, installed: &[&Path]) -> PathBuf {
    installed
        .iter()
        .find(|program| program.is_file())
        .map_or_else(|| running.to_path_buf(), |program| program.to_path_buf())
}

/// The text of the entry. `Exec` quotes the path as the Desktop Entry Specification says (a build folder may
/// hold a space); `TryExec` takes it as it is.
pub fn entry_text(program: &Path) -> String {
    let path = program.to_string_lossy();
    let quoted: String = path
        .chars()
        .flat_map(|c| match c {
            '"' | '`' | '$' | '\\' => vec!['\\', c],
            // A literal percent is doubled in Exec; other characters go as they are inside the quotes.
            '%' => vec!['%', '%'],
            _ => vec![c],
        })
        .collect();
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Caret Desktop\n\
         Comment=Starts Caret Desktop in the tray when you log in\n\
         Exec=\"{quoted}\"\n\
         TryExec={path}\n\
         Icon=caret-desktop\n\
         Terminal=false\n\
         X-GNOME-Autostart-enabled=true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn the_installed_app_is_started_not_the_build_that_ran() {
        let dir = tempfile::tempdir().unwrap();
        let running = dir.path().join("target/release/caret-desktop");
        let installed = executable(dir.path(), "installed-caret-desktop");
        let missing = dir.path().join("nothing-here");
        assert_eq!(program_to_start(&running, &[&missing, &installed]), installed);
        assert_eq!(
            program_to_start(&running, &[&missing]),
            running,
            "nothing installed: the binary that runs"
        );
    }

    #[test]
    fn turning_it_on_and_off_writes_and_removes_one_entry_and_takes_over_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = dir.path().join("autostart");
        let program = executable(dir.path(), "caret-desktop");
        let item = LoginItem::new(autostart.clone(), program.clone());
        assert!(!item.is_enabled());
        std::fs::create_dir_all(&autostart).unwrap();
        std::fs::write(
            autostart.join(OLD_ENTRY_FILE),
            "[Desktop Entry]\nExec=/old/path\n",
        )
        .unwrap();
        assert!(item.is_enabled(), "the plugin's entry still counts");

        item.enable().unwrap();
        let names: Vec<_> = std::fs::read_dir(&autostart)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from(ENTRY_FILE)],
            "one entry, no temporary file"
        );
        let text = std::fs::read_to_string(item.path()).unwrap();
        assert!(
            text.contains(&format!("TryExec={}\n", program.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("Exec=\"{}\"\n", program.display())),
            "{text}"
        );

        item.disable().unwrap();
        assert!(!item.is_enabled());
        item.disable().unwrap();
    }

    #[test]
    fn exec_quotes_what_the_specification_reserves() {
        let text = entry_text(Path::new("/home/a b/100%/\"x\"/caret-desktop"));
        assert!(
            text.contains("Exec=\"/home/a b/100%%/\\\"x\\\"/caret-desktop\"\n"),
            "{text}"
        );
        assert!(
            text.contains("TryExec=/home/a b/100%/\"x\"/caret-desktop\n"),
            "{text}"
        );
    }

    /// systemd's xdg-autostart-generator is what starts login entries on a systemd desktop (GNOME, KDE): it
    /// makes a unit of our entry, and none once the program is gone (the package removed).
    #[test]
    fn a_session_starts_the_entry_and_skips_it_once_the_program_is_removed() {
        let generator = Path::new("/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator");
        if !generator.is_file() {
            eprintln!("skipped: no {} here (systemd not installed)", generator.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let config_home = dir.path().join("config");
        let program = executable(dir.path(), "caret-desktop");
        LoginItem::new(config_home.join("autostart"), program.clone())
            .enable()
            .unwrap();
        let units = |run: &str| -> Vec<String> {
            let out = dir.path().join(run);
            std::fs::create_dir_all(&out).unwrap();
            let status = std::process::Command::new(generator)
                .args([&out, &out, &out])
                .env("XDG_CONFIG_HOME", &config_home)
                .env("XDG_CONFIG_DIRS", dir.path().join("no-system-entries"))
                .status()
                .unwrap();
            assert!(status.success());
            std::fs::read_dir(&out)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".service"))
                .collect()
        };
        assert_eq!(units("installed"), ["app-caret\\x2ddesktop@autostart.service"]);
        std::fs::remove_file(&program).unwrap();
        assert!(
            units("removed").is_empty(),
            "the entry of a removed program starts nothing"
        );
    }
}
