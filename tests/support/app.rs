//! Launching the real binary in an isolated set of directories.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The binary under test: `CARET_APP_BIN`, or the workspace's debug build (built once if needed).
pub fn app_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| workspace_binary("CARET_APP_BIN", "caret-desktop", "caret-desktop"))
        .clone()
}

/// The binary named by the environment variable `variable`, or `binary` from the workspace's debug build of
/// `package` (built here if needed: call it once, behind a `OnceLock`).
pub fn workspace_binary(variable: &str, package: &str, binary: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package])
        .current_dir(workspace)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {package} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("debug").join(binary)
}

/// A directory tree private to one launch: HOME, config, data.
pub struct Sandbox {
    pub root: tempfile::TempDir,
    /// `CARET_RELAY_PORT` for every launch: 0 (a free port each time) unless the sandbox keeps one.
    relay_port: u16,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            root: tempfile::Builder::new()
                .prefix("caret-e2e-")
                .tempdir()
                .expect("temp dir"),
            relay_port: 0,
        }
    }

    /// A sandbox whose launches all listen on one relay port, as an installed app does on its fixed port:
    /// a phone paired with one launch reaches the next at the address it stored.
    pub fn keeping_its_relay_port() -> Sandbox {
        Sandbox {
            relay_port: free_port(),
            ..Sandbox::new()
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("{name}.log"))
    }

    /// A command for the binary with this sandbox's directories, its stderr (the log) going to `name.log`.
    pub fn command(&self, name: &str, args: &[&str]) -> Command {
        self.command_for(&app_binary(), name, args)
    }

    /// Any program run with this sandbox's environment (a launcher that starts the app, such as
    /// tauri-driver, passes it on), its stderr going to `name.log`.
    pub fn command_for(&self, program: &Path, name: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        let home = self.root.path().join("home");
        std::fs::create_dir_all(&home).expect("home dir");
        let log = std::fs::File::create(self.log_path(name)).expect("log file");
        command
            .args(args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("CARET_CONFIG_DIR", self.config_dir())
            .env("CARET_DATA_DIR", self.data_dir())
            .env("CARET_LOG", "info")
            // Loopback only, a free port unless the sandbox keeps one: tests run side by side and expose
            // nothing on the LAN.
            .env("CARET_RELAY_PORT", self.relay_port.to_string())
            .env("CARET_RELAY_LOOPBACK", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        command
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Waits until the log of `name` contains `needle`, or panics with the log after `timeout`.
    pub async fn wait_for_log(&self, name: &str, needle: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.log(name).contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} did not log {needle:?} within {timeout:?}; log:\n{}",
                self.log(name)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

/// Waits for a child to exit, or panics after `timeout` (killing it).
pub async fn wait_for_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.expect("wait for child"),
        Err(_) => {
            let _ = child.start_kill();
            panic!("the app did not exit within {timeout:?}");
        }
    }
}

/// Sends SIGTERM, as a service manager would.
pub fn terminate(child: &Child) {
    let pid = child.id().expect("child still running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// The pids of a process's direct children (WebKit's helpers are children of the app). Each thread keeps its
/// own list, and WebKit spawns its helpers from other threads than the main one, so all are read.
pub fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The command name of a process (`/proc/PID/comm`).
pub fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

impl Sandbox {
    /// Runs `caret-desktop ARGS` (a command for the running instance) with this sandbox's directories;
    /// returns whether it succeeded and its standard output and error.
    pub async fn cli(&self, name: &str, args: &[&str]) -> (bool, String, String) {
        let output = self
            .command(name, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .expect("run the command line");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `caret-desktop sources ARGS --json` on the running instance: which desktop sources are on and what
    /// each sees (after turning one on or off, when ARGS say so).
    pub async fn sources(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["sources"];
        all.extend(args);
        all.push("--json");
        let (ok, stdout, stderr) = self.cli("cli-sources", &all).await;
        assert!(ok, "caret-desktop sources {args:?}: {stderr}");
        serde_json::from_str(stdout.trim()).expect("the sources as JSON")
    }

    /// The outcomes of the sync log's input rows from `source` ("microphone", "screen lock"…), oldest first.
    pub fn input_rows(&self, source: &str) -> Vec<String> {
        let store = caret_store::Store::open(&self.data_dir().join("caret.db")).expect("store");
        let mut rows = store.query_log(&caret_store::LogFilter::default()).expect("log");
        rows.reverse();
        rows.into_iter()
            .filter(|row| row.kind == caret_store::LogKind::Input && row.source == source)
            .map(|row| row.outcome)
            .collect()
    }

    /// Opens a pairing window on the running instance (`caret-desktop pair --json`): what the QR code holds.
    pub async fn start_pairing(&self) -> serde_json::Value {
        let (ok, stdout, stderr) = self.cli("cli-pair", &["pair", "--json"]).await;
        assert!(ok, "caret-desktop pair failed: {stderr}");
        serde_json::from_str(stdout.trim()).expect("the pairing as JSON")
    }
}

/// Every file below `dir`, for scanning what the app wrote.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else if path.is_file() {
            files.push(path);
        }
    }
    files
}

impl Sandbox {
    /// Fails if `secret` is in any file the app wrote (its config and data directories) or in a log of
    /// this sandbox: secrets live in the keyring, or nowhere.
    pub fn assert_secret_nowhere(&self, secret: &str, what: &str) {
        let files = files_under(&self.data_dir())
            .into_iter()
            .chain(files_under(&self.config_dir()))
            .chain(
                files_under(self.root.path())
                    .into_iter()
                    .filter(|file| file.extension().is_some_and(|extension| extension == "log")),
            );
        for file in files {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "the {what} is in {}",
                file.display()
            );
        }
    }
}

impl Sandbox {
    /// What connecting a workspace leaves behind, without the connect flow: a row in this sandbox's database
    /// for `token`'s account with `settings`, and the token in the keyring. Returns the workspace's id and
    /// the keyring entry's cleanup.
    pub fn seed_workspace(
        &self,
        slack: &crate::fake_slack::FakeSlack,
        token: &str,
        settings: &caret_core::WorkspaceSettings,
    ) -> (caret_store::WorkspaceId, KeyringCleanup) {
        let account = slack.account(token);
        std::fs::create_dir_all(self.data_dir()).expect("data dir");
        let store = caret_store::Store::open(&self.data_dir().join("caret.db")).expect("store");
        let id = store
            .upsert_workspace(
                &account.team_id,
                &account.user_id,
                &account.team,
                &account.user,
                settings,
                0,
            )
            .expect("workspace");
        let cleanup = KeyringCleanup::for_token(slack, token);
        set_in_keyring(&cleanup.0, token);
        (id, cleanup)
    }
}

/// Deletes a keyring entry when dropped, even when the test fails: tests share the harness's keyring.
pub struct KeyringCleanup(pub String);

impl KeyringCleanup {
    /// The keyring entry Caret Desktop will keep for `token`, a user of the local Slack server.
    pub fn for_token(slack: &crate::fake_slack::FakeSlack, token: &str) -> KeyringCleanup {
        let account = slack.account(token);
        KeyringCleanup(caret_app::slack::tokens::keyring_account(
            &account.team_id,
            &account.user_id,
        ))
    }
}

impl Drop for KeyringCleanup {
    fn drop(&mut self) {
        let account = &self.0;
        off_the_runtime(|| {
            if let Ok(entry) = keyring::Entry::new(caret_app::slack::tokens::KEYRING_SERVICE, account) {
                let _ = entry.delete_credential();
            }
        });
    }
}

/// Keeps `secret` in the harness's keyring under Caret Desktop's service, as the app would.
pub fn set_in_keyring(account: &str, secret: &str) {
    off_the_runtime(|| {
        keyring::Entry::new(caret_app::slack::tokens::KEYRING_SERVICE, account)
            .and_then(|entry| entry.set_password(secret))
    })
    .expect("the token goes to the keyring");
}

/// Runs a blocking keyring call on a thread of its own. The keyring talks D-Bus through zbus's blocking
/// API, which starts a runtime of its own when zbus is built for tokio (as it is when the workspace builds
/// together: the app's portal crate asks for it), and a runtime cannot start on a test's async thread.
fn off_the_runtime<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(call).join())
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl Sandbox {
    /// Starts `caret-desktop --headless` against a local Slack, logging to `name.log`, and waits until it is
    /// ready (30 s at most).
    pub async fn launch_headless(&self, slack: &crate::fake_slack::FakeSlack, name: &str) -> Child {
        let app = self
            .command(name, &["--headless"])
            .env("CARET_SLACK_API_URL", slack.base_url())
            .spawn()
            .expect("launch caret-desktop --headless");
        self.wait_for_log(name, "caret-desktop ready (headless)", Duration::from_secs(30))
            .await;
        app
    }
}

impl Sandbox {
    /// `caret-desktop workspace add` with `token` on standard input (as a pipe gives it); returns whether it
    /// succeeded and its standard output and error.
    pub async fn add_workspace(&self, token: &str) -> (bool, String, String) {
        self.cli_with_input("cli-add", &["workspace", "add"], &format!("  {token}\n"))
            .await
    }

    /// `caret-desktop ARGS` with `input` on standard input (as a pipe gives it).
    pub async fn cli_with_input(&self, name: &str, args: &[&str], input: &str) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .command(name, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the command line");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write standard input");
        drop(stdin);
        let output = child.wait_with_output().await.expect("the command ends");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// What the Secret Service holds for one of Caret Desktop's keyring accounts, read with `secret-tool` (what a
/// user would run).
pub async fn secret_tool_lookup(account: &str) -> Option<String> {
    let output = tokio::process::Command::new("secret-tool")
        .args(["lookup", "service", "caret-desktop", "username", account])
        .output()
        .await
        .expect("secret-tool runs");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// A port nobody listens on now, for a server the app must start on a port the test names (and keep across
/// restarts). Taken below the kernel's ephemeral range (32768 and up on Linux), so that no `bind(…:0)` and no
/// outgoing connection, in this process or another test's, can be handed it between this check and the
/// app's own bind: only another explicit choice could, and each test process starts its search elsewhere.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static TRIES: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919);
    loop {
        let tried = TRIES.fetch_add(1, Ordering::Relaxed);
        assert!(tried < SPAN, "no free port between {FIRST} and {}", FIRST + SPAN);
        let port = u16::try_from(FIRST + start.wrapping_add(tried.wrapping_mul(31)) % SPAN).expect("a port");
        // Free on every address: the relay listens on the LAN's addresses as well as loopback.
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// CPU time a process has used (user + system, all its threads), from `/proc/PID/stat` in clock ticks
/// (100 a second on Linux).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|index| fields.get(*index).and_then(|field| field.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Voluntary + involuntary context switches of each thread of a process, by thread id: how often it woke up.
/// Compare two readings with [`wakeups_between`]: threads come and go (a runtime's blocking pool), and a sum
/// over the threads alive at each end would go down when one ends.
pub fn context_switches(pid: u32) -> std::collections::HashMap<u32, u64> {
    let mut counts = std::collections::HashMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .filter_map(|line| {
                line.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|count| count.trim().parse::<u64>().ok())
            .sum();
        counts.insert(tid, switches);
    }
    counts
}

/// The wake-ups between two readings of [`context_switches`]: each thread's own, a thread started in between
/// counted whole. A thread that ended in between is missed (its counts went with it), so this is a floor.
pub fn wakeups_between(
    before: &std::collections::HashMap<u32, u64>,
    after: &std::collections::HashMap<u32, u64>,
) -> u64 {
    after
        .iter()
        .map(|(tid, count)| count.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}
