"""The two CLIP towers, through sentence-transformers: images (CLIP ViT-B/32) and text (multilingual, same space).

Images never go through the multilingual model. Models load by hub name (downloaded and cached) or from a local
folder, once, and are shared. Vectors come back float32 and L2-normalised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imgsearch_desktop.core.errors import ModelNotFound, UserError

if TYPE_CHECKING:
    from PIL import Image
    from sentence_transformers import SentenceTransformer

# Tests record the thread of every model call (the GUI must never embed on its main thread).
call_observers: list[Callable[[str], None]] = []


class ModelMismatch(UserError):
    pass


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
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

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


class Embedder:
    """Image and text encoders, loaded lazily and once; thread-safe (one model call at a time)."""

    def __init__(self, image_model: str, text_model: str, device: str = "auto", batch_size: int = 32) -> None:
        self.image_model_name = image_model
        self.text_model_name = text_model
        self.device_preference = device
        self.batch_size = batch_size
        self._image: SentenceTransformer | None = None
        self._text: SentenceTransformer | None = None
        self._lock = threading.RLock()
        # Queries go ahead of the next ingest batch: an ingest batch waits while a query is waiting.
        self._turn = threading.Condition(self._lock)
        self._queries_waiting = 0
        self._count_lock = threading.Lock()

    @property
    def device(self) -> str:
        return pick_device(self.device_preference)

    def image_model(self) -> SentenceTransformer:
        with self._lock:
            if self._image is None:
                self._image = load_model(self.image_model_name, self.device)
                self._check_pair()
            return self._image

    def text_model(self) -> SentenceTransformer:
        with self._lock:
            if self._text is None:
                self._text = load_model(self.text_model_name, self.device)
                self._check_pair()
            return self._text

    def load_both(self) -> None:
        self.image_model()
        self.text_model()

    def _check_pair(self) -> None:
        if self._image is None or self._text is None:
            return
        image_dims = self._image.get_embedding_dimension()
        text_dims = self._text.get_embedding_dimension()
        if image_dims != text_dims:
            raise ModelMismatch(
                f"the text model {self.text_model_name!r} gives {text_dims}-d vectors but the image model "
                f"{self.image_model_name!r} gives {image_dims}-d: pick a text model trained into the same space "
                f"(e.g. clip-ViT-B-32-multilingual-v1 for clip-ViT-B-32)")

    @property
    def dims(self) -> int:
        return int(self.image_model().get_embedding_dimension())

    @property
    def image_size(self) -> int:
        return _model_input_size(self.image_model())

    def encode_images(self, images: Sequence[Image.Image], priority: bool = False) -> np.ndarray:
        """PIL images (opened by our safe loader; never paths) → (n, dims) float32 unit vectors.

        ``priority`` marks an interactive query: it runs before the next ingest batch.
        """
        if not images:
            return np.zeros((0, self.dims), dtype=np.float32)
        return self._encode(self.image_model(), list(images), "image", priority)

    def encode_texts(self, texts: Sequence[str], priority: bool = False) -> np.ndarray:
        return self._encode(self.text_model(), list(texts), "text", priority)

    def _encode(self, model: SentenceTransformer, inputs: list, kind: str, priority: bool) -> np.ndarray:
        import torch

        for observer in call_observers:
            observer(kind)
        if priority:
            with self._count_lock:
                self._queries_waiting += 1
        try:
            with self._turn:
                while not priority and self._queries_waiting:
                    self._turn.wait(0.5)
                with torch.inference_mode():
                    vectors = model.encode(inputs, batch_size=self.batch_size, convert_to_numpy=True,
                                           normalize_embeddings=True, show_progress_bar=False)
        finally:
            if priority:
                with self._count_lock:
                    self._queries_waiting -= 1
            with self._turn:
                self._turn.notify_all()
        return np.asarray(vectors, dtype=np.float32)
