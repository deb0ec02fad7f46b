"""Thumbnails: from the on-disk cache (indexing fills it), else decoded off the main thread and cached.

Pool threads produce QImages (thread-safe); the results model turns them into QPixmaps on the main thread.
Jobs are plain callables on the pool (no Python QRunnable subclass: see workers._Relay for why).
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from imgsearch_desktop.app.pools import new_pool
from imgsearch_desktop.core import images, private, thumbs


class _Signals(QObject):
    # object, not str: a QString would drop the surrogate escapes of a non-UTF-8 name, and the grid, keyed by the
    # exact path, would never see its thumbnail (a blank tile).
    loaded = Signal(object, QImage)


class ThumbnailLoader(QObject):
    """request(path) → later ``loaded(path, QImage)`` (null QImage when the file can't be shown)."""

    def __init__(self, cache_dir: Path, px: int = thumbs.THUMB_PX, threads: int = 2) -> None:
        super().__init__()
        self.cache = thumbs.ThumbCache(Path(cache_dir), px)
        private.make_dir(self.cache.folder)
        self.cache_dir = self.cache.folder
        self.px = px
        self.pool = new_pool(threads)
        self.signals = _Signals()
        self.loaded = self.signals.loaded
        self.generation = 0

    def request(self, path: str, urgent: bool = False) -> None:
        """``urgent``: ahead of the queue and never cancelled (the query photo's own preview)."""
        key = thumbs.key_now(path, self.px)
        if key is None:
            self.signals.loaded.emit(path, QImage())
            return
        job = functools.partial(self._job, path, key, None if urgent else self.generation)
        self.pool.start(job, 1 if urgent else 0)

    def _job(self, path: str, key: str, generation: int | None) -> None:
        if generation is not None and generation != self.generation:
            return  # asked for by a query that has been replaced meanwhile
        cached = self.cache.file(key)
        try:
            data = cached.read_bytes() if cached.exists() else None
            if data is None:
                data = thumbs.make(path, self.px)
                self.cache.put(key, data)
            image = QImage.fromData(data, "JPEG")
        except (images.ImageSkipped, OSError, ValueError):
            image = QImage()
        self.signals.loaded.emit(path, image)

    def cancel_pending(self) -> None:
        # Jobs not started yet see the new generation and return at once (QThreadPool.clear() would also do, now
        # that jobs are plain callables; the generation check also covers jobs already dequeued).
        self.generation += 1
