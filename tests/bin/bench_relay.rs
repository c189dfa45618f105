//! Benchmarks of the phone relay. Prints figures; asserts nothing.
//!
//!   cargo run --release -p caret-e2e --bin bench-relay [-- --samples N --idle-secs S --only latency|hostile|idle]
//!
//! 1. Latency: a phone's `state` message → the relay's phone feed (what the app hands to the sync engine as
//!    its input), through real TLS on loopback and the device checks against the SQLite file store; and
//!    the phone's round trip (state → `ack`). Alone, then with 49 more phones connected and chatting.
//! 2. Hostile clients: a well-behaved phone's latency (a state every 600 ms, the relay's real limits) alone,
//!    then while other clients send oversized frames, malformed frames, floods of messages, TLS handshakes
//!    they drop, HTTP requests with junk and wrong tokens, and bytes that are not TLS at all. The bound:
//!    its p99 stays under 50 ms and every one of its messages is acknowledged.
//! 3. Idle cost of a connected phone, on the real `caret-desktop --headless`: context switches of the app
//!    (all its threads) and bytes on the wire (through a counting TCP proxy) during `--idle-secs` with one
//!    phone beating at the default 20 s, against the same period with no phone. Figures per hour, and the
//!    CPU time the app used (user + system, all threads) in each period.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caret_core::{CaretState, StateKind};
use caret_e2e::app::{Sandbox, context_switches, cpu_time, terminate, wait_for_exit, wakeups_between};
use caret_e2e::bench::{flag, ms, percentile};
use caret_relay::client::{Credentials, PairingLink, PhoneConnection, pair_with_link};
use caret_relay::{PhoneFeed, Relay, RelayConfig, RelayIdentity};
use caret_store::Store;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "  {label:<34} p50 {:>10}  p99 {:>10}  max {:>10}  (n = {})",
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
}

async fn paired(relay: &Relay, name: &str) -> Credentials {
    let offer = relay.start_pairing().expect("pairing window");
    pair_with_link(&PairingLink::parse(&offer.qr_url).expect("link"), name)
        .await
        .expect("pairs")
}

async fn measure(
    phone: &mut PhoneConnection,
    feed: &mut watch::Receiver<PhoneFeed>,
    samples: usize,
    next_seq: &mut u64,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut to_feed, mut round_trip) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    // Sequence numbers continue from the phone's last one (a repeated one would be refused as stale).
    let first = phone.welcome["last_seq"].as_u64().unwrap_or(0).max(*next_seq);
    for seq in first + 1..=first + samples as u64 + 20 {
        *next_seq = seq;
        let kind = if seq % 2 == 0 {
            StateKind::Busy
        } else {
            StateKind::Walking
        };
        let message = json!({"type": "state", "seq": seq, "state": kind.as_str()});
        let started = Instant::now();
        phone.send_json(&message).await.expect("send");
        feed.wait_for(|feed| feed.state.as_ref().map(CaretState::kind) == Some(kind))
            .await
            .expect("feed");
        let fed = started.elapsed();
        let answer = phone.receive_reply().await.expect("ack");
        assert_eq!(answer["type"], "ack", "{answer}");
        let acked = started.elapsed();

        if seq > first + 20 {
            to_feed.push(fed);
            round_trip.push(acked);
        }
    }
    (to_feed, round_trip)
}

/// A relay on loopback with its TLS identity and file store in a temporary directory (kept alive by the
/// returned guard), and one phone paired and connected to it. `device_rate` replaces the per-device limit.
async fn relay_with_phone(
    name: &str,
    device_rate: Option<(u32, Duration)>,
) -> (tempfile::TempDir, Relay, Credentials, PhoneConnection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).expect("identity");
    let store = Store::open(&dir.path().join("caret.db")).expect("store");
    let defaults = RelayConfig::default();
    let config = RelayConfig {
        port: 0,
        loopback_only: true,
        device_rate: device_rate.unwrap_or(defaults.device_rate),
        ..defaults
    };
    let relay = Relay::start(config, &identity, store).await.expect("relay");
    let credentials = paired(&relay, name).await;
    let phone = PhoneConnection::open(&credentials, name).await.expect("connect");
    (dir, relay, credentials, phone)
}

async fn latency(samples: usize) {
    // The per-device rate limit (2 a second after a burst of 20) is lifted: this measures the pipeline.
    let (_dir, relay, _, mut phone) =
        relay_with_phone("bench", Some((u32::MAX, Duration::from_millis(1)))).await;
    let mut feed = relay.phone_feed();

    println!("Latency through TLS on loopback ({samples} samples after 20 warm-up, rate limit lifted):");
    let mut seq = 0;
    let (to_feed, round_trip) = measure(&mut phone, &mut feed, samples, &mut seq).await;
    report("state → phone feed (engine input)", to_feed);
    report("state → ack at the phone", round_trip);

    // 49 more phones, each sending a message every second: the measured phone's latency under load. They
    // ping rather than send states, so that their states do not compete with the measured one in the feed
    // (the newest state wins there).
    let mut others = Vec::new();
    for index in 0..49 {
        let credentials = paired(&relay, &format!("other {index}")).await;
        let mut other = PhoneConnection::open(&credentials, "other")
            .await
            .expect("connect");
        others.push(tokio::spawn(async move {
            for seq in 1u64.. {
                let message = json!({"type": "ping", "n": seq});
                if other.send_json(&message).await.is_err() || other.receive_reply().await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }

    let (to_feed, round_trip) = measure(&mut phone, &mut feed, samples / 2, &mut seq).await;
    println!("With 49 more phones connected, each sending a message every second:");
    report("state → phone feed (engine input)", to_feed);
    report("state → ack at the phone", round_trip);
    for other in others {
        other.abort();
    }
    relay.shutdown();
}

/// The bound a well-behaved phone's latency keeps under hostile load.
const HOSTILE_P99_BOUND: Duration = Duration::from_millis(50);

/// One kind of hostile client, looping until stopped; counts what it got done.
fn hostile_loop<F, Fut>(
    count: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mut once: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            once().await;
            count.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// The measured phone at a phone's pace: a state every 600 ms, each timed to the feed and to its ack.
async fn paced(
    phone: &mut PhoneConnection,
    feed: &mut watch::Receiver<PhoneFeed>,
    samples: usize,
    next_seq: &mut u64,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (mut to_feed, mut round_trip, mut refused) = (Vec::new(), Vec::new(), 0);
    for _ in 0..samples {
        *next_seq += 1;
        let kind = if next_seq.is_multiple_of(2) {
            StateKind::Busy
        } else {
            StateKind::Walking
        };
        let message = json!({"type": "state", "seq": *next_seq, "state": kind.as_str()});
        let started = Instant::now();
        phone
            .send_json(&message)
            .await
            .expect("the phone's connection stays up");
        feed.wait_for(|feed| feed.state.as_ref().map(CaretState::kind) == Some(kind))
            .await
            .expect("feed");
        to_feed.push(started.elapsed());
        let answer = phone.receive_reply().await.expect("an answer");
        if answer["type"] == "ack" {
            round_trip.push(started.elapsed());
        } else {
            refused += 1;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    (to_feed, round_trip, refused)
}

fn p99(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    percentile(&sorted, 99.0)
}

async fn hostile(samples: usize) {
    use std::sync::atomic::AtomicBool;
    use tokio::io::AsyncWriteExt;

    // The relay's real limits: per device, per connection count, frame size.
    let (_dir, relay, credentials, mut phone) = relay_with_phone("well-behaved", None).await;
    let mut feed = relay.phone_feed();
    let mut seq = phone.welcome["last_seq"].as_u64().unwrap_or(0);

    println!("A well-behaved phone (a state every 600 ms, {samples} samples, the relay's real limits):");
    let (alone_feed, alone_ack, alone_refused) = paced(&mut phone, &mut feed, samples, &mut seq).await;
    report("alone: state → phone feed", alone_feed.clone());
    report("alone: state → ack", alone_ack.clone());

    let stop = Arc::new(AtomicBool::new(false));
    let address = credentials.address;
    let pinned = caret_relay::Fingerprint::parse(&credentials.fingerprint).expect("fingerprint");
    let mut tasks = Vec::new();
    let mut counters: Vec<(&str, Arc<AtomicU64>)> = Vec::new();
    let mut counter = |name: &'static str| {
        let count = Arc::new(AtomicU64::new(0));
        counters.push((name, count.clone()));
        count
    };
    // Paired devices gone bad: oversized frames, malformed frames, a flood of pings.
    let rogue = |name: &'static str| {
        let relay = &relay;
        async move { paired(relay, name).await }
    };
    let oversized = rogue("oversized").await;
    tasks.push(hostile_loop(
        counter("oversized frames (256 KiB)"),
        stop.clone(),
        move || {
            let oversized = oversized.clone();
            async move {
                if let Ok(mut connection) = PhoneConnection::open(&oversized, "oversized").await {
                    let _ = connection.send_raw(vec![b'x'; 256 * 1024]).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), connection.receive()).await;
                }
            }
        },
    ));
    let malformed = rogue("malformed").await;
    tasks.push(hostile_loop(
        counter("malformed frames"),
        stop.clone(),
        move || {
            let malformed = malformed.clone();
            async move {
                if let Ok(mut connection) = PhoneConnection::open(&malformed, "malformed").await {
                    let frames: [Vec<u8>; 4] = [
                        b"{\"type\": \"state\", \"seq\": ".to_vec(),
                        format!("{}{}", "[".repeat(4000), "]".repeat(4000)).into_bytes(),
                        vec![0xff, 0xfe, 0x00, 0x80],
                        br#"{"type":"state","seq":-1,"state":"nonsense","title":7}"#.to_vec(),
                    ];
                    for frame in frames {
                        if connection.send_raw(frame).await.is_err() {
                            return;
                        }
                        if tokio::time::timeout(Duration::from_secs(1), connection.receive())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        },
    ));
    let flooding = rogue("flooding").await;
    tasks.push(hostile_loop(
        counter("flood messages (pings as fast as answered)"),
        stop.clone(),
        {
            let flooding = flooding.clone();
            let connection = Arc::new(tokio::sync::Mutex::new(None::<PhoneConnection>));
            move || {
                let flooding = flooding.clone();
                let connection = connection.clone();
                async move {
                    let mut guard = connection.lock().await;
                    if guard.is_none() {
                        *guard = PhoneConnection::open(&flooding, "flooding").await.ok();
                    }
                    let Some(open) = guard.as_mut() else { return };
                    if open.send_json(&json!({"type": "ping"})).await.is_err()
                        || open.receive_reply().await.is_err()
                    {
                        *guard = None;
                    }
                }
            }
        },
    ));
    // Strangers: TLS handshakes dropped at once, HTTP junk, bytes that are not TLS.
    // Two clients at it, one count.
    let handshakes = counter("TLS handshakes, then dropped");
    for _ in 0..2 {
        tasks.push(hostile_loop(
            handshakes.clone(),
            stop.clone(),
            move || async move {
                let _ = caret_relay::client::connect_tls(address, None).await;
            },
        ));
    }
    tasks.push(hostile_loop(
        counter("HTTP requests: junk body, wrong token"),
        stop.clone(),
        move || async move {
            let _ = caret_relay::client::https_request(
                address,
                pinned,
                "POST",
                "/v1/state",
                Some("not-a-token"),
                b"{\"state\": [[[[".to_vec(),
            )
            .await;
        },
    ));
    tasks.push(hostile_loop(
        counter("connections sending bytes that are not TLS"),
        stop.clone(),
        move || async move {
            if let Ok(mut tcp) = TcpStream::connect(address).await {
                let junk: Vec<u8> = (0..4096u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                    .collect();
                let _ = tcp.write_all(&junk).await;
                let _ = tcp.shutdown().await;
            }
        },
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let at_start: Vec<u64> = counters
        .iter()
        .map(|(_, count)| count.load(Ordering::Relaxed))
        .collect();
    let (load_feed, load_ack, load_refused) = paced(&mut phone, &mut feed, samples, &mut seq).await;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    println!("The same phone while hostile clients run ({elapsed:.0} s):");
    for ((name, count), before) in counters.iter().zip(at_start) {
        let done = count.load(Ordering::Relaxed) - before;
        println!("  {name:<46} {done:>8} ({:.0}/s)", done as f64 / elapsed);
    }
    report("under attack: state → phone feed", load_feed.clone());
    report("under attack: state → ack", load_ack.clone());
    let (alone, loaded) = (p99(&alone_ack), p99(&load_ack));
    println!(
        "  p99 state → ack: alone {}, under attack {} ({:.1}×); refused or lost: alone {alone_refused}, under attack {load_refused} of {samples}",
        ms(alone),
        ms(loaded),
        loaded.as_secs_f64() / alone.as_secs_f64()
    );
    let held = loaded <= HOSTILE_P99_BOUND && load_refused == 0 && load_ack.len() == samples;
    println!(
        "  bound (p99 ≤ {} ms, every message acknowledged): {}",
        HOSTILE_P99_BOUND.as_millis(),
        if held { "held" } else { "NOT HELD" }
    );
    for task in tasks {
        task.abort();
    }
    relay.shutdown();
}

/// Copies one direction, counting bytes as they pass (so a window of time can be measured).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    bytes: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 || to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
        bytes.fetch_add(read as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}

/// Forwards one TCP port to another, counting the bytes both ways.
async fn counting_proxy(target: SocketAddr, bytes: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let (from_phone, to_phone) = inbound.into_split();
                let (from_desktop, to_desktop) = outbound.into_split();
                tokio::join!(
                    pump(from_phone, to_desktop, bytes.clone()),
                    pump(from_desktop, to_phone, bytes)
                );
            });
        }
    });
    address
}

async fn idle_cost(idle: Duration) {
    let sandbox = Sandbox::new();
    let mut app = sandbox
        .command("bench", &["--headless"])
        .spawn()
        .expect("launch the app");
    sandbox
        .wait_for_log("bench", "caret-desktop ready (headless)", Duration::from_secs(30))
        .await;
    let pid = app.id().expect("pid");
    let pairing = sandbox.start_pairing().await;
    let link = PairingLink::parse(pairing["link"].as_str().expect("link")).expect("link parses");
    let mut credentials = pair_with_link(&link, "bench").await.expect("pairs");

    println!(
        "Idle cost on caret-desktop --headless over {} s each:",
        idle.as_secs()
    );
    let (before, cpu_before) = (context_switches(pid), cpu_time(pid));
    tokio::time::sleep(idle).await;
    let without_phone = wakeups_between(&before, &context_switches(pid));
    let cpu_without_phone = cpu_time(pid) - cpu_before;

    let bytes = Arc::new(AtomicU64::new(0));
    credentials.address = counting_proxy(credentials.address, bytes.clone()).await;
    let mut phone = PhoneConnection::open(&credentials, "bench")
        .await
        .expect("connect");
    let beat = Duration::from_secs(phone.welcome["heartbeat_secs"].as_u64().unwrap_or(20));
    // Settle the connection set-up, then measure only the steady state.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (before, cpu_before) = (context_switches(pid), cpu_time(pid));
    let bytes_before = bytes.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut next_beat = Instant::now() + beat;
    while started.elapsed() < idle {
        tokio::select! {
            () = tokio::time::sleep_until(next_beat) => {
                phone.send_json(&json!({"type": "ping"})).await.expect("ping");
                next_beat += beat;
            }
            message = phone.receive() => { message.expect("the connection stays up"); }
            () = tokio::time::sleep_until(started + idle) => {}
        }
    }
    let with_phone = wakeups_between(&before, &context_switches(pid));
    let cpu_with_phone = cpu_time(pid) - cpu_before;
    let steady_bytes = bytes.load(Ordering::Relaxed) - bytes_before;
    let hours = idle.as_secs_f64() / 3600.0;
    phone.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let wire = bytes.load(Ordering::Relaxed);
    println!(
        "  app wake-ups (context switches)    no phone {:>8.0}/h   one phone {:>8.0}/h   difference {:>8.0}/h",
        without_phone as f64 / hours,
        with_phone as f64 / hours,
        (with_phone as f64 - without_phone as f64) / hours
    );
    println!(
        "  app CPU time (user + system)       no phone {} ms, one phone {} ms in {} s each (the kernel counts in 10 ms ticks; 0 is under one tick)",
        cpu_without_phone.as_millis(),
        cpu_with_phone.as_millis(),
        idle.as_secs()
    );
    println!(
        "  bytes on the wire, both ways       {steady_bytes} B in {} s of steady state: {:.1} kB/h at a {} s heartbeat \
         (connection set-up and close: {} B once)",
        idle.as_secs(),
        steady_bytes as f64 / hours / 1000.0,
        beat.as_secs(),
        wire - steady_bytes
    );
    terminate(&app);
    let _ = wait_for_exit(&mut app, Duration::from_secs(20)).await;
}

fn main() {
    let samples = flag("--samples", 2000) as usize;
    let idle = Duration::from_secs(flag("--idle-secs", 120));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::args().skip_while(|arg| arg != "--only").nth(1);
    let hostile_samples = flag("--hostile-samples", 100) as usize;
    if only.is_none() || only.as_deref() == Some("latency") {
        runtime.block_on(latency(samples.max(10)));
    }
    if only.is_none() || only.as_deref() == Some("hostile") {
        runtime.block_on(hostile(hostile_samples.max(10)));
    }
    if only.is_none() || only.as_deref() == Some("idle") {
        runtime.block_on(idle_cost(idle));
    }
}
