#!/usr/bin/env bash
# The packaged app as a user runs it: from another directory, with no Python on PATH and no development tree.
#
#   packaging/smoke_test.sh [dist/lean/imgsearch-desktop [lean|full]]
#
# Elasticsearch: $IMGSEARCH_ES_URL when set; otherwise the bundle installs and starts its own managed node (from
# $ES_ARCHIVE, default: the archive the tests cached, else Maven) and stops it at the end. Models: the bundle's.
set -euo pipefail
app=$(realpath "${1:-dist/lean/imgsearch-desktop}")
flavor=${2:-lean}
exe=$app/imgsearch-desktop
internal=$app/_internal
[ -x "$exe" ] || { echo "smoke: no executable at $exe (run packaging/build.sh)" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work"  # the managed node may run as an unprivileged user
started=0
cleanup() {
  [ "$started" = 1 ] && run es stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A user's environment: the app's own home, no virtualenv, no PYTHONPATH, a plain PATH.
run() {
  (cd "$work" && env -u PYTHONPATH -u VIRTUAL_ENV -u PYTHONHOME PATH=/usr/local/bin:/usr/bin:/bin \
    IMGSEARCH_HOME="$work/home" QT_QPA_PLATFORM=offscreen "$exe" "$@")
}
manifest_source() { sed -n 's/.*"source": "\(.*\)".*/\1/p' "$internal/resources/models/$1/imgsearch-onnx.json"; }

echo "smoke: $(run --version)"
for heavy in torch transformers sentence_transformers nvidia triton; do
  if [ "$flavor" = lean ] && [ -e "$internal/$heavy" ]; then echo "smoke: FAIL: $heavy in the lean bundle" >&2; exit 1; fi
done
if [ -d "$internal/resources/models" ]; then  # select the bundled models by their source names
  export IMGSEARCH_IMAGE_MODEL IMGSEARCH_TEXT_MODEL
  IMGSEARCH_IMAGE_MODEL=$(manifest_source image) IMGSEARCH_TEXT_MODEL=$(manifest_source text)
fi

if [ -z "${IMGSEARCH_ES_URL:-}" ]; then
  archive=${ES_ARCHIVE:-$HOME/.cache/imgsearch-desktop/downloads/elasticsearch-8.19.7.zip}
  if [ -f "$archive" ]; then run es install --from "$archive"; fi
  started=1
  run es start | tail -1 >/dev/null
fi

t0=$(date +%s)
run self-test > "$work/self-test.log"
sed 's/^/smoke: /' "$work/self-test.log"
echo "smoke: self-test took $(( $(date +%s) - t0 )) s"
grep -q "HEIC (round trip .* ok)" "$work/self-test.log" && grep -q "camera-raw.dng .* ok" "$work/self-test.log" \
  || { echo "smoke: FAIL: HEIC or camera RAW does not work in this bundle" >&2; exit 1; }

# The window: starts offscreen and keeps running (killed after 20 s) instead of crashing.
set +e
(cd "$work" && env -u PYTHONPATH PATH=/usr/bin:/bin IMGSEARCH_HOME="$work/home" QT_QPA_PLATFORM=offscreen \
  timeout 20 "$exe" > "$work/gui.log" 2>&1)
rc=$?
set -e
if [ "$rc" != 124 ] || grep -q Traceback "$work/gui.log"; then
  echo "smoke: FAIL: the window exited with $rc:" >&2; cat "$work/gui.log" >&2; exit 1
fi
echo "smoke: window ran 20 s offscreen without an error"
# The menu entry: installed for this (throwaway) user with an Exec line naming this bundle.
XDG_DATA_HOME=$work/xdg "$app/install.sh" >/dev/null
entry=$work/xdg/applications/imgsearch-desktop.desktop
grep -qx "Exec=\"$app/imgsearch-desktop\" %F" "$entry" && grep -q "^MimeType=image/jpeg;" "$entry" \
  || { echo "smoke: FAIL: bad menu entry:" >&2; cat "$entry" >&2; exit 1; }
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
echo "smoke: menu entry ok ($(grep ^Exec= "$entry"))"
echo "smoke: passed"
