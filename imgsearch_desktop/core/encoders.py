"""One model tower behind one small interface, with two backends.

- torch: sentence-transformers, by hub name (downloaded and cached) or local folder — development, GPUs.
- onnx: an export made by ``packaging/export_onnx.py`` (ONNX Runtime, CPU) — the packaged app, which ships no torch.

A folder holding ``imgsearch-onnx.json`` is an ONNX export; a hub name with an export of it in a models folder
(the bundle's ``models/`` or ``IMGSEARCH_MODEL_DIR``) uses that export, so a packaged app starts without a download.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from imgsearch_desktop.core.errors import ModelNotFound
from imgsearch_desktop.frozen import resource_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MANIFEST = "imgsearch-onnx.json"


class Encoder(Protocol):
    """A loaded tower: inputs (PIL images or strings) → (n, dims) float32 unit vectors."""

    backend: str
    device: str
    dims: int
    image_size: int  # the image tower's input resolution (0 for text)
    model_id: str  # what the index records as its model: the same for torch and an fp32 export of one model

    def encode(self, inputs: list, batch_size: int) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def model_dirs() -> list[Path]:
    """Folders that may hold ONNX exports: IMGSEARCH_MODEL_DIR (os.pathsep-separated), then resources/models
    (inside the packaged app: the bundled models)."""
    dirs = [Path(p).expanduser() for p in os.environ.get("IMGSEARCH_MODEL_DIR", "").split(os.pathsep) if p]
    return [*dirs, resource_dir() / "models"]


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_export(name: str, kind: str) -> tuple[Path, dict] | None:
    """An ONNX export (folder, manifest) of the model ``name`` (its source name) for ``kind`` in the model dirs."""
    for root in model_dirs():
        for folder in sorted(root.glob("*")) if root.is_dir() else []:
            manifest = read_manifest(folder)
            if manifest and manifest.get("kind") == kind and manifest.get("source") == name:
                return folder, manifest
    return None


def open_encoder(name_or_path: str, kind: str, device: str = "auto") -> Encoder:
    """The encoder for ``kind`` from a hub name, a sentence-transformers folder or an ONNX export folder."""
    local = Path(name_or_path).expanduser()
    manifest = read_manifest(local)
    export = (local, manifest) if manifest is not None else find_export(name_or_path, kind)
    if export is not None:
        from imgsearch_desktop.core.onnx_encoders import open_onnx

        return open_onnx(*export, kind, device)
    try:  # the lean packaged app has no torch stack: it runs ONNX exports only
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise ModelNotFound(cannot_run(name_or_path, kind)) from None
    return TorchEncoder(name_or_path, device)


def cannot_run(name_or_path: str, kind: str) -> str:
    """One sentence for a build without torch given a model it has no ONNX export of: what to do instead."""
    exports = sorted({m["source"] for root in model_dirs() if root.is_dir() for folder in root.glob("*")
                      if (m := read_manifest(folder)) and m.get("kind") == kind and m.get("source")})
    use = f"use the bundled {kind} model ({', '.join(exports)}), or " if exports else ""
    return (f"This build runs only ONNX exports of models and has none of the {kind} model {name_or_path!r}: "
            f"{use}export that model with packaging/export_onnx.py from the source tree and set the {kind} model "
            f"to the export's folder.")


def pick_device(preference: str = "auto") -> str:
    import torch

    if preference not in ("auto", ""):
        return preference
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_model(name_or_path: str, device: str) -> SentenceTransformer:
    """Load a sentence-transformers model by hub name or local folder; ModelNotFound with a clear message."""
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:  # the packaged app ships ONNX Runtime only
        raise ModelNotFound(f"{name_or_path!r} needs sentence-transformers and torch, which this build lacks "
                            f"({exc})") from None

    hf_logging.disable_progress_bar()  # "Loading weights" bars; hub downloads keep their own progress
    hf_logging.set_verbosity_error()
    local = Path(name_or_path).expanduser()
    looks_local = name_or_path.startswith((".", "/", "~")) or local.exists()
    if looks_local and not (local / "modules.json").exists():
        raise ModelNotFound(f"model folder not found or not a sentence-transformers model: {name_or_path}")
    source = str(local) if looks_local else name_or_path
    try:
        try:  # a hub name already in the local cache loads without touching the network
            model = SentenceTransformer(source, device=device, local_files_only=True)
        except (OSError, ValueError):
            if looks_local:
                raise
            model = SentenceTransformer(source, device=device)  # first run: download into the HF cache
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"could not load model {name_or_path!r}: {str(exc).splitlines()[0]}") from exc
    model.eval()
    return model


def _model_input_size(model: SentenceTransformer, default: int = 224) -> int:
    """The image tower's input resolution (the processor's crop size), so decoding can stop there."""
    first = model[0]
    processor = getattr(first, "processor", None) or getattr(first, "tokenizer", None)
    image_processor = getattr(processor, "image_processor", None)
    crop = getattr(image_processor, "crop_size", None)
    if isinstance(crop, dict) and crop.get("height"):
        return int(crop["height"])
    config = getattr(getattr(first, "model", None), "config", None)
    vision = getattr(config, "vision_config", None)
    return int(getattr(vision, "image_size", default))


class TorchEncoder:
    """sentence-transformers on torch (CPU, CUDA or MPS), float32."""

    backend = "torch"

    def __init__(self, name_or_path: str, device: str = "auto") -> None:
        self.model_id = name_or_path
        self.model = load_model(name_or_path, pick_device(device))
        self.device = str(self.model.device)
        self.dims = int(self.model.get_embedding_dimension())
        self.image_size = _model_input_size(self.model)

    def encode(self, inputs: Sequence, batch_size: int) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(list(inputs), batch_size=batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
