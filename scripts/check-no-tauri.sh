#!/usr/bin/env bash
# Architecture invariant: only src-tauri knows Tauri. Fails if any crate under crates/ depends on tauri (or a
# tauri-* crate), directly or through another crate.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for manifest in crates/*/Cargo.toml; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)
  offenders=$(cargo tree --offline -q -p "$name" -e normal,build --prefix none --format '{p}' 2>/dev/null \
    | awk '{print $1}' | grep -E '^tauri(-|$)' | sort -u || true)
  if [[ -n "$offenders" ]]; then
    echo "check-no-tauri: $name depends on: $(echo "$offenders" | tr '\n' ' ')— domain crates must not know Tauri" >&2
    status=1
  fi
done
[[ $status == 0 ]] && echo "check-no-tauri: no crate under crates/ depends on Tauri"
exit "$status"
