#!/usr/bin/env bash
# Builds the Linux packages, a .deb and an .rpm, into target/packages, installing what is missing first:
#   bash scripts/package.sh           release build: the packages people install
#   bash scripts/package.sh --debug   from the debug build scripts/test.sh has already made (it installs that
#                                     package for real to test it; the files are the same, only slower code)
# Tauri's bundler (tauri-cli, pinned in ui/package.json) builds the app and lays out the package from
# src-tauri/tauri.conf.json's "bundle": the binary, the desktop entry (packaging/linux), the AppStream
# metainfo, the hicolor icons and the licences. caret-phone, a second binary, is added here because its path
# depends on the build profile.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
tauri_flags=()
cargo_flags=(--release)
case ${1:-} in
  --debug) profile=debug tauri_flags=(--debug) cargo_flags=() ;;
  "") ;;
  *) echo "usage: bash scripts/package.sh [--debug]" >&2; exit 2 ;;
esac

bash scripts/setup.sh
(
  cd ui
  [[ -x node_modules/.bin/tauri ]] || npm ci --silent --no-audit --no-fund
  npm run --silent build
)
cargo build --locked "${cargo_flags[@]}" -p caret-phone

phone="../target/$profile/caret-phone"
overlay=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/caret-phone":"%s"}},"rpm":{"files":{"/usr/bin/caret-phone":"%s"}}}}}' \
  "$phone" "$phone")
# The UI is built above; the bundler must not look for a dev server or run a build command of its own.
# From src-tauri, so that the CLI takes this app's tauri.conf.json (bench/bare-tauri has one too).
# The bundler leaves earlier packages in its folders; only this build's may be copied out.
rm -rf "target/$profile/bundle/deb" "target/$profile/bundle/rpm"
(cd src-tauri && ../ui/node_modules/.bin/tauri build "${tauri_flags[@]}" --ci --bundles deb,rpm --config "$overlay" -- --locked)

out=target/packages
rm -rf "$out"
mkdir -p "$out"
cp "target/$profile/bundle/deb/"*.deb "target/$profile/bundle/rpm/"*.rpm "$out/"
ls -l "$out"
