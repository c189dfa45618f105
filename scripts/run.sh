#!/usr/bin/env bash
# Builds (release) and runs Caret Desktop, installing what is missing first. Arguments go to the app:
#   bash scripts/run.sh               the tray app
#   bash scripts/run.sh --headless    the same core without tray or windows
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd ui && npm run --silent build)
cargo build --release -p caret-desktop
exec target/release/caret-desktop "$@"
