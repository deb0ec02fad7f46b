"""The hits of the current query as a list model for the icon-mode grid (one model, no widget per thumbnail)."""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QImage, QPainter, QPixmap

from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core.dupes import Tier
from imgsearch_desktop.core.store import Hit, readable_path

HitRole = Qt.ItemDataRole.UserRole + 1
# The photo's path as its bytes (os.fsencode): every grid's model answers it (this one, the library's timeline), so
# the preview and the actions on a selection work on either. Bytes, not str: a str crosses Qt as a QString, which
# drops the surrogate escapes of a non-UTF-8 name. Read it with ``index_path``.
PathRole = Qt.ItemDataRole.UserRole + 2


def index_path(index: QModelIndex | QPersistentModelIndex) -> str | None:
    """The path of a grid's tile (PathRole), exactly as on disk; None for a tile that has none (yet)."""
    data = index.data(PathRole) if index.isValid() else None
    return os.fsdecode(data) if isinstance(data, bytes) else None

Index = QModelIndex | QPersistentModelIndex

# Pixmaps kept in memory: the current results plus recent queries' (≈ 130 KB each at 180 px). Older ones come back
# from the on-disk thumbnail cache in about a millisecond, so memory stays flat however many queries are run.
MAX_PIXMAPS = 600


def placeholder(px: int, text: str = "") -> QPixmap:
    pm = QPixmap(QSize(px, px))
    pm.fill(QColor("#eceff1"))
    if text:
        painter = QPainter(pm)
        painter.setPen(QColor("#90a4ae"))
        painter.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
    return pm


class ResultsModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader, icon_px: int = 180, parent=None) -> None:
        super().__init__(parent)
        self.hits: list[Hit] = []
        self.relations: list[Tier] = []
        self.best: int | None = None
        self.thumbnails = thumbnails
        self.pixmaps: OrderedDict[str, QPixmap] = OrderedDict()  # least recently shown first
        self.icon_px = icon_px
        # Placeholders as big as the grid's icons, so every cell has its final size before thumbnails arrive.
        self._loading = placeholder(icon_px)
        self._broken = placeholder(icon_px, "cannot show")
        self._rows: dict[str, list[int]] = {}
        self._names: list[str] = []  # each hit's name as its tile shows it (cut where the names do not differ)
        thumbnails.cell_loaded.connect(self._on_thumbnail)

    def set_hits(self, hits: list[Hit], relations: list[Tier] = (), best: int | None = None) -> None:
        self.beginResetModel()
        self.thumbnails.cancel_pending()
        self.hits = list(hits)
        self.relations = list(relations)
        self.best = best
        self._index_rows()
        self.endResetModel()
        for path in self._rows:
            if path in self.pixmaps:
                self.pixmaps.move_to_end(path)
            else:
                self.thumbnails.request(path, cell=self.icon_px)
        self._evict()

    def drop(self, paths: set[str]) -> None:
        """Take these photos out of the grid (they went to the trash), tile by tile: the rest keep their places."""
        for row in reversed(range(len(self.hits))):
            if self.hits[row].path not in paths:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.hits[row]
            if row < len(self.relations):
                del self.relations[row]
            if self.best is not None:
                self.best = None if self.best == row else self.best - (row < self.best)
            self.endRemoveRows()
        self._index_rows()

    def _index_rows(self) -> None:
        self._rows = {}
        for row, hit in enumerate(self.hits):
            self._rows.setdefault(hit.path, []).append(row)
        # One line beside the score in the tile's width (the grid's cell: icon + 24 px, a few px of padding).
        metrics, room = QFontMetrics(QGuiApplication.font()), self.icon_px + 24 - 12
        self._names = short_names([hit.image_name for hit in self.hits],
                                  fits=lambda name: metrics.horizontalAdvance(f"0.000  {name}") <= room)

    def _evict(self) -> None:
        for path in list(self.pixmaps):
            if len(self.pixmaps) <= MAX_PIXMAPS:
                break
            if path not in self._rows:
                del self.pixmaps[path]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.hits):
            return None
        hit = self.hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            label = f"{hit.score:.3f}  {self._names[index.row()]}"
            relation = self.relation(index.row())
            if relation is not Tier.SIMILAR:  # a copy of the query: say which kind, and which copy is best
                label += f"\n{relation.label}" + ("  ★ best" if index.row() == self.best else "")
            elif hit.matched in ("text", "both"):  # found (also) by the words read in it: say so
                label += "\nmatched by text"
            return label
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmaps.get(hit.path, self._loading)
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"{hit.width}×{hit.height}" if hit.width else ""
            best = " · ★ the best version of this picture" if index.row() == self.best else ""
            return (f"{readable_path(hit.path)}\n{size}  similarity {hit.score:.4f}\n"
                    f"{self.relation(index.row()).label}{best}")
        if role == HitRole:
            return hit
        if role == PathRole:
            return os.fsencode(hit.path)
        return None

    def relation(self, row: int) -> Tier:
        """The hit's tier to the query (its label: identical file / same picture / similar shot)."""
        return self.relations[row] if row < len(self.relations) else Tier.SIMILAR

    @Slot(object, QImage)
    def _on_thumbnail(self, path: str, image: QImage) -> None:
        # Main thread: the only place a QPixmap is made (from the tile already centred on the pool).
        self.pixmaps[path] = self._broken if image.isNull() else QPixmap.fromImage(image)
        self._evict()
        for row in self._rows.get(path, []):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def thumbnails_ready(self) -> bool:
        return all(p in self.pixmaps for p in self._rows)


NAME_CHARS = 22  # what fits beside the score under a 180 px tile; the tooltip has the whole path
MIN_CHARS = 12  # never cut shorter than this, however wide its letters
END_CHARS = 5  # the end kept when a name is cut twice: its last digits and extension (".jpeg", "1.jpg")


def _short(name: str, limit: int = NAME_CHARS) -> str:
    """Middle-elided here, not by the view: Qt elides a two-line label as a whole ("1.000 …") when one line is long."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return name[: keep - keep // 2] + "…" + name[-(keep // 2):]


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _shared(names: list[str]) -> tuple[list[int], list[int]]:
    """Per name: the longest start and the longest end it shares with any other name (the longest is with a
    neighbour in sorted order, so this is n log n, not n²)."""
    starts, ends = [0] * len(names), [0] * len(names)
    for out, key in ((starts, lambda s: s), (ends, lambda s: s[::-1])):
        order = sorted(range(len(names)), key=lambda i: key(names[i]))
        for a, b in itertools.pairwise(order):
            n = _common(key(names[a]), key(names[b]))
            out[a], out[b] = max(out[a], n), max(out[b], n)
    return starts, ends


def short_names(names: list[str], limit: int = NAME_CHARS, fits: Callable[[str], bool] | None = None) -> list[str]:
    """Each name cut to ``limit`` characters (and further while ``fits`` says it is too wide) so that what tells it
    apart from the others stays in sight: IMG_20240801_2041.jpg beside IMG_20240801_2042.jpg keeps its end,
    Ubuntu-Mate-Warm-no-logo.png beside Ubuntu-Mate-Radioactive-no-logo.png its middle. A plain middle cut showed
    both of those pairs the same."""
    starts, ends = _shared(names)
    out = []
    for name, start, end in zip(names, starts, ends, strict=True):
        chars = limit
        short = _distinct_short(name, start, len(name) - end, chars)
        while fits is not None and not fits(short) and chars > MIN_CHARS:  # wide letters: one line still
            chars -= 1
            short = _distinct_short(name, start, len(name) - end, chars)
        out.append(short)
    return out


def _distinct_short(name: str, first: int, last: int, limit: int) -> str:
    """``name`` cut to ``limit`` characters keeping ``name[first:last]`` (where it differs) in sight."""
    n = len(name)
    if n <= limit:
        return name
    keep = limit - 1
    head, tail = keep - keep // 2, keep // 2
    # Back to the start of the number or word the difference is in: "…2041.jpg", not "…1.jpg".
    while 0 < first < n and name[first - 1].isalnum() and name[first - 1].isdigit() == name[first].isdigit():
        first -= 1
    if first >= last or last <= head or first >= n - tail:
        return _short(name, limit)  # no difference (the same name elsewhere), or a middle cut keeps it
    if n - first <= keep - 3:  # cut before it: a short start, then everything from the difference on
        return name[: keep - (n - first)] + "…" + name[first:]
    middle = keep - 1 - 3 - END_CHARS  # cut twice: the start, the difference, the end
    return name[:3] + "…" + name[first:first + middle] + "…" + name[-END_CHARS:]
