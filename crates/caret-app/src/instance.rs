//! One running Caret Desktop per data directory. The tray app also uses Tauri's single-instance plugin, which
//! forwards a second launch to the first; this lock is the guarantee underneath, which also covers `--headless`
//! (where no plugin runs) and a tray app and a headless one started on the same data.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{AppError, Result};

const LOCK_FILE_NAME: &str = "caret-desktop.lock";

/// Held for the life of the process; the OS releases it when the process ends, even on `kill -9`.
#[derive(Debug)]
pub struct InstanceLock {
    path: PathBuf,
    // Kept open: closing the file would release the lock.
    _file: File,
}

impl InstanceLock {
    pub fn acquire(data_dir: &Path) -> Result<InstanceLock> {
        let path = data_dir.join(LOCK_FILE_NAME);
        let to_error = |source| AppError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(to_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(AppError::AlreadyRunning {
                    data_dir: data_dir.to_path_buf(),
                    lock_file: path,
                });
            }
            Err(TryLockError::Error(source)) => return Err(to_error(source)),
        }
        // The pid is for people reading the file; the lock, not the content, is what counts.
        file.set_len(0).map_err(to_error)?;
        writeln!(file, "{}", std::process::id()).map_err(to_error)?;
        Ok(InstanceLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_data_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        let error = InstanceLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(error, AppError::AlreadyRunning { .. }), "{error}");
        assert!(error.to_string().contains("already running"));
        drop(first);
        InstanceLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn different_data_dirs_do_not_conflict() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let _first = InstanceLock::acquire(a.path()).unwrap();
        let _second = InstanceLock::acquire(b.path()).unwrap();
    }
}
