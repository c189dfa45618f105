#!/usr/bin/env bash
# Runs a command inside a throwaway desktop session: Xvfb, a D-Bus session bus, gnome-keyring (Secret
# Service, unlocked) and a notification daemon (dunst), with HOME and the XDG directories in a temporary
# folder. Everything is torn down when the command ends; the command's exit code is returned.
#
#   tests/harness/desktop-session.sh COMMAND [ARGS...]
#   tests/harness/desktop-session.sh --self-check      # start everything, check each service, stop
#
# Inside, these are set: DISPLAY, DBUS_SESSION_BUS_ADDRESS, HOME, XDG_{CONFIG,DATA,CACHE,RUNTIME}_HOME/DIR,
# CARET_HARNESS=1 and CARET_HARNESS_KEYRING_PASSWORD. Why each piece is needed: ../../docs/testing.md.
set -euo pipefail

if [[ "${1:-}" == "--inner" ]]; then
  shift
  # --- inside dbus-run-session: keyring and notifications, then the command ---
  # The keyring must be up and unlocked before anything touches the Secret Service: D-Bus activation would
  # otherwise start a daemon with no login keyring, and a later --unlock does not repair it. A non-empty
  # password, or the daemon asks a (non-existent) GUI prompt and every call fails.
  eval "$(printf '%s' "$CARET_HARNESS_KEYRING_PASSWORD" \
    | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
  export GNOME_KEYRING_CONTROL
  dunst >"$CARET_HARNESS_DIR/dunst.log" 2>&1 &
  dunst_pid=$!
  has_owner() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
  }
  for _ in $(seq 100); do
    has_owner org.freedesktop.Notifications && has_owner org.freedesktop.secrets && break
    sleep 0.1
  done
  has_owner org.freedesktop.secrets || { echo "harness: gnome-keyring did not start" >&2; exit 70; }
  has_owner org.freedesktop.Notifications || { echo "harness: dunst did not start" >&2; exit 70; }

  status=0
  if [[ "${1:-}" == "--self-check" ]]; then
    probe="harness-probe-$$"
    printf 'secret-%s' "$probe" | secret-tool store --label="harness probe" service "$probe" account probe
    [[ "$(secret-tool lookup service "$probe" account probe)" == "secret-$probe" ]] \
      || { echo "harness: keyring round trip failed" >&2; status=1; }
    secret-tool clear service "$probe" account probe
    xdotool getdisplaygeometry >/dev/null \
      || { echo "harness: X display unusable" >&2; status=1; }
    [[ $status == 0 ]] && echo "harness: Xvfb, D-Bus, gnome-keyring and dunst are up"
  else
    "$@" || status=$?
  fi
  kill "$dunst_pid" 2>/dev/null || true
  [[ -n "${GNOME_KEYRING_PID:-}" ]] && kill "$GNOME_KEYRING_PID" 2>/dev/null || true
  exit "$status"
fi

[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARGS...] | --self-check" >&2; exit 64; }
for tool in Xvfb dbus-run-session gnome-keyring-daemon dunst secret-tool xdotool; do
  command -v "$tool" >/dev/null || { echo "harness: $tool is missing; run scripts/setup.sh --test" >&2; exit 69; }
done

session_dir=$(mktemp -d "${TMPDIR:-/tmp}/caret-session.XXXXXX")
xvfb_pid=""
cleanup() {
  [[ -n "$xvfb_pid" ]] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
  rm -rf "$session_dir"
}
trap cleanup EXIT

# Tools keep working with a new HOME only if their own homes stay where they are.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export npm_config_cache="${npm_config_cache:-$HOME/.npm}"

# The app and WebKit write under HOME and the XDG directories: keep them out of the real ones.
export HOME="$session_dir/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$session_dir/run"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS WAYLAND_DISPLAY

# No real desktop portal on the test bus. Debian's xdg-desktop-portal is installed (WebKitGTK depends on its
# GTK backend) and the bus would start it for the first app that asks (WebKitGTK does); it would then hold
# org.freedesktop.portal.Desktop, which the portal tests must own themselves (tests/support/portal.rs), and what
# a test sees would depend on the tests before it. A service file in XDG_DATA_HOME comes before the system's, so
# this one wins: asking for the portal fails at once, as on a desktop without one.
mkdir -p "$XDG_DATA_HOME/dbus-1/services"
printf '[D-BUS Service]\nName=org.freedesktop.portal.Desktop\nExec=/bin/false\n' \
  >"$XDG_DATA_HOME/dbus-1/services/org.freedesktop.portal.Desktop.service"

# A free display number: the first without an X lock file.
display_number=""
for candidate in $(seq 90 190); do
  if [[ ! -e "/tmp/.X${candidate}-lock" && ! -e "/tmp/.X11-unix/X${candidate}" ]]; then
    display_number=$candidate
    break
  fi
done
[[ -n "$display_number" ]] || { echo "harness: no free X display in :90-:190" >&2; exit 70; }
Xvfb ":$display_number" -screen 0 1280x800x24 -nolisten tcp >"$session_dir/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do
  [[ -S "/tmp/.X11-unix/X$display_number" ]] && break
  kill -0 "$xvfb_pid" 2>/dev/null || { cat "$session_dir/xvfb.log" >&2; exit 70; }
  sleep 0.1
done
export DISPLAY=":$display_number"

export CARET_HARNESS=1 CARET_HARNESS_DIR="$session_dir"
export CARET_HARNESS_KEYRING_PASSWORD="harness-$$-$RANDOM"
status=0
dbus-run-session -- "$0" --inner "$@" || status=$?
exit "$status"
