//! The command-line phone (`caret-phone`, crates/caret-phone) as a separate process, as a person would run
//! it: paired by the QR code's link, then `caret-phone run` fed one state per line.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use crate::app::{Sandbox, workspace_binary};
use crate::faketime::FakeTime;

/// `CARET_PHONE_BIN`, or the workspace's debug build of caret-phone (built once if needed).
pub fn phone_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| workspace_binary("CARET_PHONE_BIN", "caret-phone", "caret-phone"))
        .clone()
}

/// A phone paired with the app running in a sandbox; its credentials file lives in the sandbox.
pub struct CliPhone {
    pub name: String,
    credentials: PathBuf,
    clock: Option<FakeTime>,
    running: Option<(Child, ChildStdin)>,
    launches: usize,
}

impl CliPhone {
    /// Pairs through `caret-phone pair --link` with a pairing window the running app opens.
    pub async fn pair(sandbox: &Sandbox, name: &str, clock: Option<FakeTime>) -> CliPhone {
        let pairing = sandbox.start_pairing().await;
        let link = pairing["link"].as_str().expect("link").to_owned();
        let phone = CliPhone {
            name: name.to_owned(),
            credentials: sandbox.root.path().join("phone-credentials.json"),
            clock,
            running: None,
            launches: 0,
        };
        let output = phone
            .command(sandbox, "phone-pair", &["pair", "--link", &link])
            .stdout(Stdio::piped())
            .output()
            .await
            .expect("caret-phone pair runs");
        assert!(
            output.status.success(),
            "caret-phone pair failed: {}",
            sandbox.log("phone-pair")
        );
        phone
    }

    fn command(&self, sandbox: &Sandbox, log: &str, args: &[&str]) -> Command {
        let mut command = sandbox.command_for(&phone_binary(), log, args);
        command
            .env("CARET_PHONE_CREDENTIALS", &self.credentials)
            .arg("--name")
            .arg(&self.name);
        if let Some(clock) = &self.clock {
            clock.apply(&mut command);
        }
        command
    }

    /// Starts `caret-phone run` (connects, keeps its heartbeats going) unless it is running.
    pub async fn connect(&mut self, sandbox: &Sandbox) {
        if self.running.is_some() {
            return;
        }
        self.launches += 1;
        let mut child = self
            .command(sandbox, &format!("phone-run-{}", self.launches), &["run"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("caret-phone run starts");
        let stdin = child.stdin.take().expect("stdin");
        self.running = Some((child, stdin));
    }

    /// Sends one state line (`busy`, `in_call`, `event "Standup" 15m`), connecting first if needed.
    pub async fn send(&mut self, sandbox: &Sandbox, line: &str) {
        self.connect(sandbox).await;
        let (_, stdin) = self.running.as_mut().expect("running");
        let written = match stdin.write_all(format!("{line}\n").as_bytes()).await {
            Ok(()) => stdin.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            // The phone process has ended: what it printed says why.
            let log = sandbox.log(&format!("phone-run-{}", self.launches));
            panic!("the phone does not take a line ({error}); it printed:\n{log}");
        }
    }

    /// The phone drops off the network at once (the process is killed: no goodbye on the connection).
    pub async fn drop_off(&mut self) {
        if let Some((mut child, _)) = self.running.take() {
            child.start_kill().expect("SIGKILL the phone");
            child.wait().await.expect("reap the phone");
        }
    }

    /// Whether the phone process is still running (it ends on errors it cannot recover from).
    pub fn is_running(&mut self) -> bool {
        self.running
            .as_mut()
            .is_some_and(|(child, _)| child.try_wait().ok().flatten().is_none())
    }

    /// The device token the phone keeps (to scan for it afterwards).
    pub fn device_token(&self) -> String {
        let text = std::fs::read_to_string(&self.credentials).expect("the phone's credentials");
        let value: serde_json::Value = serde_json::from_str(&text).expect("credentials JSON");
        value["token"].as_str().expect("a token").to_owned()
    }
}
