"""The one job protocol (dupeGuru's job pattern): a long job calls ``progress(done, total, note)`` as it goes and
stops at the next safe point when it returns False. The CLI passes a bar, the window a function that emits a signal
and reads its pause/cancel flags, tests a recording function. Used by indexing, watcher batches, duplicate scans
and downloads."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], bool]


def no_progress(done: int, total: int, note: str) -> bool:
    return True
