"""Watched folders: watchdog events → debounced, coalesced change sets → the indexer.

A burst of events (a camera import of 500 files) becomes one change set once the folders have been quiet for
``debounce`` seconds; a file still being written is held back until its size has stopped changing. Moves are kept
as (source, destination) pairs so the index can re-point a document without re-embedding it. Native watching
(inotify, FSEvents, ReadDirectoryChangesW) falls back to polling where it fails (inotify watch limit, network
shares); an observer error asks for a reconciliation scan, which catches whatever events missed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from imgsearch_desktop.core.images import is_supported_path
from imgsearch_desktop.core.scanner import Exclusions

log = logging.getLogger(__name__)


@dataclass
class ChangeSet:
    changed: set[str] = field(default_factory=set)  # created or modified files: (re)index
    deleted: set[str] = field(default_factory=set)  # files or folders gone: remove their documents
    moved: list[tuple[str, str]] = field(default_factory=list)  # (src, dest): re-point, keep the vector
    rescan: bool = False  # events may have been missed (an observer failed): reconcile the folders with a full scan

    def __bool__(self) -> bool:
        return bool(self.rescan or self.changed or self.deleted or self.moved)

    def __len__(self) -> int:
        return len(self.changed) + len(self.deleted) + len(self.moved)


class _Collector(FileSystemEventHandler):
    def __init__(self, owner: FolderWatcher) -> None:
        self.owner = owner

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        self.owner._record(event.event_type, src, dest, event.is_directory)


class FolderWatcher:
    """Watches folders and calls ``on_changes(ChangeSet)`` from its own thread after each quiet period.

    Events under a left-out folder (``exclusions``: hidden and system folders always) are dropped as they come.
    """

    def __init__(self, on_changes: Callable[[ChangeSet], None], on_error: Callable[[str], None] | None = None,
                 debounce: float = 1.0, stable_for: float = 1.0, polling: bool = False,
                 exclusions: Exclusions | None = None) -> None:
        self.on_changes = on_changes
        self.exclusions = Exclusions() if exclusions is None else exclusions
        self.on_error = on_error or (lambda msg: log.warning(msg))
        self.debounce = debounce
        self.stable_for = stable_for
        self.polling = polling
        self._lock = threading.Lock()
        self._pending = ChangeSet()
        self._last_event = 0.0
        self._sizes: dict[str, tuple[int, float]] = {}  # path → (size, since) for files still growing
        self._observers: dict[str, object] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name="watch-debounce", daemon=True)

    # ----- folders -----
    def start(self, folders: Iterable[str] = ()) -> None:
        for folder in folders:
            self.add(folder)
        self._thread.start()

    def add(self, folder: str) -> None:
        folder = os.path.abspath(folder)
        if folder in self._observers:
            return
        handler = _Collector(self)
        observer = PollingObserver(timeout=1) if self.polling else Observer()
        self._observers[folder] = observer  # before it starts: its first events are judged against this root
        try:
            observer.schedule(handler, folder, recursive=True)
            observer.start()
        except OSError as exc:  # inotify limits and the like: poll instead
            observer = PollingObserver(timeout=2)
            observer.schedule(handler, folder, recursive=True)
            self._observers[folder] = observer
            observer.start()
            # Reported once the folder is registered: a receiver that reacts by watching again finds it watched.
            self.on_error(f"native watching failed for {folder} ({exc}); polling instead")

    def remove(self, folder: str) -> None:
        observer = self._observers.pop(os.path.abspath(folder), None)
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def stop(self) -> None:
        self._stop.set()
        for folder in list(self._observers):
            self.remove(folder)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def folders(self) -> list[str]:
        return list(self._observers)

    # ----- events -----
    def _ignored(self, path: str) -> bool:
        return self.exclusions.covers(path, tuple(self._observers))  # a copy: folders change on other threads

    def _record(self, kind: str, src: str, dest: str, is_dir: bool) -> None:
        with self._lock:
            self._last_event = time.monotonic()
            p = self._pending
            if kind == "moved":
                if is_dir:
                    p.deleted.add(src)  # documents under the old folder go; the new folder's files get events
                    p.changed.discard(src)
                    self._add_tree(dest)
                elif is_supported_path(dest) and not self._ignored(dest):
                    if src in p.changed:  # created/modified, then moved within one burst: index the destination
                        p.changed.discard(src)
                        p.changed.add(dest)
                        p.deleted.add(src)  # and drop whatever the index still has at the old path
                    else:
                        p.moved.append((src, dest))
                elif is_supported_path(src):
                    p.deleted.add(src)
            elif kind == "deleted":
                p.changed.discard(src)
                p.deleted.add(src)
            elif kind == "created" and is_dir:
                # Files already inside a new folder (one that took a deleted file's name, say) may get no events
                # of their own. A deletion recorded at this path stays: the old file's entry must go.
                self._add_tree(src)
            elif kind in ("created", "modified", "closed") and not is_dir and is_supported_path(src) \
                    and not self._ignored(src):
                # A deletion recorded at this path stays too: had a folder of this name been there, its entries
                # must go; the indexer keeps whatever is a file now.
                p.changed.add(src)

    def _add_tree(self, folder: str) -> None:
        if self._ignored(os.path.join(folder, "-")):  # a hidden or excluded folder (a fresh `.git`): not walked at all
            return
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not self.exclusions.skips_folder(d, os.path.join(root, d))]
            for name in files:
                path = os.path.join(root, name)
                if is_supported_path(path) and not self._ignored(path):
                    self._pending.changed.add(path)

    def _flush_loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._flush_if_quiet()
            except Exception as exc:  # never let the watcher thread die silently
                self.on_error(f"watcher error: {exc}")

    def _flush_if_quiet(self) -> None:
        with self._lock:
            if not self._pending or time.monotonic() - self._last_event < self.debounce:
                return
            growing = self._growing(self._pending.changed)
            ready = self._pending
            ready.changed -= growing
            self._pending = ChangeSet(changed=set(growing))
            if growing:
                self._last_event = time.monotonic() - self.debounce + 0.2  # look again soon
        if ready:
            self.on_changes(ready)

    def _growing(self, paths: set[str]) -> set[str]:
        """Files whose size changed within ``stable_for`` seconds (still being copied or written)."""
        now = time.monotonic()
        growing = set()
        for path in paths:
            try:
                size = os.stat(path).st_size
            except OSError:
                self._sizes.pop(path, None)
                continue
            prev = self._sizes.get(path)
            if prev is None or prev[0] != size:
                self._sizes[path] = (size, now)
                growing.add(path)
            elif now - prev[1] < self.stable_for:
                growing.add(path)
            else:
                self._sizes.pop(path, None)
        return growing

