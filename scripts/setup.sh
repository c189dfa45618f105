#!/usr/bin/env bash
# Installs what Caret Desktop needs, only when it is missing, on Debian 12 (or a close relative):
#   scripts/setup.sh           what building and running the app needs: Tauri's system libraries, UI packages
#   scripts/setup.sh --test    also what the tests start: Xvfb, D-Bus tools, gnome-keyring, dunst, xdotool,
#                              WebKitWebDriver, ImageMagick (screenshots), openssl (fingerprint cross-check),
#                              faketime (the soak run's clock jump)
# Rust (1.90+) and Node.js (20.19+) must already be there; this says so clearly if they are not.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- toolchains we do not install ourselves ---
command -v cargo >/dev/null || die "Rust is missing: install it from https://rustup.rs (1.90 or newer), then run this again"
command -v node >/dev/null || die "Node.js is missing: install Node.js 20.19 or newer (e.g. from NodeSource), then run this again"
command -v npm >/dev/null || die "npm is missing: it comes with Node.js 20.19 or newer"
node_version=$(node -p 'process.versions.node')
IFS=. read -r node_major node_minor _ <<<"$node_version"
if (( node_major < 20 || (node_major == 20 && node_minor < 19) )); then
  die "Node.js $node_version is too old: the UI build (Vite 8) needs 20.19 or newer"
fi

# --- Debian packages ---
build_packages=(build-essential pkg-config curl wget file libssl-dev libwebkit2gtk-4.1-dev libxdo-dev
  libayatana-appindicator3-dev librsvg2-dev)
test_packages=(xvfb dbus dbus-x11 webkit2gtk-driver xdotool gnome-keyring libsecret-tools dunst imagemagick openssl
  chromium faketime)
wanted=("${build_packages[@]}")
$want_test && wanted+=("${test_packages[@]}")

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if (( ${#missing[@]} > 0 )); then
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  if [[ $(id -u) == 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    die "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  fi
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- tauri-driver: the WebDriver bridge the window tests use (WebKitWebDriver underneath) ---
if $want_test && ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver (cargo install, about 30 s)"
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi

# --- UI packages (exactly the lockfile's) ---
if [[ ! -f ui/node_modules/.package-lock.json || ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
  say "installing UI packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
say "ready"
