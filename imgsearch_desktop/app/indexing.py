"""The main window's side of indexing and of the engine's connection: the worker's and the health check's signals
→ the status bar, the photo counts, the library and the folder tree; F5, Pause and Cancel.

A mixin of MainWindow (as core/store's classes are of Store).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer

from imgsearch_desktop.app.index_status import empty_library_text, finished_text
from imgsearch_desktop.app.problems import Kind, Problem
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.pipeline import IndexStats

log = logging.getLogger(__name__)
LIVE_MS = 2000  # while indexing runs, the photo count and the library catch up at most this often


class Indexing:
    """Needs ``worker``, ``settings``, ``runner``, ``health``, ``model``, ``banner``, ``filter_bar``, ``library``,
    ``folder_tree``, ``hint``, ``index_status`` and ``show_problem``, ``show_skipped``, ``_on_people_changed`` from
    the window; keeps its ``ready``, ``connecting``, ``photos``, ``skipped``, ``undated`` and ``_index_interrupted``
    up to date."""

    def _connect_indexing(self) -> None:
        """The worker's, the health check's and the status bar's signals → these slots."""
        self._live = QTimer(self)  # throttles the count and the library's refresh while indexing runs
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_MS)
        self._live.timeout.connect(self._catch_up)
        w = self.worker
        w.ready.connect(self._on_ready)
        w.init_failed.connect(self._on_init_failed)
        w.progress.connect(self.index_status.on_progress)
        w.progress.connect(lambda done, _total, _note: done and not self._live.isActive() and self._live.start())
        w.finished.connect(self._on_index_finished)
        w.failed.connect(self._on_job_failed)
        w.status.connect(self.index_status.show_message)
        w.summary.connect(self._on_summary)
        w.analysing.connect(self.index_status.set_phase)
        w.analysed.connect(self._on_analysed)
        w.people_changed.connect(self._on_people_changed)
        h = self.health
        h.problem.connect(lambda problem: self.show_problem(problem, "engine"))
        h.healed.connect(self._on_healed)
        h.restored.connect(self._on_restored)
        h.lost.connect(self.runner.detach)
        h.reconnect.connect(lambda: self._reconnect(None, cancel=False))
        s = self.index_status
        s.pause_clicked.connect(lambda _pause: self.toggle_pause())
        s.cancel_clicked.connect(self.cancel_indexing)
        s.skipped_clicked.connect(self.show_skipped)

    # ----- the engine's connection -----
    def _on_ready(self, info: dict) -> None:
        self.ready, self.connecting = True, False
        self.runner.address = self.worker.address()
        self.runner.attach(self.worker.store, self.worker.embedder)
        self.health.watch(self.worker.store, self.worker.embedder)
        self.library.attach(self.worker.store)
        self.folder_tree.attach(self.worker.store)
        self.banner.clear("engine")
        self.photos = info["count"]
        self.index_status.set_summary(self.photos, len(self.skipped))
        self.index_status.show_message(f"Ready · Elasticsearch {info['es']}")
        if self.filter_bar.dated:
            self._count_undated()
        if self.settings.folders:
            self.reindex()

    def _on_init_failed(self, problem: Problem) -> None:
        self.ready = self.connecting = False
        self.health.connect_failed(problem)  # retries what waiting can heal, then shows it

    def _reconnect(self, embedder=None, reason: str = "", cancel: bool = True) -> None:
        """Connect the worker again: Settings changed (a running job stops first, at its next batch boundary), or
        the engine came back (a running job follows the node by itself; the worker re-connects after it)."""
        self.ready, self.connecting = False, True
        if reason:
            self.runner.detach(reason)
            self.health.stop()
        if cancel:
            self.worker.control.cancel()
        self.worker.request_init.emit(embedder)

    def _on_healed(self, message: str) -> None:
        self.banner.clear("engine")
        self.index_status.show_message(message)

    def _on_restored(self, store) -> None:
        """The engine is back (restarted, or answering again): every part uses ``store``; the models stay loaded."""
        self.worker.request_store.emit(store)  # queued before a re-scan below: that scan runs on this store
        self.runner.attach(store, self.worker.embedder)
        self.library.attach(store)
        self.folder_tree.attach(store)
        if self._index_interrupted and self.ready:
            self.reindex()

    # ----- indexing -----
    def reindex(self) -> None:
        """F5: scan again — or, while not connected, try connecting now instead of doing nothing."""
        if self.ready:
            self._index_interrupted = False
            self.worker.request_reindex.emit(list(self.settings.folders))
        elif self.connecting:
            self.index_status.show_message("Still connecting to the search engine…")
        else:
            self.health.retry()

    def _on_index_finished(self, stats: IndexStats) -> None:
        changed = stats.indexed + stats.moved + stats.removed
        self.index_status.finished(finished_text(stats))
        if self.worker.control.paused:
            self.index_status.set_paused(True)
        last = self.runner.last
        if changed and last is not None and len(self.model.hits) < last.k:
            self.runner.submit(last)  # the answer was incomplete while the index was still filling up
        if changed and self.filter_bar.dated:
            self._count_undated()
        if changed or stats.copied:
            self.library.refresh()
            self.folder_tree.reload()

    def _on_analysed(self, outcome) -> None:
        """The analyses phase after a job ended: the status says what it did."""
        if outcome.cleared:
            self.index_status.finished(f"Faces are off: the face data of {outcome.cleared:,} photos deleted")
        elif outcome.stopped:
            self.index_status.finished(f"{self.index_status.phase} stopped — F5 goes on where it stopped")
        else:
            found = outcome.stats.analysed if outcome.stats is not None else 0
            self.index_status.finished("Up to date" + (f" · {found:,} photos analysed" if found else ""))
        if self.worker.control.paused:
            self.index_status.set_paused(True)

    def _catch_up(self) -> None:
        """While indexing runs (search already answers what is in): the photo count, the folder tree and the
        library follow, every LIVE_MS at most. The timeline keeps its scroll position; it is not refreshed while
        photos are selected in it (a selection is never pulled from under the user) — the end of indexing does."""
        store = self.runner.store
        if store is None or not self.index_status.adding:
            return
        run_call(store.count, self._on_live_count, lambda exc: log.info("count while indexing failed: %s", exc),
                 owner=self)
        if not self.library.grid.selected:
            self.library.refresh()
        self.folder_tree.reload()

    def _on_live_count(self, count: int) -> None:
        if self.index_status.indexing:
            self.photos = count
            self.index_status.set_summary(count, len(self.skipped))

    def _on_job_failed(self, problem: Problem) -> None:
        self.index_status.finished("Indexing stopped")
        if problem.kind in (Kind.ENGINE, Kind.UNREACHABLE):
            self._index_interrupted = True  # the health watch brings the engine back; the scan runs again then
            self.health.check_now()
        else:
            self.show_problem(problem, "index")

    def _on_summary(self, photos: int, skipped: list[tuple[str, str]]) -> None:
        self.photos, self.skipped = photos, skipped
        self.index_status.set_summary(photos, len(skipped))
        if photos == 0 and self.settings.folders and not self.index_status.indexing:
            hint = empty_library_text(self.settings.folders)
            self.index_status.show_message(hint)
            if self.runner.last is None:
                self.hint.setText(hint)
                self.library.set_empty_text(hint)

    def toggle_pause(self) -> None:
        pause = not self.worker.control.paused
        if pause:
            self.worker.control.pause()
        else:
            self.worker.control.resume()
        self.index_status.set_paused(pause)

    def cancel_indexing(self) -> None:
        self.worker.control.cancel()
        self.index_status.set_paused(False)

    def _count_undated(self) -> None:
        store = self.runner.store
        if store is not None:
            run_call(store.count_undated, self._on_undated, lambda exc: log.info("undated count failed: %s", exc),
                     owner=self)

    def _on_undated(self, count: int) -> None:
        self.undated = count
        self.filter_bar.set_undated(count)
