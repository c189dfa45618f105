//! The memory figures of docs/performance.md: Caret Desktop's tray-only idle footprint against a bare Tauri
//! app (bench/bare-tauri) built in the same run, then with one window open, then after closing it. PSS
//! (proportional set size, `/proc/PID/smaps_rollup`) summed over the app and its child processes (WebKit's).
//!
//! Run by `bash scripts/memory.sh` (release builds, inside the test harness's desktop session, with a
//! StatusNotifierWatcher so both trays register as on a real panel).
//!
//!     memory CARET_BINARY BARE_BINARY [IDLE_SECONDS]

use std::path::{Path, PathBuf};
use std::time::Duration;

use caret_e2e::app::{Sandbox, child_pids, process_name};
use caret_e2e::sni::Watcher;
use caret_e2e::x11::{close_window, wait_for_windows};

const START: Duration = Duration::from_secs(60);

/// PSS in kB of one process, 0 if it is gone.
fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The process and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() {
        all.extend(child_pids(all[next]));
        next += 1;
    }
    all
}

/// The median of five samples a second apart, in MB, and the processes counted.
async fn measure(pid: u32) -> (f64, Vec<String>) {
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(tree(pid).into_iter().map(pss_kb).sum::<u64>());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    samples.sort_unstable();
    let names = tree(pid).into_iter().map(process_name).collect();
    (samples[2] as f64 / 1024.0, names)
}

async fn start_tray(
    binary: &Path,
    sandbox: &Sandbox,
    name: &str,
) -> (tokio::process::Child, caret_e2e::sni::TrayItem, Watcher) {
    let mut watcher = Watcher::start().await;
    let child = sandbox
        .command_for(binary, name, &[])
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
    let item = watcher.next_item(START).await;
    (child, item, watcher)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(caret), Some(bare)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: memory CARET_BINARY BARE_BINARY [IDLE_SECONDS]");
        std::process::exit(64);
    };
    let idle = Duration::from_secs(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10));
    let (caret, bare) = (PathBuf::from(caret), PathBuf::from(bare));

    let sandbox = Sandbox::new();
    let (mut bare_app, _bare_item, bare_watcher) = start_tray(&bare, &sandbox, "bare").await;
    tokio::time::sleep(idle).await;
    let (bare_mb, bare_processes) = measure(bare_app.id().expect("pid")).await;
    let _ = bare_app.kill().await;
    drop(bare_watcher);

    let sandbox = Sandbox::new();
    let (mut app, item, _watcher) = start_tray(&caret, &sandbox, "caret").await;
    let pid = app.id().expect("pid");
    tokio::time::sleep(idle).await;
    let (tray_mb, tray_processes) = measure(pid).await;

    let menu = item.menu().await;
    item.click(menu.find("Settings…").expect("Settings…")).await;
    let windows = wait_for_windows("Caret Desktop — Settings", 1, START).await;
    tokio::time::sleep(idle).await;
    let (window_mb, window_processes) = measure(pid).await;

    close_window(windows[0], "Caret Desktop — Settings").await;
    tokio::time::sleep(idle).await;
    let (closed_mb, closed_processes) = measure(pid).await;
    let _ = app.kill().await;

    println!(
        "| What (release build, PSS, median of 5 after {} s idle) | MB | processes |",
        idle.as_secs()
    );
    println!("|---|---:|---|");
    println!(
        "| bare Tauri app, tray only | {bare_mb:.1} | {} |",
        bare_processes.join(", ")
    );
    println!(
        "| Caret Desktop, tray only | {tray_mb:.1} | {} |",
        tray_processes.join(", ")
    );
    println!(
        "| Caret Desktop, Settings window open | {window_mb:.1} | {} |",
        window_processes.join(", ")
    );
    println!(
        "| Caret Desktop, after closing it | {closed_mb:.1} | {} |",
        closed_processes.join(", ")
    );
    println!();
    println!(
        "tray-only difference to the bare app: {:+.1} MB (target: within 10 MB)",
        tray_mb - bare_mb
    );
    println!("freed by closing the window: {:.1} MB", window_mb - closed_mb);
}
