"""The library, browsable: every photo, newest first, in month groups, with a scrubber to jump to a year or month.

Virtual all the way down, so 100,000 photos scroll like 100: the model (app/timeline_model.py) knows only the
months' counts (one aggregation) and holds a few pages of photos, fetched one at a time off the main thread from a
point-in-time snapshot of the index (``Store.timeline_page``: ``search_after`` a known photo, or from a month's
start); the page farthest from the view is dropped when more arrive. The grid lays out and paints only what is
on screen; its thumbnails come from the disk cache through the window's ``ThumbnailLoader``. The grid is a
``tiles.Tiles``: the preview and the actions on a selection work on it as on the results grid.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QHBoxLayout, QLabel, QMenu, QVBoxLayout, QWidget

from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.tiles import photo_menu
from imgsearch_desktop.app.timeline_model import TimelineModel
from imgsearch_desktop.core.analyses.text import text_in_photo
from imgsearch_desktop.core.store import Filters, Store, readable_path

# ---------------------------------------------------------------- the grid
GAP = 6
HEADER = 40


class TimelineGrid(QAbstractScrollArea):
    """Month headers and square tiles, laid out from the months' counts alone and painted only where visible.

    Click, Ctrl+click and Shift+click select, Ctrl+A selects all; arrows, Page Up/Down, Home/End move; Enter, Space
    and a double-click ask for the current photo's preview (``preview_requested``). With several tiles selected the
    right-click menu is the selection's (``many``: app/selection.SelectionActions, set by the window).
    """

    preview_requested = Signal()  # the current photo, large
    open_requested = Signal(object)  # path to open in the system viewer (object: a non-UTF-8 name arrives intact)
    selection_changed = Signal()
    reveal_requested = Signal(object)  # a folder
    similar_requested = Signal(object)  # search with this photo
    scrolled = Signal()  # the view moved (the scrubber follows)

    def __init__(self, model: TimelineModel, icon_px: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.model_ = model
        self.icon_px, self.cell = icon_px, icon_px + GAP
        self.cols = 1
        self.tops: list[int] = []  # y of each group's header in content coordinates
        self.content_height = 0
        self.current = -1
        self.selected: set[int] = set()
        self._anchor_row = -1  # where a Shift range starts
        self.all_selected = False  # Ctrl+A: every photo of the snapshot, most of them never loaded
        self.many = None  # the selection's actions (SelectionActions), set by the window
        self.message = "Loading the library…"
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the scrubber stands for it
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setAutoFillBackground(False)
        self.verticalScrollBar().valueChanged.connect(self._moved)
        model.modelReset.connect(self._reset)
        model.dataChanged.connect(lambda *_: self.viewport().update())

    # ----- layout -----
    def _reset(self) -> None:
        self.current, self.selected, self._anchor_row = -1, set(), -1
        self.all_selected = False
        self.relayout()
        self.selection_changed.emit()

    def relayout(self) -> None:
        width = self.viewport().width()
        self.cols = max(1, (width - GAP) // self.cell)
        self.tops, y = [], 0
        for g in self.model_.groups:
            self.tops.append(y)
            y += HEADER + math.ceil(g.count / self.cols) * self.cell
        self.content_height = y + GAP
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, self.content_height - self.viewport().height()))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(self.cell // 3)
        self._moved()

    def resizeEvent(self, event) -> None:
        first = self.visible_rows()[0]
        super().resizeEvent(event)
        self.relayout()
        if first > 0:
            self.scroll_to_row(first, top=True)  # the same photos stay in view when the width changes

    def _moved(self, *_args) -> None:
        self.model_.show_rows(*self.visible_rows())
        self.viewport().update()
        self.scrolled.emit()

    def visible_rows(self) -> tuple[int, int]:
        """First and last row with a tile in the viewport ((0, -1) when none)."""
        y0 = self.verticalScrollBar().value()
        y1 = y0 + self.viewport().height()
        first = last = None
        for i, g in enumerate(self.model_.groups):
            top = self.tops[i] + HEADER
            bottom = top + math.ceil(g.count / self.cols) * self.cell
            if bottom <= y0 or self.tops[i] >= y1:
                continue
            r0 = max(0, (y0 - top) // self.cell)
            r1 = max(0, (y1 - 1 - top) // self.cell)
            a, b = g.start + r0 * self.cols, min(g.start + g.count - 1, g.start + (r1 + 1) * self.cols - 1)
            if a <= b:
                first = a if first is None else first
                last = b
        return (first, last) if first is not None else (0, -1)

    def tile_rect(self, row: int) -> QRect:
        """Where ``row``'s tile is in the viewport."""
        gi = self.model_.group_index(row)
        g = self.model_.groups[gi]
        line, col = divmod(row - g.start, self.cols)
        y = self.tops[gi] + HEADER + line * self.cell - self.verticalScrollBar().value()
        return QRect(GAP + col * self.cell, y, self.icon_px, self.icon_px)

    def row_at(self, pos: QPoint) -> int:
        y = pos.y() + self.verticalScrollBar().value()
        for i, g in enumerate(self.model_.groups):
            top = self.tops[i] + HEADER
            if top <= y < top + math.ceil(g.count / self.cols) * self.cell:
                line, col = (y - top) // self.cell, (pos.x() - GAP) // self.cell
                row = g.start + line * self.cols + col
                if 0 <= col < self.cols and row < g.start + g.count and self.tile_rect(row).contains(pos):
                    return row
        return -1

    def scroll_to_group(self, index: int) -> None:
        if 0 <= index < len(self.tops):
            self.verticalScrollBar().setValue(self.tops[index])

    def scroll_to_row(self, row: int, top: bool = False) -> None:
        rect = self.tile_rect(row)
        bar = self.verticalScrollBar()
        if top:
            bar.setValue(bar.value() + rect.top() - GAP)
        elif rect.top() < 0:
            bar.setValue(bar.value() + rect.top() - HEADER)
        elif rect.bottom() > self.viewport().height():
            bar.setValue(bar.value() + rect.bottom() - self.viewport().height() + GAP)

    # ----- painting -----
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        painter.fillRect(self.viewport().rect(), QColor("white"))
        model = self.model_
        if model.rowCount() == 0:
            painter.setPen(QColor("#78909c"))
            painter.drawText(self.viewport().rect().adjusted(40, 40, -40, -40),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        y0, height = self.verticalScrollBar().value(), self.viewport().height()
        bold, small = QFont(self.font()), QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(self.font().pointSizeF() * 1.25)
        for i, g in enumerate(model.groups):
            top = self.tops[i] - y0
            if top > height:
                break
            if top + HEADER > 0:
                painter.setFont(bold)
                painter.setPen(QColor("#263238"))
                label_rect = QRect(GAP, top, self.viewport().width() - 2 * GAP, HEADER)
                painter.drawText(label_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, g.label)
                painter.setFont(small)
                painter.setPen(QColor("#78909c"))
                painter.drawText(label_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 f"{g.count:,} photo{'' if g.count == 1 else 's'}")
        first, last = self.visible_rows()
        for row in range(first, last + 1):
            self._paint_tile(painter, row)

    def _paint_tile(self, painter: QPainter, row: int) -> None:
        rect = self.tile_rect(row)
        painter.drawPixmap(rect.topLeft(), self.model_.data(self.model_.index(row), Qt.ItemDataRole.DecorationRole))
        painter.setPen(QColor("#dfe3e6"))  # a white photo still shows where its tile is
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        if row in self.selected:
            painter.fillRect(rect, QColor(33, 150, 243, 60))
            painter.setPen(QColor("#1e88e5"))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        if row == self.current and self.hasFocus():
            painter.setPen(QColor("#0d47a1"))
            painter.drawRect(rect.adjusted(1, 1, -2, -2))

    # ----- selection and keys -----
    def set_current(self, row: int, extend: bool = False, toggle: bool = False) -> None:
        total = self.model_.rowCount()
        if total == 0:
            return
        row = max(0, min(total - 1, row))
        self.all_selected = False
        if extend and self._anchor_row >= 0:
            lo, hi = sorted((self._anchor_row, row))
            self.selected = set(range(lo, hi + 1))
        elif toggle:
            self.selected ^= {row}
            self._anchor_row = row
        else:
            self.selected, self._anchor_row = {row}, row
        self.current = row
        self.scroll_to_row(row)
        self.viewport().update()
        self.selection_changed.emit()

    def current_path(self) -> str | None:
        hit = self.model_.hit(self.current) if self.current >= 0 else None
        return hit.path if hit is not None else None

    def selected_paths(self) -> list[str]:
        """Paths of the selected photos, in timeline order (those whose page is held: every one on screen)."""
        rows = sorted(self.selected) or ([self.current] if self.current >= 0 else [])
        return [h.path for r in rows if (h := self.model_.hit(r)) is not None]

    def select_all(self) -> None:
        self.selected = set(range(self.model_.rowCount()))
        self.all_selected = bool(self.selected)
        self.viewport().update()
        self.selection_changed.emit()

    def whole_selection(self):
        """After Ctrl+A: (how many photos, a call for a pool thread that lists all their paths from the store) —
        the actions take the whole timeline (its filters' photos), not only the pages loaded; else None."""
        model = self.model_
        store, timeline = model.store, model.timeline
        if not self.all_selected or store is None or timeline is None:
            return None
        return timeline.total, lambda: store.timeline_paths(timeline)

    # ----- tiles.Tiles: what the preview and the selection's actions use -----
    def tiles_widget(self) -> QWidget:
        return self

    def tiles_model(self) -> TimelineModel:
        return self.model_

    def current_row(self) -> int:
        return self.current

    def selected_rows(self) -> list[int]:
        return sorted(self.selected)

    def show_row(self, row: int) -> None:
        self.set_current(row)
        self.setFocus()

    def hold_row(self, row: int) -> None:
        self.model_.hold(row)

    def focusInEvent(self, event) -> None:
        """Reached by Tab with no tile current: the first one on screen is (without selecting it), so the focus
        shows and the arrows, Space and Enter act from there — a focused grid showed nothing."""
        super().focusInEvent(event)
        if self.current < 0 and self.model_.rowCount():
            self.current = max(0, self.visible_rows()[0])
        self.viewport().update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        row = self.row_at(event.position().toPoint())
        if row < 0:
            return
        mods = event.modifiers()
        if event.button() == Qt.MouseButton.RightButton:
            if row not in self.selected:
                self.set_current(row)
            self.show_menu(row, event.position().toPoint())
            return
        self.set_current(row, extend=bool(mods & Qt.KeyboardModifier.ShiftModifier),
                         toggle=bool(mods & Qt.KeyboardModifier.ControlModifier))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position().toPoint())
        if row >= 0:
            self.set_current(row)
            self._activate()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        page = max(1, self.viewport().height() // self.cell) * self.cols
        moves = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: -self.cols, Qt.Key.Key_Down: self.cols,
                 Qt.Key.Key_PageUp: -page, Qt.Key.Key_PageDown: page}
        if event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
        elif key in moves:
            self.set_current(max(self.current, 0) + moves[key] if self.current >= 0 else 0, extend=shift)
        elif key == Qt.Key.Key_Home:
            self.set_current(0, extend=shift)
        elif key == Qt.Key.Key_End:
            self.set_current(self.model_.rowCount() - 1, extend=shift)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self._activate()
        elif key == Qt.Key.Key_Menu or (key == Qt.Key.Key_F10 and shift):
            if self.current >= 0:
                self.show_menu(self.current, self.tile_rect(self.current).center())
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _activate(self) -> None:
        if self.current_path() is not None:
            self.preview_requested.emit()

    def show_menu(self, row: int, pos: QPoint) -> None:
        hit = self.model_.hit(row)
        if hit is None:
            return
        path = hit.path
        menu = QMenu(self)
        if self.many is not None and len(self.selected) > 1 and row in self.selected:
            self.many.fill_menu(menu)
            self.popup(menu, self.viewport().mapToGlobal(pos))
            return
        photo_menu(menu, self, path, hit.folder or path, text=text_in_photo(hit.text_lines))
        self.popup(menu, self.viewport().mapToGlobal(pos))

    def popup(self, menu: QMenu, global_pos: QPoint) -> None:
        menu.exec(global_pos)  # modal until an entry is chosen (tests replace this method)


# ---------------------------------------------------------------- the scrubber
class Scrubber(QWidget):
    """A strip beside the grid that stands for its whole height: years marked where they start, the view's place
    shown; a click or drag jumps to the month under the pointer (its header at the top)."""

    jump = Signal(int)  # group index

    def __init__(self, grid: TimelineGrid, parent=None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.setFixedWidth(64)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        grid.scrolled.connect(self.update)
        self.jump.connect(grid.scroll_to_group)

    def _y_of(self, content_y: int) -> int:
        return round(content_y * self.height() / max(1, self.grid.content_height))

    def group_at_y(self, y: int) -> int:
        content_y = y * self.grid.content_height / max(1, self.height())
        tops = self.grid.tops
        return max(0, next((i - 1 for i, t in enumerate(tops) if t > content_y), len(tops) - 1))

    def year_marks(self) -> list[tuple[int, int, str]]:
        """(y, group index, label) of each year's newest month, and of the undated group."""
        marks, seen = [], set()
        for i, g in enumerate(self.grid.model_.groups):
            label = g.year or "No date"
            if label not in seen:
                seen.add(label)
                marks.append((self._y_of(self.grid.tops[i]), i, label))
        return marks

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#f5f7f8"))
        if not self.grid.tops:
            return
        bar = self.grid.verticalScrollBar()
        top = self._y_of(bar.value())
        span = max(4, self._y_of(bar.value() + self.grid.viewport().height()) - top)
        painter.fillRect(QRect(0, top, self.width(), span), QColor("#dbe9f6"))
        painter.setPen(QColor("#455a64"))
        last_y = -100
        for y, _i, label in self.year_marks():
            painter.drawLine(self.width() - 10, y, self.width(), y)
            if y - last_y >= 16:  # years too close to the one above share its place: only its tick shows
                painter.drawText(QRect(4, y, self.width() - 8, 16), Qt.AlignmentFlag.AlignLeft, label)
                last_y = y

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._jump_to(event.position().toPoint().y())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        y = event.position().toPoint().y()
        groups_ = self.grid.model_.groups
        if groups_:
            self.setToolTip(groups_[self.group_at_y(y)].label)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump_to(y)

    def _jump_to(self, y: int) -> None:
        if self.grid.tops:
            self.jump.emit(self.group_at_y(y))


# ---------------------------------------------------------------- the whole view
class LibraryView(QWidget):
    """What the window shows when there is no query: the caption, the grid and the scrubber. Loads only while
    shown: changes that arrive while it is hidden are caught up when it shows again."""

    def __init__(self, thumbnails: ThumbnailLoader, icon_px: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.model = TimelineModel(thumbnails, icon_px, parent=self)
        self.grid = TimelineGrid(self.model, icon_px)
        self.scrubber = Scrubber(self.grid)
        self.caption = QLabel("")
        self.caption.setObjectName("queryCaption")
        self._store: Store | None = None
        self._stale = True
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.caption)
        row = QHBoxLayout()
        row.setSpacing(0)
        row.addWidget(self.grid, 1)
        row.addWidget(self.scrubber)
        layout.addLayout(row, 1)
        self.model.loaded.connect(self._on_loaded)

    def attach(self, store: Store | None) -> None:
        self._store = store
        self.refresh()

    def set_filters(self, filters: Filters) -> None:
        if filters != self.model.filters:
            self.model.filters = filters
            self.refresh()

    def refresh(self) -> None:
        """The index changed: a new snapshot now when shown, else when next shown."""
        self._stale = True
        if self.isVisible() and self._store is not None:
            self._stale = False
            self.model.store = self._store
            self.model.reload()

    def set_empty_text(self, text: str) -> None:
        self.grid.message = text
        self.grid.viewport().update()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _on_loaded(self) -> None:
        total = self.model.rowCount()
        folders = self.model.filters.folders
        where = f"in {readable_path(folders[0])}" if folders else "in the library"
        self.caption.setText(f"{total:,} photo{'' if total == 1 else 's'} {where} · newest first")
        if total == 0 and self.grid.message.startswith("Loading"):
            self.grid.message = "No photos here yet."
        self.scrubber.update()

    def sizeHint(self) -> QSize:
        return QSize(800, 600)
