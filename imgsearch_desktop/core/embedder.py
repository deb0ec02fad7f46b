"""The two CLIP towers: images (CLIP ViT-B/32) and text (multilingual, same space), on torch or ONNX Runtime.

Images never go through the multilingual model. Each tower loads once, lazily, through ``encoders.open_encoder``
(hub name, sentence-transformers folder, or ONNX export) and is shared. Vectors come back float32, L2-normalised.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imgsearch_desktop.core.encoders import Encoder, open_encoder
from imgsearch_desktop.core.encoders.choice import Choice, choose
from imgsearch_desktop.core.progress import Progress, no_progress
from imgsearch_desktop.errors import UserError

if TYPE_CHECKING:
    from PIL import Image

PREEMPT_SLICE = 8  # the most images an ingest slice encodes before letting a waiting query go first
SLICE_BUDGET_S = 0.05  # an ingest slice is sized to take about this long: what a query waits at most for it
QUERY_PRECEDENCE_S = 10.0  # the longest an ingest slice or a decoder waits for queries before going on anyway


class ModelMismatch(UserError):
    pass


class Embedder:
    """Image and text encoders, loaded lazily and once; thread-safe (one model call at a time)."""

    def __init__(self, image_model: str, text_model: str, device: str = "auto", batch_size: int = 32,
                 backend: str = "torch", exports: Path | None = None, progress: Progress = no_progress) -> None:
        self.image_model_name = image_model
        self.text_model_name = text_model
        self.device_preference = device
        self.batch_size = batch_size
        self.backend_setting = backend  # auto | torch | onnx-int8 (encoders.choice)
        self.exports = exports  # where this computer's int8 exports are kept; None: the names as given
        self.choice: Choice | None = None
        self.progress = progress  # for an export the first load makes, when nobody called prepare first
        self._image: Encoder | None = None
        self._text: Encoder | None = None
        self._lock = threading.RLock()
        # Queries go ahead of the next ingest slice: an ingest slice waits while a query is waiting.
        self._turn = threading.Condition(self._lock)
        self._queries_waiting = 0
        self._count_lock = threading.Lock()
        self._queries_done = threading.Condition(self._count_lock)  # not the model lock: decoders must not wait on it
        self._per_image: dict[int, float] = {}  # id(encoder) → seconds an image takes it, from ingest slices
        self._interruptible: set[int] = set()  # id(encoder) of towers an ingest slice can stop in (torch)
        self._slice = threading.local()  # ``running`` on the thread whose ingest slice is in a model call

    def image_encoder(self) -> Encoder:
        # Once loaded, read without the lock: a query must not queue behind a running ingest slice.
        return self._image or self._load("image")

    def text_encoder(self) -> Encoder:
        return self._text or self._load("text")

    def prepare(self, progress: Progress | None = None) -> Choice:
        """Decide what the towers run, exporting and checking int8 once (``progress``: the job protocol's; the
        first load calls this with the embedder's own when nobody did before)."""
        with self._lock:
            if self.choice is None:
                self.choice = choose(self.image_model_name, self.text_model_name, self.backend_setting,
                                     self.device_preference, self.exports, progress or self.progress)
            return self.choice

    def _load(self, kind: str) -> Encoder:
        with self._lock:
            attr = f"_{kind}"
            if getattr(self, attr) is None:
                choice = self.prepare()
                encoder = open_encoder(choice.image if kind == "image" else choice.text, kind,
                                       self.device_preference)
                if hasattr(encoder, "between_layers") and encoder.between_layers(self._checkpoint):
                    self._interruptible.add(id(encoder))
                setattr(self, attr, encoder)
                self._check_pair()
            return getattr(self, attr)

    def load_both(self) -> None:
        self.image_encoder()
        self.text_encoder()

    def _check_pair(self) -> None:
        if self._image is None or self._text is None:
            return
        if self._image.dims != self._text.dims:
            raise ModelMismatch(
                f"the text model {self.text_model_name!r} gives {self._text.dims}-d vectors but the image model "
                f"{self.image_model_name!r} gives {self._image.dims}-d: pick a text model trained into the same "
                f"space (e.g. clip-ViT-B-32-multilingual-v1 for clip-ViT-B-32)")

    @property
    def dims(self) -> int:
        return self.image_encoder().dims

    @property
    def image_size(self) -> int:
        return self.image_encoder().image_size

    @property
    def model_id(self) -> str:
        """The index's model identity: the source model (an fp32 ONNX export shares its torch model's index)."""
        return self.image_encoder().model_id

    @property
    def device(self) -> str:
        return self.image_encoder().device

    @property
    def backend(self) -> str:
        return self.image_encoder().backend

    @contextlib.contextmanager
    def query(self) -> Iterator[None]:
        """A query from start (decoding its photo) to end: ingest slices and indexing's decoders wait meanwhile,
        so the two cores are the query's while someone waits for it."""
        end = self.foreground()
        try:
            yield
        finally:
            end()

    def foreground(self) -> Callable[[], None]:
        """Start a spell in which indexing waits as it does for a query, for work that outlives one call (the
        window painting a query's first screen of thumbnails); returns the function that ends it (only the first
        call counts)."""
        with self._count_lock:
            self._queries_waiting += 1
        ended = threading.Event()

        def end() -> None:
            if ended.is_set():
                return
            ended.set()
            with self._count_lock:
                self._queries_waiting -= 1
                self._queries_done.notify_all()
            # Never wait for the model lock here (the window's main thread ends spells): held, it belongs to a
            # slice that is running, not waiting, and a slice about to wait looks again within 0.1 s anyway.
            if self._lock.acquire(blocking=False):
                try:
                    self._turn.notify_all()
                finally:
                    self._lock.release()

        return end

    def yield_to_queries(self, timeout: float = QUERY_PRECEDENCE_S) -> None:
        """Indexing's decode threads call this before each photo: wait (bounded) while a query is in flight."""
        deadline = time.monotonic() + timeout
        with self._count_lock:
            while self._queries_waiting and time.monotonic() < deadline:
                self._queries_done.wait(0.1)

    def encode_images(self, images: Sequence[Image.Image], priority: bool = False) -> np.ndarray:
        """PIL images (opened by our safe loader; never paths) → (n, dims) float32 unit vectors.

        ``priority`` marks an interactive query: it runs before the next ingest batch.
        """
        if not images:
            return np.zeros((0, self.dims), dtype=np.float32)
        return self._encode(self.image_encoder(), list(images), priority)

    def encode_texts(self, texts: Sequence[str], priority: bool = False) -> np.ndarray:
        return self._encode(self.text_encoder(), list(texts), priority)

    def _checkpoint(self) -> None:
        """Between two layers of a model call: an ingest slice's stops here while a query waits (the query's own
        call, on its thread, goes through)."""
        if not getattr(self._slice, "running", False) or not self._queries_waiting:
            return
        # One deadline for the whole slice, not one per layer: a spell nobody ends holds a batch 10 s, not 10 s a
        # layer.
        self._wait_turn(self._slice.deadline)

    def _wait_turn(self, deadline: float) -> None:
        """An ingest slice (holding the model lock) waits while queries are waiting, until ``deadline``: waiting
        hands the lock to them."""
        while self._queries_waiting and time.monotonic() < deadline:
            self._turn.wait(0.1)

    def _slice_size(self, encoder: Encoder) -> int:
        """Images for the next ingest slice: a whole batch where a query can stop it between layers (torch: small
        slices ran one image a call, at a third of its batch rate); else one until the encoder's speed is known,
        then SLICE_BUDGET_S' worth."""
        if id(encoder) in self._interruptible:
            return self.batch_size
        per_image = self._per_image.get(id(encoder))
        return 1 if per_image is None else max(1, min(PREEMPT_SLICE, int(SLICE_BUDGET_S / max(per_image, 1e-6))))

    def _measured(self, encoder: Encoder, seconds: float) -> None:
        old = self._per_image.get(id(encoder))
        self._per_image[id(encoder)] = seconds if old is None else 0.7 * old + 0.3 * seconds  # smooth out a stall

    def _encode(self, encoder: Encoder, inputs: list, priority: bool) -> np.ndarray:
        if priority:
            with self.query(), self._turn:
                return encoder.encode(inputs, self.batch_size)
        # An ingest batch runs in slices, each taking its turn anew, so a query waits for one slice at most
        # (benchmarks/drop_to_grid.py: a whole batch of 32 held a dropped photo up for seconds while indexing).
        # A torch slice is a whole batch that stops between layers for a query (_checkpoint); an ONNX Runtime
        # call cannot be interrupted, so its slice is as many images as take SLICE_BUDGET_S (a few int8 ones):
        # its length is what a query arriving during it waits.
        parts, start = [], 0
        while start < len(inputs):
            with self._turn:
                deadline = time.monotonic() + QUERY_PRECEDENCE_S  # a spell nobody ends must not stop indexing
                self._wait_turn(deadline)
                size = self._slice_size(encoder)
                began = time.perf_counter()
                self._slice.running, self._slice.deadline = True, deadline
                try:
                    parts.append(encoder.encode(inputs[start:start + size], self.batch_size))
                finally:
                    self._slice.running = False
                self._measured(encoder, (time.perf_counter() - began) / size)
            start += size
        return np.concatenate(parts) if parts else np.zeros((0, encoder.dims), dtype=np.float32)
