"""One model tower behind one small interface, with two backends.

- torch: sentence-transformers, by hub name (downloaded and cached) or local folder — development, GPUs.
- onnx: an export made by ``packaging/export_onnx.py`` (ONNX Runtime, CPU) — the packaged app, which ships no torch.

A folder holding ``imgsearch-onnx.json`` is an ONNX export; a hub name with an export of it in a models folder
(the bundle's ``models/`` or ``IMGSEARCH_MODEL_DIR``) uses that export, so a packaged app starts without a download.
"""

from __future__ import annotations

from pathlib import Path

from imgsearch_desktop.core.encoders.base import (
    MANIFEST,
    Encoder,
    find_export,
    model_dirs,
    normalise,
    read_manifest,
)
from imgsearch_desktop.errors import ModelNotFound

__all__ = ["MANIFEST", "Encoder", "cannot_run", "find_export", "model_dirs", "normalise", "open_encoder",
           "read_manifest"]


def open_encoder(name_or_path: str, kind: str, device: str = "auto") -> Encoder:
    """The encoder for ``kind`` from a hub name, a sentence-transformers folder or an ONNX export folder."""
    local = Path(name_or_path).expanduser()
    manifest = read_manifest(local)
    export = (local, manifest) if manifest is not None else find_export(name_or_path, kind)
    if export is not None:
        from imgsearch_desktop.core.encoders.onnx_backend import open_onnx

        return open_onnx(*export, kind, device)
    try:  # the lean packaged app has no torch stack: it runs ONNX exports only
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise ModelNotFound(cannot_run(name_or_path, kind)) from None
    from imgsearch_desktop.core.encoders.torch_backend import TorchEncoder

    return TorchEncoder(name_or_path, device)


def cannot_run(name_or_path: str, kind: str) -> str:
    """One sentence for a build without torch given a model it has no ONNX export of: what to do instead."""
    exports = sorted({m["source"] for root in model_dirs() if root.is_dir() for folder in root.glob("*")
                      if (m := read_manifest(folder)) and m.get("kind") == kind and m.get("source")})
    use = f"use the bundled {kind} model ({', '.join(exports)}), or " if exports else ""
    return (f"This build runs only ONNX exports of models and has none of the {kind} model {name_or_path!r}: "
            f"{use}export that model with packaging/export_onnx.py from the source tree and set the {kind} model "
            f"to the export's folder.")
