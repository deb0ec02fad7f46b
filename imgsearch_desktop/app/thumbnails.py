"""Thumbnails: decoded off the main thread, EXIF-oriented, cached on disk keyed by path + mtime + size.

Workers produce QImages (thread-safe); the results model turns them into QPixmaps on the main thread.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from imgsearch_desktop.core import images


def cache_key(path: str, px: int) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    raw = os.fsencode(path) + f"|{st.st_mtime_ns}|{st.st_size}|{px}".encode()
    return hashlib.sha1(raw).hexdigest()


def make_thumbnail(path: str, px: int) -> bytes:
    """JPEG bytes of an EXIF-oriented thumbnail whose longest side is ``px``, through the same safe loader as
    indexing (format allowlist, size cap, draft decode, RAW previews)."""
    # read + decode, not load_file: a thumbnail has no use for load_file's content hash (~4 ms on a 12 MP JPEG)
    image = images.decode(images.read_file(path), px, name=path).image  # shortest side px
    image.thumbnail((px, px), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


class _Signals(QObject):
    loaded = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, loader: ThumbnailLoader, path: str, key: str, keep: bool) -> None:
        super().__init__()
        self.loader, self.path, self.key, self.keep = loader, path, key, keep
        self.generation = loader.generation

    def run(self) -> None:
        if not self.keep and self.generation != self.loader.generation:
            return  # asked for by a query that has been replaced meanwhile
        cached = self.loader.cache_dir / f"{self.key}.jpg"
        try:
            data = cached.read_bytes() if cached.exists() else None
            if data is None:
                data = make_thumbnail(self.path, self.loader.px)
                tmp = cached.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(cached)
            image = QImage.fromData(data, "JPEG")
        except (images.ImageSkipped, OSError, ValueError):
            image = QImage()
        self.loader.signals.loaded.emit(self.path, image)


class ThumbnailLoader(QObject):
    """request(path) → later ``loaded(path, QImage)`` (null QImage when the file can't be shown)."""

    def __init__(self, cache_dir: Path, px: int = 256, threads: int = 2) -> None:
        super().__init__()
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.px = px
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self.signals = _Signals()
        self.loaded = self.signals.loaded
        self.generation = 0

    def request(self, path: str, urgent: bool = False) -> None:
        """``urgent``: ahead of the queue and never cancelled (the query photo's own preview)."""
        key = cache_key(path, self.px)
        if key is None:
            self.signals.loaded.emit(path, QImage())
            return
        self.pool.start(_Job(self, path, key, keep=urgent), 1 if urgent else 0)

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Before the window goes: drop what has not started and let running jobs finish (they emit into it)."""
        self.cancel_pending()
        self.pool.waitForDone(wait_ms)

    def cancel_pending(self) -> None:
        # Jobs not started yet see the new generation and return at once. (QThreadPool.clear() would delete
        # Python-owned runnables from C++, which crashed a test run.)
        self.generation += 1
