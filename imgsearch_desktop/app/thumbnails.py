"""Thumbnails: from the on-disk cache (indexing fills it), else decoded off the main thread and cached.

Pool threads produce QImages (thread-safe; a grid's tile is also scaled and centred there); the grids turn them into
QPixmaps on the main thread.
Jobs are plain callables on the pool (no Python QRunnable subclass: see workers._Relay for why).
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPainter

from imgsearch_desktop.app.pools import new_pool
from imgsearch_desktop.core import images, private, thumbs


class _Signals(QObject):
    # object, not str: a QString would drop the surrogate escapes of a non-UTF-8 name, and the grid, keyed by the
    # exact path, would never see its thumbnail (a blank tile).
    loaded = Signal(object, QImage)
    # A grid tile's: the thumbnail centred in its cell, made on the pool. Only the grid that asked listens (every
    # ``loaded`` listener ran once per result thumbnail, on the main thread, in the burst a drop's 50 bring).
    cell_loaded = Signal(object, QImage)


def centred_image(image: QImage, px: int) -> QImage:
    """The picture scaled to fit a px×px cell and centred in it, so captions line up under every thumbnail."""
    scaled = image.scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    cell = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
    cell.fill(Qt.GlobalColor.transparent)
    painter = QPainter(cell)
    painter.drawImage((px - scaled.width()) // 2, (px - scaled.height()) // 2, scaled)
    painter.end()
    return cell


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
        self.cell_loaded = self.signals.cell_loaded
        self.generation = 0

    def request(self, path: str, urgent: bool = False, cell: int | None = None) -> None:
        """``urgent``: ahead of the queue and never cancelled (the query photo's own preview). ``cell``: the answer
        is ``cell_loaded``, a cell×cell image with the thumbnail centred in it, instead of ``loaded``."""
        key = thumbs.key_now(path, self.px)
        if key is None:
            self._answer(path, QImage(), cell)
            return
        job = functools.partial(self._job, path, key, None if urgent else self.generation, cell)
        self.pool.start(job, 1 if urgent else 0)

    def _job(self, path: str, key: str, generation: int | None, cell: int | None = None) -> None:
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
        self._answer(path, image, cell)

    def _answer(self, path: str, image: QImage, cell: int | None) -> None:
        """``loaded``, or for a grid's ``cell`` request ``cell_loaded`` with the tile centred (a null one as is)."""
        if cell is None:
            self.signals.loaded.emit(path, image)
        else:
            self.signals.cell_loaded.emit(path, image if image.isNull() else centred_image(image, cell))

    def cancel_pending(self) -> None:
        # Jobs not started yet see the new generation and return at once (QThreadPool.clear() would also do, now
        # that jobs are plain callables; the generation check also covers jobs already dequeued).
        self.generation += 1
