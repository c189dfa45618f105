#!/usr/bin/env bash
# The long resilience suite (the test command runs a bounded version of the same tests):
#   bash scripts/resilience.sh [FUZZ_SECONDS]     default 300
# The soak run (a working day with Slack failing in every documented way, a 10-minute outage, the phone
# dropping off, the token revoked, the clock jumping an hour),
# 50 kill -9 crashes of the real headless app at random points, a status left by a killed app clearing itself
# at its lease's end, 10,000 wrong pairing attempts, the secrets scan of every file the app wrote; then the
# relay's fuzz target for FUZZ_SECONDS. Prints one `resilience:` line per scenario (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-300}
bash scripts/setup.sh --test
(cd ui && npm run --silent build)
cargo build --locked -p caret-desktop -p caret-phone
export CARET_APP_BIN="$PWD/target/debug/caret-desktop" CARET_PHONE_BIN="$PWD/target/debug/caret-phone"
log=$(mktemp)
status=0
CARET_RESILIENCE=full tests/harness/desktop-session.sh \
  cargo test --locked -p caret-e2e --test resilience --test soak -- --nocapture --test-threads 1 >"$log" 2>&1 || status=$?
grep -oE 'resilience: .*' "$log" || true
if (( status != 0 )); then
  echo "resilience: FAILED; the whole output is in $log" >&2
  exit "$status"
fi
fuzz_log=$(mktemp)
bash scripts/fuzz.sh "$fuzz_seconds" >"$fuzz_log" 2>&1 || status=$?
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$fuzz_log" | sed 's/^/resilience: fuzz: /'
if (( status != 0 )); then
  echo "resilience: the fuzz run found a failing input; the whole output is in $fuzz_log" >&2
fi
exit "$status"
