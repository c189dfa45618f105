//! `caret-phone`: a phone for Caret Desktop on the command line.
//!
//! It speaks relay protocol v1 exactly as a phone app would (docs/relay-protocol.md): pairs by the QR
//! code's link or by the short code, keeps its credentials in a file only the user can read, pins the
//! desktop's certificate, and sends states over the WebSocket (or the HTTPS endpoint with `post`).

mod scenario;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use caret_relay::Fingerprint;
use caret_relay::client::{ClientError, Credentials, PairingLink, PhoneConnection, https_request};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::scenario::{StateSpec, Step, parse_scenario, parse_state_spec};

#[derive(Parser)]
#[command(
    name = "caret-phone",
    version,
    about = "A phone for Caret Desktop on the command line"
)]
struct Cli {
    /// Where the credentials are kept (default: the user's config dir, caret-phone/credentials.json).
    #[arg(long, global = true, env = "CARET_PHONE_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// The name the desktop shows for this phone.
    #[arg(long, global = true, default_value = "caret-phone")]
    name: String,
    /// How long each step may wait on the desktop (connecting, the TLS handshake, each answer), in seconds:
    /// a desktop that does not answer is an error, never a hang.
    #[arg(long, global = true, env = "CARET_PHONE_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pair with the desktop: by the QR code's link, or by the short code and the desktop's address.
    Pair {
        /// The link in the QR code (https://HOST:PORT/#pair=…).
        #[arg(long, conflicts_with_all = ["code", "address"])]
        link: Option<String>,
        /// The short code shown on the desktop (1234-5678).
        #[arg(long)]
        code: Option<String>,
        /// The desktop's address, HOST:PORT, for pairing by code (found on the LAN if not given).
        #[arg(long, requires = "code")]
        address: Option<SocketAddr>,
        /// Also print the device token, once, to paste into an automation tool (Tasker, Shortcuts, Home
        /// Assistant) as its bearer token. Anyone with it can set your state: keep it secret.
        #[arg(long)]
        print_token: bool,
    },
    /// List the desktops announcing themselves on the LAN (mDNS, `_caret._tcp`): a desktop announces itself
    /// only while its pairing window is open.
    Discover {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 3)]
        wait: u64,
    },
    /// Send one state and print what the desktop answers (`busy`, `in_call`, `event "Standup" 15m`, …).
    Send { state: Vec<String> },
    /// Post one state to the HTTPS endpoint, as an automation tool would.
    Post {
        state: String,
        /// How long the state holds without another post.
        #[arg(long, default_value_t = 3600)]
        for_secs: u64,
    },
    /// Stay connected: read states from stdin, one per line; print what the desktop pushes.
    Run,
    /// Replay a scenario file (see the README for its format).
    Replay { file: PathBuf },
}

#[derive(Debug, thiserror::Error)]
enum PhoneError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a credentials file ({reason}); pair again")]
    BadCredentials { path: PathBuf, reason: String },
}

fn default_credentials_path() -> Result<PathBuf, PhoneError> {
    directories::ProjectDirs::from("", "", "caret-phone")
        .map(|dirs| dirs.config_dir().join("credentials.json"))
        .ok_or_else(|| PhoneError::Usage("no home directory: pass --credentials PATH".into()))
}

fn file_error(path: &Path) -> impl Fn(std::io::Error) -> PhoneError + '_ {
    move |source| PhoneError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the credentials readable by the user only, atomically.
fn save_credentials(path: &Path, credentials: &Credentials) -> Result<(), PhoneError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(file_error(parent))?;
    }
    let json =
        serde_json::to_vec_pretty(credentials).map_err(|error| PhoneError::Usage(error.to_string()))?;
    caret_relay::identity::write_private_file(path, &json)
        .map_err(|(path, source)| PhoneError::File { path, source })
}

fn load_credentials(path: &Path) -> Result<Credentials, PhoneError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PhoneError::Usage(format!(
            "not paired yet ({} does not exist): run `caret-phone pair` first",
            path.display()
        )),
        _ => PhoneError::File {
            path: path.to_path_buf(),
            source,
        },
    })?;
    serde_json::from_slice(&bytes).map_err(|error| PhoneError::BadCredentials {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })
}

/// Prints one message from the desktop as a JSON line (what scripts and tests read).
fn print_json(message: &Value) {
    println!("{message}");
}

fn now_seq() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(1)
}

/// A connection that reconnects when needed and numbers its states.
struct Phone {
    credentials: Credentials,
    name: String,
    connection: Option<PhoneConnection>,
    seq: u64,
    /// When this phone last sent anything (hello included): the heartbeat counts from there.
    last_sent: tokio::time::Instant,
}

impl Phone {
    async fn connection(&mut self) -> Result<&mut PhoneConnection, PhoneError> {
        if self.connection.is_none() {
            let connection = PhoneConnection::open(&self.credentials, &self.name).await?;
            self.last_sent = tokio::time::Instant::now();
            print_json(&connection.welcome);
            self.connection = Some(connection);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| PhoneError::Usage("not connected".into()))
    }

    /// Sends a state: a snapshot on a fresh connection (as the protocol asks), a state otherwise.
    async fn send(&mut self, spec: &StateSpec) -> Result<Value, PhoneError> {
        let fresh = self.connection.is_none();
        // Sequence numbers from the clock keep increasing across runs of this program.
        self.seq = now_seq().max(self.seq + 1);
        let message = json!({
            "type": if fresh { "snapshot" } else { "state" },
            "seq": self.seq,
            "state": spec.at_now(),
        });
        self.connection().await?.send_json(&message).await?;
        self.last_sent = tokio::time::Instant::now();
        let answer = self.connection().await?.receive_reply().await?;
        print_json(&answer);
        if answer["type"] == "error" {
            return Err(ClientError::Refused {
                code: answer["code"].as_str().unwrap_or_default().to_owned(),
                message: answer["message"].as_str().unwrap_or_default().to_owned(),
            }
            .into());
        }
        Ok(answer)
    }

    async fn heartbeat(&mut self) -> Result<(), PhoneError> {
        if let Some(connection) = self.connection.as_mut() {
            connection.send_json(&json!({"type": "ping"})).await?;
            self.last_sent = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// When the next heartbeat is due: the desktop counts only what the phone sends.
    fn beat_due(&self) -> tokio::time::Instant {
        self.last_sent + self.heartbeat_every()
    }

    fn heartbeat_every(&self) -> Duration {
        let secs = self
            .connection
            .as_ref()
            .and_then(|connection| connection.welcome["heartbeat_secs"].as_u64())
            .unwrap_or(20);
        Duration::from_secs(secs.max(1))
    }

    async fn disconnect(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.close().await;
        }
    }

    /// Waits, beating and printing pushes; a dropped connection is reopened at the next state.
    async fn wait(&mut self, duration: Duration, beat: bool) -> Result<(), PhoneError> {
        let until = tokio::time::Instant::now() + duration;
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(());
            }
            // The beat is due a heartbeat after the last message sent, however many the desktop pushes.
            let due = self.beat_due();
            let wake = due.min(until);
            match self.connection.as_mut() {
                Some(connection) => match tokio::time::timeout_at(wake, connection.receive()).await {
                    Ok(Ok(message)) => print_json(&message),
                    Ok(Err(_)) => self.connection = None,
                    Err(_) if beat && due <= tokio::time::Instant::now() => self.heartbeat().await?,
                    Err(_) => {}
                },
                None => tokio::time::sleep_until(wake).await,
            }
        }
    }
}

async fn run(cli: Cli) -> Result<(), PhoneError> {
    let path = match cli.credentials {
        Some(path) => path,
        None => default_credentials_path()?,
    };
    let name = cli.name;
    match cli.command {
        Command::Pair {
            link,
            code,
            address,
            print_token,
        } => pair(&path, &name, link, code, address, print_token).await,
        Command::Discover { wait } => {
            for desktop in discover(Duration::from_secs(wait)).await? {
                print_json(&json!({
                    "name": desktop.name,
                    "addresses": desktop.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "fingerprint": desktop.fingerprint.map(|fingerprint| fingerprint.to_string()),
                }));
            }
            Ok(())
        }
        Command::Send { state } => {
            let spec = parse_state_spec(&state.join(" ")).map_err(PhoneError::Usage)?;
            let mut phone = Phone::new(load_credentials(&path)?, name);
            phone.send(&spec).await?;
            // The status the desktop works out follows shortly; print what arrives within a moment.
            phone.wait(Duration::from_millis(500), false).await?;
            phone.disconnect().await;
            Ok(())
        }
        Command::Post { state, for_secs } => post(&path, &state, for_secs).await,
        Command::Run => run_from_stdin(Phone::new(load_credentials(&path)?, name)).await,
        Command::Replay { file } => replay(&path, name, &file).await,
    }
}

/// `pair`: by the QR code's link, or by the short code (at `address`, or the one desktop mDNS finds).
async fn pair(
    path: &Path,
    name: &str,
    link: Option<String>,
    code: Option<String>,
    address: Option<SocketAddr>,
    print_token: bool,
) -> Result<(), PhoneError> {
    let credentials = match (link, code, address) {
        (Some(link), _, _) => caret_relay::client::pair_with_link(&PairingLink::parse(&link)?, name).await?,
        (None, Some(code), Some(address)) => {
            caret_relay::client::pair_with_code(address, &code, name).await?
        }
        (None, Some(code), None) => {
            let address = the_one_desktop().await?;
            caret_relay::client::pair_with_code(address, &code, name).await?
        }
        _ => {
            return Err(PhoneError::Usage(
                "pass --link, or --code (with --address if needed)".into(),
            ));
        }
    };
    save_credentials(path, &credentials)?;
    let mut paired = json!({
        "paired": credentials.device_id,
        "desktop": credentials.address.to_string(),
        "fingerprint": credentials.fingerprint,
    });
    if print_token {
        paired["token"] = json!(credentials.token);
    }
    print_json(&paired);
    Ok(())
}

/// `post`: one state over HTTPS, as a shortcut app or a home-automation rule would send it.
async fn post(path: &Path, state: &str, for_secs: u64) -> Result<(), PhoneError> {
    let credentials = load_credentials(path)?;
    let spec = parse_state_spec(state).map_err(PhoneError::Usage)?;
    let pinned = Fingerprint::parse(&credentials.fingerprint)
        .ok_or_else(|| PhoneError::Usage("the stored fingerprint is not valid; pair again".into()))?;
    let body = json!({"state": spec.at_now(), "for_secs": for_secs}).to_string();
    let (status, answer) = https_request(
        credentials.address,
        pinned,
        "POST",
        "/v1/state",
        Some(&credentials.token),
        body.into_bytes(),
    )
    .await?;
    print_json(&answer);
    if status == 200 {
        Ok(())
    } else {
        Err(PhoneError::Usage(format!("the desktop answered HTTP {status}")))
    }
}

/// `run`: stays connected, sends each state line read from standard input, prints what the desktop pushes
/// and keeps the heartbeat going, until standard input ends.
async fn run_from_stdin(mut phone: Phone) -> Result<(), PhoneError> {
    phone.connection().await?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let beat = phone.beat_due();
        let connection = phone.connection().await?;
        tokio::select! {
            line = lines.next_line() => match line.map_err(file_error(Path::new("stdin")))? {
                None => break,
                Some(line) if line.trim().is_empty() => {}
                Some(line) => match parse_state_spec(&line) {
                    Ok(spec) => { let _ = phone.send(&spec).await; }
                    Err(error) => eprintln!("{error}"),
                },
            },
            message = connection.receive() => match message {
                Ok(message) => print_json(&message),
                Err(_) => phone.connection = None,
            },
            () = tokio::time::sleep_until(beat) => phone.heartbeat().await?,
        }
    }
    phone.disconnect().await;
    Ok(())
}

/// `replay`: plays a scenario file step by step.
async fn replay(path: &Path, name: String, file: &Path) -> Result<(), PhoneError> {
    let text = std::fs::read_to_string(file).map_err(file_error(file))?;
    let steps =
        parse_scenario(&text).map_err(|error| PhoneError::Usage(format!("{}: {error}", file.display())))?;
    let mut phone = Phone::new(load_credentials(path)?, name);
    for step in steps {
        match step {
            Step::Send(spec) => {
                phone.send(&spec).await?;
            }
            Step::Wait(duration) => phone.wait(duration, true).await?,
            Step::Silent(duration) => phone.wait(duration, false).await?,
            Step::Disconnect => phone.disconnect().await,
        }
    }
    phone.disconnect().await;
    Ok(())
}

impl Phone {
    fn new(credentials: Credentials, name: String) -> Phone {
        Phone {
            credentials,
            name,
            connection: None,
            seq: 0,
            last_sent: tokio::time::Instant::now(),
        }
    }
}

async fn discover(wait: Duration) -> Result<Vec<caret_relay::advertise::Discovered>, PhoneError> {
    tokio::task::spawn_blocking(move || caret_relay::advertise::discover(wait))
        .await
        .map_err(|error| PhoneError::Usage(error.to_string()))?
        .map_err(|error| PhoneError::Usage(error.to_string()))
}

/// The desktop to pair with by code when no address was given: the only one on the LAN.
async fn the_one_desktop() -> Result<SocketAddr, PhoneError> {
    let found = discover(Duration::from_secs(3)).await?;
    match found.as_slice() {
        [one] => one.addresses.first().copied().ok_or_else(|| {
            PhoneError::Usage(format!("{} announced no IPv4 address; pass --address", one.name))
        }),
        [] => Err(PhoneError::Usage(
            "no Caret Desktop found on the LAN: it announces itself only while its pairing window is open \
             (open one on the desktop first), and never in loopback-only mode; or pass --address HOST:PORT"
                .into(),
        )),
        several => Err(PhoneError::Usage(format!(
            "several desktops on the LAN ({}); pass --address HOST:PORT",
            several
                .iter()
                .map(|desktop| desktop.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let deadline = Duration::from_secs(cli.timeout);
    match caret_relay::client::with_step_deadline(deadline, run(cli)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("caret-phone: {error}");
            ExitCode::FAILURE
        }
    }
}
