#!/usr/bin/env bash
# Wrap a built bundle (packaging/build.sh) in a Debian package: the folder in /opt/imgsearch-desktop, the command
# /usr/bin/imgsearch-desktop (a link), the menu entry (with its MimeType list, for "Open with") and the icon.
#
#   packaging/deb.sh [dist/lean/imgsearch-desktop]          -> dist/imgsearch-desktop_VERSION_ARCH.deb
#   packaging/deb.sh --check dist/imgsearch-desktop_*.deb   what CI checks: dpkg-deb --info/--contents, then the
#                                                           extracted tree through packaging/smoke_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --check ]; then
  deb=$(realpath "$2")
  info=$(dpkg-deb --info "$deb")
  contents=$(dpkg-deb --contents "$deb")
  for field in "Package: imgsearch-desktop" "Architecture: $(dpkg --print-architecture)" "Depends: " "Installed-Size: "; do
    grep -q "^ $field" <<<"$info" || { echo "deb: FAIL: no '$field' in dpkg-deb --info:" >&2; echo "$info" >&2; exit 1; }
  done
  for path in ./opt/imgsearch-desktop/imgsearch-desktop ./opt/imgsearch-desktop/_internal/resources/engine/java/bin/java \
              ./usr/share/applications/imgsearch-desktop.desktop \
              ./usr/share/icons/hicolor/256x256/apps/imgsearch-desktop.png; do
    grep -q " $path\$" <<<"$contents" || { echo "deb: FAIL: $path not in the package" >&2; exit 1; }
  done
  grep -q " ./usr/bin/imgsearch-desktop -> /opt/imgsearch-desktop/imgsearch-desktop\$" <<<"$contents" \
    || { echo "deb: FAIL: /usr/bin/imgsearch-desktop is not a link to the bundle" >&2; exit 1; }
  unsafe=$(awk '$2 != "root/root" || ($1 !~ /^l/ && (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w"))' \
    <<<"$contents")
  [ -z "$unsafe" ] || { echo "deb: FAIL: entries not root's or writable by others:" >&2; head <<<"$unsafe" >&2; exit 1; }
  echo "deb: $(basename "$deb"): $(du -m "$deb" | cut -f1) MB, $(grep -c . <<<"$contents") entries," \
       "$(sed -n 's/^ Installed-Size: //p' <<<"$info") KiB installed"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  dpkg-deb -x "$deb" "$work/root"
  entry=$work/root/usr/share/applications/imgsearch-desktop.desktop
  grep -qx "Exec=imgsearch-desktop %F" "$entry" && grep -q "^MimeType=image/jpeg;" "$entry" \
    || { echo "deb: FAIL: bad menu entry:" >&2; cat "$entry" >&2; exit 1; }
  if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
  chmod 755 "$work"  # the smoke test's node may run as an unprivileged user: the tree must be reachable
  bash packaging/smoke_test.sh "$work/root/opt/imgsearch-desktop" lean
  exit 0
fi

app=$(realpath "${1:-dist/lean/imgsearch-desktop}")
[ -x "$app/imgsearch-desktop" ] || { echo "deb: no bundle at $app (run packaging/build.sh)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
arch=$(dpkg --print-architecture)
root=build/deb/root
rm -rf build/deb
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/256x256/apps"
cp -a "$app" "$root/opt/imgsearch-desktop"
rm -f "$root/opt/imgsearch-desktop/install.sh"  # the package installs the menu entry system-wide
ln -s /opt/imgsearch-desktop/imgsearch-desktop "$root/usr/bin/imgsearch-desktop"
cp resources/imgsearch-desktop.desktop "$root/usr/share/applications/"
cp resources/icons/imgsearch-desktop.png "$root/usr/share/icons/hicolor/256x256/apps/"
chmod -R u+rwX,go+rX,go-w "$root"
# What the bundle does not carry: the X11/EGL/font libraries Qt uses from the system (scripts/setup.sh's list).
cat > "$root/DEBIAN/control" <<EOF
Package: imgsearch-desktop
Version: $version
Architecture: $arch
Maintainer: imgsearch-desktop developers <imgsearch-desktop@localhost>
Section: graphics
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6, libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libdbus-1-3, libxcb-cursor0,
 libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-render-util0, libxcb-randr0, libxcb-shape0,
 libxcb-xinerama0, libxcb-xkb1
Description: find photos by similarity, on your own computer
 Drop a photo on the window, or describe it in any of 50+ languages, to find its duplicates, near-duplicates and
 similar shots. The photos are embedded with CLIP (ONNX Runtime) and kept in the app's own Elasticsearch node
 (bundled, with its Java), bound to loopback: nothing leaves the computer.
EOF
mkdir -p dist
rm -f dist/imgsearch-desktop_*.deb  # one package in dist/, the one just built
out=dist/imgsearch-desktop_${version}_${arch}.deb
# gzip by default (seconds; xz takes minutes for the ~470 MB tree): DEB_COMPRESSION=xz for a smaller download.
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-gzip}" --build "$root" "$out" >/dev/null
echo "deb: $out: $(du -m "$out" | cut -f1) MB"
