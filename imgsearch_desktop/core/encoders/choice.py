"""Which backend runs the two towers: torch, or an int8 ONNX export this computer made once from the weights on disk.

``auto`` (the default) runs int8 on a CPU where it agrees with torch to cosine ≥ ``AGREEMENT`` on a fixed set of
probe photos and sentences (about 3× torch's rate: README, Backends), and torch on a GPU. The agreement is measured
once on this CPU and kept in the export's manifest with the CPU's model and flags (ONNX Runtime picks its int8
kernels by CPUID, so another CPU can give other vectors: the disk moved to a new computer, a VM on another host);
a manifest naming another CPU is checked again before use. Each tower is decided on its own. int8 vectors are their
own model (``model_id`` "…+int8"): the index for them is a new one, filled by the model-change re-embed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from imgsearch_desktop.core.encoders.base import MANIFEST, read_manifest
from imgsearch_desktop.core.progress import Progress, no_progress

BACKENDS = ("auto", "torch", "onnx-int8")
AGREEMENT = 0.999  # the least cosine between an int8 vector and torch's, over every probe, for int8 to be used
log = logging.getLogger(__name__)
PROBE_SIZES = [(320, 240), (240, 320), (224, 224), (1000, 160), (48, 64)]  # aspect ratios the crop must get right
PROBE_TEXTS = ["a dog running on the beach", "un chat noir dort sur le canapé",
               "ein Hund am Strand bei Sonnenuntergang", "夕日の海辺", "snow-covered mountains above a lake",
               "una fiesta de cumpleaños con globos"]


@dataclass(frozen=True)
class Choice:
    """What each tower loads (a model name, or an export folder) and why, for the status line and the log."""

    image: str
    text: str
    why: str = ""


def cpu_identity() -> dict:
    """This CPU's model name and feature flags (what ONNX Runtime's kernel choice depends on)."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model in (platform.processor(), platform.machine()):
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = value
    except OSError:  # not Linux: the model name is what there is
        pass
    return {"model": model, "machine": platform.machine(), "flags": sorted(set(flags.split()))}


def has_gpu(device: str) -> bool:
    """Whether torch would run on a GPU here; asks torch only where a GPU driver is present (importing torch
    costs a second or two that a CPU-only start need not pay)."""
    if device in ("cuda", "mps"):
        return True
    if device == "cpu":
        return False
    likely = os.path.exists("/proc/driver/nvidia/version") or (sys.platform == "darwin"
                                                                and platform.machine() == "arm64")
    if not likely:
        return False
    from imgsearch_desktop.core.encoders.torch_backend import pick_device

    return pick_device("auto") != "cpu"


EXPORTER = ("onnx", "onnxscript", "sentence_transformers", "torch", "imgsearch_desktop.devtools.onnx_export")


def can_export() -> bool:
    """The installed app can export (torch and the onnx exporter present); a packaged app cannot (its bundle
    leaves the exporter out). Looked up, not imported: importing torch and sentence-transformers only to ask
    kept them in the window's memory on every start, also when the exports were made long ago and ONNX Runtime
    runs them (benchmarks/memory.py measures it)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in EXPORTER)
    except (ImportError, ValueError):  # a parent package that cannot be imported, a module without a spec
        return False


def export_folder(root: Path, name: str, kind: str) -> Path:
    """Where the int8 export of model ``name`` lives: one folder per (kind, model, recipe)."""
    from imgsearch_desktop.devtools.onnx_export import INT8_RECIPE

    slug = re.sub(r"[^a-z0-9]+", "-", os.path.basename(name.rstrip("/")).lower()).strip("-")[:40]
    tag = hashlib.sha256(f"{kind}\0{name}\0{INT8_RECIPE}".encode()).hexdigest()[:10]
    return root / f"{kind}-{slug}-{tag}"


def choose(image_model: str, text_model: str, backend: str, device: str, root: Path | None,
           progress: Progress = no_progress) -> Choice:
    """What the towers load for the ``backend`` setting; exports (once) and checks (once per CPU) as needed."""
    given = Choice(image_model, text_model)
    if backend == "torch" or root is None:
        return Choice(image_model, text_model, "torch: the backend setting")
    if any(read_manifest(Path(n).expanduser()) for n in (image_model, text_model)):
        return Choice(image_model, text_model, "the models set are ONNX exports")
    if backend == "auto" and has_gpu(device):
        return Choice(image_model, text_model, "torch: a GPU")
    if not can_export():
        return given  # the packaged app: its bundled exports (encoders.find_export)
    picked, whys = {}, []
    jobs = [("image", image_model), ("text", text_model)]
    for step, (kind, name) in enumerate(jobs):
        folder = export_folder(root, name, kind)
        try:
            manifest = prepared(name, kind, folder, _step(progress, step, len(jobs)))
        except Exception as exc:  # the exporter's and ONNX Runtime's own errors: torch runs this model anyway
            log.warning("no int8 export of %s: %s", name, exc)
            manifest = None
        if manifest is None:  # cancelled, or the model cannot be exported
            picked[kind] = name
            whys.append(f"{kind}: torch (no int8 export)")
            continue
        agreed = float(manifest["agreement"]["min_cosine"])
        use = backend == "onnx-int8" or agreed >= AGREEMENT
        picked[kind] = str(folder) if use else name
        whys.append(f"{kind}: {'int8' if use else 'torch'} (int8 agrees with torch to {agreed:.5f} on this CPU)")
    return Choice(picked["image"], picked["text"], "; ".join(whys))


def _step(progress: Progress, step: int, steps: int) -> Progress:
    """One tower's progress (3 stages: export, quantise, check) as part of the whole job's."""
    return lambda done, total, note: progress(step * total + done, steps * total, note)


def prepared(name: str, kind: str, folder: Path, progress: Progress = no_progress) -> dict | None:
    """The int8 export's manifest with this CPU's agreement in it: exported if missing, checked if it names another
    CPU (or none). None if the job was cancelled (nothing half-made is left behind)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("quantization") != "int8" or manifest.get("source") != name:
        if not progress(0, 3, f"Making the fast {kind} model for this computer (once)…"):
            return None
        manifest = _export(name, kind, folder, progress)
        if manifest is None:
            return None
    if manifest.get("agreement", {}).get("cpu") != cpu_identity():
        if not progress(2, 3, f"Checking the fast {kind} model against the original on this CPU…"):
            return None
        manifest = {**manifest, "agreement": measure(name, kind, folder)}
        _write(folder, manifest)
    progress(3, 3, f"The {kind} model is ready")
    return manifest


def _export(name: str, kind: str, folder: Path, progress: Progress) -> dict | None:
    from imgsearch_desktop.devtools.onnx_export import export_image, export_text, quantize_int8

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (export_image if kind == "image" else export_text)(name, partial)
    if not progress(1, 3, f"Making the fast {kind} model for this computer (once): int8…"):
        shutil.rmtree(partial, ignore_errors=True)
        return None
    quantize_int8(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # whole or not at all: a stopped export is made again next time
    return read_manifest(folder)


def _write(folder: Path, manifest: dict) -> None:
    temp = folder / (MANIFEST + ".tmp")
    temp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temp.replace(folder / MANIFEST)


def measure(name: str, kind: str, folder: Path) -> dict:
    """The int8 export against the torch model on this CPU: the least cosine over the probes."""
    from imgsearch_desktop.core.encoders.onnx_backend import open_onnx
    from imgsearch_desktop.core.encoders.torch_backend import TorchEncoder

    probes = probe_images() if kind == "image" else PROBE_TEXTS
    reference = TorchEncoder(name, "cpu").encode(probes, 8)
    record = {"cpu": cpu_identity(), "probes": len(probes),
              "checked_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        fast = open_onnx(folder, read_manifest(folder) or {}, kind, "cpu").encode(probes, 8)
        cosines = (reference * fast).sum(axis=1)  # a broken export's other shape raises here
    except Exception as exc:  # ONNX Runtime's own error types: a damaged export fails the check, not the start
        return {**record, "min_cosine": -1.0, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {**record, "min_cosine": round(float(cosines.min()), 6)}


def probe_images() -> list:
    """The bundled sample photos (real content) and smooth synthetic pictures of several shapes."""
    from PIL import Image

    from imgsearch_desktop.core import images
    from imgsearch_desktop.frozen import resource_dir

    out = []
    for path in sorted((resource_dir() / "samples").glob("*.jpg")):
        try:
            out.append(images.load_file(path, 448).loaded.image)
        except images.ImageSkipped:
            continue
    rng = np.random.default_rng(7)
    for width, height in PROBE_SIZES:
        y, x = np.mgrid[0:height, 0:width] / max(width, height)
        base = np.stack([np.sin(x * rng.uniform(2, 9) + c) + np.cos(y * rng.uniform(2, 9) - c) for c in range(3)], -1)
        noisy = base * 60 + 128 + rng.normal(0, 12, base.shape)
        out.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB"))
    return out
