"""Work done ahead of its consumer on background threads, in order, with bounded memory: indexing's read + hash +
decode before the model, and the analyses' decode before the face and text models. Pillow, dlib's detector and
ONNX Runtime release the GIL, so a decode on one core overlaps the models' work on the other."""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

BACKGROUND_NICE = 10

T = TypeVar("T")
R = TypeVar("R")


def background_priority() -> None:
    """Lower this thread's CPU priority (Linux threads are scheduled one by one): indexing's decode threads yield to
    what the user waits for — a query, thumbnails, the window, other apps — and still get every idle cycle."""
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))
    except OSError:
        pass


def ahead(work: Callable[[T], R], items: Iterable[T], workers: int, lookahead: int, name: str) -> Iterator[R]:
    """``work(item)`` for each item, yielded in the items' order, computed by ``workers`` background-priority threads
    at most ``lookahead`` items ahead of the consumer. Work not started is dropped when the consumer stops; an
    exception raised by ``work`` is raised here, at its item."""
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix=name, initializer=background_priority) as pool:
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= lookahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()
