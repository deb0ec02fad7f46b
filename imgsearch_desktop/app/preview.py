"""The preview: one photo large in the window, in place of the grid it was opened from.

Works on any grid of photos (app/tiles.py: the results, the library's timeline): ``open(grid)`` takes the grid's
model and current tile; Left/Right (and the ‹ › buttons) step through the model's
rows; Esc (or Space, as a quick look) hands back to the grid, whose current tile is then the photo shown last and
whose scroll position is untouched unless that photo is off screen. A timeline row whose page is not in memory
is fetched while it is shown (``hold_row``), and painted when it arrives. Fit / 100% (Z, or the button); Enter or
"Open in viewer" opens the file in the system viewer; "Find similar" searches with it. Beside the picture: name,
folder, date taken, camera, lens, exposure, size and, where the file has GPS, the place.

Threading (app/__init__.py): the file is read and decoded on the preview's own one-thread pool (a fast flick
through twenty photos decodes the one it stops at, not all twenty, and never holds up the queries on the global
pool); the worker makes the QImage, the QPixmap is made here on the main thread.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QImage, QKeyEvent, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app.pools import new_pool
from imgsearch_desktop.app.results_model import HitRole, index_path
from imgsearch_desktop.app.tiles import Tiles, tiles_of
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core import exif, images
from imgsearch_desktop.core.analyses.text import matched_boxes
from imgsearch_desktop.core.store import readable_path

UNKNOWN = "—"
INFO_WIDTH = 250
STYLE = """
QWidget#preview { background: #fafafa; }
QScrollArea#canvas { background: #263238; border: none; border-radius: 6px; }
QScrollArea#canvas > QWidget > QWidget { background: #263238; }
QLabel#picture { color: #b0bec5; font-size: 15px; }
QLabel#previewTitle { font-size: 15px; font-weight: bold; color: #263238; }
QLabel#previewPosition, QLabel#previewZoom { color: #607d8b; }
QFrame#previewInfo QLabel { color: #37474f; }
QFrame#previewInfo QLabel[role="key"] { color: #78909c; }
"""


MATCH_COLOUR = "#ffcc00"  # the outline of the words a search matched (visible on light and dark photos)

@dataclass
class Picture:
    """What the pool hands back for one file: the picture (null when it cannot be shown) and its facts."""

    path: str
    image: QImage
    width: int = 0  # the photo's own pixels, as displayed (EXIF orientation applied)
    height: int = 0
    file_size: int = 0
    facts: exif.Facts = field(default_factory=exif.Facts)
    error: str = ""


def to_qimage(im) -> QImage:
    """A PIL RGB image as a QImage that owns its pixels (safe to hand to another thread)."""
    data = im.tobytes()
    return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()


def load_picture(path: str) -> Picture:
    """Pool thread: read the file once (the safe read), decode it large and read its EXIF from the same bytes."""
    try:
        data = images.read_file(path)
        shown = images.viewable(data, path)
        loaded = images.decode_for_view(shown)
    except images.ImageSkipped as exc:
        return Picture(path, QImage(), error=str(exc))
    return Picture(path, to_qimage(loaded.image), loaded.width, loaded.height, len(data), exif.of_bytes(shown))


def size_text(picture: Picture) -> str:
    """``5640 × 3172 px · 17.9 MP · 4.2 MB``"""
    parts = []
    if picture.width:
        parts.append(f"{picture.width} × {picture.height} px · {picture.width * picture.height / 1e6:.1f} MP")
    if picture.file_size:
        parts.append(f"{picture.file_size / 1e6:.1f} MB")
    return " · ".join(parts) or UNKNOWN


def taken_text(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else UNKNOWN


class _Canvas(QScrollArea):
    """The picture: fitted to the room it has, or at 100% with scroll bars."""

    resized = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("canvas")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel()
        self.label.setObjectName("picture")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class PreviewPane(QWidget):
    closed = Signal()  # Esc / Space / Back: the host shows its grid again
    open_requested = Signal(object)  # path: open in the system viewer
    similar_requested = Signal(object)  # path: search with this photo
    shown = Signal(object)  # path whose picture (or why it cannot be shown) is on screen now (tests wait on it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.model = None
        self.view: Tiles | None = None
        self.row = -1
        self.path: str | None = None
        self.full = False  # 100% instead of fit
        self.picture: Picture | None = None
        self.pixmap = QPixmap()  # the decoded picture, made on this (the main) thread
        self._wanted: str | None = None  # the photo to show; the pool decodes one at a time
        self._decoding = False
        self.pool = new_pool(1, self)
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(30)  # a window being dragged wider rescales once it rests, not on every pixel
        self._refit.timeout.connect(self._paint)
        self._build()
        self._keys()

    # ----- layout -----
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        bar = QHBoxLayout()
        self.back_button = self._button("← Back to grid", "Back to the grid (Esc)", self.close_preview)
        self.prev_button = self._tool("‹", "Previous photo (Left)", lambda: self.step(-1))
        self.next_button = self._tool("›", "Next photo (Right)", lambda: self.step(1))
        self.title = QLabel()
        self.title.setObjectName("previewTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.position = QLabel()
        self.position.setObjectName("previewPosition")
        self.zoom_label = QLabel()
        self.zoom_label.setObjectName("previewZoom")
        self.zoom_button = self._button("100%", "Fit in the window or show at 100% (Z)", self.toggle_zoom)
        self.zoom_button.setCheckable(True)
        self.similar_button = self._button("Find similar", "Search with this photo",
                                           lambda: self.path and self.similar_requested.emit(self.path))
        self.open_button = self._button("Open in viewer", "Open in the system's image viewer (Enter)",
                                        lambda: self.path and self.open_requested.emit(self.path))
        for w in (self.back_button, self.prev_button, self.next_button):
            bar.addWidget(w)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.position)
        outer.addLayout(bar)
        body = QHBoxLayout()
        body.setSpacing(10)
        self.canvas = _Canvas()
        self.canvas.resized.connect(lambda: not self.full and self._refit.start())
        body.addWidget(self.canvas, 1)
        body.addWidget(self._side_panel())
        outer.addLayout(body, 1)

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys with the picture
        button.clicked.connect(slot)
        return button

    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.clicked.connect(slot)
        return button

    def _side_panel(self) -> QFrame:
        """Beside the picture: its facts, then the zoom and the actions (the bar above stays narrow)."""
        panel = QFrame()
        panel.setObjectName("previewInfo")
        panel.setFixedWidth(INFO_WIDTH)
        column = QVBoxLayout(panel)
        column.setContentsMargins(4, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # the value under its name: never cut
        self.form.setVerticalSpacing(4)
        self.facts: dict[str, QLabel] = {}
        for key in ("Name", "Folder", "Taken", "Camera", "Lens", "Exposure", "Size", "Place"):
            name = QLabel(key)
            name.setProperty("role", "key")
            value = QLabel(UNKNOWN)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(name, value)
            self.facts[key] = value
        column.addLayout(self.form)
        column.addStretch(1)
        for w in (self.zoom_label, self.zoom_button, self.similar_button, self.open_button):
            column.addWidget(w)
        return panel

    def _keys(self) -> None:
        """Esc, arrows, Home/End and Z anywhere in the preview; Space and Enter on the picture only (on a focused
        button they press the button). The grid and the search bar keep their own keys."""
        for keys, slot, owner in (
                (("Esc",), self.close_preview, self), (("Right",), lambda: self.step(1), self),
                (("Left",), lambda: self.step(-1), self), (("Home",), lambda: self.go(0), self),
                (("End",), lambda: self.go(self._rows() - 1), self), (("Z",), self.toggle_zoom, self),
                (("Space",), self.close_preview, self.canvas),  # a quick look: Space opens it and closes it
                (("Return", "Enter"), lambda: self.path and self.open_requested.emit(self.path), self.canvas)):
            action = QAction(owner)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            owner.addAction(action)

    # ----- opening, stepping, closing -----
    def open(self, grid: Tiles | QAbstractItemView, row: int | None = None) -> None:
        """Show ``row`` (default: the grid's current tile) of the grid's model; steps go through that model."""
        tiles = tiles_of(grid)
        model = tiles.tiles_model()
        if model is not self.model:
            if self.model is not None:
                self.model.modelAboutToBeReset.disconnect(self._on_reset)
                self.model.dataChanged.disconnect(self._on_data)
            model.modelAboutToBeReset.connect(self._on_reset)
            model.dataChanged.connect(self._on_data)
        self.model, self.view = model, tiles
        self.go(tiles.current_row() if row is None else row)
        self.canvas.setFocus()

    def go(self, row: int) -> None:
        if self.model is None or not 0 <= row < self._rows():
            return
        self.row = row
        if self.view is not None:
            self.view.hold_row(row)  # a timeline row off screen: its page is fetched, ``_on_data`` shows it
        index = self.model.index(row, 0)
        self.path = index_path(index)
        shown = readable_path(self.path or "")
        folder, name = os.path.split(shown)
        self.title.setText(name)
        self.title.setToolTip(shown)
        self.position.setText(f"{row + 1:,} of {self._rows():,}")
        self.prev_button.setEnabled(row > 0)
        self.next_button.setEnabled(row < self._rows() - 1)
        self._show_facts(None, name, folder)
        self.picture, self.pixmap = None, QPixmap()
        self._placeholder(index)
        if self.path is not None:
            self._load(self.path)

    def step(self, delta: int) -> None:
        self.go(max(0, min(self._rows() - 1, self.row + delta)))

    def close_preview(self) -> None:
        """Back to the grid: its current tile is the photo shown last; it scrolls only if that tile is off screen."""
        view, row = self.view, self.row
        self._wanted = None
        self.pixmap, self.picture = QPixmap(), None  # a 50 MP picture is not kept while the grid is shown
        self.canvas.label.clear()
        self.closed.emit()
        if view is not None:
            view.hold_row(-1)
            if self.model is view.tiles_model() and 0 <= row < self._rows():
                view.show_row(row)

    def _on_data(self, top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        """The photo being shown had no path yet (its timeline page was on its way): show it now."""
        if self.isVisible() and self.path is None and top.row() <= self.row <= bottom.row():
            self.go(self.row)

    def _on_reset(self) -> None:
        """The grid's rows are replaced (a new query): the list being stepped through is gone."""
        if self.isVisible():
            self.close_preview()
        self.row = -1

    def _rows(self) -> int:
        return self.model.rowCount() if self.model is not None else 0

    # ----- decoding (pool) → painting (here) -----
    def _load(self, path: str) -> None:
        self._wanted = path
        if self._decoding:
            return  # the running decode's outcome starts the next one
        self._decoding = True
        run_call(functools.partial(load_picture, path), self._on_loaded,
                 lambda exc, path=path: self._on_loaded(Picture(path, QImage(), error=str(exc))),
                 owner=self, pool=self.pool)

    def _on_loaded(self, picture: Picture) -> None:
        self._decoding = False
        if self._wanted is None:
            return
        if picture.path != self._wanted:  # the user stepped on meanwhile: decode where they are now
            self._load(self._wanted)
            return
        self.picture = picture
        self.pixmap = QPixmap.fromImage(picture.image) if not picture.image.isNull() else QPixmap()
        self._outline_matched_text(picture)
        folder, name = os.path.split(readable_path(picture.path))
        self._show_facts(picture, name, folder)
        self._paint()
        self.shown.emit(picture.path)

    def _outline_matched_text(self, picture: Picture) -> None:
        """A photo found by its words: the lines holding them outlined on the picture (boxes in the photo's pixels;
        the picture may be shown reduced)."""
        hit = self.model.index(self.row, 0).data(HitRole) if self.model is not None else None
        if self.pixmap.isNull() or hit is None or hit.path != picture.path or not picture.width:
            return
        boxes = matched_boxes(hit.text_lines, hit.matched_terms)
        if not boxes:
            return
        scale = self.pixmap.width() / picture.width
        painter = QPainter(self.pixmap)
        painter.setPen(QPen(QColor(MATCH_COLOUR), max(2.0, self.pixmap.width() / 400)))  # seen when fitted too
        pad = 4  # around the letters, not on them
        for x, y, w, h in boxes:
            painter.drawRect(round(x * scale) - pad, round(y * scale) - pad, round(w * scale) + 2 * pad,
                             round(h * scale) + 2 * pad)
        painter.end()

    def _placeholder(self, index: QModelIndex) -> None:
        """Until the decode is in: the tile's own thumbnail, blown up (soft, but the right picture at once)."""
        tile = index.data(Qt.ItemDataRole.DecorationRole)
        self.canvas.setWidgetResizable(True)
        if isinstance(tile, QPixmap) and not tile.isNull():
            self.canvas.label.setPixmap(self._fitted(tile, upscale=True))
        else:
            self.canvas.label.setText("Loading…")
        self.zoom_label.setText("")

    def _fitted(self, pixmap: QPixmap, upscale: bool = False) -> QPixmap:
        room = self.canvas.viewport().size()
        if not upscale and pixmap.width() <= room.width() and pixmap.height() <= room.height():
            return pixmap  # a photo is never blown past 100%
        return pixmap.scaled(room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)

    def _paint(self) -> None:
        label = self.canvas.label
        if self.picture is None:
            return
        if self.pixmap.isNull():
            self.canvas.setWidgetResizable(True)
            label.setText(f"This photo cannot be shown: {self.picture.error}")
            label.setWordWrap(True)
            self.zoom_label.setText("")
            return
        if self.full:
            self.canvas.setWidgetResizable(False)
            label.setPixmap(self.pixmap)
            label.resize(self.pixmap.size())
            shown = self.pixmap.width()
            for bar in (self.canvas.horizontalScrollBar(), self.canvas.verticalScrollBar()):
                bar.setValue((bar.maximum() + bar.minimum()) // 2)  # 100% opens on the middle of the photo
        else:
            self.canvas.setWidgetResizable(True)
            fitted = self._fitted(self.pixmap)
            label.setPixmap(fitted)
            shown = fitted.width()
        scale = shown / self.picture.width if self.picture.width else 1.0
        self.zoom_label.setText(f"{'100%' if self.full else 'fit'} · {scale:.0%} of the photo")

    def toggle_zoom(self) -> None:
        self.set_zoom(not self.full)

    def set_zoom(self, full: bool) -> None:
        self.full = full
        self.zoom_button.setChecked(full)
        self.zoom_button.setText("Fit" if full else "100%")
        self._paint()

    def _show_facts(self, picture: Picture | None, name: str, folder: str) -> None:
        pending = "…" if picture is None else UNKNOWN
        facts = picture.facts if picture is not None else exif.Facts()
        values = {"Name": name, "Folder": folder, "Taken": taken_text(facts.taken) if picture else pending,
                  "Camera": facts.camera or pending, "Lens": facts.lens or pending,
                  "Exposure": facts.exposure or pending, "Size": size_text(picture) if picture else pending,
                  "Place": facts.place}
        for key, value in values.items():
            self.facts[key].setText(value)
        self.form.setRowVisible(self.facts["Place"], bool(facts.place))  # only where the file has GPS


def attach(view: QAbstractItemView, open_preview) -> QObject:
    """Space, Enter and a double-click on ``view``'s tiles call ``open_preview(view)`` (Ctrl+Space still toggles
    a tile's selection). The timeline grid has these keys itself (its ``preview_requested``)."""
    keys = _PreviewKeys(view, open_preview)
    view.installEventFilter(keys)
    view.activated.connect(lambda index: index.isValid() and open_preview(view))
    return keys


class _PreviewKeys(QObject):
    def __init__(self, view: QAbstractItemView, open_preview) -> None:
        super().__init__(view)
        self.view, self.open_preview = view, open_preview

    def eventFilter(self, watched, event) -> bool:
        if (event.type() == QKeyEvent.Type.KeyPress and event.key() == Qt.Key.Key_Space
                and event.modifiers() == Qt.KeyboardModifier.NoModifier and self.view.currentIndex().isValid()):
            self.open_preview(self.view)
            return True
        return False
