"""The library's paged model: the months' counts and a few pages of photos, fetched one at a time off the main
thread from a point-in-time snapshot of the index (``Store.timeline_page``); the page farthest from the view is
dropped when more arrive, and a few screens of thumbnails are held. app/library_view.py shows it."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import (
    QImage,
    QPixmap,
)

from imgsearch_desktop.app.results_model import HitRole, PathRole, placeholder
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.library import Group, PagePlan, group_at, groups, plan_page
from imgsearch_desktop.core.store import Filters, Hit, SnapshotExpired, Store, Timeline, TimelinePage, readable_path

Index = QModelIndex | QPersistentModelIndex
PAGE = 200  # photos per store call: a screen or two of tiles
MAX_PAGES = 6  # pages held; the one farthest from the view goes first
MAX_INFLIGHT = 2  # page requests on their way at once (a scrubber drag must not queue hundreds)
MAX_PIXMAPS = 400  # thumbnails held (≈ 100 KB each at 160 px): a few screens; the disk cache has the rest


class TimelineModel(QAbstractListModel):
    """Row ``r`` is the r-th photo of the library in timeline order; only a few pages of them are ever held."""

    loaded = Signal()  # a new snapshot: the months and the total are known (rows may still be blank)
    page_arrived = Signal(int)  # the first row of a page that came in
    failed = Signal(object)  # the exception of a store call that failed

    def __init__(self, thumbnails: ThumbnailLoader, icon_px: int = 160, page_size: int = PAGE,
                 max_pages: int = MAX_PAGES, parent=None) -> None:
        super().__init__(parent)
        self.thumbnails, self.icon_px = thumbnails, icon_px
        self.page_size, self.max_pages = page_size, max_pages
        self.store: Store | None = None
        self.filters = Filters()
        self.timeline: Timeline | None = None
        self.groups: list[Group] = []
        self.pages: dict[int, list[Hit]] = {}  # page number → its photos
        self.anchors: dict[int, list] = {}  # row → that photo's sort values (each fetched page's last)
        self.inflight: set[int] = set()
        self.queue: list[int] = []
        self.view_rows = (0, -1)  # first and last row on screen
        self.held = -1  # a row kept loaded off screen (the preview shows it)
        self.generation = 0  # bumped by each reload: answers for an older snapshot are dropped
        self.pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._loading, self._broken = placeholder(icon_px), placeholder(icon_px, "cannot show")
        thumbnails.loaded.connect(self._on_thumbnail)

    # ----- the snapshot -----
    def attach(self, store: Store | None) -> None:
        self.store = store
        if store is not None:
            self.reload()

    def set_filters(self, filters: Filters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.reload()

    def reload(self) -> None:
        """A new snapshot (the index changed, the filters did, or the old one expired): counts first, then the
        pages on screen."""
        if self.store is None:
            return
        self.generation += 1
        gen, store, filters, old = self.generation, self.store, self.filters, self.timeline
        if old is not None:
            run_call(lambda: store.close_timeline(old), lambda _r: None, lambda _e: None)
        run_call(lambda: store.timeline(filters), lambda t: self._on_timeline(gen, t),
                 lambda exc: self._on_failed(gen, None, exc), owner=self)

    def _on_timeline(self, gen: int, timeline: Timeline) -> None:
        if gen != self.generation:
            return
        self.beginResetModel()
        self.timeline, self.groups = timeline, groups(timeline.months)
        self.pages, self.anchors, self.inflight, self.queue, self.held = {}, {}, set(), [], -1
        self.endResetModel()
        self.loaded.emit()
        self.show_rows(*self.view_rows)

    # ----- pages -----
    def show_rows(self, first: int, last: int) -> None:
        """The view shows these rows now: fetch their pages (and the next one), their thumbnails."""
        self.view_rows = (first, last)
        total = self.rowCount()
        if self.timeline is None or total == 0 or last < first:
            return
        self._queue_wanted()
        self._request_thumbnails()

    def hold(self, row: int) -> None:
        """Keep ``row``'s page loaded (fetch it if need be) while it is off screen; -1: hold none."""
        self.held = row if 0 <= row < self.rowCount() else -1
        if self.held >= 0:
            self._queue_wanted()

    def _queue_wanted(self) -> None:
        self.queue = [p for p in self._wanted() if p not in self.pages and p not in self.inflight]
        self._pump()

    def _wanted(self) -> list[int]:
        first, last = self.view_rows
        size, total = self.page_size, self.rowCount()
        pages = list(range(max(0, first) // size, min(last, total - 1) // size + 1))
        if pages and (pages[-1] + 1) * size < total:
            pages.append(pages[-1] + 1)  # the next page too: scrolling on finds it there
        if self.held >= 0 and self.held // size not in pages:
            pages.append(self.held // size)
        return pages

    def _pump(self) -> None:
        while self.queue and len(self.inflight) < MAX_INFLIGHT:
            plan = plan_page(self.queue[0] * self.page_size, self.page_size, self.groups, self.anchors)
            if plan.seek and self.inflight:
                return  # a page next to it is on its way: its first or last photo makes the seek unnecessary
            self._fetch(self.queue.pop(0), plan)

    def _fetch(self, page: int, plan: PagePlan) -> None:
        self.inflight.add(page)
        gen, store, timeline, size = self.generation, self.store, self.timeline, self.page_size
        run_call(lambda: fetch_page(store, timeline, plan, size), lambda result: self._on_page(gen, page, result),
                 lambda exc: self._on_failed(gen, page, exc), owner=self)

    def _on_page(self, gen: int, page: int, result: TimelinePage) -> None:
        if gen != self.generation:
            return
        self.inflight.discard(page)
        self.pages[page] = result.hits
        first = page * self.page_size
        if result.hits:
            self.anchors[first + len(result.hits) - 1] = result.after
            self.anchors[first] = result.before
        self._evict()
        if page in self.pages and result.hits:
            self.dataChanged.emit(self.index(first), self.index(first + len(result.hits) - 1))
            self._request_thumbnails()
        self.page_arrived.emit(first)
        self._queue_wanted()

    def _evict(self) -> None:
        centre = sum(self.view_rows) / 2 / self.page_size
        spare = set(self.pages) - set(self._wanted())  # never a page on screen or held: it would be fetched again
        while len(self.pages) > self.max_pages and spare:
            page = max(spare, key=lambda p: abs(p - centre))
            spare.discard(page)
            del self.pages[page]

    def _on_failed(self, gen: int, page: int | None, exc: BaseException) -> None:
        if gen != self.generation:
            return
        if page is not None:
            self.inflight.discard(page)
        if isinstance(exc, SnapshotExpired):
            self.reload()  # rows stay where they were; the counts come back fresh
            return
        self.failed.emit(exc)

    # ----- what a row shows -----
    def hit(self, row: int) -> Hit | None:
        hits = self.pages.get(row // self.page_size)
        offset = row % self.page_size
        return hits[offset] if hits is not None and offset < len(hits) else None

    def loaded_rows(self) -> int:
        """Photos held in memory now (tests and the benchmark check it stays a few pages)."""
        return sum(len(h) for h in self.pages.values())

    def group_index(self, row: int) -> int:
        return group_at(self.groups, row)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() or self.timeline is None else self.timeline.total

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self.hit(index.row()) if index.isValid() else None
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmaps.get(hit.path, self._loading) if hit is not None else self._loading
        if hit is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.image_name
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"{hit.width}×{hit.height}  " if hit.width else ""
            when = (hit.photo_date or "no date").replace("T", " ")
            return f"{readable_path(hit.path)}\n{size}{when}" + ("" if hit.taken_at else " (file time)")
        if role == HitRole:
            return hit
        if role == PathRole:
            return os.fsencode(hit.path)
        return None

    # ----- thumbnails -----
    def _request_thumbnails(self) -> None:
        """Only what is on screen: the loader's older requests (tiles scrolled past) are dropped."""
        self.thumbnails.cancel_pending()
        first, last = self.view_rows
        for row in range(max(0, first), min(last, self.rowCount() - 1) + 1):
            hit = self.hit(row)
            if hit is not None and hit.path not in self.pixmaps:
                self.thumbnails.request(hit.path)

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        first, last = self.view_rows
        rows = [r for r in range(max(0, first), last + 1) if (h := self.hit(r)) is not None and h.path == path]
        if not rows:
            return  # scrolled away meanwhile (or another grid's thumbnail)
        self.pixmaps[path] = self._broken if image.isNull() else square(image, self.icon_px)
        self.pixmaps.move_to_end(path)
        while len(self.pixmaps) > MAX_PIXMAPS:
            self.pixmaps.popitem(last=False)
        for row in rows:
            self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])

    def thumbnails_ready(self, first: int, last: int) -> bool:
        """Every photo of these rows is loaded and has its thumbnail."""
        return all((h := self.hit(r)) is not None and h.path in self.pixmaps for r in range(first, last + 1))


def square(image: QImage, px: int) -> QPixmap:
    """The middle of the picture filling a px×px tile (as photo timelines show them: rows without gaps)."""
    scaled = image.scaled(px, px, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                          Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(scaled.copy((scaled.width() - px) // 2, (scaled.height() - px) // 2, px, px))


def fetch_page(store: Store, timeline: Timeline, plan: PagePlan, size: int) -> TimelinePage:
    """On a pool thread: the page ``plan`` says how to reach (a seek first when it lies deep in a huge month)."""
    if plan.before is not None:
        return store.timeline_page(timeline, before=plan.before, size=size)
    after, month, skip = plan.after, plan.month, plan.skip
    if plan.seek:
        after = store.timeline_seek(timeline, plan.seek, after=after, month=month)
        month, skip = None, 0
        if after is None:
            return TimelinePage([], None)
    if after is not None:
        return store.timeline_page(timeline, after=after, size=size)
    return store.timeline_page(timeline, size=size, month=month, skip=skip)
