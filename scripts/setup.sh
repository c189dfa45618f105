#!/usr/bin/env bash
# Installs what Caret Desktop needs, only when it is missing, on Debian 12 (or a close relative):
#   scripts/setup.sh           what building and running the app needs: Tauri's system libraries, UI packages
#   scripts/setup.sh --test    also what the tests start: Xvfb, D-Bus tools, gnome-keyring, dunst, xdotool,
#                              WebKitWebDriver, ImageMagick (screenshots), openssl (fingerprint cross-check,
#                              TLS versions), faketime (the soak run's clock jump), iproute2 (the network
#                              namespaces of the relay's reach test), and Python's spake2 and
#                              websockets (the relay's pairing against a phone written in Python)
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
# libayatana-appindicator3-dev: the app does not load the library (its tray item is exported over D-Bus by tray-icon's ksni
# backend), but Tauri's bundler finds it with pkg-config to write the packages' dependency on it, and stops without it.
# libdbus-1-dev: desktop notifications go over libdbus (notify-rust's `d` backend), which the webview loads anyway.
# libpipewire-0.3-dev, libspa-0.2-dev, libclang1-14, libclang-common-14-dev: the microphone source talks to PipeWire
# through the pipewire crate, whose bindings bindgen writes at build time from these headers (it loads libclang).
build_packages=(build-essential pkg-config curl wget file libssl-dev libwebkit2gtk-4.1-dev libxdo-dev librsvg2-dev libdbus-1-dev
  libayatana-appindicator3-dev libpipewire-0.3-dev libspa-0.2-dev libclang1-14 libclang-common-14-dev)
# fonts-noto-color-emoji: the windows show status emoji as pictures, and the screenshots should too.
# desktop-file-utils, appstream, rpm: the package test validates the desktop entry and metainfo, lists the .rpm.
# x11-utils (xkill), x11-xserver-utils (xmodmap): the shortcut test changes the layout and drops the listener.
# pipewire, wireplumber, pipewire-bin (pw-record, pw-cli, pw-metadata): the audio server the microphone tests start
# (tests/support/audio.rs), with its session manager, and the recording clients they run against it.
test_packages=(xvfb dbus dbus-x11 webkit2gtk-driver xdotool gnome-keyring libsecret-tools dunst imagemagick openssl
  chromium faketime iproute2 fonts-noto-color-emoji
  desktop-file-utils appstream rpm x11-utils x11-xserver-utils
  pipewire wireplumber pipewire-bin)
wanted=("${build_packages[@]}")
$want_test && wanted+=("${test_packages[@]}")
# pip for the Python packages below, unless the python3 on the PATH (perhaps not Debian's) already has it.
if $want_test && ! python3 -m pip --version >/dev/null 2>&1; then
  wanted+=(python3 python3-pip)
fi

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

# --- Python packages: crates/caret-relay/tests/interop.rs pairs with a phone written in Python ---
python_packages=(spake2==0.9 websockets==15.0.1)
if $want_test && ! python3 -c 'import importlib.metadata as m, sys
sys.exit(m.version("spake2") != "0.9" or m.version("websockets") != "15.0.1")' 2>/dev/null; then
  say "installing Python packages: ${python_packages[*]}"
  pip_flags=(--quiet --disable-pip-version-check --root-user-action=ignore)
  # Debian's own python3 refuses pip installs into it (PEP 668): install for this user instead.
  if python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    pip_flags+=(--user --break-system-packages)
  fi
  python3 -m pip install "${pip_flags[@]}" "${python_packages[@]}"
fi

# --- tauri-driver: the WebDriver bridge the window tests use (WebKitWebDriver underneath) ---
if $want_test && ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver (cargo install, about 30 s)"
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi

# --- cargo-deny: the test command checks the dependency tree's licences, duplicates and sources with it ---
if $want_test && ! cargo deny --version 2>/dev/null | grep -qx 'cargo-deny 0.20.2'; then
  say "installing cargo-deny (cargo install, about 2 min)"
  cargo install cargo-deny --locked --version 0.20.2 --no-default-features --quiet
fi

# --- UI packages (exactly the lockfile's) ---
if [[ ! -f ui/node_modules/.package-lock.json || ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
  say "installing UI packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
say "ready"
