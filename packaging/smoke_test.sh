#!/usr/bin/env bash
# The packaged app as a user runs it on an ordinary computer: from another directory, offline, with no Java, Maven
# or Python on the PATH, a fresh home and nothing of the development tree.
#
#   packaging/smoke_test.sh [dist/lean/imgsearch-desktop [lean|full]]
#
# Offline: as root the checks run in a network namespace of their own (`unshare -n`: loopback only). Elasticsearch:
# the bundle's own engine (`es start` installs it from the bundle), unless $IMGSEARCH_ES_URL names a node (then
# with the network). Models: the bundle's. Steps: --version, no torch inside, es start, self-test (models, samples,
# HEIC, RAW), index, search (image, text), a model the bundle cannot run (exit 4, one sentence), the window for
# 20 s, es stop, the menu entry.
set -euo pipefail
app=$(realpath "${1:-dist/lean/imgsearch-desktop}")
flavor=${2:-lean}
exe=$app/imgsearch-desktop
internal=$app/_internal
[ -x "$exe" ] || { echo "smoke: no executable at $exe (run packaging/build.sh)" >&2; exit 2; }

# Offline: re-run this script in a network namespace with only loopback (root only; others keep the network).
if [ -z "${SMOKE_IN_NETNS:-}" ] && [ -z "${IMGSEARCH_ES_URL:-}" ] && [ "$(id -u)" = 0 ]; then
  exec unshare --net env SMOKE_IN_NETNS=1 bash "$0" "$@"
fi
if [ -n "${SMOKE_IN_NETNS:-}" ]; then
  ip link set lo up
  echo "smoke: offline (own network namespace: $(ip -brief link | awk '{print $1}' | paste -sd, -))"
else
  echo "smoke: with the network (not root, or IMGSEARCH_ES_URL given)"
fi

work=$(mktemp -d)
chmod 755 "$work"  # the managed node may run as an unprivileged user
started=0
cleanup() {
  [ "$started" = 1 ] && run es stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A PATH with the system's tools but no java, javac & co., mvn or python: links to everything else.
mkdir "$work/bin"
for dir in /usr/local/bin /usr/bin /bin /usr/local/sbin /usr/sbin /sbin; do
  for tool in "$dir"/*; do
    name=${tool##*/}
    case "$name" in *java*|*python*|mvn*|pip*|pydoc*) continue ;; esac
    case "$(realpath "$tool" 2>/dev/null)" in /usr/lib/jvm/*|*/python*) continue ;; esac
    [ -e "$work/bin/$name" ] || ln -s "$tool" "$work/bin/$name"
  done
done
for absent in java mvn python3 python; do
  if PATH=$work/bin command -v "$absent" >/dev/null; then echo "smoke: FAIL: $absent on the test PATH" >&2; exit 1; fi
done

# A user's environment: a fresh home, no virtualenv, no PYTHONPATH, no Java settings, that PATH. As root the node's
# directories go under the test's own root-owned dir, removed with it.
run() {
  (cd "$work" && env -u PYTHONPATH -u VIRTUAL_ENV -u PYTHONHOME -u JAVA_HOME -u ES_JAVA_HOME PATH="$work/bin" \
    IMGSEARCH_HOME="$work/home" IMGSEARCH_ES_ROOT_BASE="$work/es-root" QT_QPA_PLATFORM=offscreen "$exe" "$@")
}
manifest_source() { sed -n 's/.*"source": "\(.*\)".*/\1/p' "$internal/resources/models/$1/imgsearch-onnx.json"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

echo "smoke: $(run --version)"
for heavy in torch transformers sentence_transformers nvidia triton; do
  if [ "$flavor" = lean ] && [ -e "$internal/$heavy" ]; then fail "$heavy in the lean bundle"; fi
done
if [ -d "$internal/resources/models" ]; then  # select the bundled models by their source names
  export IMGSEARCH_IMAGE_MODEL IMGSEARCH_TEXT_MODEL
  IMGSEARCH_IMAGE_MODEL=$(manifest_source image) IMGSEARCH_TEXT_MODEL=$(manifest_source text)
fi

if [ -z "${IMGSEARCH_ES_URL:-}" ]; then
  [ -d "$internal/resources/engine/java" ] || fail "no engine in the bundle (built with --no-engine?)"
  t0=$(date +%s)
  started=1
  url=$(run es start | tail -1)
  case "$url" in http://elastic@127.0.0.1:*) ;; *) fail "es start printed '$url', not the node's URL" ;; esac
  [ -n "$(run es password)" ] || fail "es password printed nothing after es start"
  echo "smoke: es start: the bundled engine installed and started in $(( $(date +%s) - t0 )) s ($(run es status | head -1))"
  home=$(ls -d "$work"/es-root/*/elasticsearch-* 2>/dev/null || ls -d "$work"/home/data/elasticsearch/elasticsearch-*)
  [ -x "$home/jdk/bin/java" ] || fail "the node's distribution has no bundled Java at $home/jdk"
fi

t0=$(date +%s)
run self-test > "$work/self-test.log"
sed 's/^/smoke: /' "$work/self-test.log"
echo "smoke: self-test took $(( $(date +%s) - t0 )) s"
grep -q "HEIC (round trip .* ok)" "$work/self-test.log" && grep -q "camera-raw.dng .* ok" "$work/self-test.log" \
  || fail "HEIC or camera RAW does not work in this bundle"
grep -q "analyses: faces (.*eyes open), text in photos (read 'PHOTO 2026')" "$work/self-test.log" \
  || fail "faces, the eyes of a burst's frames or text in photos do not work in this bundle"

# index → search: the bundled samples, found again by image (kNN on the engine) and by text.
mkdir "$work/photos"
cp "$internal"/resources/samples/*.jpg "$work/photos/"
run index "$work/photos" > "$work/index.log" 2>&1 || { cat "$work/index.log" >&2; fail "index"; }
echo "smoke: index: $(tail -1 "$work/index.log")"
query=$(ls "$work"/photos/*.jpg | head -1)
run search --image "$query" -k 3 --json > "$work/search.jsonl" || fail "search --image"
head -1 "$work/search.jsonl" | grep -q "\"path\": \"$query\"" || { cat "$work/search.jsonl" >&2; fail "the query photo is not its own first hit"; }
[ "$(run search --text "a photo" -k 2 --json | wc -l)" = 2 ] || fail "search --text"
echo "smoke: search: $(basename "$query") finds itself first ($(head -1 "$work/search.jsonl" | sed 's/.*"score": \([0-9.]*\).*/score \1/')); text search ok"

# A model the bundle cannot run (not bundled, torch absent): exit 4 and one plain sentence, no traceback.
set +e
IMGSEARCH_TEXT_MODEL=someone/a-model-not-bundled run search --text "a dog" > "$work/unusable.out" 2> "$work/unusable.err"
rc=$?
set -e
if [ "$rc" != 4 ] || grep -q Traceback "$work/unusable.err" || [ "$(wc -l < "$work/unusable.err")" != 1 ]; then
  cat "$work/unusable.err" >&2; fail "a model without an export: exit $rc (want 4 and one line)"
fi
echo "smoke: unusable model: exit 4: $(cat "$work/unusable.err")"

# The window: starts offscreen and keeps running (killed after 20 s) instead of crashing.
set +e
run_gui() { (cd "$work" && env -u PYTHONPATH -u JAVA_HOME -u ES_JAVA_HOME PATH="$work/bin" IMGSEARCH_HOME="$work/home" \
  IMGSEARCH_ES_ROOT_BASE="$work/es-root" QT_QPA_PLATFORM=offscreen timeout 20 "$exe" > "$work/gui.log" 2>&1); }
run_gui
rc=$?
set -e
if [ "$rc" != 124 ] || grep -q Traceback "$work/gui.log"; then
  echo "smoke: FAIL: the window exited with $rc:" >&2; cat "$work/gui.log" >&2; exit 1
fi
echo "smoke: window ran 20 s offscreen without an error"

if [ "$started" = 1 ]; then
  [ "$(run es stop)" = stopped ] || fail "es stop"
  started=0
  echo "smoke: es stop: stopped"
fi

# The menu entry: installed for this (throwaway) user with an Exec line naming this bundle. (A tree from the .deb
# has no install.sh: the package installs the entry system-wide; packaging/deb.sh --check checks that one.)
if [ ! -x "$app/install.sh" ]; then
  echo "smoke: no install.sh (a packaged tree: its menu entry is the package's)"
  echo "smoke: passed"
  exit 0
fi
XDG_DATA_HOME=$work/xdg "$app/install.sh" >/dev/null
entry=$work/xdg/applications/imgsearch-desktop.desktop
grep -qx "Exec=\"$app/imgsearch-desktop\" %F" "$entry" && grep -q "^MimeType=image/jpeg;" "$entry" \
  || { echo "smoke: FAIL: bad menu entry:" >&2; cat "$entry" >&2; exit 1; }
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
echo "smoke: menu entry ok ($(grep ^Exec= "$entry"))"
echo "smoke: passed"
