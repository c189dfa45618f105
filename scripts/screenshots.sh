#!/usr/bin/env bash
# Refreshes the README's window screenshots (docs/screenshots/*.png) by running the window tests, which save
# one per window, with the screenshots going to docs/ instead of target/screenshots.
#   bash scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
(cd ui && npm run --silent build)
cargo build --locked -p caret-desktop
CARET_APP_BIN="$PWD/target/debug/caret-desktop" CARET_SCREENSHOT_DIR="$PWD/docs/screenshots" \
  tests/harness/desktop-session.sh cargo test --locked -p caret-e2e --test windows
ls -l docs/screenshots
