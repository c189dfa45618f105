#!/usr/bin/env bash
# Memory of Caret Desktop against a bare Tauri app built in the same run (release builds), as PSS summed over
# each app's processes, inside the test harness's desktop session (Xvfb, D-Bus, a StatusNotifierWatcher):
# tray only, one window open, and after closing it. Prints a Markdown table for docs/performance.md.
#   bash scripts/memory.sh [IDLE_SECONDS]     (default 10; about 6 minutes with cold release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
(cd ui && npm run --silent build)
cargo build --locked --release -p caret-desktop -p bare-tauri
cargo build --locked --release -p caret-e2e --bin memory
tests/harness/desktop-session.sh "$PWD/target/release/memory" "$PWD/target/release/caret-desktop" \
  "$PWD/target/release/bare-tauri" "${1:-10}"
