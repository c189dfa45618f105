//! How soon the quick picker takes keys, as a person meets it: from the shortcut's key press to the picker's
//! list shown and taking keys, on the first opening after a start (its window made then) and on warm ones
//! (the kept window shown again). Prints figures; asserts nothing.
//!
//!   bench-picker [--starts N] [--openings M]   (CARET_APP_BIN: the binary; scripts/perf.sh passes the release
//!                                               one; needs the desktop harness: Xvfb, D-Bus, xdotool)
//!
//! The shortcut is pressed with xdotool together with Escape, which the picker receives among the keys typed
//! before it was ready and applies once its list shows: it hides itself, ready for the next opening. The app
//! measures from the moment its shortcut listener reads the key press (within a millisecond of xdotool
//! sending it) and logs two lines per opening, which this program reads:
//! - `picker window shown X ms after it was asked for`: the window's own showing (made and mapped, or mapped
//!   again): the baseline, what no page work can beat;
//! - `picker ready (first|warm): its list shows and takes keys X ms after it was asked for`: the page's
//!   opening answered, its list drawn, and the keys typed so far applied.

use std::time::Duration;

use caret_e2e::app::{Sandbox, terminate, wait_for_exit};
use caret_e2e::bench::{flag, ms, percentile};

const SOON: Duration = Duration::from_secs(60);

/// The milliseconds logged on the last line holding `marker` ("… X ms after it was asked for").
fn logged_ms(log: &str, marker: &str) -> Vec<Duration> {
    log.lines()
        .filter(|line| line.contains(marker))
        .filter_map(|line| {
            let before = line.split(" ms after it was asked for").next()?;
            let number = before.rsplit(' ').next()?;
            number.parse::<f64>().ok()
        })
        .map(|millis| Duration::from_secs_f64(millis / 1000.0))
        .collect()
}

fn report(label: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        println!("  {label:<52} no samples");
        return;
    }
    samples.sort();
    println!(
        "  {label:<52} p50 {:>11}  p90 {:>11}  max {:>11}  (n = {})",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 90.0)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
}

fn press_shortcut_then_escape() {
    let status = std::process::Command::new("xdotool")
        .args(["key", "--delay", "1", "ctrl+alt+s", "Escape"])
        .status()
        .expect("xdotool runs");
    assert!(status.success(), "xdotool failed");
}

/// Waits until `name`'s log holds `count` lines with `marker`.
async fn wait_for_lines(sandbox: &Sandbox, name: &str, marker: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + SOON;
    while sandbox.log(name).matches(marker).count() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {count}th {marker:?} in the log:\n{}",
            sandbox.log(name)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let starts = flag("--starts", 5) as usize;
    let openings = flag("--openings", 20) as usize;
    let sandbox = Sandbox::new();
    let (mut first_ready, mut first_shown, mut warm_ready, mut warm_shown) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for start in 0..starts {
        let name = format!("app-{start}");
        let mut app = sandbox.command(&name, &[]).spawn().expect("launch caret-desktop");
        sandbox
            .wait_for_log(&name, "global shortcut registered", SOON)
            .await;
        // As a person would: some time after the app started.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for opening in 1..=openings + 1 {
            press_shortcut_then_escape();
            wait_for_lines(&sandbox, &name, "picker ready (", opening).await;
            wait_for_lines(&sandbox, &name, "picker hidden", opening).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let log = sandbox.log(&name);
        let shown = logged_ms(&log, "picker window shown");
        first_ready.extend(logged_ms(&log, "picker ready (first)"));
        warm_ready.extend(logged_ms(&log, "picker ready (warm)"));
        first_shown.extend(shown.first().copied());
        warm_shown.extend(shown.iter().skip(1).copied());
        terminate(&app);
        // The tray app is quit from its menu; a SIGTERM is enough here.
        let _status = wait_for_exit(&mut app, SOON).await;
    }
    println!(
        "Quick picker: shortcut key press → list shown and taking keys ({starts} starts, {openings} warm openings each)"
    );
    report("first opening after start: list ready", &mut first_ready);
    report(
        "first opening after start: window shown (baseline)",
        &mut first_shown,
    );
    report("warm opening: list ready", &mut warm_ready);
    report("warm opening: window shown (baseline)", &mut warm_shown);
}
