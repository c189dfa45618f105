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

/// A field of `/proc/PID/smaps_rollup` in kB, 0 if the process is gone.
fn rollup_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One measurement in MB. PSS is private pages plus a share of each shared page, so it moves with whoever
/// else maps the same libraries at that moment (a GTK portal the session starts lowers an app's share of
/// GTK); private pages (clean + dirty) are what the app alone costs.
#[derive(Debug, Clone, Copy)]
struct Memory {
    pss: f64,
    private: f64,
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

/// The medians of five samples a second apart, and the processes counted.
async fn measure(pid: u32) -> (Memory, Vec<String>) {
    let mut pss = Vec::new();
    let mut private = Vec::new();
    for _ in 0..5 {
        let processes = tree(pid);
        pss.push(processes.iter().map(|pid| rollup_kb(*pid, "Pss:")).sum::<u64>());
        private.push(
            processes
                .iter()
                .map(|pid| rollup_kb(*pid, "Private_Clean:") + rollup_kb(*pid, "Private_Dirty:"))
                .sum::<u64>(),
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    pss.sort_unstable();
    private.sort_unstable();
    let names = tree(pid).into_iter().map(process_name).collect();
    let memory = Memory {
        pss: pss[2] as f64 / 1024.0,
        private: private[2] as f64 / 1024.0,
    };
    (memory, names)
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

/// The bare app, tray only, after `idle`.
async fn measure_bare(bare: &Path, idle: Duration) -> (Memory, Vec<String>) {
    let sandbox = Sandbox::new();
    let (mut app, _item, watcher) = start_tray(bare, &sandbox, "bare").await;
    tokio::time::sleep(idle).await;
    let measured = measure(app.id().expect("pid")).await;
    let _ = app.kill().await;
    let _ = app.wait().await;
    drop(watcher);
    measured
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

    // A first, unmeasured run: the first GTK app of a session starts the session's helpers (the accessibility
    // bus, the desktop portal) and pays for finding them missing; every measured run then finds them up.
    let _warm_up = measure_bare(&bare, Duration::from_secs(2)).await;
    // The bare app before and after Caret Desktop: how far its two runs differ shows how much the session
    // moves the figures.
    let (bare_before, bare_processes) = measure_bare(&bare, idle).await;

    let sandbox = Sandbox::new();
    let (mut app, item, watcher) = start_tray(&caret, &sandbox, "caret").await;
    let pid = app.id().expect("pid");
    tokio::time::sleep(idle).await;
    let (tray, tray_processes) = measure(pid).await;

    let menu = item.menu().await;
    item.click(menu.find("Settings…").expect("Settings…")).await;
    let windows = wait_for_windows("Caret Desktop — Settings", 1, START).await;
    tokio::time::sleep(idle).await;
    let (window, window_processes) = measure(pid).await;

    close_window(windows[0], "Caret Desktop — Settings").await;
    tokio::time::sleep(idle).await;
    let (closed, closed_processes) = measure(pid).await;
    let _ = app.kill().await;
    let _ = app.wait().await;
    drop(watcher);

    let (bare_after, _) = measure_bare(&bare, idle).await;

    let row = |what: &str, memory: Memory, processes: &[String]| {
        println!(
            "| {what} | {:.1} | {:.1} | {} |",
            memory.pss,
            memory.private,
            processes.join(", ")
        );
    };
    println!(
        "Release builds, after {} s idle; medians of 5 samples a second apart; MB.",
        idle.as_secs()
    );
    println!();
    println!("| What | PSS | private | processes |");
    println!("|---|---:|---:|---|");
    row("bare Tauri app, tray only (before)", bare_before, &bare_processes);
    row("Caret Desktop, tray only", tray, &tray_processes);
    row("Caret Desktop, Settings window open", window, &window_processes);
    row("Caret Desktop, after closing it", closed, &closed_processes);
    row("bare Tauri app, tray only (after)", bare_after, &bare_processes);
    println!();
    let bare_private = (bare_before.private + bare_after.private) / 2.0;
    let bare_pss = (bare_before.pss + bare_after.pss) / 2.0;
    println!(
        "tray-only difference to the bare app (mean of its two runs): private {:+.1} MB, PSS {:+.1} MB (target: within 10 MB)",
        tray.private - bare_private,
        tray.pss - bare_pss
    );
    println!(
        "freed by closing the window: PSS {:.1} MB, private {:.1} MB",
        window.pss - closed.pss,
        window.private - closed.private
    );
}
