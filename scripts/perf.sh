#!/usr/bin/env bash
# Every figure of docs/performance.md in one run, release builds, each bench inside the test harness's
# desktop session (Xvfb, D-Bus, the Secret Service, a StatusNotifierWatcher where a tray is measured):
#   bash scripts/perf.sh [IDLE_SECONDS]     (default 120; about 30 minutes on 2 cores once built)
# Prints the figures; asserts nothing. Baselines are measured in the same run: the relay's own ack for the
# app's end-to-end latency, the phone alone for the phone under attack, the app without a phone for its idle
# cost, the app with the microphone source off for that source's idle cost, and a bare Tauri app
# (bench/bare-tauri) for memory, idle CPU, start time and binary size.
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-120}
bash scripts/setup.sh --test
(cd ui && npm run --silent build)
cargo build --locked --release -p caret-desktop -p bare-tauri
cargo build --locked --release -p caret-e2e --bins
export CARET_APP_BIN="$PWD/target/release/caret-desktop"
session=tests/harness/desktop-session.sh
bench() { printf '\n\033[1m== %s\033[0m\n' "$1"; shift; "$session" "$@"; }
bench "sync engine, in process (bench-engine)" target/release/bench-engine
bench "relay: latency, and a phone among hostile clients (bench-relay)" \
  target/release/bench-relay --only latency
"$session" target/release/bench-relay --only hostile
bench "through the running app: phone → Slack, and a flapping phone (bench-app)" target/release/bench-app
bench "the quick picker: shortcut → list taking keys, first and warm openings (bench-picker)" \
  target/release/bench-picker
bench "the desktop sources: their idle cost, a recording application → Slack, the screen lock → presence (bench-sources)" \
  target/release/bench-sources --idle "$idle"
bench "idle cost of a connected phone on the running app (bench-relay --only idle)" \
  target/release/bench-relay --only idle --idle-secs "$idle"
bench "memory, idle CPU, start time, binary size against a bare Tauri app (memory)" \
  target/release/memory "$PWD/target/release/caret-desktop" "$PWD/target/release/bare-tauri" 10
