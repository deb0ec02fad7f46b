"""Every thread pool the window makes, in one registry, so that shutdown waits for all of them in one place.

A Python call still running on a pool's thread when the interpreter goes down crashes the exit. So each pool of its
own (the preview's decode, the engine's probe and restart, each thumbnail loader's, the Duplicates window's too) is
made by ``new_pool``, and ``wait_all`` drops what has not started and waits, within one bound, for what runs. The
global pool the queries use is not here: the application object waits for it itself when it goes.
"""

from __future__ import annotations

import time
import weakref

import shiboken6
from PySide6.QtCore import QObject, QThreadPool

_pools: weakref.WeakSet[QThreadPool] = weakref.WeakSet()  # a pool gone with its owner leaves by itself


def new_pool(threads: int, parent: QObject | None = None) -> QThreadPool:
    pool = QThreadPool(parent)
    pool.setMaxThreadCount(threads)
    _pools.add(pool)
    return pool


def live_pools() -> list[QThreadPool]:
    return [pool for pool in list(_pools) if shiboken6.isValid(pool)]  # one deleted with its parent is skipped


def wait_all(wait_ms: int) -> bool:
    """Drop every pool's queued jobs, then wait for the running ones, all within ``wait_ms`` together; True when
    every pool is idle."""
    pools = live_pools()
    for pool in pools:
        pool.clear()
    deadline = time.monotonic() + wait_ms / 1000
    idle = True
    for pool in pools:
        idle = pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000))) and idle
    return idle
