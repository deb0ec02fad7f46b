"""The background pass that brings every photo up to the enabled analyses: photos that lack one at its version are read
again and decoded (a JPEG at the size the analyses start on, and a second time at the largest size one needs only
where it needs it: text found), analysed, and only those fields are written (a partial update: the vector and
everything else stay as they are). Resumable: what is done is recorded in each document (``analyses``), so a
cancelled or crashed pass picks up where it stopped. The next photos are read and decoded on a background thread
while the models work on this one (``decoded``): where the models leave a core free the decode is hidden (faces, a
12 MP photo without a face: 9.7 → 16 photos/s); the text detector keeps both cores busy, so there it gains little
(7.2 → 7.4), and the smaller first decode is what helps it (README, Text in photos)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from PIL import Image

from imgsearch_desktop.core import images
from imgsearch_desktop.core.ahead import ahead
from imgsearch_desktop.core.analyses import Analysis
from imgsearch_desktop.core.paths import readable_path
from imgsearch_desktop.core.progress import Progress, no_progress
from imgsearch_desktop.core.store import path_from_source
from imgsearch_desktop.core.vector_store import VectorStore

BATCH = 16  # photos per partial-update bulk request (and per progress report)
LOOKAHEAD = 2  # photos decoded ahead of the models (two 1440 × 1080 decodes: ~10 MB)
K = TypeVar("K")


@dataclass
class BackfillStats:
    analysed: int = 0
    skipped: int = 0  # unreadable now (gone, damaged): left for the indexer to sort out
    cancelled: bool = False
    seconds: float = 0.0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)


class Decoded:
    """A photo as the analyses get it: ``loaded`` (decoded at the pass's first size) and, on demand, the decode at
    the full size (``larger``), made from the bytes already read (a RAW's preview already extracted) and shared by
    the analyses that ask."""

    def __init__(self, loaded: images.LoadedImage, data: bytes, side: int) -> None:
        self.loaded, self._data, self._side = loaded, data, side
        self._larger: Image.Image | None = None

    def larger(self) -> Image.Image:
        """The photo decoded at shortest side ``side`` (never upscaled): ``loaded.image`` where it is that already."""
        if self._larger is None:
            image = self.loaded.image
            if min(image.size) < min(self._side, self.loaded.width, self.loaded.height):
                image = images.decode(self._data, self._side).image
            self._larger = image
        return self._larger

    def analyse(self, analyses: list[Analysis]) -> dict:
        """The fields ``analyses`` write for this photo."""
        fields: dict = {}
        for a in analyses:
            fields.update(a.analyse(self.loaded.image, (self.loaded.width, self.loaded.height), self.larger))
        return fields


def first_side(analyses: list[Analysis]) -> int:
    """The shortest side the pass decodes a JPEG at first: what the analyses start on (``first_side``, else their
    ``decode_side``); one that needs more for a photo asks for ``Decoded.larger``."""
    return max(getattr(a, "first_side", a.decode_side) for a in analyses)


def decoded(items: Iterable[tuple[K, str]], analyses: list[Analysis], before_each: Callable[[], None] = lambda: None
            ) -> Iterator[tuple[K, str, Decoded | images.ImageSkipped]]:
    """Each (key, path) with the photo decoded for ``analyses`` (or why it cannot be read), decoded ``LOOKAHEAD``
    photos ahead on a background-priority thread; ``before_each`` runs there before each photo. A JPEG is decoded
    at ``first_side`` (its decoder scales down for less work); other formats decode whole anyway, so at the full
    size straight away."""
    side, first = max(a.decode_side for a in analyses), first_side(analyses)

    def load(item: tuple[K, str]) -> tuple[K, str, Decoded | images.ImageSkipped]:
        key, path = item
        before_each()
        try:
            data = images.viewable(images.read_file(path), path)  # the bytes Pillow decodes, for both decodes
            return key, path, Decoded(images.decode(data, side, draft_target=first), data, side)
        except images.ImageSkipped as exc:
            return key, path, exc

    return ahead(load, items, 1, LOOKAHEAD, "analyse-decode")


def backfill(store: VectorStore, analyses: list[Analysis], progress: Progress | None = None,
             before_each: Callable[[], None] = lambda: None) -> BackfillStats:
    """Run ``analyses`` on every photo of this library that lacks one of them at its version. ``before_each`` runs
    before each photo's decode and before its analysis (the indexer passes its embedder's: a query in flight goes
    first)."""
    progress = progress or no_progress
    started = time.perf_counter()
    stats = BackfillStats()
    if not analyses:
        return stats
    versions = {a.name: a.version for a in analyses}
    total = store.count_lacking(versions)
    done = 0
    if not progress(0, total, "analysing photos"):
        stats.cancelled = True
        return stats
    pending: dict[str, dict] = {}
    rows = (((doc, source), path_from_source(source))
            for doc, source in store.lacking(versions, ["path", "path_b64", "analyses"]))
    for (doc, source), path, photo in decoded(rows, analyses, before_each):
        had = source.get("analyses") or {}
        todo = [a for a in analyses if had.get(a.name) != a.version]
        if isinstance(photo, images.ImageSkipped):
            stats.skipped += 1
            stats.skipped_files.append((path, str(photo)))
            done += 1
            continue
        before_each()  # and before its models run: a query dropped meanwhile has the cores first
        pending[doc] = {"analyses": {a.name: a.version for a in todo}, **photo.analyse(todo)}
        done += 1
        if len(pending) >= BATCH:
            stats.analysed += _flush(store, pending)
            if not progress(done, total, readable_path(path)):
                stats.cancelled = True
                break
    stats.analysed += _flush(store, pending)
    if not stats.cancelled:
        progress(total, total, "analysed")
    store.refresh()
    stats.seconds = time.perf_counter() - started
    return stats


def _flush(store: VectorStore, pending: dict[str, dict]) -> int:
    if not pending:
        return 0
    errors = store.update_fields(pending)
    count = len(pending) - len(errors)
    pending.clear()
    return count
