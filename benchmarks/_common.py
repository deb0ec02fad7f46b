"""What the benchmark scripts share: the cache, realistic photos, full-size random-init models and their ONNX
exports, the managed node, timing, and Markdown tables headed by the CPU they were measured on.

Every table names its CPU (model and the instruction-set flags that change the figures: AVX2, AVX-512, VNNI, AMX),
because int8 speed and even int8 results depend on them (imgsearch_desktop/devtools/onnx_export.py).
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from pathlib import Path

import numpy as np
import platformdirs
from PIL import Image

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.node import LocalNode
from imgsearch_desktop.devtools.random_models import build_clip, build_multilingual_text

CACHE = Path(platformdirs.user_cache_dir(APP_NAME)) / "bench"

# Flags that decide the speed and the int8 kernels (lscpu / /proc/cpuinfo names). avx_vnni is the VEX-encoded
# VNNI of CPUs without AVX-512 (Alder Lake and later); amx_* are the tile units of Sapphire Rapids and later.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
# The same features as this process's CPUID shows them (numpy reads CPUID at run time; /proc/cpuinfo shows the host
# even under an emulator such as qemu-user).
_NUMPY_NAMES = {"avx2": "AVX2", "avx512f": "AVX512F", "avx512_vnni": "AVX512VNNI"}


def cpu_info() -> tuple[str, dict[str, bool]]:
    """(model name, {flag: present}) for CPU_FLAGS; the flags numpy can see are taken from CPUID."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    model = model or platform.processor() or platform.machine()
    present = {flag: flag in flags for flag in CPU_FLAGS}
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as seen
    except ImportError:
        seen = {}
    emulated = any(name in seen and bool(seen[name]) != present[flag] for flag, name in _NUMPY_NAMES.items())
    for flag, name in _NUMPY_NAMES.items():
        if name in seen:
            present[flag] = bool(seen[name])
    if emulated:  # /proc/cpuinfo describes the host, not the CPU this process sees: trust only CPUID's flags
        model += " (emulated: CPUID differs from the host's /proc/cpuinfo)"
        present.update({flag: False for flag in CPU_FLAGS if flag not in _NUMPY_NAMES})
    return model, present


def cpu_line() -> str:
    """'CPU: <model>, 2 cores; avx2 avx512f avx512_vnni avx_vnni, no amx_tile …' for the head of a table."""
    model, present = cpu_info()
    have = " ".join(f for f in CPU_FLAGS if present[f]) or "none of avx2/avx512/vnni"
    lacks = ", ".join(f for f in CPU_FLAGS if not present[f])
    return f"CPU: {model}, {os.cpu_count()} cores; flags: {have}" + (f" (not: {lacks})" if lacks else "")


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], cpu: str | None = None) -> None:
    """A Markdown table (the README's tables come from these), headed by the CPU line it was measured on."""
    width = max(len(r[0]) for r in [header, *rows])
    print()
    print(cpu or cpu_line())
    print()
    print("| " + " | ".join([header[0].ljust(width), *header[1:]]) + " |")
    print(f"|{'-' * (width + 2)}|" + "---|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join([row[0].ljust(width), *row[1:]]) + " |")


def realistic_jpeg(path: Path, seed: int, size: tuple[int, int] = (4000, 3000)) -> None:
    """A 12 MP JPEG of ~4 MB: smooth scene + mid-frequency detail + sensor noise (decodes like a photo)."""
    rng = np.random.default_rng(seed)
    w, h = size
    scene = np.asarray(Image.fromarray(rng.uniform(0, 255, (12, 16, 3)).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    detail = np.asarray(Image.fromarray(rng.uniform(0, 255, (300, 400, 3)).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    pixels = 0.7 * scene + 0.3 * detail + rng.normal(0, 5, (h, w, 1)).astype(np.float32)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92)


def photo_folder(n: int) -> Path:
    folder = CACHE / "photos12mp"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"img{i:04d}.jpg"
        if not path.exists():
            realistic_jpeg(path, i)
    return folder


def subset(n: int, tag: str, first: int = 0) -> Path:
    """A folder of hard links to photos ``first`` … ``first + n - 1`` (fresh paths, so nothing is 'unchanged';
    different ``first`` ranges differ in content too, so no vector is reused between them)."""
    src = photo_folder(first + n)
    dest = CACHE / f"run-{tag}-{uuid.uuid4().hex[:6]}"
    dest.mkdir()
    for i in range(first, first + n):
        os.link(src / f"img{i:04d}.jpg", dest / f"img{i:04d}.jpg")
    return dest


def full_size_models() -> tuple[str, str]:
    clip = CACHE / "models" / "clip-vit-b-32-random"
    text = CACHE / "models" / "text-random-512"
    if not (clip / "modules.json").exists():
        build_clip(clip, full_size=True)
    if not (text / "modules.json").exists():
        build_multilingual_text(text, dims=512)
    return str(clip), str(text)


def node_url(given: str | None) -> str:
    """The node to benchmark against: ``--es-url``, else the benchmarks' own managed node (started if needed)."""
    return given or LocalNode(AppDirs.resolve(CACHE / "home")).start()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def onnx_export(clip: str, text: str, int8: bool, recipe: str | None = None) -> dict[str, Path]:
    """The models exported by packaging/export_onnx.py's code, cached (re-exported when the sources differ);
    int8 with the exporter's recipe unless one is named (devtools.onnx_export.INT8_RECIPES)."""
    from imgsearch_desktop.core.encoders import read_manifest
    from imgsearch_desktop.devtools.onnx_export import INT8_RECIPE, export_pair

    recipe = recipe or INT8_RECIPE
    out = CACHE / "models" / (f"onnx-int8-{recipe}" if int8 else "onnx-fp32")
    folders = {"image": out / "image", "text": out / "text"}
    manifests = [read_manifest(folders[kind]) or {} for kind in ("image", "text")]
    if [m.get("source") for m in manifests] != [clip, text] or \
            (int8 and any(m.get("int8_recipe", {}).get("name") != recipe for m in manifests)):
        export_pair(clip, text, out, int8=int8, recipe=recipe)
    return folders


def embedder_for(backend: str, clip: str, text: str, batch: int) -> Embedder:
    """torch (sentence-transformers, fp32) or onnx-fp32 / onnx-int8 (ONNX Runtime, the packaged app's)."""
    if backend == "torch":
        return Embedder(clip, text, device="cpu", batch_size=batch)
    folders = onnx_export(clip, text, int8=backend == "onnx-int8")
    return Embedder(str(folders["image"]), str(folders["text"]), device="cpu", batch_size=batch)
