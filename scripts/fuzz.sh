#!/usr/bin/env bash
# A bounded fuzzing run of the relay's parsers (crates/caret-relay/fuzz): everything a phone can send.
#   bash scripts/fuzz.sh [SECONDS]      default 60
# Uses cargo-fuzz with libFuzzer and no sanitizer, which works on stable Rust (a sanitizer build needs a
# nightly toolchain: `cargo +nightly fuzz run phone_frames`). Installs cargo-fuzz if it is missing.
# Exits non-zero, with the crashing input saved under crates/caret-relay/fuzz/artifacts/, if any input
# makes a parser panic or break a promised limit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (once)"
  cargo install --locked cargo-fuzz
fi
fuzz_dir=crates/caret-relay/fuzz
mkdir -p "$fuzz_dir/corpus/phone_frames"
cargo fuzz run --fuzz-dir "$fuzz_dir" --sanitizer none phone_frames \
  "$fuzz_dir/corpus/phone_frames" "$fuzz_dir/seeds" -- \
  -max_total_time="$seconds" -max_len=16384 -timeout=5 -print_final_stats=1
