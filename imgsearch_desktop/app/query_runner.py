"""Runs the window's queries on the thread pool and keeps the one that must still be answered.

A query asked while Elasticsearch is away (starting, restarting, a new address from Settings) waits as the
pending one — the newest wins — and runs as soon as a store is attached again. A query that finds Elasticsearch
unreachable goes back to pending and asks the health watch to look now, instead of showing a connection error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from imgsearch_desktop.app.problems import explain, is_unreachable
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.dupes import keep_policy
from imgsearch_desktop.core.people_search import PeopleQuery, run_people_query
from imgsearch_desktop.core.query import Query, QueryResult, run_query
from imgsearch_desktop.core.store import Filters
from imgsearch_desktop.errors import UnreadablePart, UsageError

log = logging.getLogger(__name__)

SPELL_BOUND_MS = 10_000  # the longest a query holds indexing back if its answer never arrives


class QueryRunner(QObject):
    answered = Signal(object)  # QueryResult of the newest query
    failed = Signal(object)  # Problem
    waiting = Signal(str)  # the query waits; why, in words
    engine_lost = Signal()  # a query found Elasticsearch unreachable
    unreadable = Signal(object, object)  # a part of the newest query cannot be used: the Part, the Problem

    def __init__(self, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings  # the live Settings: its keep rules pick the best version among a photo's copies
        self.store = None
        self.embedder = None
        self.address = ""  # the remote cluster's URL, for messages ("" = the managed node)
        self.people = lambda: None  # () -> core.people.People or None (faces off): a person or face query uses it
        self.pending: Query | None = None
        self.last: Query | None = None
        self._seq = 0
        self._spells: set[Callable[[], None]] = set()  # the ends of the spells of queries not answered yet
        self.wait_reason = "Will search as soon as the index is ready…"

    @property
    def available(self) -> bool:
        return self.store is not None and self.embedder is not None

    def attach(self, store, embedder) -> None:
        self.store, self.embedder = store, embedder
        if self.pending is not None:
            query, self.pending = self.pending, None
            self.submit(query)

    def detach(self, reason: str) -> None:
        self.store = None
        self.wait_reason = reason

    def forget(self) -> None:
        """No query any more: nothing to rerun or wait for, and an answer still on its way is dropped."""
        self.last = self.pending = None
        self._seq += 1

    def submit(self, query: Query) -> None:
        self.last = query
        self._seq += 1  # an older answer still on its way is dropped
        if not self.available:
            self.pending = query
            self.waiting.emit(self.wait_reason)
            return
        seq, store, embedder = self._seq, self.store, self.embedder
        keep = keep_policy(self.settings) if self.settings is not None else None  # as saved when asked
        if isinstance(query, PeopleQuery):  # a person filter or a face part: core/people
            people = self.people()

            def job():
                if people is None:
                    raise UsageError("faces are off (Settings): there are no people or faces to search by")
                return run_people_query(embedder, store, people, query, keep)
        else:
            def job():
                return run_query(embedder, store, query, keep)
        # Indexing waits from the ask to the answer's delivery, not only while the job runs on its pool thread: the
        # window's first-screen spell starts as the answer arrives, and a gap between the two let indexing's held
        # back bulk write and decoders take the cores the first screen's thumbnails needed (drop_to_grid).
        # Bounded: an answer dropped with its closed window must not hold indexing back.
        spell = embedder.foreground()

        def end() -> None:
            self._spells.discard(end)
            spell()

        self._spells.add(end)
        QTimer.singleShot(SPELL_BOUND_MS, end)
        run_call(job, lambda result: self._answered(seq, result, end),
                 lambda exc: self._failed(seq, query, exc, end), owner=self)

    def end_spells(self) -> None:
        """Indexing waits for no query of this runner any more (the window is closing: no answer or timer will
        come to end their spells)."""
        for end in list(self._spells):
            end()

    def clear(self) -> None:
        """No query any more (the window went back to the library): an answer still on its way is dropped."""
        self.last = self.pending = None
        self._seq += 1

    def rerun(self, k: int, min_score: float | None, filters: Filters) -> bool:
        """The current query again with new filters; False when there is none yet."""
        query = self.pending or self.last
        if query is None:
            return False
        self.submit(dataclasses.replace(query, k=k, min_score=min_score, filters=filters))
        return True

    def _answered(self, seq: int, result: QueryResult, end: Callable[[], None]) -> None:
        log.debug("query answered in %.0f ms: %s", result.seconds * 1000, result.stages.describe())
        try:
            if seq == self._seq:
                self.answered.emit(result)  # the window starts its first-screen spell before this one ends
        finally:
            end()

    def _failed(self, seq: int, query: Query, exc: BaseException, end: Callable[[], None]) -> None:
        end()
        if seq != self._seq:
            return
        if is_unreachable(exc):
            log.info("query waits: Elasticsearch unreachable (%s)", exc)
            self.pending = query
            self.engine_lost.emit()
            self.waiting.emit("Will search as soon as the search engine answers again…")
            return
        if isinstance(exc, UnreadablePart):
            self.unreadable.emit(exc.part, explain(exc, self.address, "searching"))
            return
        self.failed.emit(explain(exc, self.address, "searching"))


def empty_hint(*, indexing: bool, photos: int | None, min_score: float | None, filters: Filters,
               undated: int | None) -> str:
    """What to say when a query found nothing: the likeliest reason first, and only reasons that apply."""
    if indexing:
        return "No similar photos yet: indexing is still running, results will appear when it is done."
    if photos == 0:
        return "No photos are indexed yet. Add a folder with photos in Settings (Ctrl+,)."
    tips = []
    if (filters.date_from or filters.date_to) and not filters.include_undated:
        if undated:
            tips.append(f"{undated:,} photo{' has' if undated == 1 else 's have'} no date taken and "
                        f"{'is' if undated == 1 else 'are'} left out: tick “include photos without a date”")
        tips.append("widen the dates")
    if min_score:
        tips.append("lower the minimum similarity")
    if filters.folders:
        tips.append("choose “All folders”")
    if filters.formats:
        tips.append("choose “All formats”")
    if not tips:
        return "No photos match."
    return "No photos match these filters: " + "; or ".join(tips) + "."
