"""The torch backend: sentence-transformers, by hub name (downloaded and cached) or local folder — development,
GPUs. Imported only when a model has no ONNX export (the lean packaged app ships no torch)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imgsearch_desktop.checks import DEVICES
from imgsearch_desktop.errors import DeviceUnavailable, ModelNotFound

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def pick_device(preference: str = "auto") -> str:
    """The torch device for ``preference``: "auto" takes a GPU when there is one; "cuda" or "mps" without that GPU
    is DeviceUnavailable (torch would fail later, deep in loading the model)."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if preference in ("auto", ""):
        return "cuda" if cuda else "mps" if mps else "cpu"
    missing = {"cuda": None if cuda else "no CUDA GPU", "mps": None if mps else "no Apple GPU (MPS)", "cpu": None}
    if preference not in missing:
        raise DeviceUnavailable(f"device {preference!r} is not one of {', '.join(DEVICES)}")
    if missing[preference]:
        raise DeviceUnavailable(f"device {preference!r} is not available here: torch finds {missing[preference]}; "
                                "use auto or cpu")
    return preference


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

    def between_layers(self, check: Callable[[], None]) -> bool:
        """Call ``check`` before each layer of the model's layer stacks (a transformer's blocks): a long batch
        can stop there for a query, which then runs on the same model (inference only, so calls do not share
        state) and the batch goes on where it stopped. False when the model has no such stack (no stop)."""
        import torch

        hooked = False
        for stack in self.model.modules():
            if isinstance(stack, torch.nn.ModuleList) and len(stack) > 1:
                for layer in stack:
                    layer.register_forward_pre_hook(lambda _module, _args: check())
                hooked = True
        return hooked

    def encode(self, inputs: Sequence, batch_size: int) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(list(inputs), batch_size=batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
