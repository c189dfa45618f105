//! A wall clock that can jump, for one process tree: libfaketime (Debian's `faketime` package) preloaded,
//! reading its offset from a file the test rewrites. Only the wall clock moves (`CLOCK_REALTIME`); the
//! monotonic clocks tokio's timers use do not, which is what a laptop sees after a suspend or an NTP step.

use std::path::{Path, PathBuf};

use tokio::process::Command;

const LIBRARY_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
    "/usr/lib/faketime",
    "/usr/local/lib/faketime",
];

/// The multithreaded libfaketime, or a clear failure naming the package.
fn library() -> PathBuf {
    LIBRARY_DIRS
        .iter()
        .map(|dir| Path::new(dir).join("libfaketimeMT.so.1"))
        .find(|path| path.exists())
        .expect(
            "libfaketime is missing: install Debian's faketime package (bash scripts/setup.sh --test does)",
        )
}

/// A clock offset shared by every process started with [`FakeTime::apply`].
#[derive(Debug, Clone)]
pub struct FakeTime {
    file: PathBuf,
}

impl FakeTime {
    /// Starts at the real time (offset 0), the offset kept in `dir`.
    pub fn new(dir: &Path) -> FakeTime {
        let clock = FakeTime {
            file: dir.join("faketime-offset"),
        };
        clock.set_offset_secs(0);
        clock
    }

    pub fn apply(&self, command: &mut Command) {
        command
            .env("LD_PRELOAD", library())
            .env("FAKETIME_TIMESTAMP_FILE", &self.file)
            // Re-read the file at most once a second: a jump shows within a second.
            .env("FAKETIME_CACHE_DURATION", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }

    /// Moves the wall clock of those processes to real time + `offset` seconds.
    pub fn set_offset_secs(&self, offset: i64) {
        let text = if offset >= 0 {
            format!("+{offset}\n")
        } else {
            format!("{offset}\n")
        };
        std::fs::write(&self.file, text).expect("write the clock offset");
    }
}
