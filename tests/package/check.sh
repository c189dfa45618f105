#!/usr/bin/env bash
# The Linux packages as a person meets them: builds the .deb and the .rpm (scripts/package.sh --debug), installs
# the .deb for real with apt, checks the installed files and validates the desktop entry and the AppStream
# metainfo, starts the installed `caret-desktop --headless` with a throwaway home and asks it for its status
# with the installed CLI, then removes the package and checks nothing of it is left. The .rpm is checked by its
# file list (installing it needs an rpm-based system). Needs root or password-less sudo (CI runs as root).
#   bash tests/package/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1mpackage:\033[0m %s\n' "$*" >&2; }
fail() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "installing the .deb needs root or password-less sudo"
fi

# Whatever happens, nothing of the test stays: the app stopped, the package removed, the throwaway home gone.
app=""
home=""
installed_by_us=false
clean_up() {
  [[ -n $app ]] && kill -TERM "$app" 2>/dev/null && wait "$app" 2>/dev/null
  [[ -n $home ]] && rm -rf "$home"
  if $installed_by_us && dpkg -s caret-desktop >/dev/null 2>&1; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq caret-desktop >/dev/null 2>&1
  fi
  return 0
}
trap clean_up EXIT

bash scripts/package.sh --debug
deb=$(ls target/packages/caret-desktop_*_amd64.deb)
rpm_file=$(ls target/packages/caret-desktop-*.x86_64.rpm)

# Every file a desktop needs, in both packages.
expected=(
  /usr/bin/caret-desktop
  /usr/bin/caret-phone
  /usr/share/applications/caret-desktop.desktop
  /usr/share/applications/app.caret.desktop.desktop
  /usr/share/metainfo/app.caret.desktop.metainfo.xml
  /usr/share/icons/hicolor/scalable/apps/caret-desktop.svg
  /usr/share/doc/caret-desktop/copyright
  /usr/share/doc/caret-desktop/LICENSE-MIT
  /usr/share/doc/caret-desktop/LICENSE-APACHE
)
for size in 16 22 24 32 48 64 128 256 512; do
  expected+=("/usr/share/icons/hicolor/${size}x${size}/apps/caret-desktop.png")
done
deb_files=$(dpkg-deb --contents "$deb" | awk '{print $NF}' | sed -E 's|^\.?/?|/|')
rpm_files=$(rpm -qlp "$rpm_file" 2>/dev/null)
for path in "${expected[@]}"; do
  grep -qxF "$path" <<<"$deb_files" || fail "the .deb lacks $path; it has:
$deb_files"
  grep -qxF "$path" <<<"$rpm_files" || fail "the .rpm lacks $path; it has:
$rpm_files"
done
depends=$(dpkg-deb --field "$deb" Depends)
for needed in libwebkit2gtk-4.1-0 libgtk-3-0 libpipewire-0.3-0; do
  grep -q "$needed" <<<"$depends" || fail "the .deb does not depend on $needed: $depends"
done
say "both packages hold the ${#expected[@]} files; the .deb depends on: $depends"

say "installing $deb"
installed_by_us=true
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
installed=$(dpkg -L caret-desktop)
for path in "${expected[@]}"; do
  [[ -e $path ]] || fail "$path is not installed"
done
[[ -x /usr/bin/caret-desktop && -x /usr/bin/caret-phone ]] || fail "the binaries are not executable"
desktop-file-validate /usr/share/applications/caret-desktop.desktop || fail "desktop-file-validate"
grep -qx 'Exec=caret-desktop' /usr/share/applications/caret-desktop.desktop ||
  fail "the desktop entry does not start the installed binary: $(grep '^Exec=' /usr/share/applications/caret-desktop.desktop)"
appstreamcli validate --no-net /usr/share/metainfo/app.caret.desktop.metainfo.xml || fail "appstreamcli validate"
# On Wayland the app registers with the desktop's portal under this id, and the portal wants a desktop entry of
# that basename (src-tauri/src/portal_shortcut.rs): the id in the code, the AppStream id and the entry agree.
portal_app_id=$(sed -nE 's/^pub const PORTAL_APP_ID: &str = "([^"]+)";/\1/p' src-tauri/src/portal_shortcut.rs)
[[ $portal_app_id == app.caret.desktop ]] || fail "the portal app id in the code is '$portal_app_id'"
grep -q "<id>$portal_app_id</id>" /usr/share/metainfo/app.caret.desktop.metainfo.xml ||
  fail "the AppStream id is not the portal app id $portal_app_id"
desktop-file-validate "/usr/share/applications/$portal_app_id.desktop" || fail "desktop-file-validate $portal_app_id"
grep -qx 'NoDisplay=true' "/usr/share/applications/$portal_app_id.desktop" ||
  fail "the portal's desktop entry would show in menus next to caret-desktop.desktop"
/usr/bin/caret-phone --help >/dev/null || fail "the installed caret-phone does not run"
say "installed; the desktop entry and the metainfo validate"

# The installed app, headless, in a throwaway home (its own data, config and runtime directories).
home=$(mktemp -d)
log="$home/app.log"
# An array, not a function: started in the background, `env` execs the app, so $! is the app itself.
in_home=(env -i PATH=/usr/bin:/bin HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share"
  XDG_RUNTIME_DIR="$home/run" CARET_RELAY_LOOPBACK=1 CARET_RELAY_PORT=0)
mkdir -p "$home/run"
chmod 700 "$home/run"
"${in_home[@]}" /usr/bin/caret-desktop --headless >"$log" 2>&1 &
app=$!
status=""
for _ in $(seq 1 100); do
  if status=$("${in_home[@]}" /usr/bin/caret-desktop status 2>&1); then
    break
  fi
  kill -0 "$app" 2>/dev/null || fail "the installed app exited; its log:
$(cat "$log")"
  sleep 0.2
done
[[ -n $status ]] && "${in_home[@]}" /usr/bin/caret-desktop status >/dev/null 2>&1 ||
  fail "the installed app never answered caret-desktop status: $status; its log:
$(cat "$log")"
kill -TERM "$app"
stopped=0
wait "$app" || stopped=$?
app=""
((stopped == 0)) || fail "the installed app did not stop cleanly on SIGTERM (exit $stopped); its log:
$(cat "$log")"
[[ -n $(find "$home/.local/share" -name '*.db' -print -quit) ]] ||
  fail "the installed app kept no database in the throwaway home"
say "the installed app started headless, answered: $(head -1 <<<"$status")"
rm -rf "$home"
home=""

say "removing the package"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq caret-desktop >/dev/null
dpkg -s caret-desktop >/dev/null 2>&1 && fail "caret-desktop is still installed"
while read -r path; do
  [[ -f $path ]] && fail "$path is left after removing the package"
done <<<"$installed"
say "removed; none of its files are left"
