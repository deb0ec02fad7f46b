#!/usr/bin/env bash
# Build the packaged app from a clean checkout: dist/FLAVOR/imgsearch-desktop/ (one folder) + an archive of it.
#
#   packaging/build.sh [lean|full] [--models DIR | --export [--int8]] [--no-engine] [--no-archive] [--deb]
#                      [--smoke-test]
#
#   lean (default)  ONNX Runtime, Pillow (+HEIC, RAW), PySide6-Essentials: no torch, no sentence-transformers.
#   full            torch + sentence-transformers too (GPU capable; several GB: PyPI's Linux torch brings CUDA).
#   --models DIR    bundle ONNX exports made by packaging/export_onnx.py (DIR/image, DIR/text)
#   --export        export the configured models first (needs the development .venv and the models, e.g. in the
#                   Hugging Face cache); --int8 quantises them
#   --no-engine     leave the search engine out (by default the bundle carries the Elasticsearch distribution the
#                   app pins and a Java runtime jlinked for it: packaging/build_engine.py, needs a JDK with jlink)
#   --deb           also wrap the bundle in a Debian package (packaging/deb.sh): dist/imgsearch-desktop_VER_ARCH.deb
#   --smoke-test    run packaging/smoke_test.sh on the result
#
# Each flavour builds in its own virtualenv (build/venv-FLAVOR) with only what it bundles, so no package from the
# development environment leaks in. Every build uses the development .venv (make setup) for one step: building the
# face descriptor's ONNX model from dlib's file (the bundle's virtualenv has no onnx package). Python: $PYTHON or
# python3 (3.11+).
set -euo pipefail
cd "$(dirname "$0")/.."

flavor=lean models="" export=0 int8=0 engine=1 archive=1 deb=0 smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    lean|full) flavor=$1 ;;
    --models) models=$(realpath "$2"); shift ;;
    --export) export=1 ;;
    --int8) int8=1 ;;
    --no-engine) engine=0 ;;
    --no-archive) archive=0 ;;
    --deb) deb=1 ;;
    --smoke-test) smoke=1 ;;
    *) echo "usage: $0 [lean|full] [--models DIR | --export [--int8]] [--no-engine] [--no-archive] [--deb]" \
         "[--smoke-test]" >&2
       exit 2 ;;
  esac
  shift
done
start=$(date +%s)

if [ "$export" = 1 ]; then
  models=$PWD/build/models-$([ "$int8" = 1 ] && echo int8 || echo fp32)
  echo "build: exporting the models to $models"
  .venv/bin/python packaging/export_onnx.py --out "$models" $([ "$int8" = 1 ] && echo --int8)
fi
if [ -n "$models" ] && { [ ! -f "$models/image/imgsearch-onnx.json" ] || [ ! -f "$models/text/imgsearch-onnx.json" ]; }; then
  echo "build: $models does not hold image/ and text/ exports (packaging/export_onnx.py)" >&2; exit 2
fi

# dlib's face descriptor as the ONNX model the bundle runs (core/analyses/face_descriptor.py), built with the
# development .venv: the lean build's virtualenv has no onnx package
[ -x .venv/bin/python ] || { echo "build: no development .venv (run make setup first)" >&2; exit 2; }
.venv/bin/python -c 'import sys; from imgsearch_desktop.core.analyses.face_descriptor import write_onnx
print("build: face descriptor", write_onnx(sys.argv[1]))' build/face_models

engine_dir=""
if [ "$engine" = 1 ]; then  # Elasticsearch + a jlinked Java for it (reused while the archive and JDK are the same)
  engine_dir=$PWD/build/engine
  .venv/bin/python packaging/build_engine.py --out "$engine_dir"
fi

venv=build/venv-$flavor
stamp=$venv/.installed-$(sha256sum < pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "build: preparing $venv"
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  if [ "$flavor" = lean ]; then
    # The app's own dependencies minus the torch stack, plus ONNX Runtime and the tokenizers library.
    "$venv/bin/python" - > build/requirements-lean.txt <<'EOF'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
heavy = {"torch", "transformers", "sentence-transformers", "onnx", "onnxscript"}  # the exporter needs torch
for req in project["dependencies"] + project["optional-dependencies"]["formats"]:
    if re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0].lower() not in heavy:
        print(req)
print("tokenizers>=0.20")
EOF
    "$venv/bin/python" -m pip install -q -r build/requirements-lean.txt pyinstaller
    "$venv/bin/python" -m pip install -q --no-deps .  # for its metadata: the spec bundles the checkout's code
  else
    "$venv/bin/python" -m pip install -q ".[formats]" pyinstaller
  fi
  touch "$stamp"
fi
# Text in photos: RapidOCR without its opencv-python requirement (the GUI build; pyproject.toml says why), as
# scripts/setup.sh installs it; its requirements (opencv-python-headless, pyclipper, shapely) are the app's.
if ! "$venv/bin/python" -m pip show -q rapidocr-onnxruntime >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install -q --no-deps "rapidocr-onnxruntime==1.4.4"
fi

echo "build: PyInstaller ($flavor)"
rm -rf "dist/$flavor"
IMGSEARCH_BUNDLE_FLAVOR=$flavor IMGSEARCH_BUNDLE_MODELS=$models IMGSEARCH_BUNDLE_ENGINE=$engine_dir \
  "$venv/bin/pyinstaller" --noconfirm --log-level ERROR --distpath "dist/$flavor" \
  --workpath "build/pyinstaller-$flavor" packaging/imgsearch-desktop.spec

app=dist/$flavor/imgsearch-desktop
cp packaging/install.sh "$app/install.sh"  # menu entry + icon for "Open with"
models_mb=0 engine_mb=0
[ -d "$app/_internal/resources/models" ] && models_mb=$(du -sm "$app/_internal/resources/models" | cut -f1)
[ -d "$app/_internal/resources/engine" ] && engine_mb=$(du -sm "$app/_internal/resources/engine" | cut -f1)
total_mb=$(du -sm "$app" | cut -f1)
echo "build: $app: ${total_mb} MB ($((total_mb - models_mb - engine_mb)) MB app, ${engine_mb} MB search engine" \
  "(Elasticsearch + Java), ${models_mb} MB models)"

if [ "$archive" = 1 ]; then
  name=imgsearch-desktop-$flavor-$(uname -s | tr A-Z a-z)-$(uname -m).tar.gz
  tar -C "dist/$flavor" -czf "dist/$name" imgsearch-desktop
  echo "build: dist/$name: $(du -sm "dist/$name" | cut -f1) MB"
fi
if [ "$deb" = 1 ]; then
  bash packaging/deb.sh "$app"
fi
echo "build: done in $(( $(date +%s) - start )) s"
if [ "$smoke" = 1 ]; then
  bash packaging/smoke_test.sh "$app" "$flavor"
fi
