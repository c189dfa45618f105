#!/usr/bin/env bash
# Runs every gate and every test, installing what is missing first. This is what CI runs (.ci/run).
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$((SECONDS - started))"; }

step "setup"
bash scripts/setup.sh --test

step "UI: type-check, lint, unit tests, build"
(
  cd ui
  npm run --silent typecheck
  npm run --silent lint
  npm run --silent test
  npm run --silent build
)

step "Rust: format"
cargo fmt --all --check

step "architecture: only src-tauri knows Tauri"
cargo fetch --locked -q
bash scripts/check-no-tauri.sh

step "code size: no file over 600 lines of non-test code, no function over 80 (scripts/check-size.py)"
python3 scripts/check-size.py

step "dependencies: licences, duplicate versions, sources (cargo deny, deny.toml)"
cargo deny --locked check licenses bans sources

step "Rust: clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "build the app and the command-line phone the end-to-end tests drive"
cargo build --locked -p caret-desktop -p caret-phone
export CARET_APP_BIN="$PWD/target/debug/caret-desktop" CARET_PHONE_BIN="$PWD/target/debug/caret-phone"

step "Rust tests (units, whole flows, the real app under Xvfb + D-Bus + keyring + notifications)"
# The resilience suite runs next, on its own, so that its summary lines are printed.
if cargo nextest --version >/dev/null 2>&1; then
  tests/harness/desktop-session.sh cargo nextest run --locked --workspace --no-fail-fast \
    -E 'not (package(caret-e2e) & (binary(resilience) | binary(soak)))'
else
  # Without nextest, cargo test cannot leave two test binaries out: the bounded suite then runs twice.
  tests/harness/desktop-session.sh cargo test --locked --workspace --no-fail-fast
fi

step "the resilience suite, bounded (bash scripts/resilience.sh for the long one; docs/reliability.md)"
resilience_log=$(mktemp)
if cargo nextest --version >/dev/null 2>&1; then
  # The build of the run above (`--workspace`: the same features, so nothing is compiled again), the two
  # binaries side by side (both mostly wait: the soak's compressed day, the restarts), each test's output
  # printed at the end for the summary lines.
  resilience=(cargo nextest run --locked --workspace --success-output final
    -E 'package(caret-e2e) & (binary(resilience) | binary(soak))')
else
  resilience=(cargo test --locked -p caret-e2e --test resilience --test soak -- --nocapture --test-threads 1)
fi
if ! tests/harness/desktop-session.sh "${resilience[@]}" >"$resilience_log" 2>&1; then
  cat "$resilience_log" >&2
  echo "the resilience suite failed (its whole output is above)" >&2
  exit 1
fi
grep -oE 'resilience: .*' "$resilience_log"

step "the phone page in Chromium, as a phone (a mocked relay, then the real headless app)"
(
  cd tests/phone-page
  npm ci --silent --no-audit --no-fund
  npm test
)

step "the Linux packages: the .deb and .rpm built, the .deb installed, run headless and removed (tests/package/check.sh)"
bash tests/package/check.sh

step "fuzz the relay's parsers (a bounded run: 30 s; bash scripts/fuzz.sh 600 for a longer one)"
bash scripts/fuzz.sh 30

step "generated files are current (TypeScript bindings, docs/status-mapping.md, the Slack app manifest)"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  drift=$(git status --porcelain -- ui/src/bindings docs/status-mapping.md slack)
  if [[ -n "$drift" ]]; then
    echo "generated files changed when the tests regenerated them; commit the regenerated files:" >&2
    echo "$drift" >&2
    git --no-pager diff -- ui/src/bindings docs/status-mapping.md slack >&2
    exit 1
  fi
  echo "generated files match the code"
else
  echo "not a git checkout: cannot compare the regenerated bindings with committed ones" >&2
  exit 1
fi

step "all gates passed"
