//! A PipeWire audio server of the test's own: `pipewire` and its session manager (`wireplumber`) in a runtime
//! directory of their own, with a virtual microphone (no sound card here), and real recording clients
//! (`pw-record`). The app under test finds it through `PIPEWIRE_RUNTIME_DIR` ([`AudioServer::runtime_dir`]).
//! Needs the harness's session bus (wireplumber stops without one). See ../../docs/testing.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The virtual microphone's node name.
pub const MICROPHONE: &str = "caret-test-mic";

pub struct AudioServer {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl AudioServer {
    /// Starts the server and its session manager, and adds the virtual microphone; returns once a recorder
    /// would be linked to it.
    pub async fn start() -> AudioServer {
        let dir = tempfile::Builder::new()
            .prefix("caret-audio-")
            .tempdir()
            .expect("temp dir");
        for sub in ["run", "state", "config"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("audio dirs");
        }
        let mut server = AudioServer {
            dir,
            daemons: Vec::new(),
        };
        server.start_daemons().await;
        server
    }

    /// Stops the server as a crash or an update would (every client loses it), and starts it again.
    pub async fn restart(&mut self) {
        for mut daemon in self.daemons.drain(..).rev() {
            let _ = daemon.kill().await;
        }
        let _ = std::fs::remove_file(self.runtime_dir().join("pipewire-0"));
        self.start_daemons().await;
    }

    async fn start_daemons(&mut self) {
        let mut pipewire = self.command("pipewire", &[], "pipewire.log");
        self.daemons.push(pipewire.spawn().expect("start pipewire"));
        let socket = self.runtime_dir().join("pipewire-0");
        self.wait_until("pipewire's socket", || socket.exists()).await;
        let mut wireplumber = self.command("wireplumber", &[], "wireplumber.log");
        self.daemons.push(wireplumber.spawn().expect("start wireplumber"));
        let created = self
            .command(
                "pw-cli",
                &[
                    "create-node",
                    "adapter",
                    &format!(
                        "{{ factory.name=support.null-audio-sink node.name={MICROPHONE} \
                         media.class=Audio/Source/Virtual object.linger=true audio.position=[MONO] }}"
                    ),
                ],
                "pw-cli.log",
            )
            .status()
            .await
            .expect("pw-cli");
        assert!(
            created.success(),
            "the virtual microphone: {}",
            self.log("pw-cli.log")
        );
        // The session manager is ready once it has made the microphone the default source.
        let mut ready = false;
        for _ in 0..100 {
            if self.dump().await.contains(MICROPHONE) && self.default_source_set().await {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            ready,
            "wireplumber never chose the microphone: {}",
            self.log("wireplumber.log")
        );
    }

    async fn default_source_set(&self) -> bool {
        let output = self
            .command("pw-metadata", &["-n", "default"], "pw-metadata.log")
            .stdout(Stdio::piped())
            .output()
            .await
            .expect("pw-metadata");
        String::from_utf8_lossy(&output.stdout).contains(MICROPHONE)
    }

    /// `pw-dump`: every object of the server, as JSON text.
    async fn dump(&self) -> String {
        let output = self
            .command("pw-dump", &[], "pw-dump.log")
            .stdout(Stdio::piped())
            .output()
            .await
            .expect("pw-dump");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// How many recording streams (`Stream/Input/Audio` nodes) are running, linked to a source.
    pub async fn running_recorders(&self) -> usize {
        let dump: serde_json::Value = serde_json::from_str(&self.dump().await).unwrap_or_default();
        dump.as_array()
            .into_iter()
            .flatten()
            .filter(|object| {
                let info = &object["info"];
                info["props"]["media.class"] == "Stream/Input/Audio" && info["state"] == "running"
            })
            .count()
    }

    /// Waits until `count` recording streams run (a recorder started is linked within a second here).
    pub async fn wait_for_running_recorders(&self, count: usize) {
        for _ in 0..200 {
            if self.running_recorders().await == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{count} recorders never ran (now {}): {}",
            self.running_recorders().await,
            self.log("wireplumber.log")
        );
    }

    /// Where the server's socket is: give it to a client as `PIPEWIRE_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A command that talks to this server, its output going to `log` in the server's directory.
    pub fn command(&self, program: &str, args: &[&str], log: &str) -> Command {
        let log = std::fs::File::create(self.dir.path().join(log)).expect("log file");
        let mut command = Command::new(program);
        command
            .args(args)
            .env("PIPEWIRE_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        command
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    async fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{what} never came: {}", self.log("pipewire.log"));
    }

    /// A recording application: `pw-record` from the virtual microphone, with extra stream properties
    /// (`{ stream.monitor = true }` makes it a level meter).
    pub fn record(&self, properties: Option<&str>) -> Child {
        let file = self
            .dir
            .path()
            .join(format!("recording-{}.wav", fastrand::u64(..)));
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["--target", MICROPHONE];
        if let Some(properties) = properties {
            args.extend(["-P", properties]);
        }
        args.push(&file);
        self.command("pw-record", &args, "pw-record.log")
            .spawn()
            .expect("start pw-record")
    }

    /// The directory the server keeps its files in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for AudioServer {
    fn drop(&mut self) {
        // wireplumber before pipewire; neither ends with the session bus by itself.
        for daemon in self.daemons.iter_mut().rev() {
            let _ = daemon.start_kill();
        }
    }
}
