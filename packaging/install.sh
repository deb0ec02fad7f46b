#!/usr/bin/env bash
# Install (or --uninstall) the menu entry and icon for this unpacked imgsearch-desktop folder, for this user, so
# the app appears in the menu and in file managers' "Open with" for photos. Nothing is copied but those two files.
#
#   ./install.sh [--uninstall]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data/applications/imgsearch-desktop.desktop
icon=$data/icons/hicolor/256x256/apps/imgsearch-desktop.png

if [ "${1:-}" = --uninstall ]; then
  rm -f "$entry" "$icon"
  echo "removed $entry and $icon"
else
  [ -x "$here/imgsearch-desktop" ] || { echo "install.sh: run it from the unpacked imgsearch-desktop folder" >&2; exit 1; }
  mkdir -p "$(dirname "$entry")" "$(dirname "$icon")"
  cp "$here/_internal/resources/icons/imgsearch-desktop.png" "$icon"
  # Exec must name this folder's executable: it is not on PATH. Quoted, as the spec asks for paths with spaces.
  sed "s|^Exec=imgsearch-desktop |Exec=\"$here/imgsearch-desktop\" |" \
    "$here/_internal/resources/imgsearch-desktop.desktop" > "$entry.tmp"
  mv "$entry.tmp" "$entry"
  echo "installed $entry and $icon"
fi
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
