"""One writer per index at a time, across threads and processes: every write to the index's documents holds this
lock (the window's indexing jobs, its Duplicates window's trash, a CLI `index` or `watch`), so they take turns
instead of racing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from imgsearch_desktop.core import private


@contextmanager
def index_lock(data_dir: Path, index: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the per-index write lock; tells ``on_wait`` once if another process holds it, then waits."""
    private.make_dir(data_dir)
    lock = FileLock(str(data_dir / f"index-{re.sub(r'[^A-Za-z0-9_.-]', '_', index)}.lock"), mode=private.FILE_MODE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(f"another imgsearch-desktop process is indexing {index!r}; waiting for it to finish…")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
