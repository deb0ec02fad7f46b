"""Keeping an index in step with its folders: watch → index → apply under the lock, for `watch` and the window.

One Qt-free service, so the command line and the window cannot drift apart. The watcher's thread only hands change
sets to ``deliver`` (a queue for `watch`, a queued signal for the window's worker); the caller's one writer thread
calls ``scan`` / ``apply`` / ``forget``, each under the per-index lock that every writer of the index holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext

from imgsearch_desktop.core.pipeline import Indexer, IndexStats
from imgsearch_desktop.core.progress import Progress
from imgsearch_desktop.core.scanner import Exclusions
from imgsearch_desktop.core.watcher import ChangeSet, FolderWatcher


def without_excluded(change: ChangeSet, excluded: Iterable[str], roots: Sequence[str] = ()) -> ChangeSet:
    """The change set minus files left out by the walk's rule (``scanner.Exclusions``). A file moved into an
    excluded folder leaves the index; a file moved out of one is new to it. Deletions stay: removing an entry that
    is not there costs nothing."""
    rule = Exclusions.of(excluded)
    if not rule:
        return change  # the built-in part of the rule was applied by the watcher already
    out = ChangeSet(changed={p for p in change.changed if not rule.covers(p, roots)},
                    deleted=set(change.deleted), rescan=change.rescan)
    for src, dest in change.moved:
        if rule.covers(dest, roots):
            out.deleted.add(src)
        elif rule.covers(src, roots):
            out.changed.add(dest)
        else:
            out.moved.append((src, dest))
    return out


class FolderSync:
    """Watches the library's folders and brings their changes into the index.

    ``deliver(ChangeSet)`` is called on the watcher's thread; a watcher error delivers ``ChangeSet(rescan=True)``
    (events may have been lost: reconcile with a full scan). ``lock()`` is entered around every write job.
    ``indexer`` may be replaced at any time between jobs (new models, a restarted engine).
    """

    def __init__(self, deliver: Callable[[ChangeSet], None], on_error: Callable[[str], None],
                 lock: Callable[[], AbstractContextManager] = nullcontext, indexer: Indexer | None = None) -> None:
        self.deliver = deliver
        self.on_error = on_error
        self.lock = lock
        self.indexer = indexer
        self.watcher: FolderWatcher | None = None
        self.stopped = False

    def watch(self, roots: Iterable[str]) -> None:
        """Watch exactly these folders (started first: a change made while a scan runs is queued, not missed)."""
        if self.stopped:  # shutting down: a job that was still queued starts no new watcher
            return
        if self.watcher is None:
            self.watcher = FolderWatcher(self.deliver, on_error=self._watcher_failed)
            self.watcher.start()
        wanted = {os.path.abspath(r) for r in roots}
        for folder in set(self.watcher.folders) - wanted:
            self.watcher.remove(folder)
        for folder in sorted(wanted):
            if os.path.isdir(folder):
                self.watcher.add(folder)

    def _watcher_failed(self, message: str) -> None:
        self.on_error(message)
        self.deliver(ChangeSet(rescan=True))

    def stop(self) -> None:
        """Stop watching for good (the watcher object stays: a job still running may be removing a folder)."""
        self.stopped = True
        if self.watcher is not None:
            self.watcher.stop()

    def scan(self, roots: Sequence[str], excluded: Iterable[str] = (), progress: Progress | None = None) -> IndexStats:
        """Reconcile the index with these folders: a full walk, only what changed is (re)indexed."""
        with self.lock():
            return self._indexer().run(roots, excluded, progress=progress)

    def apply(self, change: ChangeSet, roots: Sequence[str], excluded: Iterable[str] = (),
              progress: Progress | None = None) -> IndexStats | None:
        """One delivered change set (a rescan request scans every root); None when nothing of it is left after
        the exclusions. ``progress`` is asked once before anything is written, so Pause and Cancel hold it."""
        if change.rescan:
            return self.scan(roots, excluded, progress)
        change = without_excluded(change, excluded, roots)
        if not change:
            return None
        if progress is not None and not progress(0, len(change), "changes"):
            return IndexStats(cancelled=True)
        with self.lock():
            return self._indexer().apply(change, roots, progress=progress)

    def forget(self, folders: Sequence[str], remaining: Sequence[str]) -> IndexStats:
        """Folders taken out of the library: stop watching them and remove their documents, except those a
        ``remaining`` folder of the library covers (a parent or a subfolder of a removed one)."""
        if self.watcher is not None:
            for folder in folders:
                self.watcher.remove(folder)  # a parent that stays has its own (recursive) watch
        with self.lock():
            return IndexStats(removed=self._indexer().remove_paths(folders, keep=remaining))

    def _indexer(self) -> Indexer:
        if self.indexer is None:
            raise RuntimeError("FolderSync has no indexer yet")
        return self.indexer
