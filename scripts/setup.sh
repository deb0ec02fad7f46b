#!/usr/bin/env bash
# One-time (idempotent) setup: OS libraries, a virtualenv in .venv, the app and its dev tools.
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  openjdk-17-jre-headless maven                       # the local Elasticsearch node (and fetching it)
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core  # Qt, even offscreen
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1                     # a real window (xcb)
)
[ "${WITH_SCREENSHOT_TOOLS:-0}" = 1 ] && APT_PACKAGES+=(xvfb imagemagick)
# The int8 test runs the ONNX exports on an emulated x86-64 CPU without VNNI (qemu-user: AVX2 only).
[ "${WITH_TEST_TOOLS:-0}" = 1 ] && [ "$(uname -m)" = x86_64 ] && APT_PACKAGES+=(qemu-user)
# Real photographs for the window test that also makes the README's screenshot (Debian's wallpapers).
[ "${WITH_TEST_TOOLS:-0}" = 1 ] && APT_PACKAGES+=(mate-backgrounds)
# make bundle / bundle-check: jdeps and jlink cut the packaged engine's Java runtime from this JDK.
[ "${WITH_BUNDLE_TOOLS:-0}" = 1 ] && APT_PACKAGES+=(openjdk-17-jdk-headless)

missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing OS packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "setup: could not install ${missing[*]} — install them with your package manager" >&2; exit 1; }
fi

# Elasticsearch refuses to run as root: when root, the app runs the node as this unprivileged user.
if [ "$(id -u)" -eq 0 ] && ! id imgsearch-es >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin imgsearch-es
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages (the first time downloads torch: a few GB)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev,formats]"
  # Text in photos: RapidOCR without its opencv-python requirement (the GUI build; pyproject.toml says why):
  # opencv-python-headless and RapidOCR's other requirements come from pyproject.toml.
  .venv/bin/python -m pip install -q --no-deps "rapidocr-onnxruntime==1.4.4"
  if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then  # pulled in by something else: out
    .venv/bin/python -m pip uninstall -q -y opencv-python  # it shares cv2/ with the headless build: reinstall that
    .venv/bin/python -m pip install -q --force-reinstall --no-deps opencv-python-headless
  fi
  rm -f .venv/.installed-*; touch "$stamp"
fi
