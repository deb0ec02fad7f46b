"""What every encoder backend shares: the ``Encoder`` protocol, unit-normalising, and where ONNX exports live."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from imgsearch_desktop.frozen import resource_dir

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
