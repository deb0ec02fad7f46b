"""Background work for the window: the long-lived indexer on its QThread, and one-off tasks on a thread pool."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QThread, QThreadPool, Signal, Slot

from imgsearch_desktop.app.problems import address, explain
from imgsearch_desktop.app.skipped import SkippedFiles
from imgsearch_desktop.core.locks import index_lock
from imgsearch_desktop.core.pipeline import IndexStats
from imgsearch_desktop.core.sync import FolderSync
from imgsearch_desktop.core.thumbs import ThumbCache
from imgsearch_desktop.core.watcher import ChangeSet
from imgsearch_desktop.errors import UserError

log = logging.getLogger(__name__)
# Model loading recurses deeply (transformers' config validation); platform-default thread stacks can be too small.
THREAD_STACK = 64 * 1024 * 1024


class _Relay(QObject):
    """One long-lived QObject on the main thread that carries every task's outcome back to it.

    A task is a plain callable on the pool, never a QRunnable subclass holding its own signals QObject: that object
    was destroyed on the pool thread (when the pool dropped the runnable) while its queued result was still being
    delivered on the main thread — a SIGSEGV in about one run in three of a drop loop, and every time in a stress
    test of 20,000 tasks (tests/app/test_tasks.py).
    """

    done = Signal(int, bool, object)  # task id, ok, result or error message

    def __init__(self) -> None:
        super().__init__()
        self.callbacks: dict[int, tuple[Callable[[Any], None], Callable[[str], None]]] = {}
        self.next_id = itertools.count()
        self.done.connect(self._deliver)  # queued: emitted on pool threads, received on the main thread

    @Slot(int, bool, object)
    def _deliver(self, task_id: int, ok: bool, value: Any) -> None:
        on_result, on_error = self.callbacks.pop(task_id)
        if ok:
            on_result(value)
        else:
            on_error(value)


_relay: _Relay | None = None


def _run(fn: Callable[[], Any], task_id: int, relay: _Relay) -> None:
    try:
        result = fn()
    except UserError as exc:
        relay.done.emit(task_id, False, str(exc))
    except Exception as exc:  # a bug: say so plainly instead of dying silently
        log.exception("background task failed")
        relay.done.emit(task_id, False, f"unexpected error: {exc}")
    else:
        relay.done.emit(task_id, True, result)


def run_task(fn: Callable[[], Any], on_result: Callable[[Any], None], on_error: Callable[[str], None],
             pool: QThreadPool | None = None) -> None:
    """Run ``fn`` on the pool; ``on_result`` / ``on_error`` are called on the main thread (call this from it)."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    task_id = next(_relay.next_id)
    _relay.callbacks[task_id] = (on_result, on_error)
    pool = pool or QThreadPool.globalInstance()
    if pool.stackSize() < THREAD_STACK:
        pool.setStackSize(THREAD_STACK)
    pool.start(functools.partial(_run, fn, task_id, _relay))


def run_call(fn: Callable[[], Any], on_result: Callable[[Any], None],
             on_exception: Callable[[BaseException], None], owner: QObject | None = None,
             pool: QThreadPool | None = None) -> None:
    """``run_task`` for callers that explain a failure themselves: ``on_exception`` gets the exception object
    (a bug's traceback is logged here), never text to show as it is. With ``owner``, an outcome that arrives
    after the owner was deleted (its window closed meanwhile) is dropped. ``pool``: its own pool (default: the
    global one the queries use)."""

    def guarded() -> tuple[bool, Any]:
        try:
            return True, fn()
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.warning("background call failed", exc_info=True)
            return False, exc

    def deliver(out: tuple[bool, Any]) -> None:
        if owner is None or shiboken6.isValid(owner):
            (on_result if out[0] else on_exception)(out[1])

    run_task(guarded, deliver, lambda message: deliver((False, RuntimeError(message))), pool)


class JobControl(QObject):
    """The one relay between a long job and the window: the job (on any thread) is given ``report`` as its
    ``core.progress`` function; the window connects ``progress`` and calls ``pause`` / ``resume`` / ``cancel``
    (flags, not signals: the job may be mid-batch and must see them at its next report)."""

    progress = Signal(int, int, str)  # done, total, note

    def __init__(self) -> None:
        super().__init__()
        self.running = threading.Event()
        self.running.set()  # cleared = paused
        self.cancelled = threading.Event()

    def start(self) -> None:
        """A new job begins: a Cancel meant for the last one does not carry over."""
        self.cancelled.clear()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def cancel(self) -> None:
        self.cancelled.set()
        self.running.set()

    @property
    def paused(self) -> bool:
        return not self.running.is_set()

    def report(self, done: int, total: int, note: str) -> bool:
        """Emit, wait here while paused, and say whether to go on."""
        self.progress.emit(done, total, note)
        while not self.running.wait(0.1):
            if self.cancelled.is_set():
                break
        return not self.cancelled.is_set()


class _Cancelled(Exception):
    """Raised out of a store's retry wait when the job was cancelled."""


@dataclasses.dataclass
class AnalysisOutcome:
    """What the analyses phase after a job did (``stats``: the backfill's BackfillStats)."""

    stats: Any = None
    placed: int = 0  # faces placed among the people
    cleared: int = 0  # photos whose face data were deleted (faces switched off)
    cancelled: bool = False

    @property
    def stopped(self) -> bool:
        return self.cancelled or (self.stats is not None and self.stats.cancelled)


def phase_label(analyses: list) -> str:
    """What the status bar says while the analyses run: "Finding faces", "Reading text in photos", or both."""
    names = {"faces": "finding faces", "text": "reading text in photos"}
    said = " and ".join(names.get(a.name, a.name) for a in analyses)
    return said[:1].upper() + said[1:]


class IndexWorker(QObject):
    """Runs the library's FolderSync (watch → index → apply under the lock) on its own QThread, one job at a time.

    ``initialise`` may run again at any time (Settings changed, the engine was restarted): the next job uses the new
    store and models. Failures arrive as Problems (one plain sentence + details), never as raw exception text.
    """

    ready = Signal(dict)  # {"es": version, "count": n, "dims": d}
    finished = Signal(object)  # IndexStats
    settled = Signal(object)  # IndexStats (None: failed or nothing to do) once the job's analyses are over too
    failed = Signal(object)  # Problem: a job failed
    init_failed = Signal(object)  # Problem: could not connect or load the models
    status = Signal(str)
    summary = Signal(int, object)  # photos in the index, [(path, reason)] of the files skipped
    # The analyses after CLIP (faces), run once a job's photos are searchable: its phase in words, then its outcome.
    analysing = Signal(str)
    analysed = Signal(object)  # AnalysisOutcome
    people_changed = Signal()  # faces were placed among the people, or deleted (faces switched off)
    # Requests from the main thread, delivered queued into this object's thread.
    request_init = Signal(object)  # a new Embedder (models changed in Settings), or None to keep the current one
    request_store = Signal(object)  # the engine was restarted: a Store connected to it (models and index unchanged)
    request_reindex = Signal(list)
    request_changes = Signal(object)
    request_forget = Signal(list)

    def __init__(self, connect: Callable[[], Any], embedder, settings, data_dir=None,
                 thumbnails: ThumbCache | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.connect = connect  # () -> Store, may start the local node
        self.embedder = embedder
        self.settings = settings
        self.thumbnails = thumbnails  # indexing writes the grid's thumbnails from its own decode
        self.store = None
        self.people = None  # core.people.People of the current index (faces on and a data dir), shared with the view
        self._analysers: dict = {}  # each analysis by name, built once: its model loads on this thread
        self.sync = FolderSync(self.request_changes.emit, on_error=log.warning, lock=self._lock)
        self.skipped = SkippedFiles()
        self.control = JobControl()  # the window pauses, resumes and cancels jobs through it
        self.progress = self.control.progress
        self.request_init.connect(self.initialise)
        self.request_store.connect(self.use_store)
        self.request_reindex.connect(self.reindex)
        # Queued even when emitted on this thread (a watcher report during watch()): a job never runs inside another.
        self.request_changes.connect(self.apply_changes, Qt.ConnectionType.QueuedConnection)
        self.request_forget.connect(self.forget_folders)

    def _lock(self):
        if self.data_dir is None:
            return contextlib.nullcontext()
        return index_lock(self.data_dir, self.settings.index, on_wait=self.status.emit)

    def _store_waiting(self, _message: str) -> None:
        """The store calls this between retries while Elasticsearch is away: Cancel (or closing the window) ends the
        wait instead of sitting out the store's whole retry time; the health watch says what is going on."""
        if self.control.cancelled.is_set():
            raise _Cancelled
        self.status.emit("Waiting for the search engine to answer again…")

    def address(self) -> str:
        """The remote cluster's URL without credentials, for messages; "" for the managed node."""
        return address(self.settings.es_url)

    # ----- jobs, run on the worker thread -----
    @Slot(object)
    def initialise(self, embedder=None) -> None:
        from imgsearch_desktop.core.pipeline import Indexer

        if embedder is not None:
            self.embedder = embedder
        self.store = self.sync.indexer = None  # changes arriving meanwhile are caught up by the scan after ready
        try:
            self.status.emit(f"Connecting to {self.address()}…" if self.settings.es_url
                             else "Starting the search engine…")
            store = self.connect()
            store.on_wait = self._store_waiting
            self.status.emit("Loading the models…")
            self.embedder.prepare(lambda done, total, note: self.status.emit(note) or True)  # an export: once
            self.embedder.load_both()  # once, here: queries then never pay for (or race on) a model load
            dims = self.embedder.dims
            store.use_index(self.embedder.model_id, dims)
            # No analyses in the Indexer: the window runs them itself after each job (_analyse), so that the job's
            # `finished` comes as soon as its photos are searchable, and the faces phase is named in the status bar.
            self.store, self.sync.indexer = store, Indexer(store, self.embedder, thumbnails=self.thumbnails)
            self.people = self._people()
            self.ready.emit({"es": store.check_server(), "count": store.count(), "dims": dims})
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.exception("start-up failed")
            self.init_failed.emit(explain(exc, self.address(), "starting"))

    @Slot(object)
    def use_store(self, store) -> None:
        """The engine came back where ``store`` connects (its index already checked): only the store changes —
        the models stay loaded and the next job writes through it. Before the first start-up: nothing to do."""
        if self.sync.indexer is None or store is self.store:
            return
        store.on_wait = self._store_waiting
        self.store = self.sync.indexer.store = store

    @Slot(list)
    def reindex(self, roots: list[str]) -> None:
        """Reconcile the index with these folders, then watch them."""
        if self.sync.indexer is None:
            return
        self.sync.watch(roots)  # first: changes made while the scan runs are queued behind it, not missed

        def job() -> IndexStats:
            stats = self.sync.scan(roots, list(self.settings.excluded), progress=self.control.report)
            if not stats.cancelled:  # a full scan re-tried every file not indexed: its list replaces the old one
                self.skipped.replace_under(roots, stats.skipped_files + stats.unreachable_folders)
            return stats

        self._run(job)

    @Slot(object)
    def apply_changes(self, change: ChangeSet) -> None:
        if self.sync.indexer is None:
            return
        if change.rescan:  # the watcher may have missed events: reconcile every folder
            self.reindex(list(self.settings.folders))
            return

        def job() -> IndexStats | None:
            # The same progress as a scan: shown in the status bar, and Pause/Cancel act on it.
            stats = self.sync.apply(change, list(self.settings.folders), list(self.settings.excluded),
                                    progress=self.control.report)
            if stats is not None:
                touched = [*change.changed, *change.deleted, *(p for move in change.moved for p in move)]
                self.skipped.update(touched, stats.skipped_files)
            return stats

        self._run(job)

    @Slot(list)
    def forget_folders(self, folders: list[str]) -> None:
        """Folders removed in settings: stop watching them and remove their documents."""
        if self.sync.indexer is None:
            return
        self.skipped.replace_under(folders, [])
        self._run(lambda: self.sync.forget(folders, list(self.settings.folders)))  # the library's folders now

    def _run(self, job: Callable[[], IndexStats | None]) -> None:
        stats = None
        try:
            stats = self._run_job(job)
        finally:
            self.settled.emit(stats)  # whatever the job did: the worker is idle now

    def _run_job(self, job: Callable[[], IndexStats | None]) -> IndexStats | None:
        self.control.start()
        started = time.perf_counter()
        try:
            stats = job()
        except _Cancelled:
            stats = IndexStats(cancelled=True)
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.exception("indexing failed")
            self.failed.emit(explain(exc, self.address(), "indexing"))
            return None
        if stats is None:  # nothing left to do (every change was in an excluded folder)
            return None
        stats.seconds = stats.seconds or time.perf_counter() - started
        self.finished.emit(stats)
        self._send_summary()
        if not stats.cancelled:
            self._analyse()
        return stats

    # ----- the analyses after CLIP: faces and people -----
    def _people(self):
        return self._people_file() if self.settings.faces else None

    def _analyse(self) -> None:
        """The analyses the settings switch on (faces; text in photos, when RapidOCR is installed): the photos
        lacking one get it in one pass (core/analyses/backfill: one decode a photo, resumable, the job's own Pause
        and Cancel), then new faces are placed among the people. Faces off: every face and person is deleted."""
        from imgsearch_desktop.core.analyses.backfill import backfill

        store = self.store
        if store is None:
            return
        if not self.settings.faces and not self._faces_off(store):
            return
        analyses = self._analyses()
        if not analyses:
            return
        faces = self.settings.faces
        outcome = AnalysisOutcome()
        try:
            if faces and self.people is None:  # faces switched on again in Settings
                self.people = self._people()
            lacking = store.count_lacking({a.name: a.version for a in analyses})
            if lacking:
                self.analysing.emit(phase_label(analyses))
                with self._lock():
                    outcome.stats = backfill(store, analyses, self.control.report, self.embedder.yield_to_queries)
            if faces and self.people is not None and not outcome.stopped and (
                    lacking or not self.people.path.exists()):
                outcome.placed = self.people.update(store)
            if not lacking and not outcome.placed:
                return  # nothing new: no phase shown
        except _Cancelled:
            outcome.cancelled = True
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.exception("analysing photos failed")
            self.failed.emit(explain(exc, self.address(), phase_label(analyses).lower()))
            return
        self.analysed.emit(outcome)
        if faces and (outcome.placed or (outcome.stats is not None and outcome.stats.analysed)):
            self.people_changed.emit()

    def _analyses(self) -> list:
        """Each analysis built once (its model loads on this thread, at the first photo), in the settings' order."""
        from imgsearch_desktop.core.analyses import switched_on

        return switched_on(self.settings, self._analysers)

    def _faces_off(self, store) -> bool:
        """Faces switched off: their data and the people go. False when that failed (said; nothing else runs)."""
        outcome = AnalysisOutcome()
        try:
            with self._lock():
                outcome.cleared = store.clear_analysis("faces", ["faces"])
            people = self.people if self.people is not None else self._people_file()
            if people is not None:
                people.forget()
            self.people = None
        except _Cancelled:
            return False
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.exception("deleting the face data failed")
            self.failed.emit(explain(exc, self.address(), "deleting the face data"))
            return False
        if outcome.cleared:
            self.analysed.emit(outcome)
            self.people_changed.emit()
        return True

    def _people_file(self):
        """The people file of this index, faces on or off (to forget it)."""
        if self.data_dir is None:
            return None
        from imgsearch_desktop.core.people import People, people_path

        return People(people_path(self.data_dir, self.settings.index))

    def _send_summary(self) -> None:
        try:
            count = self.store.count() if self.store is not None else 0
        except Exception:  # Elasticsearch went away right after the job: the health watch says so
            log.info("count after indexing failed", exc_info=True)
            return
        self.summary.emit(count, self.skipped.items())

    def shutdown(self) -> None:
        self.sync.stop()


def start_worker(worker: IndexWorker) -> QThread:
    thread = QThread()
    thread.setObjectName("indexer")
    thread.setStackSize(THREAD_STACK)
    worker.moveToThread(thread)
    thread.start()
    return thread
